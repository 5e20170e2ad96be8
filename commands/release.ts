import { type Command, type Context } from "../lib/command.ts";
import { defineComponentCommand } from "../lib/project/component_command.ts";
import { EnvironmentError, UsageError } from "../lib/errors.ts";
import type { Project } from "../lib/project/project.ts";
import { isInterrupted, processRunning, readJournal } from "../lib/release/journal.ts";
import { rollbackAndReport, runRelease } from "../lib/release/release.ts";

const OPTIONS = {
  "dry-run": {
    type: "boolean",
    description: "Print every step, file edit, command and target; change nothing",
  },
  "no-push": { type: "boolean", description: "Commit and tag locally; push nothing" },
  "no-publish": { type: "boolean", description: "Commit, tag and push; publish nothing" },
  "allow-smaller-bump": {
    type: "boolean",
    description: "Release even when the API changes need a bigger bump",
  },
  rollback: {
    type: "boolean",
    description: "Finish the rollback of an interrupted release (see rig doctor)",
    conflicts: ["resume"],
  },
  resume: {
    type: "boolean",
    description: "Finish an interrupted release instead: run the steps it had not done",
  },
} as const;

/** `rig release`: bump, changelog, build, commit, tag, push, publish, verify; roll back on failure. */
export const release: Command = defineComponentCommand({
  name: "release",
  verb: "Release",
  summary: "Version, tag, push, publish and verify a release; roll back on any failure",
  usage: [
    "release major|minor|patch|X.Y.Z [COMPONENT...] [--dry-run] [--no-push] [--no-publish]",
    "release --rollback | --resume",
  ],
  description: "Checks everything first (clean tree, release branch, in sync with the remote, " +
    "tag unused, credentials for every target, tests green through rig test's cache), compares " +
    "the server's OpenAPI document with the last release tag and refuses a smaller bump than " +
    "the API needs, sets one version everywhere, prepends a CHANGELOG.md section from the " +
    "commits since the last tag, builds and validates the artifacts, commits, tags vX.Y.Z and " +
    "pushes, then creates the GitHub release with the artifacts, publishes npm packages and " +
    "uploads Python packages (twine or uv), verifying each by installing it from the registry. " +
    "On a failure or Ctrl-C everything is undone that can be (tags, commit, GitHub release, npm " +
    "version); what cannot (a PyPI upload) is named with the next step. A journal in " +
    ".rig/release/ lets the next rig release or rig doctor finish an interrupted rollback.",
  options: { ...OPTIONS },
  examples: [
    "rig release patch --dry-run",
    "rig release minor",
    "rig release 1.0.0 --json",
    "rig release patch --no-publish",
    "rig release minor js-client python-client",
    "rig release --rollback --yes",
    "rig release --resume",
  ],
  async action(ctx, { project, values: v, positionals, select }) {
    if (v.resume) return await resumeRelease(ctx, project);
    const pending = await interruptedRelease(ctx, project, !!v.rollback);
    if (pending !== undefined) return pending;
    if (v.rollback) {
      ctx.ui.info("No interrupted release to roll back");
      ctx.ui.result({ ok: true, rollback: [] });
      return 0;
    }
    const [spec, ...names] = positionals;
    if (!spec) {
      throw new UsageError(
        "Missing the version: rig release major|minor|patch|X.Y.Z",
        "Example: rig release patch --dry-run",
      );
    }
    const components = select(names);
    const result = await runRelease(project, {
      spec,
      components,
      env: ctx.env,
      ui: ctx.ui,
      signal: ctx.signal,
      dryRun: !!v["dry-run"],
      push: !v["no-push"],
      publish: !v["no-publish"],
      allowSmallerBump: !!v["allow-smaller-bump"],
      cache: !ctx.flags.noCache,
      verbose: ctx.flags.verbose,
    });
    return exitCode(ctx, result);
  },
});

function exitCode(ctx: Context, result: Awaited<ReturnType<typeof runRelease>>): number {
  ctx.ui.result(result);
  if (result.interrupted) return 130;
  if (result.dryRun) return result.ok ? 0 : 3;
  return result.ok ? 0 : 1;
}

/** `--resume`: runs the steps an interrupted release had not finished. */
async function resumeRelease(ctx: Context, project: Project): Promise<number> {
  const journal = await readJournal(project.root);
  if (!journal || !isInterrupted(journal, processRunning) || journal.status !== "running") {
    throw new EnvironmentError(
      "No interrupted release to resume",
      "Start one: rig release patch|minor|major|X.Y.Z",
    );
  }
  const byName = new Map(project.components.map((c) => [c.name, c]));
  const components = (journal.components ?? []).map((name) => byName.get(name));
  if (!journal.components?.length || components.some((c) => !c)) {
    throw new EnvironmentError(
      `Cannot resume the release of ${journal.version}: its journal does not name components this project has`,
      "Roll it back instead: rig release --rollback --yes",
    );
  }
  ctx.ui.info(`Resuming the release of ${journal.version} (${journal.tags.join(", ")})`);
  const result = await runRelease(project, {
    spec: journal.version,
    components: components as NonNullable<(typeof components)[number]>[],
    env: ctx.env,
    ui: ctx.ui,
    signal: ctx.signal,
    dryRun: false,
    push: journal.push ?? true,
    publish: journal.publish ?? true,
    allowSmallerBump: true,
    cache: !ctx.flags.noCache,
    verbose: ctx.flags.verbose,
    resume: journal,
  });
  return exitCode(ctx, result);
}

/** Handles a journal left by a crashed or killed release; undefined when there is none. */
async function interruptedRelease(
  ctx: Context,
  project: Project,
  asked: boolean,
): Promise<number | undefined> {
  const journal = await readJournal(project.root);
  if (!journal) return undefined;
  if (!isInterrupted(journal, processRunning)) {
    throw new EnvironmentError(
      `Another rig release (pid ${journal.pid}) of ${journal.version} is running`,
      "Wait for it to finish",
    );
  }
  const done = journal.steps.filter((s) => s.state === "started" || s.state === "done");
  ctx.ui.warn(
    `A release of ${journal.version} (${journal.tags.join(", ")}) started ${journal.startedAt} ` +
      `was interrupted after: ${done.map((s) => s.title).join("; ") || "nothing"}`,
  );
  if (!asked && !await ctx.confirm(`Roll back what it did?`)) {
    throw new EnvironmentError(
      `An interrupted release of ${journal.version} must be rolled back or finished first`,
      "Run: rig release --rollback --yes  (or finish it: rig release --resume)",
    );
  }
  const lines = await rollbackAndReport(project, journal, { env: ctx.env, ui: ctx.ui });
  const failed = lines.filter((l) => l.outcome === "failed");
  ctx.ui.result({
    ok: failed.length === 0,
    rollback: lines,
    cannotUndo: lines.filter((l) => l.outcome === "cannot be undone").map((l) => ({
      what: l.detail,
      next: l.next ?? "",
    })),
  });
  return failed.length ? 1 : 0;
}
