/**
 * The API-aware bump check: exports the server's OpenAPI document as it is
 * now and as it was at the last release tag (from a temporary git worktree of
 * that revision), and compares them. Both exports are "openapi" entries of the
 * task store keyed by the git tree hash of the server folder, so a second
 * release (or a retry) starts no Python at all for an unchanged revision.
 */
import * as path from "../path.ts";
import { EnvironmentError } from "../errors.ts";
import { gitRoot } from "../git.ts";
import { sha256Hex } from "../hash.ts";
import { loadEnvironment } from "../env/env_config.ts";
import { CONTRACT_TASK, contractFor, rememberedContract } from "../testing/openapi_contract.ts";
import { TaskEngine } from "../task/task.ts";
import { findVenv, venvEnv } from "../python/venv.ts";
import type { Component, Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { type ApiChange, diffOpenApi } from "./api_diff.ts";
import { git, gitChecked } from "./git_ops.ts";
import { posixRelative } from "../fs.ts";

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
  const serverPath = posixRelative(top, server.dir) || ".";
  const loaded = await loadEnvironment(project, {
    name: "test",
    processEnv: options.env,
    ui: options.ui,
    generate: options.generateEnv ?? true,
  });
  const env = venvEnv(venv, loaded.values);
  const engine = new TaskEngine(project, { env: options.env, ui: options.ui });
  const python = await sha256Hex(venv.python);
  const contractTask = (tree: string) =>
    engine.key({
      task: CONTRACT_TASK,
      component: server.name,
      command: ["export-openapi", server.app!, `release-tree=${tree}`],
      inputs: {},
      tools: { python },
    });
  const treeOf = (rev: string) =>
    gitChecked(top, ["rev-parse", `${rev}:${serverPath === "." ? "" : serverPath}`], gitOptions);

  const nowTree = await treeOf("HEAD");
  const now = await contractFor(engine, await contractTask(nowTree), server.name, {
    serverDir: server.dir,
    python: venv.python,
    app: server.app,
    env,
    signal: options.signal,
  });
  const baseTask = await contractTask(await treeOf(options.baseTag));
  let before = await rememberedContract(engine, baseTask, server.name);
  if (!before) {
    const worktree = await Deno.makeTempDir({ prefix: "rig-release-api-" });
    try {
      await gitChecked(top, ["worktree", "add", "--detach", "--force", worktree, options.baseTag], {
        ...gitOptions,
        hint: `Check that the tag "${options.baseTag}" is a commit here`,
      });
      before = await contractFor(engine, baseTask, server.name, {
        serverDir: path.join(worktree, serverPath),
        python: venv.python,
        app: server.app,
        env,
        signal: options.signal,
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
