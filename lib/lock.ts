/**
 * Steps that cannot run twice at once (installing into one venv, migrating one
 * database, writing one dist/) take a lock: an exclusive `flock` on a file in
 * `<project>/.rig/locks/`. The kernel releases it when its holder dies, even
 * by SIGKILL, so a lock is never stale. The holder writes its pid and what it
 * does into the file, so a second rig says whom it waits for:
 * "waiting for rig pid 4242: installing server".
 */
import * as path from "./path.ts";
import { rigDir } from "./cache_paths.ts";
import { InterruptedError } from "./errors.ts";

/** Who holds a lock and for what. */
export interface LockHolder {
  pid: number;
  what: string;
  since: string;
}

/** Options for `withLock`. */
export interface LockOptions {
  /** What the holder does, for the waiting message: "installing server". */
  what: string;
  /** Told once when the lock is taken by someone else; gets the waiting message. */
  onWait?: (message: string) => void;
  /** Aborting stops waiting with an InterruptedError. */
  signal?: AbortSignal;
  /** How long to try before saying we wait (default 200ms). */
  quietMs?: number;
}

/** The lock file for `name` in a project: `<root>/.rig/locks/<name>.lock`. */
export function lockFile(root: string, name: string): string {
  return path.join(rigDir(root), "locks", `${name.replace(/[^A-Za-z0-9._-]+/g, "_")}.lock`);
}

/** Runs `fn` while holding the lock in `file`; waits (saying so once) while another rig holds it. */
export async function withLock<T>(
  file: string,
  opts: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const handle = await acquire(file, opts);
  try {
    return await fn();
  } finally {
    await release(handle);
  }
}

async function acquire(file: string, opts: LockOptions): Promise<Deno.FsFile | undefined> {
  let handle: Deno.FsFile;
  try {
    await Deno.mkdir(path.dirname(file), { recursive: true });
    handle = await Deno.open(file, { read: true, write: true, create: true });
  } catch {
    // A read-only project cannot hold locks; the step runs unguarded, as before.
    return undefined;
  }
  const locked = handle.lock(true).then(() => true, () => false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const quiet = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), opts.quietMs ?? 200);
  });
  let acquired = await Promise.race([locked, quiet]);
  clearTimeout(timer);
  if (acquired === undefined) {
    const holder = await readHolder(file);
    const who = holder ? `rig pid ${holder.pid}` : "another rig";
    opts.onWait?.(`waiting for ${who}: ${holder?.what ?? opts.what}`);
    const aborted = new Promise<"aborted">((resolve) => {
      if (opts.signal?.aborted) resolve("aborted");
      opts.signal?.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    const outcome = await Promise.race([locked, aborted]);
    if (outcome === "aborted") {
      // The pending lock call is left to the kernel; closing the file ends it.
      handle.close();
      throw new InterruptedError();
    }
    acquired = outcome;
  }
  if (!acquired) {
    handle.close();
    return undefined;
  }
  const holder: LockHolder = { pid: Deno.pid, what: opts.what, since: new Date().toISOString() };
  try {
    await handle.truncate(0);
    await handle.seek(0, Deno.SeekMode.Start);
    await handle.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
  } catch {
    // Only the waiting message needs this.
  }
  return handle;
}

async function release(handle: Deno.FsFile | undefined): Promise<void> {
  if (!handle) return;
  try {
    await handle.truncate(0);
    await handle.unlock();
  } catch {
    // Closing releases it as well.
  }
  handle.close();
}

/** Who holds the lock in `file` (undefined when free or unknown). */
export async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await Deno.readTextFile(file));
    return typeof parsed?.pid === "number" ? parsed as LockHolder : undefined;
  } catch {
    return undefined;
  }
}
