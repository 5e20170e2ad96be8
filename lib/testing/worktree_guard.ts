/**
 * rig never changes the work tree in `rig test` or `rig build`. A guard copies
 * a component's files (tracked, untracked-not-ignored, and its `.env*` files)
 * aside before its checks run; after each check it compares, puts every
 * changed or deleted file back byte for byte (content, mode and mtime),
 * removes files the check created, and says which files the check touched.
 */
import { hasFileModes } from "../os.ts";
import * as path from "../path.ts";
import { listInputs } from "../task/input_listing.ts";
import { sameBytes } from "../node/managers.ts";

/** One file a check changed (and rig put back). */
export interface WorktreeChange {
  /** Posix path relative to the project root. */
  file: string;
  change: "modified" | "created" | "deleted";
}

interface Saved {
  backup: string;
  size: number;
  mtime: Date | null;
  mode: number | null;
}

/** Options of `WorktreeGuard.capture`. */
export interface GuardOptions {
  /** Folders to guard, posix and relative to the root (`.` for all). */
  dirs: string[];
  /** gitignore-style globs relative to the root that the work may write (its output folder). */
  allow?: string[];
  env: Record<string, string>;
}

/** A snapshot of a component's files that can tell and undo what a check changed. */
export class WorktreeGuard {
  #root: string;
  #temp: string;
  #saved = new Map<string, Saved>();
  #options: GuardOptions;

  private constructor(root: string, temp: string, options: GuardOptions) {
    this.#root = root;
    this.#temp = temp;
    this.#options = options;
  }

  /** Copies the guarded files aside. */
  static async capture(root: string, options: GuardOptions): Promise<WorktreeGuard> {
    const temp = await Deno.makeTempDir({ prefix: "rig-guard-" });
    const guard = new WorktreeGuard(root, temp, options);
    const files = await guard.#list();
    let n = 0;
    for (const file of files) {
      const full = path.join(root, ...file.split("/"));
      let info: Deno.FileInfo;
      try {
        info = await Deno.lstat(full);
      } catch {
        continue;
      }
      if (!info.isFile) continue;
      const backup = path.join(temp, String(n++));
      await Deno.copyFile(full, backup);
      guard.#saved.set(file, { backup, size: info.size, mtime: info.mtime, mode: info.mode });
    }
    return guard;
  }

  /** How many files the guard holds. */
  get size(): number {
    return this.#saved.size;
  }

  async #list(): Promise<string[]> {
    const files = new Set(
      await listInputs(this.#root, {
        dirs: this.#options.dirs,
        exclude: this.#options.allow,
        env: this.#options.env,
      }),
    );
    // .env files are usually git-ignored, and still the user's.
    for (const dir of this.#options.dirs) {
      const full = path.join(this.#root, ...(dir === "." ? [] : dir.split("/")));
      try {
        for (const entry of Deno.readDirSync(full)) {
          if (entry.isFile && /^\.env(\..+)?$/.test(entry.name)) {
            files.add(dir === "." ? entry.name : `${dir}/${entry.name}`);
          }
        }
      } catch {
        // Folder gone: the listing says so.
      }
    }
    return [...files].sort();
  }

  /**
   * Compares the work tree with the snapshot, restores what differs and
   * returns the changes (empty when the work tree is as it was).
   */
  async restore(): Promise<WorktreeChange[]> {
    const changes: WorktreeChange[] = [];
    for (const [file, saved] of this.#saved) {
      const full = path.join(this.#root, ...file.split("/"));
      let info: Deno.FileInfo | undefined;
      try {
        info = await Deno.lstat(full);
      } catch {
        info = undefined;
      }
      if (!info || !info.isFile) {
        if (info) await Deno.remove(full, { recursive: true }).catch(() => {});
        await this.#put(full, saved);
        changes.push({ file, change: "deleted" });
        continue;
      }
      const same = info.size === saved.size &&
        info.mtime?.getTime() === saved.mtime?.getTime() && info.mode === saved.mode;
      if (same) continue;
      const now = await Deno.readFile(full);
      const before = await Deno.readFile(saved.backup);
      if (sameBytes(now, before) && info.mode === saved.mode) {
        // Touched but not changed: give the mtime back so caches keep trusting it.
        if (saved.mtime) await Deno.utime(full, saved.mtime, saved.mtime).catch(() => {});
        continue;
      }
      await this.#put(full, saved);
      changes.push({ file, change: "modified" });
    }
    for (const file of await this.#list()) {
      if (this.#saved.has(file)) continue;
      const full = path.join(this.#root, ...file.split("/"));
      await Deno.remove(full).catch(() => {});
      await this.#removeEmptyParents(path.dirname(full));
      changes.push({ file, change: "created" });
    }
    return changes.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }

  async #put(full: string, saved: Saved): Promise<void> {
    await Deno.mkdir(path.dirname(full), { recursive: true });
    await Deno.copyFile(saved.backup, full);
    if (saved.mode !== null && hasFileModes()) {
      await Deno.chmod(full, saved.mode & 0o7777).catch(() => {});
    }
    if (saved.mtime) await Deno.utime(full, saved.mtime, saved.mtime).catch(() => {});
  }

  async #removeEmptyParents(dir: string): Promise<void> {
    const root = path.resolve(this.#root);
    for (let d = path.resolve(dir); d.startsWith(root + path.sep); d = path.dirname(d)) {
      const stillUsed = [...this.#saved.keys()].some((f) =>
        path.join(root, ...f.split("/")).startsWith(d + path.sep)
      );
      if (stillUsed) return;
      try {
        await Deno.remove(d);
      } catch {
        return;
      }
    }
  }

  /** Removes the copies. */
  async dispose(): Promise<void> {
    await Deno.remove(this.#temp, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** A short list of changed files for a message: `"src/a.ts" (modified), "b.ts" (created)`. */
export function describeChanges(changes: WorktreeChange[], limit = 4): string {
  const shown = changes.slice(0, limit).map((c) => `"${c.file}" (${c.change})`).join(", ");
  return changes.length > limit ? `${shown} and ${changes.length - limit} more` : shown;
}
