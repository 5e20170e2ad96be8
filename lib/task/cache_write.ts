/**
 * The cache is a speed-up, never a reason to fail: when the cache folder is
 * read-only, full or gone, a write fails, the command's own result stands and
 * one warning says results were not cached and why. The store itself stays
 * intact (its writes are temp file + rename, so a failed one leaves no entry).
 */
import type { Ui } from "../ui.ts";

/** Why writing to the cache failed, in words a user acts on. */
export function cacheWriteProblem(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "EROFS" || /os error 30\b|read-only file system/i.test(message)) {
    return "its file system is read-only";
  }
  if (code === "ENOSPC" || /os error 28\b|no space left/i.test(message)) {
    return "the disk is full";
  }
  if (code === "EDQUOT" || /os error 122\b|quota/i.test(message)) {
    return "the disk quota is used up";
  }
  if (error instanceof Deno.errors.PermissionDenied) return "it is not writable";
  if (error instanceof Deno.errors.NotFound) return "its folder vanished";
  return message.split("\n")[0]!;
}

/** Says once per command that results were not cached; later failures add nothing. */
export class CacheWriteGuard {
  #warned = false;

  constructor(readonly ui: Ui, readonly where: string) {}

  /** Runs a cache write; a failure becomes the warning instead of an error. */
  async attempt(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  }

  /** Records a failed write (warns the first time). */
  fail(error: unknown): void {
    if (this.#warned) {
      this.ui.debug(`Cache write failed again: ${cacheWriteProblem(error)}`);
      return;
    }
    this.#warned = true;
    this.ui.warn(
      `Results were not cached: cannot write to "${this.where}" (${cacheWriteProblem(error)})`,
      "Free space or make the folder writable; the next run then caches again",
    );
  }
}
