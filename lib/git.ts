/**
 * The few git questions rig asks: where the repository root is, which files
 * changed (working tree and index against HEAD, or against the merge-base with a
 * ref), and the short commit sha. Paths come back relative to the git root with
 * `/` separators.
 */
import * as path from "./path.ts";
import { EnvironmentError } from "./errors.ts";
import { run } from "./proc.ts";
import { posixRelative } from "./fs.ts";
import { HOST_OS, type Os } from "./os.ts";

/** Options shared by the git helpers. */
export interface GitOptions {
  /** The environment git runs with (PATH at least). */
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** What changed in a repository. */
export interface ChangedFiles {
  /** The git root (absolute). */
  root: string;
  /** The commit compared against (HEAD, or the merge-base with the ref). */
  base?: string;
  /** Changed, added, deleted and untracked-not-ignored files, relative to `root`, sorted. */
  files: string[];
}

/** Runs git in `cwd` (no optional locks, C locale); never throws for a non-zero exit. */
export async function runGit(cwd: string, args: string[], options: GitOptions) {
  return await git(cwd, args, options);
}

async function git(cwd: string, args: string[], options: GitOptions) {
  return await run(["git", ...args], {
    cwd,
    env: { ...options.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" },
    signal: options.signal,
    missingHint: "Install git (https://git-scm.com/downloads)",
    // Quick lock-free reads on the cache-hit path: no parent-death watch (the reaper covers them).
    watchRig: false,
  });
}

/** The root of the git repository containing `dir`, or undefined outside a repository. */
export async function gitRoot(dir: string, options: GitOptions): Promise<string | undefined> {
  const result = await git(dir, ["rev-parse", "--show-toplevel"], options);
  if (!result.success) return undefined;
  return path.resolve(result.stdout.trim());
}

/** The short sha of HEAD, or undefined when there is no commit yet. */
export async function shortSha(dir: string, options: GitOptions): Promise<string | undefined> {
  const result = await git(dir, ["rev-parse", "--short", "HEAD"], options);
  return result.success ? result.stdout.trim() : undefined;
}

/** The merge-base of HEAD and `ref`; throws an EnvironmentError naming the ref when unknown. */
export async function mergeBase(dir: string, ref: string, options: GitOptions): Promise<string> {
  const verify = await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], options);
  if (!verify.success) {
    throw new EnvironmentError(
      `Unknown git ref "${ref}"`,
      `Use a branch, tag or commit that exists here (see: git branch -a), e.g. rig test --changed main`,
    );
  }
  const result = await git(dir, ["merge-base", "HEAD", ref], options);
  if (!result.success) {
    throw new EnvironmentError(
      `HEAD and "${ref}" have no common ancestor`,
      "Pass a ref on the same history, e.g. rig test --changed origin/main",
    );
  }
  return result.stdout.trim();
}

/**
 * Files that differ from HEAD (working tree and index), or from the merge-base of
 * HEAD and `ref` when given, plus untracked files that are not ignored. Without
 * any commit yet, every file counts as changed.
 */
export async function changedFiles(
  dir: string,
  options: GitOptions & { ref?: string },
): Promise<ChangedFiles> {
  const root = await gitRoot(dir, options);
  if (!root) {
    throw new EnvironmentError(
      `Cannot tell what changed: "${dir}" is not inside a git repository`,
      "Run: git init && git add -A && git commit -m init (or drop --changed)",
    );
  }
  const head = await git(root, ["rev-parse", "--verify", "--quiet", "HEAD"], options);
  const files = new Set<string>();
  let base: string | undefined;
  if (!head.success) {
    if (options.ref) {
      throw new EnvironmentError(
        `Cannot compare with "${options.ref}": the repository has no commit yet`,
        "Commit first: git add -A && git commit -m init",
      );
    }
    const all = await git(root, ["ls-files", "-z", "--cached"], options);
    for (const f of splitZ(all.stdout)) files.add(f);
  } else {
    base = options.ref ? await mergeBase(root, options.ref, options) : head.stdout.trim();
    const diff = await git(
      root,
      ["diff", "--name-only", "--no-renames", "-z", base, "--"],
      options,
    );
    if (!diff.success) {
      throw new EnvironmentError(`git diff failed: ${diff.stderr.trim()}`, "Run: git status");
    }
    for (const f of splitZ(diff.stdout)) files.add(f);
  }
  const untracked = await git(root, ["ls-files", "-z", "--others", "--exclude-standard"], options);
  for (const f of splitZ(untracked.stdout)) files.add(f);
  return { root, base, files: [...files].sort() };
}

function splitZ(text: string): string[] {
  return text.split("\0").filter(Boolean);
}

/** Maps paths relative to the git root onto paths relative to `projectRoot` (dropping outsiders). */
export function relativeToProject(
  gitRootDir: string,
  projectRoot: string,
  files: string[],
): string[] {
  const prefix = posixRelative(gitRootDir, projectRoot);
  if (!prefix) return [...files];
  if (prefix.startsWith("..")) return [];
  const out: string[] = [];
  for (const f of files) {
    if (f.startsWith(prefix + "/")) out.push(f.slice(prefix.length + 1));
  }
  return out;
}

/** A minimal PATH for git when the caller passes no environment. */
export function gitFallbackPath(os: Os = HOST_OS): string {
  return os === "windows"
    ? "C:\\Program Files\\Git\\cmd;C:\\Windows\\System32"
    : "/usr/local/bin:/usr/bin:/bin:/opt/homebrew/bin";
}

/** Tracked plus untracked-not-ignored files below `root` (git ls-files), or undefined outside git. */
export async function listGitFiles(
  root: string,
  env: Record<string, string> | undefined,
): Promise<string[] | undefined> {
  if (!findGitDir(root)) return undefined;
  let result;
  try {
    result = await run(
      ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      { cwd: root, env: gitEnv(env), watchRig: false },
    );
  } catch {
    return undefined; // git is not installed: fall back to .gitignore rules
  }
  if (!result.success) return undefined;
  const files = result.stdout.split("\0").filter(Boolean);
  // A path listed twice (unmerged index stages) is one input.
  return [...new Set(files)];
}

/**
 * The config files git reads, in the order it reads them (later ones win): the
 * system's (`GIT_CONFIG_SYSTEM`, none with `GIT_CONFIG_NOSYSTEM`), the user's
 * (`GIT_CONFIG_GLOBAL`, else `$XDG_CONFIG_HOME/git/config` and `~/.gitconfig`)
 * and the repository's `config` in `gitDir`.
 */
export function gitConfigFiles(gitDir: string, env: Record<string, string | undefined>): string[] {
  const home = env.HOME ?? env.USERPROFILE;
  const xdg = env.XDG_CONFIG_HOME || (home ? path.join(home, ".config") : undefined);
  const system = env.GIT_CONFIG_NOSYSTEM ? [] : [env.GIT_CONFIG_SYSTEM ?? "/etc/gitconfig"];
  const globals = env.GIT_CONFIG_GLOBAL ? [env.GIT_CONFIG_GLOBAL] : [
    ...(xdg ? [path.join(xdg, "git", "config")] : []),
    ...(home ? [path.join(home, ".gitconfig")] : []),
  ];
  return [...system, ...globals, path.join(gitDir, "config")];
}

/** The environment git runs with for reads: no index lock, no inherited GIT_DIR. */
export function gitEnv(env: Record<string, string> | undefined): Record<string, string> {
  const base: Record<string, string> = env ? { ...env } : { PATH: gitFallbackPath() };
  // Reading must not take git's index lock away from the user's own git commands.
  base.GIT_OPTIONAL_LOCKS = "0";
  delete base.GIT_DIR;
  delete base.GIT_WORK_TREE;
  delete base.GIT_INDEX_FILE;
  return base;
}

/** The folder holding `.git` at or above `root`, or undefined outside a repository. */
export function findGitDir(root: string): string | undefined {
  for (let dir = path.resolve(root);; dir = path.dirname(dir)) {
    try {
      Deno.statSync(path.join(dir, ".git"));
      return dir;
    } catch {
      // Keep looking upwards.
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Which of `files` (absolute paths) git tracks; empty outside a repository or
 * without git. rig asks before it writes a file as a side effect, because it
 * never changes a tracked file unless told to.
 */
export async function trackedFiles(
  dir: string,
  files: string[],
  options: GitOptions,
): Promise<Set<string>> {
  const tracked = new Set<string>();
  if (files.length === 0) return tracked;
  try {
    // Without --full-name the names come back relative to `dir`, whatever symlinks lead there.
    const result = await git(dir, [
      "ls-files",
      "-z",
      "--",
      ...files.map((f) => path.relative(dir, f)),
    ], options);
    if (!result.success) return tracked;
    for (const name of splitZ(result.stdout)) tracked.add(path.resolve(dir, name));
  } catch {
    // No git on this machine: nothing is tracked as far as rig can tell.
  }
  return tracked;
}

/**
 * Whether git ignores `relative` (a path under `root`): undefined outside a
 * repository or without git, so callers can fall back to reading .gitignore.
 */
export async function gitCheckIgnore(
  root: string,
  relative: string,
  options: GitOptions,
): Promise<boolean | undefined> {
  try {
    const inside = await git(root, ["rev-parse", "--is-inside-work-tree"], options);
    if (!inside.success || inside.stdout.trim() !== "true") return undefined;
    const check = await git(root, ["check-ignore", "-q", "--", relative], options);
    if (check.code === 0) return true;
    if (check.code === 1) return false;
    return undefined;
  } catch {
    // No git on this machine.
    return undefined;
  }
}
