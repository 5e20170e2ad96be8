/**
 * What a release will publish (its targets) and everything that must hold
 * before anything changes: a clean work tree, the release branch, in sync
 * with the remote, unused tags, credentials per target (names, never
 * values), the tools the targets need. Every check runs; all failures are
 * reported together.
 */
import * as path from "../path.ts";
import { parse as parseToml } from "smol-toml";
import { which } from "../proc.ts";
import { buildPlan } from "../builder/build_plan.ts";
import type { Component, Project } from "../project/project.ts";
import { githubRepoFromUrl, type ReleaseConfig } from "./config.ts";
import {
  aheadBehind,
  currentBranch,
  dirtyFiles,
  git,
  refExists,
  remoteDefaultBranch,
  remoteTags,
  remoteUrl,
} from "./git_ops.ts";
import { npmAuthSource } from "./publish_npm.ts";
import { PYPI_TOKEN_VARS, uploadTool } from "./publish_python.ts";
import { gitRoot, relativeToProject } from "../git.ts";

/** One check's outcome. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** A Python distribution to upload. */
export interface PythonPackage {
  component: Component;
  name: string;
}

/** An npm package to publish. */
export interface NpmPackage {
  component: Component;
  name: string;
}

/** What a release publishes, and why a target is skipped. */
export interface Targets {
  python: { packages: PythonPackage[]; skipped?: string };
  npm: { packages: NpmPackage[]; skipped?: string };
  github: { repo?: string; skipped?: string };
  image: { components: Component[]; skipped?: string };
}

/** Finds the release's targets among the selected components. */
export async function findTargets(
  project: Project,
  components: Component[],
  config: ReleaseConfig,
  options: { env: Record<string, string>; publish: boolean; push: boolean },
): Promise<Targets> {
  const python: PythonPackage[] = [];
  const npm: NpmPackage[] = [];
  for (const component of components) {
    if (component.kind === "node-lib") {
      const pkg = JSON.parse(await Deno.readTextFile(path.join(component.dir, "package.json")));
      if (pkg.private !== true && typeof pkg.name === "string") {
        npm.push({ component, name: pkg.name });
      }
    } else if ((await buildPlan(component)).python) {
      const data = parseToml(await Deno.readTextFile(path.join(component.dir, "pyproject.toml")));
      const name = (data.project as Record<string, unknown>).name;
      python.push({ component, name: typeof name === "string" ? name : component.name });
    }
  }
  const off = options.publish ? undefined : "--no-publish";
  const url = await remoteUrl(project.root, config.remote, { env: options.env });
  const repo = config.github.repo ?? (url ? githubRepoFromUrl(url) : undefined);
  const apps = components.filter((c) => c.kind === "python-app");
  return {
    python: {
      packages: python,
      skipped: off ??
        (!config.python.enabled
          ? "[release.python] enabled = false"
          : python.length
          ? undefined
          : "no Python package among the selected components"),
    },
    npm: {
      packages: npm,
      skipped: off ??
        (!config.npm.enabled
          ? "[release.npm] enabled = false"
          : npm.length
          ? undefined
          : "no public npm package among the selected components"),
    },
    github: {
      repo,
      skipped: off ??
        (!config.github.enabled
          ? "[release.github] enabled = false"
          : !options.push
          ? "--no-push (a GitHub release needs the pushed tag)"
          : repo
          ? undefined
          : `remote "${config.remote}" is not on GitHub and rig.toml sets no [release.github] repo`),
    },
    image: {
      components: apps,
      skipped: off ??
        (!config.image.enabled || !apps.length
          ? "no server image to push"
          : !config.image.registry
          ? "no [release.image] registry set (rig build --docker builds the image locally)"
          : undefined),
    },
  };
}

/** Options of the precondition checks. */
export interface PreconditionOptions {
  env: Record<string, string>;
  signal?: AbortSignal;
  config: ReleaseConfig;
  tags: string[];
  targets: Targets;
  push: boolean;
}

/** The branch the release is made from and the remote ref it must match. */
export interface BranchState {
  branch?: string;
  expected?: string;
  upstream?: string;
}

/** Runs every check that needs no network but `git fetch`; returns them all, failed or not. */
export async function checkPreconditions(
  project: Project,
  options: PreconditionOptions,
): Promise<{ checks: Check[]; branch: BranchState }> {
  const checks: Check[] = [];
  const gitOptions = { env: options.env, signal: options.signal };
  const { config } = options;
  const root = project.root;
  const top = await gitRoot(root, gitOptions);
  const state: BranchState = {};
  if (!top) {
    checks.push({
      name: "git repository",
      ok: false,
      detail: `"${root}" is not inside a git repository`,
      fix: "Run: git init && git add -A && git commit -m init",
    });
    return { checks, branch: state };
  }
  // 1. Clean work tree (rig's own .rig/ and dist/ do not count).
  const dirty = relativeToProject(top, root, await dirtyFiles(root, gitOptions)).filter((f) =>
    !f.startsWith(".rig/") && !f.startsWith("dist/")
  );
  checks.push(
    dirty.length
      ? {
        name: "clean work tree",
        ok: false,
        detail: `${dirty.length} uncommitted file(s), e.g. "${dirty[0]}"`,
        fix: "Commit or stash them first (git status)",
      }
      : { name: "clean work tree", ok: true, detail: "nothing uncommitted" },
  );
  // 2. The release branch.
  const url = await remoteUrl(root, config.remote, gitOptions);
  state.branch = await currentBranch(root, gitOptions);
  state.expected = config.branch ??
    (url ? await remoteDefaultBranch(root, config.remote, gitOptions) : undefined) ?? state.branch;
  if (!state.branch) {
    checks.push({
      name: "release branch",
      ok: false,
      detail: "HEAD is detached",
      fix: `Check out the release branch: git switch ${state.expected ?? "main"}`,
    });
  } else if (state.branch !== state.expected) {
    checks.push({
      name: "release branch",
      ok: false,
      detail: `on "${state.branch}", releases are made from "${state.expected}"${
        config.branch ? " (rig.toml [release] branch)" : ` (the default branch of ${config.remote})`
      }`,
      fix: `Run: git switch ${state.expected}  (or set [release] branch in rig.toml)`,
    });
  } else {
    checks.push({ name: "release branch", ok: true, detail: `on "${state.branch}"` });
  }
  // 3. In sync with the remote.
  if (!url) {
    checks.push({
      name: "remote",
      ok: !options.push,
      detail: `no remote "${config.remote}"`,
      fix: options.push
        ? `Add it (git remote add ${config.remote} URL), set [release] remote, or pass --no-push`
        : undefined,
    });
  } else if (state.branch) {
    const fetched = await git(root, ["fetch", "--quiet", config.remote], gitOptions);
    const ref = `refs/remotes/${config.remote}/${state.branch}`;
    if (!fetched.success) {
      checks.push({
        name: "in sync with remote",
        ok: false,
        detail: `git fetch ${config.remote} failed: ${fetched.stderr.trim().split("\n").pop()}`,
        fix: `Check the remote and your access: git fetch ${config.remote}`,
      });
    } else if (!(await refExists(root, ref, gitOptions))) {
      checks.push({
        name: "in sync with remote",
        ok: false,
        detail: `"${config.remote}" has no branch "${state.branch}"`,
        fix: `Push it first: git push -u ${config.remote} ${state.branch}`,
      });
    } else {
      state.upstream = `${config.remote}/${state.branch}`;
      const { ahead, behind } = await aheadBehind(root, ref, gitOptions);
      checks.push(
        ahead || behind
          ? {
            name: "in sync with remote",
            ok: false,
            detail: `"${state.branch}" is ${
              [ahead ? `${ahead} commit(s) ahead of` : "", behind ? `${behind} behind` : ""]
                .filter(Boolean).join(" and ")
            } ${state.upstream}`,
            fix: behind
              ? `Run: git pull --ff-only ${config.remote} ${state.branch}`
              : `Push or drop the local commits first: git push ${config.remote} ${state.branch}`,
          }
          : { name: "in sync with remote", ok: true, detail: `same commit as ${state.upstream}` },
      );
    }
  }
  // 4. Tags unused, locally and remotely.
  const local: string[] = [];
  for (const tag of options.tags) {
    if (await refExists(root, `refs/tags/${tag}`, gitOptions)) local.push(tag);
  }
  let remote: string[] = [];
  if (url) {
    try {
      remote = await remoteTags(root, config.remote, options.tags, gitOptions);
    } catch (error) {
      checks.push({ name: "tag unused", ok: false, detail: (error as Error).message });
    }
  }
  checks.push(
    local.length || remote.length
      ? {
        name: "tag unused",
        ok: false,
        detail: [
          local.length ? `${local.join(", ")} exists locally` : "",
          remote.length ? `${remote.join(", ")} exists on ${config.remote}` : "",
        ].filter(Boolean).join("; "),
        fix: "Choose another version (rig release X.Y.Z), or delete the stale tag: git tag -d TAG",
      }
      : { name: "tag unused", ok: true, detail: `${options.tags.join(", ")} is free` },
  );
  checks.push(...await credentialChecks(project, options));
  return { checks, branch: state };
}

async function credentialChecks(project: Project, options: PreconditionOptions): Promise<Check[]> {
  const { targets, config, env } = options;
  const checks: Check[] = [];
  if (!targets.python.skipped) {
    const names = PYPI_TOKEN_VARS.filter((v) => env[v]);
    checks.push(
      names.length ? { name: "PyPI credentials", ok: true, detail: `${names[0]} is set` } : {
        name: "PyPI credentials",
        ok: false,
        detail: `neither ${
          PYPI_TOKEN_VARS.join(" nor ")
        } is set (for ${config.python.repositoryUrl})`,
        fix: "Export RIG_PYPI_TOKEN=<an API token of the index>, or pass --no-publish",
      },
    );
    try {
      const tool = uploadTool(config.python, env);
      checks.push({ name: "upload tool", ok: true, detail: `${tool.tool} (${tool.program})` });
    } catch (error) {
      checks.push({
        name: "upload tool",
        ok: false,
        detail: (error as Error).message,
        fix: (error as { hint?: string }).hint,
      });
    }
  }
  if (!targets.npm.skipped) {
    for (const pkg of targets.npm.packages) {
      const source = await npmAuthSource(
        config.npm.registry,
        [pkg.component.dir, project.root],
        env,
      );
      checks.push(
        source ? { name: `npm credentials (${pkg.name})`, ok: true, detail: `from ${source}` } : {
          name: `npm credentials (${pkg.name})`,
          ok: false,
          detail: `no NPM_TOKEN and no auth for ${config.npm.registry} in .npmrc`,
          fix: "Export NPM_TOKEN=<an automation token>, or run: npm login --registry " +
            config.npm.registry,
        },
      );
    }
    if (!which("npm", env)) {
      checks.push({ name: "npm", ok: false, detail: "npm is not on PATH", fix: "Install Node.js" });
    }
  }
  if (!targets.github.skipped) {
    checks.push(
      env[config.github.tokenEnv]
        ? { name: "GitHub credentials", ok: true, detail: `${config.github.tokenEnv} is set` }
        : {
          name: "GitHub credentials",
          ok: false,
          detail: `${config.github.tokenEnv} is not set (for ${targets.github.repo})`,
          fix:
            `Export ${config.github.tokenEnv}=<a token with contents: write>, or set [release.github] enabled = false`,
        },
    );
  }
  return checks;
}
