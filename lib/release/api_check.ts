/**
 * The API-aware bump check: exports the server's OpenAPI document as it is
 * now and as it was at the last release tag (from a temporary git worktree of
 * that revision), and compares them. Both exports are remembered by the git
 * tree hash of the server folder, so a second release (or a retry) starts no
 * Python at all for an unchanged revision.
 */
import * as path from "node:path";
import { projectCacheDir } from "../cache_paths.ts";
import { EnvironmentError } from "../errors.ts";
import { gitRoot } from "../git.ts";
import { sha256Hex } from "../hash.ts";
import { loadEnvironment } from "../env/env_config.ts";
import { exportContract, rememberedContract } from "../test/openapi_contract.ts";
import { findVenv, venvEnv } from "../python/venv.ts";
import type { Component, Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { type ApiChange, diffOpenApi } from "./api_diff.ts";
import { git, gitChecked } from "./git_ops.ts";

/** The outcome of the API check. */
export interface ApiCheck {
  server: string;
  /** The tag compared against; undefined on a first release. */
  baseTag?: string;
  changes: ApiChange[];
  /** Why the check did not run, when it did not. */
  skipped?: string;
}

/** Options of the API check. */
export interface ApiCheckOptions {
  env: Record<string, string>;
  ui: Ui;
  signal?: AbortSignal;
  baseTag?: string;
  /** False in dry runs: do not create or complete .env.test. */
  generateEnv?: boolean;
}

/** Compares the server's API now with the API at `baseTag`. */
export async function checkApi(
  project: Project,
  server: Component,
  options: ApiCheckOptions,
): Promise<ApiCheck> {
  const result: ApiCheck = { server: server.name, baseTag: options.baseTag, changes: [] };
  if (!options.baseTag) return { ...result, skipped: "first release: no earlier tag to compare" };
  if (!server.app) return { ...result, skipped: `no FastAPI app found in "${server.path}"` };
  const venv = findVenv(server, { env: options.env });
  if (!venv) {
    throw new EnvironmentError(
      `Cannot export the API of "${server.name}": it has no virtual environment`,
      "Run: rig install",
    );
  }
  const gitOptions = { env: options.env, signal: options.signal };
  const top = await gitRoot(project.root, gitOptions);
  if (!top) return { ...result, skipped: "not a git repository" };
  const serverPath = path.relative(top, server.dir).split(path.sep).join("/") || ".";
  const loaded = await loadEnvironment(project, {
    name: "test",
    processEnv: options.env,
    ui: options.ui,
    generate: options.generateEnv ?? true,
  });
  const env = venvEnv(venv, loaded.values);
  const memoDir = path.join(projectCacheDir(project.root), "contracts");
  const python = await sha256Hex(venv.python);
  const treeOf = (rev: string) =>
    gitChecked(top, ["rev-parse", `${rev}:${serverPath === "." ? "" : serverPath}`], gitOptions);

  const nowTree = await treeOf("HEAD");
  const now = await exportContract(server.dir, {
    python: venv.python,
    app: server.app,
    env,
    signal: options.signal,
    memoDir,
    inputsHash: `release-${nowTree}-${python.slice(0, 16)}`,
  });
  const baseTree = await treeOf(options.baseTag);
  const inputsHash = `release-${baseTree}-${python.slice(0, 16)}`;
  let before = await rememberedContract(memoDir, inputsHash);
  if (!before) {
    const worktree = await Deno.makeTempDir({ prefix: "rig-release-api-" });
    try {
      await gitChecked(top, ["worktree", "add", "--detach", "--force", worktree, options.baseTag], {
        ...gitOptions,
        hint: `Check that the tag "${options.baseTag}" is a commit here`,
      });
      before = await exportContract(path.join(worktree, serverPath), {
        python: venv.python,
        app: server.app,
        env,
        signal: options.signal,
        memoDir,
        inputsHash,
      });
    } finally {
      await git(top, ["worktree", "remove", "--force", worktree], gitOptions);
      await Deno.remove(worktree, { recursive: true }).catch(() => {});
      await git(top, ["worktree", "prune"], gitOptions);
    }
  }
  result.changes = diffOpenApi(JSON.parse(before.document), JSON.parse(now.document));
  return result;
}
