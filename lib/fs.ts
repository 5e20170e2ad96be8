/**
 * Small file-system questions asked all over rig (a missing or unreadable path
 * answers false), and the one way to write a path rig stores, hashes or prints.
 */
import * as path from "./path.ts";

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

/** A path with `/` separators (how rig stores, hashes and prints paths). */
export function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

/** `to` relative to `from`, with `/` separators. */
export function posixRelative(from: string, to: string): string {
  return toPosix(path.relative(from, to));
}

/** A small file's text (read synchronously), or undefined when it cannot be read. */
export function readTextIfPresent(file: string): string | undefined {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return undefined;
  }
}

/** A folder's entries (read synchronously), or undefined when it cannot be read. */
export function readDirSyncIfPresent(dir: string): Deno.DirEntry[] | undefined {
  try {
    return [...Deno.readDirSync(dir)];
  } catch {
    return undefined;
  }
}

/** A folder's entries, or undefined when it cannot be read (missing, not a folder, no access). */
export async function readDirIfPresent(dir: string): Promise<Deno.DirEntry[] | undefined> {
  try {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
    return entries;
  } catch {
    return undefined;
  }
}

/**
 * Orders file and folder names as a person reads them: case-insensitively,
 * then by code unit. (`localeCompare` orders alike for such names, but its first
 * call loads ICU's collator, about 15 ms of every start-up.)
 */
export function compareNames(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
