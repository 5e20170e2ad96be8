/**
 * Installing into a venv with pip or uv (`uv pip install --python <venv python>`):
 * choosing the installer, building its environment (shared download cache,
 * index settings passed through), installing, uninstalling and `pip check`.
 */
import * as path from "../path.ts";
import { EnvironmentError, ProcessError } from "../errors.ts";
import { type OutputSink, type ProcResult, runChecked, spawn, which } from "../proc.ts";
import { type Venv, venvEnv } from "./venv.ts";

/** The program that installs Python packages. */
export type Installer = "pip" | "uv";

/** Options of every pip/uv call. */
export interface PipOptions {
  env: Record<string, string>;
  installer: Installer;
  /** The user-level download cache folder (`<user cache>`; pip uses `pip/`, uv `uv/` below it). */
  cacheDir?: string;
  cwd?: string;
  signal?: AbortSignal;
  onLine?: OutputSink;
  /** Called with the child's pid once it started (for the interrupt journal). */
  onStart?: (pid: number) => void;
}

/** uv when it is on PATH, else pip; `RIG_INSTALLER=uv|pip` forces one. */
export function chooseInstaller(env: Record<string, string>): Installer {
  const forced = env.RIG_INSTALLER?.trim().toLowerCase();
  if (forced === "pip") return "pip";
  if (forced === "uv") {
    if (!which("uv", env)) {
      throw new EnvironmentError(
        `RIG_INSTALLER is "uv" but "uv" is not on PATH`,
        "Run: pip install uv (or unset RIG_INSTALLER to use pip)",
      );
    }
    return "uv";
  }
  if (forced) {
    throw new EnvironmentError(
      `RIG_INSTALLER must be "uv" or "pip", not "${env.RIG_INSTALLER}"`,
      "Unset RIG_INSTALLER to let rig choose",
    );
  }
  return which("uv", env) ? "uv" : "pip";
}

/** The environment pip/uv run with: venv activated, shared cache, index settings mapped for uv. */
export function installerEnv(
  venv: Venv,
  opts: { env: Record<string, string>; cacheDir?: string },
): Record<string, string> {
  const env = venvEnv(venv, opts.env);
  env.PIP_DISABLE_PIP_VERSION_CHECK = "1";
  env.PIP_NO_INPUT = "1";
  if (opts.cacheDir) {
    env.PIP_CACHE_DIR ??= path.join(opts.cacheDir, "pip");
    env.UV_CACHE_DIR ??= path.join(opts.cacheDir, "uv");
  }
  // uv does not read pip's variables; pass the user's index settings on.
  if (env.PIP_INDEX_URL && !env.UV_INDEX_URL && !env.UV_DEFAULT_INDEX) {
    env.UV_INDEX_URL = env.PIP_INDEX_URL;
  }
  if (env.PIP_EXTRA_INDEX_URL && !env.UV_EXTRA_INDEX_URL && !env.UV_INDEX) {
    env.UV_EXTRA_INDEX_URL = env.PIP_EXTRA_INDEX_URL;
  }
  if (env.PIP_FIND_LINKS && !env.UV_FIND_LINKS) env.UV_FIND_LINKS = env.PIP_FIND_LINKS;
  if (env.PIP_NO_INDEX && !env.UV_NO_INDEX) env.UV_NO_INDEX = env.PIP_NO_INDEX;
  return env;
}

/** The argv of `pip install ARGS` (or `uv pip install --python … ARGS`). */
export function installArgv(venv: Venv, args: string[], installer: Installer): string[] {
  return installer === "uv"
    ? ["uv", "pip", "install", "--python", venv.python, ...args]
    : [venv.python, "-m", "pip", "install", ...args];
}

/** Runs `pip install ARGS` in the venv; throws ProcessError with the output's tail on failure. */
export async function pipInstall(
  venv: Venv,
  args: string[],
  opts: PipOptions,
): Promise<ProcResult> {
  return await runTracked(installArgv(venv, args, opts.installer), venv, opts);
}

/** Uninstalls distributions from the venv (no questions asked). */
export async function pipUninstall(venv: Venv, names: string[], opts: PipOptions): Promise<void> {
  if (names.length === 0) return;
  const argv = opts.installer === "uv"
    ? ["uv", "pip", "uninstall", "--python", venv.python, ...names]
    : [venv.python, "-m", "pip", "uninstall", "-y", ...names];
  await runTracked(argv, venv, opts);
}

/** Runs `pip check`; returns its complaint lines (empty when the environment is consistent). */
export async function pipCheck(venv: Venv, opts: PipOptions): Promise<string[]> {
  const child = spawn([venv.python, "-m", "pip", "check"], {
    env: installerEnv(venv, opts),
    cwd: opts.cwd,
    signal: opts.signal,
  });
  const result = await child.status;
  if (result.success) return [];
  return (result.stdout + result.stderr).split("\n").map((l) => l.trim()).filter(Boolean);
}

async function runTracked(argv: string[], venv: Venv, opts: PipOptions): Promise<ProcResult> {
  return await runChecked(argv, {
    env: installerEnv(venv, opts),
    cwd: opts.cwd,
    signal: opts.signal,
    onLine: opts.onLine,
    onStart: opts.onStart,
    failureHint: opts.installer === "uv"
      ? "Read uv's message above; RIG_INSTALLER=pip retries with pip"
      : "Read pip's message above, fix the requirement, then run: rig install",
  });
}

/**
 * `pip install` with uv when chosen, falling back to pip (with a warning) when uv fails;
 * returns the installer that succeeded. An interruption is never retried.
 */
export async function installWithFallback(
  venv: Venv,
  args: string[],
  opts: PipOptions & { warn: (text: string) => void },
): Promise<Installer> {
  if (opts.installer === "pip") {
    await pipInstall(venv, args, opts);
    return "pip";
  }
  try {
    await pipInstall(venv, args, opts);
    return "uv";
  } catch (error) {
    if (!(error instanceof ProcessError) || opts.signal?.aborted) throw error;
    const reason = error.output.trim().split("\n").filter(Boolean).pop() ??
      `exit code ${error.code}`;
    opts.warn(`uv failed (${reason}); retrying with pip`);
    await pipInstall(venv, args, { ...opts, installer: "pip" });
    return "pip";
  }
}
