import * as path from "../lib/path.ts";
import { openCacheStore } from "../lib/task/cache_open.ts";
import { appOutputOf } from "../lib/builder/app_build.ts";
import { type Command, type Context, type Options } from "../lib/command.ts";
import { defineComponentCommand } from "../lib/project/component_command.ts";
import type { BuildResult } from "../lib/builder/artifacts.ts";
import { buildProject } from "../lib/builder/build.ts";
import type { DockerMode } from "../lib/builder/build_plan.ts";
import { EnvironmentError } from "../lib/errors.ts";
import { changedFiles, relativeToProject } from "../lib/git.ts";
import { type Component, type Project } from "../lib/project/project.ts";
import { runTestSuite } from "../lib/testing/runner.ts";
import { describeSummary } from "../lib/testing/report.ts";
import { formatBytes, formatDuration } from "../lib/ui.ts";
import {
  applyBump,
  type BumpPlan,
  findVersionSites,
  planBump,
} from "../lib/builder/version_bump.ts";
import { posixRelative } from "../lib/fs.ts";

const BUMP_EXAMPLE = { option: "bump", hint: "Example: rig build --bump patch --dry-run" };

const OPTIONS: Options = {
  docker: {
    type: "boolean",
    description: "Require the container image: exit 3 when no engine answers",
    conflicts: ["no-docker"],
  },
  "no-docker": { type: "boolean", description: "Do not build container images" },
  push: {
    type: "string",
    value: "REGISTRY",
    description: "With --docker: push every image tag to REGISTRY (host[:port]) and read it back",
    conflicts: ["no-docker"],
    requires: { option: "docker", hint: "Example: rig build --docker --push 127.0.0.1:5000" },
  },
  "base-image": {
    type: "string",
    value: "IMAGE",
    description: "Build images on IMAGE (the Dockerfile's BASE_IMAGE argument)",
    conflicts: ["no-docker"],
  },
  "skip-tests": { type: "boolean", description: "Build without running the tests first" },
  bump: {
    type: "string",
    value: "major|minor|patch|X.Y.Z",
    description: "Set one new version in every component before building",
  },
  "dry-run": {
    type: "boolean",
    description: "With --bump: show the version changes, edit nothing",
    requires: BUMP_EXAMPLE,
  },
  "no-build": {
    type: "boolean",
    description: "With --bump: edit the versions, build nothing",
    requires: BUMP_EXAMPLE,
  },
  "allow-dirty": {
    type: "boolean",
    description: "With --bump: allow uncommitted changes in the git work tree",
    requires: BUMP_EXAMPLE,
  },
  "no-install-check": {
    type: "boolean",
    description: "Skip installing the wheel into a scratch venv (faster, less checked)",
  },
};

/** `rig build`: validated artifacts under dist/, one version, container images. */
export const build: Command = defineComponentCommand({
  name: "build",
  verb: "Build",
  summary: "Build and validate wheels, sdists, npm tarballs and images into dist/ (cached)",
  usage: [
    "build [COMPONENT...] [--<component>...] [--docker|--no-docker] [--skip-tests]",
    "build --docker [--push REGISTRY] [--base-image IMAGE]",
    "build --bump major|minor|patch|X.Y.Z [--dry-run] [--no-build] [--allow-dirty]",
  ],
  description: "Runs each selected component's tests (through rig test, so unchanged ones " +
    "replay from the cache), then builds: a wheel and an sdist for Python packages " +
    "(python -m build), an npm tarball for node packages (npm run build, npm pack), and a " +
    "container image for the server, tagged <name>:<version>, <name>:<git sha> and " +
    "<name>:latest, with OCI labels; the image is checked (uvicorn command and port, " +
    "non-root user, the app imports inside it, no .env, .git or secret in its layers) and " +
    "reused while its context, Dockerfile and base are unchanged. Every artifact is validated (metadata, RECORD hashes, sources, entry " +
    "points, no secrets; the wheel must install and import) and listed with its SHA-256 in " +
    "dist/manifest.json. Builds are cached by a hash of the component's inputs: an unchanged " +
    "component is restored from the cache. --bump sets one version in every pyproject.toml, " +
    "package.json, package-lock.json, __version__ and FastAPI(version=...).",
  options: OPTIONS,
  examples: [
    "rig build",
    "rig build --python-client --skip-tests",
    "rig build js-client --json",
    "rig build --bump patch",
    "rig build --bump minor --dry-run",
    "rig build --bump 1.0.0 --no-build",
    "rig build --docker",
    "rig build --docker --base-image localhost/python:3.11",
    "rig build --docker --push 127.0.0.1:5000",
  ],
  async action(ctx, { project, values: v, select }) {
    const components = select();
    let bump: BumpDocument | undefined;
    if (typeof v.bump === "string") {
      bump = await bumpVersions(ctx, project, v.bump, {
        dryRun: !!v["dry-run"],
        allowDirty: !!v["allow-dirty"],
      });
      if (v["dry-run"] || v["no-build"]) {
        ctx.ui.result({ ok: true, bump, build: null });
        return 0;
      }
    }
    if (v["skip-tests"]) {
      ctx.ui.warn("Skipping tests (--skip-tests): artifacts are built from untested code");
    } else {
      const failed = await runTests(ctx, project, components);
      if (failed) {
        ctx.ui.error(
          `Tests failed for ${failed}: nothing was built`,
          `Fix them (see: rig test ${
            failed.split(", ").map((n) => `--${n}`).join(" ")
          }), or build anyway: rig build --skip-tests`,
        );
        ctx.ui.result({ ok: false, bump: bump ?? null, tests: "failed", build: null });
        return 1;
      }
    }
    const docker: DockerMode = v.docker ? "require" : v["no-docker"] ? "skip" : "auto";
    const result = await buildProject(project, {
      env: ctx.env,
      ui: ctx.ui,
      signal: ctx.signal,
      components,
      docker,
      cache: ctx.flags.noCache ? undefined : openCacheStore(project.root, {
        env: ctx.env,
        remoteCache: project.settings.remoteCache,
        components: project.components.map((c) => ({
          name: c.name,
          path: c.path,
          buildOutputs: c.kind === "node-app"
            ? [`${c.path === "." ? "" : `${c.path}/`}${appOutputOf(c).dir}/`]
            : [],
        })),
        ui: ctx.ui,
      }),
      noSmokeTest: !!v["no-install-check"],
      push: typeof v.push === "string" ? v.push : undefined,
      baseImage: typeof v["base-image"] === "string" ? v["base-image"] : undefined,
    });
    const engineMissing = docker === "require" && result.docker && !result.docker.available;
    if (ctx.flags.json) {
      ctx.ui.result({ ...jsonResult(project, result), ok: !engineMissing, bump: bump ?? null });
    } else {
      printResult(ctx, project, result);
    }
    if (engineMissing) {
      ctx.ui.error(
        `Cannot build the container image: ${result.docker!.problem}`,
        result.docker!.hint,
      );
      return 3;
    }
    return 0;
  },
});

interface BumpDocument {
  from: string | null;
  to: string;
  dryRun: boolean;
  changes: { file: string; where: string; from: string; to: string }[];
}

async function bumpVersions(
  ctx: Context,
  project: Project,
  spec: string,
  options: { dryRun: boolean; allowDirty: boolean },
): Promise<BumpDocument> {
  const { ui } = ctx;
  const plan: BumpPlan = await planBump(await findVersionSites(project), spec);
  const changes = plan.sites.map((s) => ({
    file: s.display,
    where: s.where,
    from: s.current,
    to: plan.to,
  }));
  const document = { from: plan.from ?? null, to: plan.to, dryRun: options.dryRun, changes };
  if (!options.allowDirty && !options.dryRun) {
    let dirty: string[] | undefined;
    try {
      const changed = await changedFiles(project.root, { env: ctx.env, signal: ctx.signal });
      // rig's own output (.rig/, dist/) is not the user's work.
      const own = new Set(
        relativeToProject(changed.root, project.root, changed.files).filter((f) =>
          f.startsWith(".rig/") || f.startsWith("dist/")
        ).map((f) => path.posix.join(posixRelative(changed.root, project.root), f)),
      );
      dirty = changed.files.filter((f) => !own.has(f));
    } catch {
      ui.warn("Not a git repository: cannot check for uncommitted changes before the bump");
    }
    if (dirty?.length) {
      throw new EnvironmentError(
        `Refusing to bump versions with uncommitted changes (${dirty.length} file(s), e.g. "${
          dirty[0]
        }")`,
        "Commit or stash them first (git status), or pass --allow-dirty",
      );
    }
  }
  const width = Math.max(...changes.map((c) => c.file.length + c.where.length + 1));
  ui.print(
    `${options.dryRun ? "Would set" : "Setting"} version ${plan.to}${
      plan.from ? ` (was ${plan.from})` : ""
    }:`,
  );
  for (const c of changes) {
    ui.print(`  ${`${c.file} ${ui.style("dim", c.where)}`.padEnd(width + 2)}  ${c.from} → ${c.to}`);
  }
  if (plan.sites.every((s) => s.current === plan.to)) {
    ui.info(`Every component is already at ${plan.to}: nothing to change`);
    return document;
  }
  if (options.dryRun) return document;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const files = await applyBump(project, plan, {
    backupDir: path.join(project.root, ".rig", "backup", `bump-${stamp}`),
  });
  ui.success(`Set version ${plan.to} in ${files.length} file(s)`);
  return document;
}

/** Runs the selected components' tests through rig test's library; returns the failed names. */
async function runTests(
  ctx: Context,
  project: Project,
  components: Component[],
): Promise<string | undefined> {
  const report = await runTestSuite(project, {
    components,
    env: ctx.env,
    ui: ctx.ui,
    signal: ctx.signal,
    mode: "all",
    passthrough: [],
    readCache: !ctx.flags.noCache,
    writeCache: !ctx.flags.noCache,
    explain: false,
    dryRun: false,
    verbose: ctx.flags.verbose,
  });
  if (report.ok) return undefined;
  const failed = report.tasks.filter((t) => !t.summary.ok);
  for (const task of failed) {
    ctx.ui.info(`${task.summary.component}: ${describeSummary(task.summary)}`);
    if (task.summary.failureOutput) ctx.ui.info(task.summary.failureOutput);
  }
  return [...new Set(failed.map((t) => t.summary.component))].join(", ") || "some components";
}

function jsonResult(project: Project, result: BuildResult) {
  return {
    ok: result.ok,
    root: project.root,
    manifest: posixRelative(project.root, result.manifest),
    components: result.components.map((c) => ({
      name: c.component,
      kind: c.kind,
      status: c.status,
      reason: c.reason ?? null,
      version: c.version ?? null,
      key: c.key ?? null,
      durationMs: Math.round(c.durationMs),
      checks: c.checks,
      artifacts: c.artifacts,
    })),
    docker: result.docker ?? null,
  };
}

function printResult(ctx: Context, project: Project, result: BuildResult): void {
  const { ui } = ctx;
  const rows = result.components.flatMap((c) =>
    c.artifacts.length
      ? c.artifacts.map((a) => [
        c.component,
        a.path ?? a.tags?.join(" ") ?? "-",
        a.version,
        a.size === undefined ? "-" : formatBytes(a.size),
        c.status,
      ])
      : [[c.component, "-", c.version ?? "-", "-", `${c.status}${c.reason ? `: ${c.reason}` : ""}`]]
  );
  if (rows.length) {
    ui.print(ui.table(["COMPONENT", "ARTIFACT", "VERSION", "SIZE", "STATUS"], rows));
  }
  const built = result.components.filter((c) => c.status === "built").length;
  const cached = result.components.filter((c) => c.status === "cached").length;
  const total = result.components.reduce((n, c) => n + c.durationMs, 0);
  ui.print(
    `${built} built, ${cached} from cache in ${formatDuration(total)}; manifest: ${
      posixRelative(project.root, result.manifest)
    }`,
  );
  if (ctx.flags.verbose) {
    for (const c of result.components) {
      for (const check of c.checks) ui.debug(`  ${c.component}: ${check}`);
    }
  }
}
