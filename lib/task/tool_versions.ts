/**
 * The one place tool versions for task keys come from, without starting a
 * process on the hot path: Python's version from the venv's pyvenv.cfg and its
 * installed distributions from the dist-info names; node's version from a memo
 * keyed by the node binary's path and stat, so `node --version` runs once per
 * new or replaced binary, not once per run.
 */
import * as path from "../path.ts";
import { type CacheOs, userCacheDir } from "../cache_paths.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { run, which } from "../proc.ts";
import { type Component, isNode } from "../project/project.ts";
import { detectToolchain, installMarker } from "../node/managers.ts";
import { isDir as existsDir } from "../fs.ts";
import { findVenv, installedDistributions, readPyvenvCfg, type Venv } from "../python/venv.ts";
import { sha256Hex } from "../hash.ts";
import { stableJson } from "./task_key.ts";

/** Options of the tool version readers. */
export interface ToolVersionOptions {
  /** The caller's environment: PATH finds node, RIG_CACHE_DIR/HOME place the memo. */
  env: Record<string, string>;
  /** The OS whose cache folder holds the memo (default: this one). */
  os?: CacheOs;
  /** The memo file (default `<user cache>/tool-versions.json`). */
  memoFile?: string;
  /** The project root: where a node component's workspace root is looked for. */
  root?: string;
}

/** A component's tools as they enter its task keys, and the venv they were read from. */
export interface ComponentTools {
  tools: Record<string, string>;
  venv?: Venv;
}

/**
 * The tools of a component: for Python components the interpreter version and a
 * hash of the installed distributions (or "no venv"); for node components node's
 * version, its package manager and a hash of what the manager recorded in
 * node_modules (`.package-lock.json`, `.modules.yaml`, …; or "missing").
 */
export async function componentTools(
  component: Component,
  opts: ToolVersionOptions,
): Promise<ComponentTools> {
  if (isNode(component)) {
    const tc = detectToolchain(component.dir, opts.root ?? component.dir);
    const marker = installMarker(tc);
    const lock = marker
      ? readOrEmpty(marker)
      : existsDir(path.join(tc.installDir, "node_modules"))
      ? "present"
      : "";
    return {
      tools: {
        node: await nodeVersion(opts),
        ...(tc.manager === "npm" ? {} : { manager: tc.manager }),
        node_modules: lock ? await sha256Hex(lock) : "missing",
      },
    };
  }
  const venv = findVenv(component, { env: opts.env });
  if (!venv) return { tools: { python: "no venv" } };
  return { tools: await pythonTools(venv), venv };
}

/** Python's version (pyvenv.cfg) and a hash of the venv's installed distributions. */
export async function pythonTools(venv: Venv): Promise<Record<string, string>> {
  const cfg = readPyvenvCfg(venv.dir);
  return {
    python: cfg.version ?? cfg.version_info ?? "unknown",
    "python-packages": await sha256Hex(stableJson(installedDistributions(venv))),
  };
}

const known = new Map<string, string>();

/**
 * node's version ("missing" without node on PATH), remembered per binary: its
 * path, size, mtime and inode. Only a new or replaced binary starts
 * `node --version`.
 */
export async function nodeVersion(opts: ToolVersionOptions): Promise<string> {
  const node = which("node", opts.env);
  if (!node) return "missing";
  const id = binaryId(node);
  if (!id) return "unknown";
  const memoFile = opts.memoFile ??
    path.join(userCacheDir(opts.env, opts.os ?? Deno.build.os), "tool-versions.json");
  const remembered = known.get(id) ?? readMemo(memoFile)[id];
  if (remembered) return remembered;
  const out = await run([node, "--version"], { env: opts.env, timeoutMs: 10_000 })
    .catch(() => undefined);
  const version = out?.success ? out.stdout.trim() : "";
  if (!version) return "unknown";
  known.set(id, version);
  await writeMemo(memoFile, id, version);
  return version;
}

/** A binary's identity for the memo: path plus stat data that any replacement changes. */
export function binaryId(file: string): string | undefined {
  try {
    const real = Deno.realPathSync(file);
    const info = Deno.statSync(real);
    return `${real}|${info.size}|${info.mtime?.getTime() ?? 0}|${info.ino ?? 0}`;
  } catch {
    return undefined;
  }
}

function readMemo(file: string): Record<string, string> {
  try {
    const data = JSON.parse(Deno.readTextFileSync(file));
    return data && typeof data === "object" ? data : {};
  } catch {
    return {};
  }
}

async function writeMemo(file: string, id: string, version: string): Promise<void> {
  // Only a memo: a failed write costs one more `node --version` next time.
  const data = readMemo(file);
  data[id] = version;
  await writeFileAtomic(file, JSON.stringify(data)).catch(() => {});
}

function readOrEmpty(file: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return "";
  }
}
