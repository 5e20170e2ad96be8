/**
 * Where a project starts. Its own module: main.ts needs the root on every run
 * (a cache hit included) and should not load the project model for it.
 */
import { exists } from "../fs.ts";
import * as path from "../path.ts";

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
