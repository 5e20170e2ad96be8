/**
 * Node components: `npm ci` / `npm install` with the shared download cache, and
 * the files that tell whether node_modules matches the lockfile.
 */
import { exists } from "../fs.ts";
import * as path from "node:path";
import { type OutputSink, type ProcResult, runChecked } from "../proc.ts";

/** Options of npm calls. */
export interface NpmOptions {
  env: Record<string, string>;
  /** The user-level download cache folder; npm uses `npm/` below it. */
  cacheDir?: string;
  signal?: AbortSignal;
  onLine?: OutputSink;
  onStart?: (pid: number) => void;
}

/** The environment npm runs with: shared cache, no funding/audit/update chatter. */
export function npmEnv(
  opts: { env: Record<string, string>; cacheDir?: string },
): Record<string, string> {
  const env = { ...opts.env };
  if (opts.cacheDir && !env.npm_config_cache && !env.NPM_CONFIG_CACHE) {
    env.npm_config_cache = path.join(opts.cacheDir, "npm");
  }
  env.npm_config_fund ??= "false";
  env.npm_config_audit ??= "false";
  env.npm_config_update_notifier ??= "false";
  return env;
}

/** Runs npm with `args` in `dir`; throws ProcessError with the output's tail on failure. */
export async function npm(dir: string, args: string[], opts: NpmOptions): Promise<ProcResult> {
  return await runChecked(["npm", ...args], {
    cwd: dir,
    env: npmEnv(opts),
    signal: opts.signal,
    onLine: opts.onLine,
    onStart: opts.onStart,
    missingHint: "Install Node.js 18+ (npm ships with it)",
    failureHint: "Read npm's message above, fix package.json, then run: rig install",
  });
}

/** `npm ci` when there is a lockfile, else `npm install`. */
export function setupArgs(dir: string): string[] {
  return exists(path.join(dir, "package-lock.json"))
    ? ["ci", "--no-fund", "--no-audit"]
    : ["install", "--no-fund", "--no-audit"];
}

/** The files whose content decides a node install: package.json and the lockfile. */
export function npmInputs(dir: string): string[] {
  return ["package.json", "package-lock.json", "npm-shrinkwrap.json"]
    .map((f) => path.join(dir, f))
    .filter(exists);
}

/** npm's record of what is in node_modules (written by npm ci/install). */
export function hiddenLockfile(dir: string): string {
  return path.join(dir, "node_modules", ".package-lock.json");
}

/** Whether node_modules exists and has npm's hidden lockfile. */
export function nodeModulesState(dir: string): "missing" | "present" | "unknown" {
  if (!exists(path.join(dir, "node_modules"))) return "missing";
  return exists(hiddenLockfile(dir)) ? "present" : "unknown";
}
