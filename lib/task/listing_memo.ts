/**
 * The git listing, remembered. `git ls-files --cached --others
 * --exclude-standard` is a function of the index, of the entries of the work
 * tree's folders and of the ignore rules; starting it is the largest fixed cost
 * of a cache hit (a process start, about 10 ms). So the listing is kept in
 * `.rig/cache/git-listing.json` together with the stat data of everything it
 * depends on, observed *before* git ran:
 *
 * - the index, `.git/info/exclude` and `.git/config`;
 * - the user's and the system's git configuration and the global ignore file
 *   (`core.excludesFile`, or `~/.config/git/ignore`);
 * - every `.gitignore` from the repository's top down to the project root;
 * - every folder below the root (a file or folder added, removed or renamed
 *   changes its folder's mtime) and every `.gitignore` in them,
 *   except the folders whose files are never inputs (`ALWAYS_EXCLUDED_DIRS`).
 *
 * The next run stats those paths (about 2 µs each); when all are as observed it
 * uses the remembered listing, else it runs git and observes again. What is not
 * covered is never remembered: a `.git` file (worktrees, submodules), config
 * `include`s, a folder changed within a second of the observation (git's
 * "racy" rule: the same mtime could hide a second change), or a tree of more
 * than `MAX_WATCHED` folders.
 */
import { readDirSyncIfPresent } from "../fs.ts";
import { changedSince, firstChanged, statId, type Watched, type WatchedMemo } from "./watched.ts";
import * as path from "../path.ts";
import { findGitDir, gitConfigFiles, gitEnv, listGitFiles } from "../git.ts";
import { ensureRigDir, gitListingFile } from "../cache_paths.ts";
import { writeFileAtomic } from "../fs_atomic.ts";

/** Folders whose files are never inputs, so changes in them cannot change an input list. */
export type ExcludedDirs = ReadonlySet<string>;

const VERSION = 1;
/** Paths changed this close to the observation are not trusted (as git's racy entries). */
const RACY_WINDOW_MS = 1000;
/** More watched paths than this: the stats would cost what git costs; nothing is remembered. */
const MAX_WATCHED = 20_000;

/** The listing and, in `watched`, what it depends on as it was before git ran. */
interface Memo extends WatchedMemo {
  /** What git saw of the environment (the variables that steer it). */
  context: string;
  /** The listing, joined by NUL. */
  files: string;
}

/**
 * The tracked plus untracked-not-ignored files below `root` (posix, relative),
 * as `git ls-files` lists them: remembered while nothing it depends on changed;
 * undefined outside git or when git cannot list (the caller walks the tree).
 */
export async function rememberedGitListing(
  root: string,
  env: Record<string, string> | undefined,
  excluded: ExcludedDirs,
): Promise<string[] | undefined> {
  const top = findGitDir(root);
  if (!top) return undefined;
  const memoFile = gitListingFile(root);
  const context = gitContext(root, env);
  const memo = readMemo(memoFile);
  if (memo && memo.context === context && firstChanged(memo.watched) === undefined) {
    return memo.files ? memo.files.split("\0") : [];
  }
  // .rig/ first: creating it later would change the root folder just observed.
  const writable = await ensureRigDir(root).then(() => true, () => false);
  const observedAt = Date.now();
  const watched = writable ? observe(root, top, env, excluded) : undefined;
  const files = await listGitFiles(root, env);
  if (files && watched && !racy(watched, observedAt)) {
    const fresh: Memo = { version: VERSION, context, files: files.join("\0"), watched };
    // Only a speed-up: a read-only .rig/ costs the next run one git call.
    await writeFileAtomic(memoFile, JSON.stringify(fresh)).catch(() => {});
  }
  return files;
}

function racy(watched: Watched, observedAt: number): boolean {
  // A later change always moves the mtime past this one (or, set back by hand, the ctime).
  return watched.some(([, id]) => changedSince(id, observedAt - RACY_WINDOW_MS));
}

/** The environment variables that steer git's listing, with the root: part of the memo's identity. */
function gitContext(root: string, env: Record<string, string> | undefined): string {
  const steering: Record<string, string> = {};
  const vars = gitEnv(env);
  for (const name of Object.keys(vars).sort()) {
    if (name.startsWith("GIT_") || name === "HOME" || name === "XDG_CONFIG_HOME") {
      steering[name] = vars[name]!;
    }
  }
  return JSON.stringify([path.resolve(root), steering]);
}

/**
 * Everything git's listing depends on, with its stat identity now; undefined
 * when the listing cannot be covered by stat data (see the module comment).
 */
function observe(
  root: string,
  top: string,
  env: Record<string, string> | undefined,
  excluded: ExcludedDirs,
): Watched | undefined {
  const dotGit = path.join(top, ".git");
  if (!statId(dotGit).startsWith("d")) return undefined;
  const watched: Watched = [];
  const watch = (file: string) => watched.push([file, statId(file)]);
  for (const name of ["index", "info/exclude"]) watch(path.join(dotGit, name));
  const configs = gitConfigFiles(dotGit, env ?? {});
  const excludesFiles: string[] = [];
  for (const file of configs) {
    const found = excludesFilesOf(file, env ?? {});
    if (!found) return undefined;
    excludesFiles.push(...found);
  }
  for (const file of configs) watch(file);
  const xdg = env?.XDG_CONFIG_HOME || (env?.HOME ? path.join(env.HOME, ".config") : undefined);
  if (xdg) watch(path.join(xdg, "git", "ignore"));
  for (const file of excludesFiles) watch(file);
  const absRoot = path.resolve(root);
  for (let dir = path.dirname(absRoot); dir.length >= top.length; dir = path.dirname(dir)) {
    watch(path.join(dir, ".gitignore"));
    if (dir === top || path.dirname(dir) === dir) break;
  }
  const folders = [absRoot];
  while (folders.length) {
    const dir = folders.pop()!;
    watch(dir);
    if (watched.length > MAX_WATCHED) return undefined;
    for (const entry of readDirSyncIfPresent(dir) ?? []) {
      if (entry.isDirectory && !excluded.has(entry.name)) folders.push(path.join(dir, entry.name));
      else if (entry.name === ".gitignore") watch(path.join(dir, entry.name));
    }
  }
  return watched;
}

/**
 * The `core.excludesFile` paths a config file names ([] when none or absent);
 * undefined when it includes other files, whose settings stat data of these
 * cannot cover.
 */
function excludesFilesOf(file: string, env: Record<string, string>): string[] | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return [];
  }
  if (/^\s*\[\s*include/im.test(text)) return undefined;
  const out: string[] = [];
  for (const match of text.matchAll(/^\s*excludesfile\s*=\s*(.*?)\s*$/gim)) {
    let value = match[1]!.replace(/^"(.*)"$/, "$1");
    if (value.startsWith("~/") && env.HOME) value = path.join(env.HOME, value.slice(2));
    if (!path.isAbsolute(value)) return undefined;
    out.push(value);
  }
  return out;
}

function readMemo(file: string): Memo | undefined {
  try {
    const data = JSON.parse(Deno.readTextFileSync(file)) as Memo;
    if (data?.version !== VERSION || typeof data.files !== "string") return undefined;
    if (!Array.isArray(data.watched) || typeof data.context !== "string") return undefined;
    return data;
  } catch {
    return undefined;
  }
}
