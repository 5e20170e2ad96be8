/**
 * What a cache restore may write. Each task kind declares its output roots
 * (a build writes `dist/<component>/`; test tasks their component's coverage
 * and report folders); a record whose artifacts step anywhere else is refused
 * whole, before a single file is written:
 *
 * - paths must be plain relative posix paths (no `..`, `.`, empty segments,
 *   backslashes, drive letters or NUL) inside one of the task's roots;
 * - never a `.git` segment, never a file git tracks;
 * - never through a symlink or over a non-file: every existing path component
 *   below the project root is checked with lstat;
 * - no executable bits unless the task is a build (whose outputs recorded
 *   them), never setuid, setgid or sticky bits;
 * - no duplicate paths, well-formed hashes and sizes.
 */
import * as path from "../path.ts";
import { RigError } from "../errors.ts";
import { run } from "../proc.ts";

/** An artifact as a record lists it (fields unchecked: records come from disk). */
export interface RestoreArtifact {
  path: string;
  sha256: string;
  size: number;
  mode: number;
}

/** The parts of a record the policy looks at. */
export interface RestoreRecord {
  key: string;
  task: string;
  component: string;
  artifacts: RestoreArtifact[];
}

/** A record refused by the restore policy; its message lists every reason. */
export class RestoreRejectedError extends RigError {
  constructor(readonly record: RestoreRecord, readonly reasons: string[]) {
    super(
      `Cache record "${
        String(record.key).slice(0, 12)
      }" (${record.task} of "${record.component}") ` +
        `was rejected, nothing restored: ${reasons.join("; ")}`,
      "Someone may have tampered with .rig/cache or the remote cache; run: rig cache clean",
    );
  }
}

/** The task kinds whose outputs may carry executable bits (they are recorded from a build). */
const EXECUTABLE_OUTPUTS = new Set(["build"]);

/**
 * The folders (posix, relative to the project root, ending in `/`) a task's
 * restore may write: `dist/<component>/` for builds; `coverage/`, `htmlcov/`
 * and `reports/` of the component for test tasks (when its folder is known);
 * `testdb/` (below a test run's temp folder) for a migrated test database.
 * Any other task kind restores nothing.
 */
export function declaredOutputRoots(
  task: string,
  component: string,
  componentPath?: string,
  buildOutputs: string[] = [],
): string[] {
  // An app's build output folder (e.g. `frontend/dist/`) is its artifact, restored in place.
  const inside = buildOutputs.filter((dir) =>
    dir.endsWith("/") && !dir.startsWith("/") && !dir.split("/").includes("..") && dir !== "/"
  );
  if (task === "build") return [`dist/${component}/`, ...inside];
  // The migrated SQLite test database, restored into a test run's private temp folder.
  if (task === "testdb") return ["testdb/"];
  if ((task === "test" || task.startsWith("test:")) && componentPath !== undefined) {
    const base = componentPath === "." || componentPath === "" ? "" : `${componentPath}/`;
    return ["coverage/", "htmlcov/", "reports/"].map((dir) => base + dir);
  }
  return [];
}

/** Options of `checkRestore`. */
export interface RestoreCheckOptions {
  /** The task's output roots (see `declaredOutputRoots`). */
  roots: string[];
  /** Environment git runs with (PATH), to ask which files it tracks. */
  env: Record<string, string>;
}

/**
 * Checks every artifact of a record against the policy and the files on disk
 * below `root`; throws a RestoreRejectedError listing all problems when any.
 */
export async function checkRestore(
  root: string,
  record: RestoreRecord,
  opts: RestoreCheckOptions,
): Promise<void> {
  const reasons: string[] = [];
  const artifacts = Array.isArray(record.artifacts) ? record.artifacts : [];
  if (!Array.isArray(record.artifacts)) reasons.push("its artifact list is not a list");
  const executable = EXECUTABLE_OUTPUTS.has(record.task);
  const seen = new Set<string>();
  const clean: string[] = [];
  for (const artifact of artifacts) {
    const problem = artifactProblem(artifact, opts.roots, executable);
    if (problem) {
      reasons.push(problem);
      continue;
    }
    if (seen.has(artifact.path)) {
      reasons.push(`"${artifact.path}" is listed twice`);
      continue;
    }
    seen.add(artifact.path);
    clean.push(artifact.path);
  }
  for (const file of clean) {
    // A file that is also another artifact's folder cannot both be written.
    const parents = ancestors(file);
    if (parents.some((p) => seen.has(p))) reasons.push(`"${file}" lies below another artifact`);
  }
  for (const file of clean) {
    const problem = await diskProblem(root, file);
    if (problem) reasons.push(problem);
  }
  if (clean.length) {
    for (const file of await trackedAmong(root, clean, opts.env)) {
      reasons.push(`"${file}" is tracked by git`);
    }
  }
  if (reasons.length) throw new RestoreRejectedError(record, reasons);
}

function artifactProblem(
  artifact: RestoreArtifact,
  roots: string[],
  executable: boolean,
): string | undefined {
  if (!artifact || typeof artifact !== "object") return "an artifact entry is not an object";
  const file = artifact.path;
  if (typeof file !== "string" || file === "") return "an artifact has no path";
  const shown = JSON.stringify(file);
  if (/[\0\\]/.test(file) || /^[A-Za-z]:/.test(file) || file.startsWith("/")) {
    return `${shown} is not a relative posix path`;
  }
  const segments = file.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    return `${shown} is not a plain path below the project (".", ".." or empty segments)`;
  }
  if (segments.some((s) => s.toLowerCase() === ".git")) return `${shown} points into .git`;
  if (!roots.some((r) => file.startsWith(r) && file.length > r.length)) {
    const allowed = roots.length ? roots.map((r) => `"${r}"`).join(", ") : "none";
    return `${shown} is outside the task's outputs (allowed: ${allowed})`;
  }
  if (typeof artifact.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(artifact.sha256)) {
    return `${shown} has no valid SHA-256`;
  }
  if (!Number.isSafeInteger(artifact.size) || artifact.size < 0) return `${shown} has a bad size`;
  const mode = artifact.mode;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) return `${shown} has a bad mode`;
  if (mode & 0o7000) return `${shown} asks for setuid, setgid or sticky bits`;
  if ((mode & 0o111) && !executable) {
    return `${shown} asks for executable bits, which only build outputs may carry`;
  }
  return undefined;
}

function ancestors(file: string): string[] {
  const parts = file.split("/");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/**
 * Throws a RestoreRejectedError when a folder a restore writes into (a scratch
 * folder below `.rig/`) is reached through a symlink below `root`.
 */
export async function checkScratchDir(
  root: string,
  dir: string,
  record: RestoreRecord,
): Promise<void> {
  const relative = path.relative(root, dir);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) return;
  let at = root;
  for (const segment of relative.split(path.sep)) {
    at = path.join(at, segment);
    const info = await Deno.lstat(at).catch(() => undefined);
    if (!info) return;
    if (info.isSymlink || !info.isDirectory) {
      const shown = path.relative(root, at).split(path.sep).join("/");
      throw new RestoreRejectedError(record, [`"${shown}" is not a plain folder`]);
    }
  }
}

/** Walks the path below root with lstat: no symlinks, folders where folders go, a file at the end. */
async function diskProblem(root: string, file: string): Promise<string | undefined> {
  const segments = file.split("/");
  let at = root;
  for (let i = 0; i < segments.length; i++) {
    at = path.join(at, segments[i]!);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(at);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      return `cannot inspect "${segments.slice(0, i + 1).join("/")}": ${(error as Error).message}`;
    }
    const shown = `"${segments.slice(0, i + 1).join("/")}"`;
    if (info.isSymlink) return `${shown} is a symlink (restores never write through one)`;
    const last = i === segments.length - 1;
    if (!last && !info.isDirectory) return `${shown} is not a folder`;
    if (last && !info.isFile) return `${shown} exists and is not a regular file`;
  }
  return undefined;
}

/**
 * Which of `files` (relative to root) git tracks. Outside a repository: none.
 * When git cannot answer inside one, every file counts as tracked (fail closed).
 */
async function trackedAmong(
  root: string,
  files: string[],
  env: Record<string, string>,
): Promise<string[]> {
  let result;
  try {
    result = await run(
      ["git", "--literal-pathspecs", "ls-files", "-z", "--", ...files],
      { cwd: root, env: { ...env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" } },
    );
  } catch {
    return (await insideRepository(root)) ? files : [];
  }
  if (!result.success) {
    if (/not a git repository/i.test(result.stderr)) return [];
    return files;
  }
  const listed = result.stdout.split("\0").filter((f) => f !== "");
  return files.filter((f) => listed.some((t) => t === f || t.startsWith(f + "/")));
}

async function insideRepository(dir: string): Promise<boolean> {
  for (let at = path.resolve(dir);; at = path.dirname(at)) {
    if (await Deno.lstat(path.join(at, ".git")).then(() => true, () => false)) return true;
    if (path.dirname(at) === at) return false;
  }
}
