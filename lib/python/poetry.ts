/**
 * Poetry projects: the lock check (`poetry check --lock`), the locked install
 * into the component's in-project `.venv` with its dev/test groups, and
 * `poetry add` for `rig install PKG`.
 */
import * as path from "../path.ts";
import { EnvironmentError, ProcessError } from "../errors.ts";
import { type OutputSink, run, runChecked } from "../proc.ts";
import { isFile, posixRelative } from "../fs.ts";
import { type ManagerInfo, readPyprojectData } from "./managers.ts";

/** Poetry dependency groups of a pyproject: name → optional. */
export function poetryGroups(dir: string, root?: string): Record<string, boolean> {
  const data = readPyprojectData(dir, root);
  const poetry = ((data?.tool as Record<string, unknown> | undefined)?.poetry ?? {}) as Record<
    string,
    unknown
  >;
  const out: Record<string, boolean> = {};
  for (const [name, group] of Object.entries((poetry.group ?? {}) as Record<string, unknown>)) {
    out[name] = !!(group as { optional?: unknown }).optional;
  }
  if (poetry["dev-dependencies"] && !("dev" in out)) out.dev = false;
  return out;
}

/** The groups rig asks for on top of Poetry's defaults: dev and test, when optional. */
export function extraGroups(dir: string, root?: string): string[] {
  const groups = poetryGroups(dir, root);
  return ["dev", "test"].filter((g) => groups[g] === true);
}

/** Options of Poetry calls. */
export interface PoetryOptions {
  poetry: string;
  env: Record<string, string>;
  cacheDir?: string;
  signal?: AbortSignal;
  onLine?: OutputSink;
  onStart?: (pid: number) => void;
}

/** The environment Poetry runs with: in-project `.venv`, no prompts, shared cache. */
export function poetryEnv(opts: { env: Record<string, string>; cacheDir?: string }) {
  const env = { ...opts.env };
  delete env.PYTHONHOME;
  env.POETRY_VIRTUALENVS_IN_PROJECT = "true";
  env.POETRY_VIRTUALENVS_CREATE = "true";
  env.POETRY_NO_INTERACTION = "1";
  if (opts.cacheDir) env.POETRY_CACHE_DIR ??= path.join(opts.cacheDir, "poetry");
  return env;
}

/** The error for a missing or stale poetry.lock (one wording everywhere). */
export function poetryLockError(
  info: ManagerInfo,
  root: string,
  detail: string,
): EnvironmentError {
  const lock = rel(root, info.lockFile!);
  const dir = rel(root, info.projectDir) || ".";
  return new EnvironmentError(
    `"${lock}" ${detail}`,
    `Update the lock with: poetry lock${dir === "." ? "" : ` (in ${dir})`}, then run: rig install`,
  );
}

/** Checks poetry.lock: present and current for pyproject.toml (`poetry check --lock`). */
export async function checkPoetryLock(
  info: ManagerInfo,
  root: string,
  opts: { poetry: string; env: Record<string, string>; cacheDir?: string; signal?: AbortSignal },
): Promise<EnvironmentError | undefined> {
  if (!isFile(info.lockFile!)) return poetryLockError(info, root, "is missing");
  const result = await run([opts.poetry, "check", "--lock", "--no-ansi"], {
    cwd: info.projectDir,
    env: poetryEnv(opts),
    signal: opts.signal,
    timeoutMs: 120_000,
  });
  if (result.success) return undefined;
  const output = `${result.stdout}\n${result.stderr}`;
  if (/changed significantly|not consistent|lock file/i.test(output)) {
    return poetryLockError(info, root, "is out of date with pyproject.toml");
  }
  const first = output.split("\n").map((l) => l.trim()).find(Boolean) ?? "";
  return new EnvironmentError(
    `"poetry check" rejects ${rel(root, path.join(info.projectDir, "pyproject.toml"))}: ${first}`,
    "Fix pyproject.toml (see poetry check), then run: rig install",
  );
}

/** The argv of the locked install: `poetry install` with the optional dev/test groups. */
export function poetryInstallArgv(info: ManagerInfo, poetry: string, root?: string): string[] {
  const groups = extraGroups(info.projectDir, root);
  return [
    poetry,
    "install",
    "--no-interaction",
    "--no-ansi",
    ...(groups.length ? ["--with", groups.join(",")] : []),
  ];
}

/** Runs the locked install; a stale lock becomes the error `checkPoetryLock` gives. */
export async function poetryInstall(
  info: ManagerInfo,
  root: string,
  opts: PoetryOptions,
): Promise<void> {
  try {
    await runChecked(poetryInstallArgv(info, opts.poetry, root), {
      cwd: info.projectDir,
      env: poetryEnv(opts),
      signal: opts.signal,
      onLine: opts.onLine,
      onStart: opts.onStart,
      failureHint: "Read Poetry's message above, fix the project, then run: rig install",
    });
  } catch (error) {
    if (error instanceof ProcessError && /changed significantly/i.test(error.output)) {
      throw poetryLockError(info, root, "is out of date with pyproject.toml");
    }
    throw error;
  }
}

/** The argv of `poetry add` for `rig install PKG` (`--group dev` or `--group G`). */
export function poetryAddArgv(
  packages: string[],
  opts: { poetry: string; dev?: boolean; group?: string },
): string[] {
  const group = opts.group ?? (opts.dev ? "dev" : undefined);
  return [
    opts.poetry,
    "add",
    "--no-interaction",
    "--no-ansi",
    ...(group ? ["--group", group] : []),
    ...packages,
  ];
}

function rel(root: string, file: string): string {
  return posixRelative(root, file);
}
