/**
 * The git operations of a release: where the branch stands against its
 * remote, which tags exist, the commits since the last release, and the
 * commit, tag, push, revert and tag deletion that a release makes and undoes.
 */
import { EnvironmentError, ProcessError } from "../errors.ts";
import { runGit } from "../git.ts";
import { type ProcResult, tail } from "../proc.ts";

/** Options of every git call. */
export interface GitRunOptions {
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** Runs git in `cwd`; never throws for a non-zero exit. */
export async function git(
  cwd: string,
  args: string[],
  options: GitRunOptions,
): Promise<ProcResult> {
  return await runGit(cwd, args, { ...options, env: { ...options.env, GIT_TERMINAL_PROMPT: "0" } });
}

/** Runs git and throws a ProcessError with its output when it fails. */
export async function gitChecked(
  cwd: string,
  args: string[],
  options: GitRunOptions & { hint?: string },
): Promise<string> {
  const result = await git(cwd, args, options);
  if (!result.success) {
    throw new ProcessError(
      ["git", ...args],
      result.code,
      tail(result.stderr.trim() || result.stdout, 20),
      options.hint,
    );
  }
  return result.stdout.trim();
}

/** git's trimmed output, or undefined when git fails (a question whose answer may be "none"). */
async function gitAnswer(
  cwd: string,
  args: string[],
  options: GitRunOptions,
): Promise<string | undefined> {
  const result = await git(cwd, args, options);
  return result.success ? result.stdout.trim() : undefined;
}

/** The checked-out branch, or undefined on a detached HEAD. */
export async function currentBranch(
  cwd: string,
  options: GitRunOptions,
): Promise<string | undefined> {
  return await gitAnswer(cwd, ["symbolic-ref", "--quiet", "--short", "HEAD"], options);
}

/** The URL of a remote, or undefined when the remote is not configured. */
export async function remoteUrl(
  cwd: string,
  remote: string,
  options: GitRunOptions,
): Promise<string | undefined> {
  return await gitAnswer(cwd, ["remote", "get-url", remote], options);
}

/** The remote's default branch: its HEAD as recorded locally, else as the remote reports it. */
export async function remoteDefaultBranch(
  cwd: string,
  remote: string,
  options: GitRunOptions,
): Promise<string | undefined> {
  const local = await gitAnswer(
    cwd,
    ["symbolic-ref", "--quiet", `refs/remotes/${remote}/HEAD`],
    options,
  );
  if (local !== undefined) return local.replace(`refs/remotes/${remote}/`, "");
  const remoteHead = await git(cwd, ["ls-remote", "--symref", remote, "HEAD"], options);
  const match = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(remoteHead.stdout);
  return match?.[1];
}

/** Commits HEAD is ahead of and behind `ref`. */
export async function aheadBehind(
  cwd: string,
  ref: string,
  options: GitRunOptions,
): Promise<{ ahead: number; behind: number }> {
  const out = await gitChecked(
    cwd,
    ["rev-list", "--left-right", "--count", `HEAD...${ref}`],
    options,
  );
  const [ahead = 0, behind = 0] = out.split(/\s+/).map(Number);
  return { ahead, behind };
}

/** True when a local ref resolves. */
export async function refExists(
  cwd: string,
  ref: string,
  options: GitRunOptions,
): Promise<boolean> {
  return (await git(cwd, ["rev-parse", "--verify", "--quiet", ref], options)).success;
}

/** The tags among `tags` that exist on the remote. */
export async function remoteTags(
  cwd: string,
  remote: string,
  tags: string[],
  options: GitRunOptions,
): Promise<string[]> {
  if (!tags.length) return [];
  const result = await git(
    cwd,
    ["ls-remote", "--tags", remote, ...tags.map((t) => `refs/tags/${t}`)],
    options,
  );
  if (!result.success) {
    throw new EnvironmentError(
      `Cannot list the tags of remote "${remote}": ${tail(result.stderr, 3)}`,
      `Check the remote's URL and your access: git ls-remote ${remote}`,
    );
  }
  const found = new Set(
    result.stdout.split("\n").map((l) => l.split("\t")[1]?.replace(/^refs\/tags\//, "")),
  );
  return tags.filter((t) => found.has(t) || found.has(`${t}^{}`));
}

/** The newest tag reachable from HEAD that matches one of the globs (e.g. `v[0-9]*`). */
export async function lastTag(
  cwd: string,
  patterns: string[],
  options: GitRunOptions,
): Promise<string | undefined> {
  const match = patterns.flatMap((p) => ["--match", p]);
  return await gitAnswer(cwd, ["describe", "--tags", "--abbrev=0", ...match], options);
}

/** One commit, for the changelog. */
export interface CommitInfo {
  sha: string;
  subject: string;
  body: string;
}

/** The commits after `since` (all when undefined) up to HEAD, oldest first. */
export async function commitsSince(
  cwd: string,
  since: string | undefined,
  options: GitRunOptions,
): Promise<CommitInfo[]> {
  const range = since ? [`${since}..HEAD`] : ["HEAD"];
  const result = await git(
    cwd,
    ["log", "--reverse", "--no-merges", "--format=%H%x1f%s%x1f%b%x1e", ...range],
    options,
  );
  if (!result.success) return [];
  return result.stdout.split("\x1e").map((r) => r.trim()).filter(Boolean).map((record) => {
    const [sha = "", subject = "", body = ""] = record.split("\x1f");
    return { sha, subject, body: body.trim() };
  });
}

/** Files that differ from HEAD or are untracked (not ignored), relative to the git root. */
export async function dirtyFiles(cwd: string, options: GitRunOptions): Promise<string[]> {
  const out = await gitChecked(
    cwd,
    ["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    options,
  );
  const files: string[] = [];
  const records = out.split("\0").filter(Boolean);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    files.push(record.slice(3));
    // A rename's source path follows as its own record.
    if (/^[RC]/.test(record)) i++;
  }
  return files;
}

/** The commit a ref points at. */
export async function revParse(cwd: string, ref: string, options: GitRunOptions): Promise<string> {
  return await gitChecked(cwd, ["rev-parse", "--verify", `${ref}^{commit}`], options);
}
