/** Small file-system questions asked all over rig; a missing or unreadable path answers false. */

/** True when something exists at `file`. */
export function exists(file: string): boolean {
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}

/** True when `file` is a regular file (following symlinks). */
export function isFile(file: string): boolean {
  try {
    return Deno.statSync(file).isFile;
  } catch {
    return false;
  }
}

/** True when `dir` is a directory (following symlinks). */
export function isDir(dir: string): boolean {
  try {
    return Deno.statSync(dir).isDirectory;
  } catch {
    return false;
  }
}
