/**
 * `rig release`: preconditions, then the version bump with the API-aware
 * check and the changelog, the build, one commit and annotated tag(s), the
 * push, and publishing with verification, each step journaled before it
 * runs. Steps run from the most to the least reversible (GitHub release, npm,
 * image, PyPI); when one fails, or on Ctrl-C, everything done so far is
 * rolled back and what cannot be undone is named with the next step.
 */
import * as path from "node:path";
import { ensureRigDir, userCacheDir } from "../cache_paths.ts";
import { EnvironmentError, RigError, UsageError } from "../errors.ts";
import { exists } from "../fs.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { buildProject, type BuildResult } from "../build/build.ts";
import { applyBump, findVersionSites, planBump } from "../build/version_bump.ts";
import { CacheStore } from "../task/cache.ts";
import { runTestSuite } from "../test/test_runner.ts";
import { validateWheel } from "../python/wheel.ts";
import type { Component, Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { type ApiCheck, checkApi } from "./api_check.ts";
import { bumpCovers, type BumpLevel, bumpLevel, requiredBump } from "./api_diff.ts";
import { changelogEntries, prependSection, renderSection } from "./changelog.ts";
import { readReleaseConfig, type ReleaseConfig } from "./config.ts";
import { createRelease, getRelease, type GitHubApi, uploadAsset } from "./github.ts";
import { commitsSince, gitChecked, lastTag } from "./git_ops.ts";
import {
  archiveJournal,
  type Journal,
  type JournalStep,
  releaseDir,
  type UndoAction,
  writeJournal,
} from "./journal.ts";
import { type Check, checkPreconditions, findTargets, type Targets } from "./preconditions.ts";
import { publishNpm, verifyNpm, writeUserconfig } from "./publish_npm.ts";
import { uploadCommand, uploadPython, uploadTool, verifyPython } from "./publish_python.ts";
import { pushImages } from "./image.ts";
import { rollback, type RollbackLine } from "./rollback.ts";

/** Options of a release. */
export interface ReleaseOptions {
  /** `major`, `minor`, `patch` or an explicit version. */
  spec: string;
  components: Component[];
  env: Record<string, string>;
  ui: Ui;
  signal: AbortSignal;
  dryRun: boolean;
  push: boolean;
  publish: boolean;
  allowSmallerBump: boolean;
  /** False with --no-cache. */
  cache: boolean;
  verbose: boolean;
}

/** One step of the plan, as printed and reported. */
export interface PlannedStep {
  id: string;
  title: string;
  /** Commands and requests the step makes (no secrets). */
  commands: string[];
  state: "planned" | "done" | "failed" | "skipped" | "undone" | "kept";
  detail?: string;
}

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

interface Step extends PlannedStep {
  undo: UndoAction;
  run: () => Promise<string | void>;
}

/** Runs (or with dryRun, describes) a release. Throws only before anything changed. */
export async function runRelease(
  project: Project,
  options: ReleaseOptions,
): Promise<ReleaseResult> {
  const { ui, env } = options;
  const config = await readReleaseConfig(project);
  const gitOptions = { env, signal: options.signal };
  // Version plan.
  const sites = await findVersionSites(project, options.components);
  const plan = await planBump(sites, options.spec);
  if (plan.from && plan.from === plan.to) {
    throw new UsageError(
      `Every selected component is already at ${plan.to}`,
      "Pass the next version: rig release patch|minor|major|X.Y.Z",
    );
  }
  const version = plan.to;
  const tags = config.tags === "per-component"
    ? options.components.map((c) => `${c.name}-v${version}`)
    : [`v${version}`];
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
  for (const check of checks) printCheck(ui, check);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length && !options.dryRun) {
    throw new EnvironmentError(
      `Cannot release ${version}: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
      failed.map((c) => c.fix).filter(Boolean).join("\n      "),
    );
  }
  const tests = await runTestSuite(project, {
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
  const testCheck: Check = options.dryRun
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
  if (server) {
    const serverTag = config.tags === "per-component"
      ? await lastTag(project.root, [`${server.name}-v[0-9]*`], gitOptions)
      : previous;
    const check = await ui.task(`API check of ${server.name}`, async (step) => {
      const result = await checkApi(project, server, {
        env,
        ui,
        signal: options.signal,
        baseTag: serverTag,
      }).catch((error) => {
        // A dry run reports what it cannot check yet (e.g. no venv before rig install).
        if (!options.dryRun || !(error instanceof EnvironmentError)) throw error;
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
  const section = renderSection(version, changelogEntries(commits), {
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

interface StepContext {
  project: Project;
  options: ReleaseOptions;
  config: ReleaseConfig;
  targets: Targets;
  version: string;
  tags: string[];
  branch: string;
  section: string;
  changelogFile: string;
  plan: Awaited<ReturnType<typeof planBump>>;
  build: BuildResult | undefined;
  githubReleases: Map<string, number>;
  journal: Journal | undefined;
  current?: { entry: JournalStep; step: Step };
}

function planSteps(ctx: StepContext): Step[] {
  const { project, options, config, targets, version, tags } = ctx;
  const root = project.root;
  const env = options.env;
  const gitOptions = { env, signal: options.signal };
  const steps: Step[] = [];
  const backupDir = path.join(releaseDir(root), "backup");
  const editedFiles = [...new Set(ctx.plan.sites.map((s) => s.display)), config.changelog];
  const notes = ctx.section.replace(/^## .*\n+/, "");

  steps.push({
    id: "edit",
    title: `set version ${version} and prepend ${config.changelog}`,
    commands: editedFiles.map((f) => `edit ${f}`),
    state: "planned",
    undo: {
      kind: "restore-files",
      files: editedFiles.map((f) => ({
        path: f,
        backup: exists(path.join(root, f)) ? path.join(backupDir, f) : undefined,
      })),
    },
    run: async () => {
      for (const file of editedFiles) {
        const from = path.join(root, file);
        if (!exists(from)) continue;
        const to = path.join(backupDir, file);
        await Deno.mkdir(path.dirname(to), { recursive: true });
        await Deno.copyFile(from, to);
      }
      await applyBump(project, ctx.plan, { backupDir: path.join(backupDir, ".bump") });
      const existing = exists(ctx.changelogFile)
        ? await Deno.readTextFile(ctx.changelogFile)
        : undefined;
      await writeFileAtomic(ctx.changelogFile, prependSection(existing, ctx.section));
      return `${editedFiles.length} file(s)`;
    },
  });
  steps.push({
    id: "build",
    title: "build and validate the artifacts",
    commands: options.components.map((c) => `rig build ${c.name}`),
    state: "planned",
    undo: { kind: "none" },
    run: async () => {
      ctx.build = await buildProject(project, {
        env,
        ui: options.ui,
        signal: options.signal,
        components: options.components,
        docker: targets.image.skipped ? "skip" : "auto",
        // Verification installs and imports the published package from the index instead.
        noSmokeTest: !targets.python.skipped,
        cache: options.cache
          ? new CacheStore(root, { debug: (m) => options.ui.debug(m) })
          : undefined,
      });
      const files = ctx.build.components.flatMap((c) => c.artifacts).filter((a) => a.path);
      return files.map((a) => path.basename(a.path!)).join(", ");
    },
  });
  const commitStep: Step = {
    id: "commit",
    title: `commit "chore(release): v${version}"`,
    commands: [`git add ${editedFiles.join(" ")}`, `git commit -m "chore(release): v${version}"`],
    state: "planned",
    undo: { kind: "reset-commit", commit: "", base: "" },
    run: async () => {
      await gitChecked(root, ["add", "--", ...editedFiles], gitOptions);
      await gitChecked(root, ["commit", "--quiet", "-m", `chore(release): v${version}`], {
        ...gitOptions,
        hint: "Set your identity: git config user.name NAME && git config user.email EMAIL",
      });
      const commit = await gitChecked(root, ["rev-parse", "HEAD"], gitOptions);
      commitStep.undo = { kind: "reset-commit", commit, base: ctx.journal!.base };
      await saveJournal(ctx);
      return commit.slice(0, 7);
    },
  };
  steps.push(commitStep);
  steps.push({
    id: "tag",
    title: `tag ${tags.join(", ")}`,
    commands: tags.map((t) => `git tag -a ${t} -m "Release ${t}"`),
    state: "planned",
    undo: { kind: "delete-local-tags", tags },
    run: async () => {
      for (const tag of tags) {
        await gitChecked(
          root,
          ["tag", "-a", "--cleanup=verbatim", tag, "-m", `Release ${tag}\n\n${notes}`],
          gitOptions,
        );
      }
    },
  });
  if (options.push) {
    const pushStep: Step = {
      id: "push",
      title: `push ${ctx.branch} and ${tags.join(", ")} to ${config.remote}`,
      commands: [
        `git push --atomic ${config.remote} HEAD:refs/heads/${ctx.branch} ${
          tags.map((t) => `refs/tags/${t}`).join(" ")
        }`,
      ],
      state: "planned",
      undo: { kind: "push", remote: config.remote, branch: ctx.branch, commit: "", tags },
      run: async () => {
        const commit = await gitChecked(root, ["rev-parse", "HEAD"], gitOptions);
        pushStep.undo = { kind: "push", remote: config.remote, branch: ctx.branch, commit, tags };
        await saveJournal(ctx);
        await gitChecked(
          root,
          [
            "push",
            "--atomic",
            "--quiet",
            config.remote,
            `HEAD:refs/heads/${ctx.branch}`,
            ...tags.map((t) => `refs/tags/${t}`),
          ],
          {
            ...gitOptions,
            hint: `The remote refused the push: fix it, then run rig release again`,
          },
        );
      },
    };
    steps.push(pushStep);
  }
  const artifactsOf = (component?: string) =>
    (ctx.build?.components ?? []).filter((c) => !component || c.component === component)
      .flatMap((c) => c.artifacts).filter((a) => a.path).map((a) => path.join(root, a.path!));
  const token = env[config.github.tokenEnv] ?? "";
  const github: GitHubApi = {
    apiUrl: config.github.apiUrl,
    repo: targets.github.repo ?? "",
    token,
    signal: options.signal,
  };
  if (!targets.github.skipped) {
    for (const tag of tags) {
      const component = config.tags === "per-component"
        ? options.components.find((c) => tag === `${c.name}-v${version}`)?.name
        : undefined;
      const step: Step = {
        id: `github:${tag}`,
        title: `GitHub release ${tag} of ${github.repo}`,
        commands: [
          `POST ${github.apiUrl}/repos/${github.repo}/releases {tag_name: "${tag}"}`,
          "POST <upload_url>?name=<artifact> for every artifact",
        ],
        state: "planned",
        undo: {
          kind: "github-release",
          apiUrl: github.apiUrl,
          repo: github.repo,
          tokenEnv: config.github.tokenEnv,
          tag,
        },
        run: async () => {
          const created = await createRelease(github, {
            tag_name: tag,
            name: tag,
            body: notes,
            draft: config.github.draft,
            prerelease: config.github.prerelease,
          });
          ctx.githubReleases.set(tag, created.id);
          step.undo = {
            ...(step.undo as Extract<UndoAction, { kind: "github-release" }>),
            id: created.id,
          };
          await saveJournal(ctx);
          for (const file of artifactsOf(component)) await uploadAsset(github, created, file);
          return created.html_url;
        },
      };
      steps.push(step);
    }
  }
  const cacheDir = userCacheDir(env, Deno.build.os);
  const userconfig = path.join(releaseDir(root), "npmrc");
  if (!targets.npm.skipped) {
    for (const pkg of targets.npm.packages) {
      steps.push({
        id: `npm:${pkg.name}`,
        title: `npm publish ${pkg.name}@${version} and verify it`,
        commands: [
          `npm publish dist/${pkg.component.name}/<tarball> --registry ${config.npm.registry} --access ${config.npm.access} --tag ${config.npm.tag}`,
          `npm view ${pkg.name}@${version} version`,
          `npm install ${pkg.name}@${version} (scratch folder)`,
        ],
        state: "planned",
        undo: {
          kind: "npm-unpublish",
          name: pkg.name,
          version,
          registry: config.npm.registry,
          userconfig: env.NPM_TOKEN ? userconfig : undefined,
        },
        run: async () => {
          const tarball = artifactsOf(pkg.component.name).find((f) => f.endsWith(".tgz"));
          if (!tarball) throw new RigError(`No npm tarball was built for "${pkg.component.name}"`);
          const common = {
            env,
            signal: options.signal,
            cwd: pkg.component.dir,
            registry: config.npm.registry,
            userconfig: await writeUserconfig(userconfig, config.npm.registry, env),
            cacheDir,
          };
          await publishNpm(tarball, { ...common, access: config.npm.access, tag: config.npm.tag });
          return await verifyNpm(pkg.name, version, {
            ...common,
            scratch: path.join(releaseDir(root), "verify", "npm"),
          });
        },
      });
    }
  }
  if (!targets.image.skipped) {
    steps.push({
      id: "image",
      title: `push the server image to ${config.image.registry}`,
      commands: [
        `docker tag <image> ${config.image.registry}/<image>`,
        `docker push ${config.image.registry}/<image>`,
      ],
      state: "planned",
      undo: {
        kind: "irreversible",
        what: `the image ${version} was pushed to ${config.image.registry}`,
        next: "Delete the tag in the registry (its web UI or API) if it must not be pulled",
      },
      run: async () => {
        const images = (ctx.build?.components ?? []).flatMap((c) => c.artifacts).filter((a) =>
          a.type === "docker-image"
        );
        const outcome = await pushImages(images, {
          registry: config.image.registry!,
          env,
          signal: options.signal,
        });
        if (outcome.skipped) {
          options.ui.warn(`Image not pushed: ${outcome.skipped}`);
          return `skipped: ${outcome.skipped}`;
        }
        return outcome.pushed.join(", ");
      },
    });
  }
  if (!targets.python.skipped) {
    let tool: { tool: "twine" | "uv"; program: string } | undefined;
    try {
      tool = uploadTool(config.python, env);
    } catch {
      // Reported by the preconditions.
    }
    for (const pkg of targets.python.packages) {
      const step: Step = {
        id: `pypi:${pkg.name}`,
        title: `upload ${pkg.name} ${version} to ${config.python.repositoryUrl} and verify it`,
        commands: [
          tool
            ? uploadCommand(config.python, [`dist/${pkg.component.name}/*`], env, tool).argv
              .map((a) =>
                path.basename(a) === a || a.startsWith("http") || a.startsWith("dist/")
                  ? a
                  : path.basename(a)
              )
              .join(" ")
            : "twine upload …",
          `pip install --index-url ${config.python.indexUrl} --no-deps ${pkg.name}==${version} (scratch venv), then import it`,
        ],
        state: "planned",
        undo: {
          kind: "pypi-upload",
          indexUrl: config.python.indexUrl,
          repositoryUrl: config.python.repositoryUrl,
          name: pkg.name,
          version,
          files: [],
        },
        run: async () => {
          const files = artifactsOf(pkg.component.name).filter((f) =>
            f.endsWith(".whl") || f.endsWith(".tar.gz")
          );
          if (!files.length) {
            throw new RigError(`No wheel or sdist was built for "${pkg.component.name}"`);
          }
          step.undo = {
            ...(step.undo as Extract<UndoAction, { kind: "pypi-upload" }>),
            files: files.map((f) => path.basename(f)),
          };
          await saveJournal(ctx);
          await uploadPython(config.python, files, { env, signal: options.signal, cwd: root });
          const wheel = files.find((f) => f.endsWith(".whl"));
          const report = wheel
            ? await validateWheel(wheel, { name: pkg.name, version })
            : undefined;
          return await verifyPython(config.python, {
            env,
            signal: options.signal,
            venvDir: path.join(releaseDir(root), "verify", "python"),
            component: pkg.component,
            name: pkg.name,
            version,
            modules: report?.topLevel ?? [],
          });
        },
      };
      steps.push(step);
    }
  }
  if (!targets.github.skipped) {
    steps.push({
      id: "github:verify",
      title: "read the GitHub release back",
      commands: tags.map((t) => `GET ${github.apiUrl}/repos/${github.repo}/releases/<id of ${t}>`),
      state: "planned",
      undo: { kind: "none" },
      run: async () => {
        const seen: string[] = [];
        for (const tag of tags) {
          const id = ctx.githubReleases.get(tag)!;
          const back = await getRelease(github, id);
          const component = config.tags === "per-component"
            ? options.components.find((c) => tag === `${c.name}-v${version}`)?.name
            : undefined;
          const expected = artifactsOf(component).map((f) => path.basename(f)).sort();
          const names = back.assets.filter((a) => a.state === "uploaded").map((a) => a.name).sort();
          if (back.tag_name !== tag || JSON.stringify(names) !== JSON.stringify(expected)) {
            throw new RigError(
              `Verification failed: GitHub release ${tag} reads back as tag "${back.tag_name}" with assets ${
                names.join(", ") || "(none)"
              }; expected ${expected.join(", ")}`,
            );
          }
          seen.push(`${tag} with ${names.length} asset(s)`);
        }
        return seen.join("; ");
      },
    });
  }
  return steps;
}

/** Records the running step's undo as it learns more (a commit, a release id) before going on. */
async function saveJournal(ctx: StepContext): Promise<void> {
  if (!ctx.journal) return;
  if (ctx.current) ctx.current.entry.undo = ctx.current.step.undo;
  await writeJournal(ctx.project.root, ctx.journal);
}

async function executeSteps(
  ctx: StepContext,
  steps: Step[],
  result: ReleaseResult,
): Promise<ReleaseResult> {
  const { project, options, config } = ctx;
  const { ui } = options;
  await ensureRigDir(project.root);
  const base = await gitChecked(project.root, ["rev-parse", "HEAD"], { env: options.env });
  const journal: Journal = {
    formatVersion: 1,
    pid: Deno.pid,
    startedAt: new Date().toISOString(),
    version: ctx.version,
    tags: ctx.tags,
    branch: ctx.branch,
    remote: config.remote,
    base,
    status: "running",
    steps: [],
  };
  ctx.journal = journal;
  await Deno.remove(path.join(releaseDir(project.root), "backup"), { recursive: true }).catch(
    () => {},
  );
  await writeJournal(project.root, journal);
  let failure: unknown;
  for (const step of steps) {
    const entry: JournalStep = {
      id: step.id,
      title: step.title,
      state: "started",
      undo: step.undo,
    };
    journal.steps.push(entry);
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
