/**
 * uv projects and workspaces: checking `uv.lock` against the pyproject files
 * (statically, offline, then with uv itself), `uv sync --locked` into the
 * component's (or workspace's) `.venv`, and `uv add` for `rig install PKG`.
 */
import * as path from "../path.ts";
import { parse as parseToml } from "smol-toml";
import { ConfigError, EnvironmentError, ProcessError } from "../errors.ts";
import { type OutputSink, run, runChecked } from "../proc.ts";
import type { ManagerInfo } from "./managers.ts";
import { readPyprojectData } from "./managers.ts";
import { parseRequirement } from "./requirements.ts";
import { posixRelative } from "../fs.ts";

/** One requirement as uv.lock's metadata records it. */
interface LockedRequirement {
  name: string;
  extras?: string[];
  specifier?: string;
}

/** A workspace member (or the single project) as uv.lock records it. */
interface LockedPackage {
  name: string;
  source?: Record<string, unknown>;
  metadata?: {
    "requires-dist"?: LockedRequirement[];
    "requires-dev"?: Record<string, LockedRequirement[]>;
  };
}

/** What `uv.lock` says, parsed (ConfigError naming the file and line when corrupt). */
export function readUvLock(lock: string, root: string): {
  packages: LockedPackage[];
  members: string[];
} {
  const shown = rel(root, lock);
  let text: string;
  try {
    text = Deno.readTextFileSync(lock);
  } catch {
    throw new EnvironmentError(
      `"${shown}" is missing`,
      `Create it with: uv lock (in ${rel(root, path.dirname(lock)) || "."}), then run: rig install`,
    );
  }
  let data: Record<string, unknown>;
  try {
    data = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(
      shown,
      (error as { line?: number }).line,
      `is not a valid lock file: ${(error as Error).message.split("\n")[0]}`,
      `Restore it (git checkout -- ${shown}) or regenerate it with: uv lock`,
    );
  }
  if (typeof data.version !== "number" || !Array.isArray(data.package)) {
    throw new ConfigError(
      shown,
      undefined,
      "is not a uv lock file (no version or [[package]] entries)",
      `Restore it (git checkout -- ${shown}) or regenerate it with: uv lock`,
    );
  }
  const manifest = data.manifest as { members?: unknown } | undefined;
  return {
    packages: data.package as LockedPackage[],
    members: Array.isArray(manifest?.members) ? manifest.members.map(String) : [],
  };
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

function normalizeSpecifier(spec: string | undefined): string {
  return (spec ?? "").replace(/\s+/g, "").split(",").filter(Boolean).sort().join(",");
}

function key(name: string, extras: string[] | undefined, spec: string | undefined): string {
  const e = [...(extras ?? [])].map(normalizeName).sort().join(",");
  return `${normalizeName(name)}[${e}]${normalizeSpecifier(spec)}`;
}

/** Requirement keys of a list of PEP 508 strings (unparseable ones kept verbatim). */
function keysOf(list: unknown, sources: Set<string>): string[] {
  if (!Array.isArray(list)) return [];
  return list.filter((v) => typeof v === "string").map((text) => {
    try {
      const r = parseRequirement(text as string);
      if (!r.name) return text as string;
      // uv records the source (workspace, path, git) instead of a specifier for these.
      return sources.has(normalizeName(r.name))
        ? key(r.name, r.extras, "")
        : key(r.name, r.extras, r.url ? `@${r.url}` : r.specifier);
    } catch {
      return text as string;
    }
  });
}

function lockedKeys(list: LockedRequirement[] | undefined, sources: Set<string>): string[] {
  return (list ?? []).map((r) => {
    const n = normalizeName(r.name);
    if (sources.has(n)) return key(r.name, r.extras, "");
    const url = (r as unknown as { url?: string }).url;
    return key(r.name, r.extras, url ? `@${url}` : r.specifier);
  });
}

/**
 * The differences between the pyproject files and what uv.lock recorded for
 * them (empty when the lock is current, as far as can be told offline).
 */
export function uvLockDifferences(info: ManagerInfo, root: string): string[] {
  const lock = readUvLock(info.lockFile!, root);
  const members = info.workspace?.members ?? [info.projectDir];
  const problems: string[] = [];
  const byName = new Map(lock.packages.map((p) => [normalizeName(p.name), p]));
  for (const dir of members) {
    const data = readPyprojectData(dir, root);
    const project = data?.project as Record<string, unknown> | undefined;
    const shown = rel(root, path.join(dir, "pyproject.toml"));
    if (!project?.name) continue; // A virtual root: nothing of its own is locked.
    const name = normalizeName(String(project.name));
    const locked = byName.get(name);
    if (!locked) {
      problems.push(`${shown}: project "${project.name}" is not in the lock`);
      continue;
    }
    const uv = ((data?.tool as Record<string, unknown> | undefined)?.uv ?? {}) as Record<
      string,
      unknown
    >;
    const sources = new Set(Object.keys(uv.sources ?? {}).map(normalizeName));
    const wanted = keysOf(project.dependencies, sources);
    const optional = (project["optional-dependencies"] ?? {}) as Record<string, unknown>;
    for (const list of Object.values(optional)) wanted.push(...keysOf(list, sources));
    compare(wanted, lockedKeys(locked.metadata?.["requires-dist"], sources), shown, problems);
    const groups: Record<string, string[]> = {};
    const declared = (data?.["dependency-groups"] ?? {}) as Record<string, unknown>;
    for (const [group, list] of Object.entries(declared)) {
      groups[normalizeName(group)] = keysOf(
        (list as unknown[]).filter((v) => typeof v === "string"),
        sources,
      );
    }
    if (Array.isArray(uv["dev-dependencies"])) {
      (groups.dev ??= []).push(...keysOf(uv["dev-dependencies"], sources));
    }
    const lockedGroups = locked.metadata?.["requires-dev"] ?? {};
    const names = new Set([...Object.keys(groups), ...Object.keys(lockedGroups)]);
    for (const group of names) {
      compare(
        groups[group] ?? [],
        lockedKeys(lockedGroups[group], sources),
        `${shown} [dependency-groups] ${group}`,
        problems,
      );
    }
  }
  return problems;
}

function compare(wanted: string[], locked: string[], where: string, problems: string[]): void {
  const have = new Set(locked);
  const want = new Set(wanted);
  const missing = [...want].filter((k) => !have.has(k));
  const extra = [...have].filter((k) => !want.has(k));
  for (const k of missing) {
    problems.push(`${where} requires "${pretty(k)}", which uv.lock does not`);
  }
  for (const k of extra) {
    problems.push(`uv.lock records "${pretty(k)}", which ${where} no longer requires`);
  }
}

function pretty(k: string): string {
  return k.replace("[]", "");
}

/** The error for a lock that does not match its pyproject files (one wording everywhere). */
export function staleLockError(
  info: ManagerInfo,
  root: string,
  details: string[],
): EnvironmentError {
  const lock = rel(root, info.lockFile!);
  const dir = rel(root, info.projectDir) || ".";
  const first = details.slice(0, 3).join("; ");
  return new EnvironmentError(
    `"${lock}" is out of date with pyproject.toml${first ? `: ${first}` : ""}${
      details.length > 3 ? ` (and ${details.length - 3} more)` : ""
    }`,
    `Update the lock with: uv lock${dir === "." ? "" : ` (in ${dir})`}, then run: rig install`,
  );
}

/**
 * Checks uv.lock the way `rig install` needs it: parseable and current. The
 * static comparison is confirmed with `uv lock --check --offline` before
 * calling the lock stale (uv is the judge), so the fast path runs no process.
 */
export async function checkUvLock(
  info: ManagerInfo,
  root: string,
  opts: { uv?: string; env: Record<string, string>; signal?: AbortSignal },
): Promise<EnvironmentError | undefined> {
  let details: string[];
  try {
    details = uvLockDifferences(info, root);
  } catch (error) {
    if (error instanceof EnvironmentError) return error;
    throw error;
  }
  if (!details.length) return undefined;
  if (opts.uv) {
    const check = await run([opts.uv, "lock", "--check", "--offline"], {
      cwd: info.projectDir,
      env: opts.env,
      signal: opts.signal,
      timeoutMs: 60_000,
    });
    if (check.success) return undefined;
  }
  return staleLockError(info, root, details);
}

/** Options of uv calls. */
export interface UvOptions {
  uv: string;
  env: Record<string, string>;
  /** The environment uv syncs into (UV_PROJECT_ENVIRONMENT). */
  venvDir: string;
  /** Interpreter for a new environment. */
  python?: string;
  cacheDir?: string;
  signal?: AbortSignal;
  onLine?: OutputSink;
  onStart?: (pid: number) => void;
}

/** The environment uv runs with: project env, shared cache, pip's index settings mapped. */
export function uvEnv(opts: Omit<UvOptions, "uv">): Record<string, string> {
  const env = { ...opts.env };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONHOME;
  env.UV_PROJECT_ENVIRONMENT = opts.venvDir;
  env.UV_NO_PROGRESS = "1";
  env.UV_PYTHON_DOWNLOADS ??= "never";
  if (opts.cacheDir) env.UV_CACHE_DIR ??= path.join(opts.cacheDir, "uv");
  if (env.PIP_INDEX_URL && !env.UV_INDEX_URL && !env.UV_DEFAULT_INDEX) {
    env.UV_DEFAULT_INDEX = env.PIP_INDEX_URL;
  }
  if (env.PIP_FIND_LINKS && !env.UV_FIND_LINKS) env.UV_FIND_LINKS = env.PIP_FIND_LINKS;
  return env;
}

/** The argv of the locked sync rig runs (all workspace members, default groups). */
export function uvSyncArgv(info: ManagerInfo, opts: { uv: string; python?: string }): string[] {
  return [
    opts.uv,
    "sync",
    "--locked",
    ...(info.workspace ? ["--all-packages"] : []),
    ...(opts.python ? ["--python", opts.python] : []),
  ];
}

/** `uv sync --locked`; a stale or corrupt lock becomes the same error `checkUvLock` gives. */
export async function uvSync(info: ManagerInfo, root: string, opts: UvOptions): Promise<void> {
  const argv = uvSyncArgv(info, opts);
  try {
    await runChecked(argv, {
      cwd: info.projectDir,
      env: uvEnv(opts),
      signal: opts.signal,
      onLine: opts.onLine,
      onStart: opts.onStart,
      failureHint: "Read uv's message above, fix the project, then run: rig install",
    });
  } catch (error) {
    throw mapUvError(error, info, root);
  }
}

/** Turns uv's lock complaints into rig's errors (exit 3, the fixing command). */
export function mapUvError(error: unknown, info: ManagerInfo, root: string): unknown {
  if (!(error instanceof ProcessError)) return error;
  if (/needs to be updated|lockfile .* is out of date/i.test(error.output)) {
    const line = error.output.split("\n").find((l) => /needs to be updated/.test(l))?.trim();
    return staleLockError(info, root, line ? [line.replace(/^error:\s*/, "")] : []);
  }
  if (/Failed to parse `?uv\.lock/i.test(error.output)) {
    const lock = rel(root, info.lockFile!);
    return new ConfigError(
      lock,
      Number(error.output.match(/at line (\d+)/)?.[1]) || undefined,
      "is not a valid lock file",
      `Restore it (git checkout -- ${lock}) or regenerate it with: uv lock`,
    );
  }
  return error;
}

/** The argv of `uv add` for `rig install PKG` (`--dev` or `--group G`). */
export function uvAddArgv(
  packages: string[],
  opts: { uv: string; dev?: boolean; group?: string; python?: string },
): string[] {
  return [
    opts.uv,
    "add",
    ...(opts.group ? ["--group", opts.group] : opts.dev ? ["--dev"] : []),
    ...(opts.python ? ["--python", opts.python] : []),
    ...packages,
  ];
}

function rel(root: string, file: string): string {
  return posixRelative(root, file);
}
