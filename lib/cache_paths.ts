/**
 * Where rig's caches live: the project cache `.rig/cache/` below the project
 * root, and the user cache (pip wheels, npm tarballs) shared by every project.
 * Pure functions of their arguments, so they are testable for every OS.
 */
import * as path from "./path.ts";

/** The operating systems rig knows cache conventions for (as in `Deno.build.os`). */
export type CacheOs = typeof Deno.build.os;

/** The folder of rig's local state in a project: `<root>/.rig`. */
export function rigDir(root: string): string {
  return path.join(root, ".rig");
}

/**
 * Creates `<root>/.rig` with a `.gitignore` of `*`, so rig's local state (caches,
 * install records, journals) never shows up in `git status`. Call before writing there.
 */
export async function ensureRigDir(root: string): Promise<void> {
  const file = path.join(rigDir(root), ".gitignore");
  try {
    await Deno.stat(file);
  } catch {
    await Deno.mkdir(rigDir(root), { recursive: true });
    await Deno.writeTextFile(file, "# Written by rig: its caches and records are local.\n*\n")
      .catch(() => {});
  }
}

/** The folder of rig's run records (what each rig started, for reaping): `<root>/.rig/run`. */
export function runDir(root: string): string {
  return path.join(rigDir(root), "run");
}

/** The project cache folder: `<root>/.rig/cache`. */
export function projectCacheDir(root: string): string {
  return path.join(rigDir(root), "cache");
}

/** The stat cache file that lets unchanged files skip re-hashing. */
export function statCacheFile(root: string): string {
  return path.join(projectCacheDir(root), "stat-cache.bin");
}

/** The remembered git listing of a project (lib/task/listing_memo.ts). */
export function gitListingFile(root: string): string {
  return path.join(projectCacheDir(root), "git-listing.json");
}

/**
 * The user-level cache folder: `RIG_CACHE_DIR` when set; else
 * `$XDG_CACHE_HOME/rig` or `~/.cache/rig` on Linux, `~/Library/Caches/rig`
 * on macOS, `%LOCALAPPDATA%\rig\cache` on Windows.
 */
export function userCacheDir(env: Record<string, string | undefined>, os: CacheOs): string {
  const api = os === "windows" ? path.win32 : path.posix;
  const override = env.RIG_CACHE_DIR?.trim();
  if (override) return api.resolve(override);
  if (os === "windows") {
    const local = env.LOCALAPPDATA ||
      (env.USERPROFILE ? api.join(env.USERPROFILE, "AppData", "Local") : undefined) ||
      api.join(env.TEMP || env.TMP || "C:\\Windows\\Temp");
    return api.join(local, "rig", "cache");
  }
  const home = env.HOME || "/tmp";
  if (os === "darwin") return api.join(home, "Library", "Caches", "rig");
  const xdg = env.XDG_CACHE_HOME?.trim();
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg && api.isAbsolute(xdg)) return api.join(xdg, "rig");
  return api.join(home, ".cache", "rig");
}

/** The download caches below the user cache that pip and npm are pointed at. */
export type DownloadCache = "pip" | "npm";

/** A download cache folder (`pip` or `npm`) inside the user cache dir. */
export function userDownloadCacheDir(
  env: Record<string, string | undefined>,
  opts: { os: CacheOs; tool: DownloadCache },
): string {
  const api = opts.os === "windows" ? path.win32 : path.posix;
  return api.join(userCacheDir(env, opts.os), opts.tool);
}
