/**
 * Where a project starts. Its own module: main.ts needs the root on every run
 * (a cache hit included) and should not load the project model for it.
 */
import { exists, isDir } from "../fs.ts";
import * as path from "../path.ts";
import { EnvironmentError } from "../errors.ts";

/**
 * Throws unless `start` is a folder: a missing one is a mistake, not a new
 * project, and is refused before anything could be written there (`.rig/`).
 */
export function requireProjectFolder(start: string): void {
  if (isDir(start)) return;
  throw new EnvironmentError(
    `Cannot use "${start}" as the project folder: it does not exist or is not a folder`,
    "Pass an existing folder with -C DIR",
  );
}

/** Finds the project root: the nearest folder with rig.toml, else the git root, else `start`. */
export function findRoot(start: string): string {
  const absolute = path.resolve(start);
  let gitRoot: string | undefined;
  for (let dir = absolute;; dir = path.dirname(dir)) {
    if (exists(path.join(dir, "rig.toml"))) return dir;
    if (!gitRoot && exists(path.join(dir, ".git"))) gitRoot = dir;
    if (path.dirname(dir) === dir) break;
  }
  return gitRoot ?? absolute;
}
