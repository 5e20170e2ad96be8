/**
 * `rig release`: preconditions, then the version bump with the API-aware
 * check and the changelog, the build, one commit and annotated tag(s), the
 * push, and publishing with verification, each step journaled before it
 * runs. Steps run from the most to the least reversible (GitHub release, npm,
 * image, PyPI); when one fails, or on Ctrl-C, everything done so far is
 * rolled back and what cannot be undone is named with the next step.
 */
import * as path from "../path.ts";
import { ensureRigDir } from "../cache_paths.ts";
import { EnvironmentError, RigError, UsageError } from "../errors.ts";
import { findVersionSites, planBump } from "../builder/version_bump.ts";
import { runTestSuite } from "../testing/runner.ts";
import { describeSummary } from "../testing/report.ts";
import type { Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { type ApiCheck, checkApi } from "./api_check.ts";
import { bumpCovers, type BumpLevel, bumpLevel, requiredBump } from "./api_diff.ts";
import { changelogEntries, renderSection } from "./changelog.ts";
import { readReleaseConfig } from "./config.ts";
import { commitsSince, gitChecked, lastTag } from "./git_ops.ts";
import {
  archiveJournal,
  type Journal,
  type JournalStep,
  releaseDir,
  writeJournal,
} from "./journal.ts";
import { type Check, checkPreconditions, findTargets } from "./preconditions.ts";
import { rollback, type RollbackLine } from "./rollback.ts";
import {
  type PlannedStep,
  planSteps,
  type ReleaseOptions,
  type Step,
  type StepContext,
} from "./steps.ts";

export type { ReleaseOptions } from "./steps.ts";

/** The result document of `rig release`. */
export interface ReleaseResult {
  ok: boolean;
  dryRun: boolean;
  version: { from: string | null; to: string };
  tags: string[];
  preconditions: Check[];
  api: (ApiCheck & { required: BumpLevel; requested: BumpLevel }) | null;
  changelog: { file: string; section: string };
  edits: { file: string; where: string; from: string; to: string }[];
  targets: Record<string, string>;
  steps: PlannedStep[];
  rollback: RollbackLine[] | null;
  /** Published things that cannot be undone, with the next step. */
  cannotUndo: { what: string; next: string }[];
  error: string | null;
  /** True when Ctrl-C stopped the release (exit 130). */
  interrupted: boolean;
}

export async function runRelease(
  project: Project,
  options: ReleaseOptions,
): Promise<ReleaseResult> {
  const { ui, env } = options;
  const config = await readReleaseConfig(project);
  const gitOptions = { env, signal: options.signal };
  // Version plan.
  const sites = await findVersionSites(project, options.components);
  const resume = options.resume;
  const plan = await planBump(sites, resume?.version ?? options.spec);
  if (!resume && plan.from && plan.from === plan.to) {
    throw new UsageError(
      `Every selected component is already at ${plan.to}`,
      "Pass the next version: rig release patch|minor|major|X.Y.Z",
    );
  }
  const version = plan.to;
  const tags = resume?.tags ??
    (config.tags === "per-component"
      ? options.components.map((c) => `${c.name}-v${version}`)
      : [`v${version}`]);
  const targets = await findTargets(project, options.components, config, {
    env,
    publish: options.publish,
    push: options.push,
  });
  // 1. Preconditions, all of them, before anything changes.
  const { checks, branch } = await checkPreconditions(project, {
    env,
    signal: options.signal,
    config,
    tags,
    targets,
    push: options.push,
  });
  if (resume) {
    // Half a release is on disk and on the remote: only what the remaining steps need counts.
    const stale = new Set(["clean work tree", "in sync with remote", "tag unused"]);
    checks.splice(0, checks.length, ...checks.filter((c) => !stale.has(c.name)));
  }
  for (const check of checks) printCheck(ui, check);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length && !options.dryRun) {
    throw new EnvironmentError(
      `Cannot release ${version}: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
      failed.map((c) => c.fix).filter(Boolean).join("\n      "),
    );
  }
  const tests = resume ? { ok: true, tasks: [] } : await runTestSuite(project, {
    components: options.components,
    env,
    ui,
    signal: options.signal,
    mode: "all",
    passthrough: [],
    readCache: options.cache,
    writeCache: options.cache,
    explain: false,
    dryRun: options.dryRun,
    verbose: options.verbose,
  });
  const testCheck: Check = resume
    ? { name: "tests", ok: true, detail: "passed before the interruption" }
    : options.dryRun
    ? { name: "tests", ok: true, detail: "would run rig test (cached results replay)" }
    : tests.ok
    ? { name: "tests", ok: true, detail: `${tests.tasks.length} task(s) green` }
    : {
      name: "tests",
      ok: false,
      detail: `failing: ${
        [...new Set(tests.tasks.filter((t) => !t.summary.ok).map((t) => t.summary.component))]
          .join(", ")
      }`,
      fix: "Fix them (rig test), then run rig release again",
    };
  printCheck(ui, testCheck);
  for (const task of options.dryRun ? [] : tests.tasks.filter((t) => !t.summary.ok)) {
    ui.info(`  ${task.summary.component}: ${describeSummary(task.summary)}`);
    if (task.summary.failureOutput) ui.info(task.summary.failureOutput);
  }
  checks.push(testCheck);
  if (!testCheck.ok) {
    throw new EnvironmentError(`Cannot release ${version}: tests fail`, testCheck.fix);
  }

  // 2. API-aware bump check and changelog.
  const patterns = config.tags === "per-component"
    ? options.components.map((c) => `${c.name}-v[0-9]*`)
    : ["v[0-9]*"];
  const previous = await lastTag(project.root, patterns, gitOptions);
  const server = options.components.find((c) => c.kind === "python-app") ??
    project.components.find((c) => c.kind === "python-app");
  let api: ReleaseResult["api"] = null;
  if (server && !resume) {
    const serverTag = config.tags === "per-component"
      ? await lastTag(project.root, [`${server.name}-v[0-9]*`], gitOptions)
      : previous;
    const check = await ui.task(`API check of ${server.name}`, async (step) => {
      const result = await checkApi(project, server, {
        env,
        ui,
        signal: options.signal,
        baseTag: serverTag,
        generateEnv: !options.dryRun,
      }).catch((error) => {
        // A dry run reports what it cannot check yet (e.g. no venv before rig install).
        if (!options.dryRun || !(error instanceof RigError)) throw error;
        return { server: server.name, baseTag: serverTag, changes: [], skipped: error.message };
      });
      step.update(result.skipped ?? `${result.changes.length} change(s) since ${serverTag}`);
      return result;
    });
    const required = requiredBump(check.changes, plan.from ?? "0.0.0");
    const requested = bumpLevel(plan.from ?? "0.0.0", version);
    api = { ...check, required, requested };
    if (check.skipped) ui.info(`  API check skipped: ${check.skipped}`);
    for (const change of check.changes) {
      ui.info(`  ${change.level === "breaking" ? "breaking" : "added   "}  ${change.description}`);
    }
    if (!bumpCovers(requested, required)) {
      const breaking = check.changes.filter((c) => c.level === "breaking");
      const message =
        `The API of "${server.name}" needs a ${required} release since ${serverTag}, ` +
        `but ${plan.from} → ${version} is a ${requested} bump: ${
          (breaking.length ? breaking : check.changes).map((c) => c.description).join("; ")
        }`;
      if (!options.allowSmallerBump) {
        if (!options.dryRun) {
          throw new EnvironmentError(
            message,
            `Run: rig release ${required}  (or keep the smaller bump: --allow-smaller-bump)`,
          );
        }
        ui.warn(message);
      } else ui.warn(`${message} (allowed by --allow-smaller-bump)`);
    }
  }
  const commits = await commitsSince(project.root, previous, gitOptions);
  const date = new Date().toISOString().slice(0, 10);
  const section = resume?.section ?? renderSection(version, changelogEntries(commits), {
    date,
    apiChanges: api?.changes.map((c) =>
      `${c.level === "breaking" ? "**breaking:** " : ""}${c.description}`
    ),
  });
  const changelogFile = path.join(project.root, config.changelog);

  const result: ReleaseResult = {
    ok: false,
    dryRun: options.dryRun,
    version: { from: plan.from ?? null, to: version },
    tags,
    preconditions: checks,
    api,
    changelog: { file: config.changelog, section },
    edits: [
      ...plan.sites.map((s) => ({ file: s.display, where: s.where, from: s.current, to: version })),
      { file: config.changelog, where: "new section on top", from: "", to: `## ${version}` },
    ],
    targets: Object.fromEntries(
      Object.entries(targets).map((
        [name, t],
      ) => [name, t.skipped ? `skipped: ${t.skipped}` : "yes"]),
    ),
    steps: [],
    rollback: null,
    cannotUndo: [],
    error: null,
    interrupted: false,
  };
  for (const [name, target] of Object.entries(targets)) {
    if (target.skipped) ui.info(`- ${name}: skipped (${target.skipped})`);
  }

  // 3-6. The plan of steps.
  const context: StepContext = {
    project,
    options,
    config,
    targets,
    version,
    tags,
    branch: branch.branch ?? "",
    section,
    changelogFile,
    plan,
    build: undefined,
    githubReleases: new Map(),
    journal: undefined,
  };
  const steps = planSteps(context);
  result.steps = steps;
  if (options.dryRun) {
    printDryRun(ui, result, steps);
    result.ok = failed.length === 0;
    return result;
  }
  return await executeSteps(context, steps, result);
}

async function executeSteps(
  ctx: StepContext,
  steps: Step[],
  result: ReleaseResult,
): Promise<ReleaseResult> {
  const { project, options, config } = ctx;
  const { ui } = options;
  await ensureRigDir(project.root);
  const resume = options.resume;
  const journal: Journal = resume ?? {
    formatVersion: 1,
    pid: Deno.pid,
    startedAt: new Date().toISOString(),
    version: ctx.version,
    tags: ctx.tags,
    branch: ctx.branch,
    remote: config.remote,
    base: await gitChecked(project.root, ["rev-parse", "HEAD"], { env: options.env }),
    status: "running",
    steps: [],
    components: options.components.map((c) => c.name),
    push: options.push,
    publish: options.publish,
    section: ctx.section,
  };
  journal.pid = Deno.pid;
  journal.status = "running";
  ctx.journal = journal;
  if (!resume) {
    await Deno.remove(path.join(releaseDir(project.root), "backup"), { recursive: true }).catch(
      () => {},
    );
  }
  await writeJournal(project.root, journal);
  let failure: unknown;
  for (const step of steps) {
    const earlier = journal.steps.find((s) => s.id === step.id);
    if (earlier?.state === "done" && step.id !== "build") {
      // Finished before the interruption: keep what it recorded (ids for the later steps).
      step.undo = earlier.undo;
      step.state = "done";
      step.detail = earlier.detail;
      if (earlier.undo.kind === "github-release" && earlier.undo.id !== undefined) {
        ctx.githubReleases.set(earlier.undo.tag, earlier.undo.id);
      }
      ui.step(step.title).skip("done before the interruption");
      continue;
    }
    if (earlier) step.undo = mergeUndo(step.undo, earlier.undo);
    const entry: JournalStep = earlier ?? {
      id: step.id,
      title: step.title,
      state: "started",
      undo: step.undo,
    };
    entry.state = "started";
    entry.undo = step.undo;
    if (!earlier) journal.steps.push(entry);
    ctx.current = { entry, step };
    await writeJournal(project.root, journal);
    const started = ui.step(step.title);
    try {
      if (options.signal.aborted) throw new RigError("Interrupted");
      const detail = await step.run();
      entry.undo = step.undo;
      entry.state = "done";
      entry.detail = detail || undefined;
      step.state = "done";
      step.detail = detail || undefined;
      started.done(detail || undefined);
      await writeJournal(project.root, journal);
    } catch (error) {
      entry.undo = step.undo;
      step.state = "failed";
      step.detail = error instanceof Error ? error.message : String(error);
      started.fail();
      failure = error;
      break;
    }
  }
  if (!failure) {
    journal.status = "released";
    await archiveJournal(project.root, journal);
    result.ok = true;
    ui.success(`Released ${ctx.version} (${ctx.tags.join(", ")})`);
    return result;
  }
  const interrupted = options.signal.aborted;
  journal.status = "failed";
  journal.error = interrupted ? "interrupted" : (failure as Error).message;
  await writeJournal(project.root, journal);
  result.error = interrupted ? "Interrupted" : (failure as Error).message;
  ui.error(
    interrupted ? "Interrupted: rolling back the release" : `Release failed: ${result.error}`,
    (failure as { hint?: string }).hint,
  );
  const lines = await rollbackAndReport(project, journal, { env: options.env, ui });
  result.rollback = lines;
  result.cannotUndo = lines.filter((l) => l.outcome === "cannot be undone").map((l) => ({
    what: l.detail,
    next: l.next ?? "",
  }));
  for (const step of steps) {
    const entry = journal.steps.find((s) => s.id === step.id);
    if (entry?.state === "undone") step.state = "undone";
    if (entry?.state === "kept") step.state = "kept";
  }
  result.interrupted = interrupted;
  return result;
}

/** A step's fresh undo, keeping what an interrupted run had learnt (a commit, a release id). */
function mergeUndo(fresh: Step["undo"], earlier: Step["undo"]): Step["undo"] {
  if (fresh.kind !== earlier.kind) return fresh;
  const known = Object.fromEntries(
    Object.entries(earlier).filter(([, v]) => v !== "" && v !== undefined),
  );
  return { ...fresh, ...known } as Step["undo"];
}

/** Rolls a journal back with a fresh signal, prints each line and the summary, archives it. */
export async function rollbackAndReport(
  project: Project,
  journal: Journal,
  options: { env: Record<string, string>; ui: Ui },
): Promise<RollbackLine[]> {
  const { ui } = options;
  const lines = await rollback(journal, {
    root: project.root,
    env: options.env,
    onLine: (line) => {
      const mark = line.outcome === "undone"
        ? ui.style("green", "↶")
        : line.outcome === "not needed"
        ? ui.style("dim", "-")
        : ui.style("red", "!");
      ui.info(`${mark} ${line.step}: ${line.outcome}: ${line.detail}`);
    },
  });
  const kept = lines.filter((l) => l.outcome === "cannot be undone");
  const broken = lines.filter((l) => l.outcome === "failed");
  for (const line of kept) {
    ui.warn(`Published and cannot be undone: ${line.detail}`, line.next);
  }
  for (const line of broken) ui.warn(`Could not undo "${line.step}": ${line.detail}`, line.next);
  if (!kept.length && !broken.length) ui.info("Rolled back: nothing of this release remains");
  await archiveJournal(project.root, journal);
  return lines;
}

function printCheck(ui: Ui, check: Check): void {
  const mark = check.ok ? ui.style("green", "✓") : ui.style("red", "✗");
  ui.info(`${mark} ${check.name}: ${check.detail}`);
  if (!check.ok && check.fix) ui.info(`  ${ui.style("cyan", "fix:")} ${check.fix}`);
}

function printDryRun(ui: Ui, result: ReleaseResult, steps: Step[]): void {
  ui.print(
    `Would release ${result.version.to}${
      result.version.from ? ` (was ${result.version.from})` : ""
    } as ${result.tags.join(", ")}`,
  );
  ui.print("");
  ui.print("File edits:");
  for (const edit of result.edits) {
    ui.print(`  ${edit.file} ${edit.where}${edit.from ? `: ${edit.from} → ${edit.to}` : ""}`);
  }
  ui.print("");
  ui.print(`${result.changelog.file} section:`);
  for (const line of result.changelog.section.trimEnd().split("\n")) ui.print(`  | ${line}`);
  ui.print("");
  ui.print("Targets:");
  for (const [name, state] of Object.entries(result.targets)) ui.print(`  ${name}: ${state}`);
  ui.print("");
  ui.print("Steps (most reversible first):");
  steps.forEach((step, i) => {
    ui.print(`  ${i + 1}. ${step.title}`);
    for (const command of step.commands) ui.print(`       $ ${command}`);
  });
  ui.print("");
  ui.print("Dry run: nothing was changed");
}
