/**
 * npm itself (for what only npm does, such as `npm pack`), with the shared
 * download cache. Installs and scripts go through the component's own package
 * manager: see managers.ts.
 */
import * as path from "../path.ts";
import { type ProcResult, runChecked } from "../proc.ts";
import type { ManagerOptions } from "./managers.ts";

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
export async function npm(dir: string, args: string[], opts: ManagerOptions): Promise<ProcResult> {
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
