/**
 * Keeping a store tidy: listing its entries, measuring it, the numbers of
 * `rig cache stats`, and pruning by size and age (least recently used first,
 * never what the running command uses), including blobs nothing refers to
 * and temp files of crashed writers.
 */
import * as path from "../path.ts";
import type { BlobRef } from "./cache_record.ts";
import { validateRecord } from "./cache_record.ts";
import { type CacheEvent, tallyEvents } from "./cache_events.ts";

/** What maintenance reads of a store. */
export interface StoreFiles {
  readonly dir: string;
  recordPath(key: string): string;
  blobPath(sha256: string): string;
  recordKeys(): Promise<string[]>;
}

/** Unreferenced blobs younger than this may belong to a `put` in progress elsewhere. */
const BLOB_GRACE_MS = 10 * 60_000;

/** One record's place in the store, for stats and pruning. */
export interface EntryInfo {
  key: string;
  task: string;
  component: string;
  durationMs: number;
  createdAt: string;
  lastUsedMs: number;
  /** Bytes of the record file. */
  recordBytes: number;
  blobs: BlobRef[];
}

/** Hit and miss counts and what the hits saved. */
export interface TaskStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  /** Sum of the recorded durations of the tasks that hits replayed. */
  savedMs: number;
}

/** `rig cache stats` data. */
export interface CacheStats extends TaskStats {
  dir: string;
  blobs: number;
  byTask: Record<string, TaskStats>;
}

/** What a prune removed. */
export interface PruneResult {
  removedEntries: number;
  removedBlobs: number;
  freedBytes: number;
  keptEntries: number;
  bytesAfter: number;
}

/** Options of `prune`. */
export interface PruneOptions {
  /** Remove least-recently-used entries until the store is at most this big. */
  maxBytes?: number;
  /** Remove entries not used for longer than this many milliseconds. */
  maxAgeMs?: number;
}

/** Every valid entry with its size and last use (corrupt records are removed). */
export async function listEntries(
  store: StoreFiles,
  debug: (message: string) => void,
): Promise<EntryInfo[]> {
  const out: EntryInfo[] = [];
  for (const key of await store.recordKeys()) {
    const file = store.recordPath(key);
    let info: Deno.FileInfo;
    let text: string;
    try {
      info = await Deno.stat(file);
      text = await Deno.readTextFile(file);
    } catch {
      continue; // removed by another process meanwhile
    }
    const valid = await validateRecord(text, key);
    if (typeof valid === "string") {
      debug(`Cache record "${key.slice(0, 12)}" is unusable (${valid}): removed`);
      await Deno.remove(file).catch(() => {});
      continue;
    }
    const { record } = valid;
    out.push({
      key,
      task: record.task,
      component: record.component,
      durationMs: record.durationMs,
      createdAt: record.createdAt,
      lastUsedMs: info.mtime?.getTime() ?? 0,
      recordBytes: info.size,
      blobs: [
        ...record.artifacts.map((a) => ({ sha256: a.sha256, size: a.size })),
        ...(record.log ? [record.log] : []),
      ],
    });
  }
  return out;
}

/** Total bytes of records and blobs (a quick walk, no parsing). */
export async function storeSize(store: StoreFiles): Promise<number> {
  let total = 0;
  for (const file of await listFiles(path.join(store.dir, "tasks"))) total += file.size;
  for (const file of await listFiles(path.join(store.dir, "blobs"))) total += file.size;
  return total;
}

/** Entries, sizes, hits, misses and time saved, overall and per task kind. */
export async function collectStats(
  store: StoreFiles,
  opts: { events: CacheEvent[]; debug: (message: string) => void },
): Promise<CacheStats> {
  const entries = await listEntries(store, opts.debug);
  const blobs = await listFiles(path.join(store.dir, "blobs"));
  const blobSizes = new Map(
    blobs.map((b) => [path.basename(path.dirname(b.file)) + path.basename(b.file), b.size]),
  );
  const byTask: Record<string, TaskStats> = {};
  const bucket = (task: string) =>
    byTask[task] ??= { entries: 0, bytes: 0, hits: 0, misses: 0, savedMs: 0 };
  const counted = new Set<string>();
  for (const entry of entries) {
    const stats = bucket(entry.task);
    stats.entries++;
    stats.bytes += entry.recordBytes;
    for (const blob of entry.blobs) {
      if (counted.has(blob.sha256)) continue;
      counted.add(blob.sha256);
      stats.bytes += blobSizes.get(blob.sha256) ?? 0;
    }
  }
  for (const [task, sum] of tallyEvents(opts.events)) {
    const stats = bucket(task);
    stats.hits += sum.hits;
    stats.misses += sum.misses;
    stats.savedMs += sum.ms;
  }
  const total: TaskStats = { entries: 0, bytes: 0, hits: 0, misses: 0, savedMs: 0 };
  for (const stats of Object.values(byTask)) {
    total.entries += stats.entries;
    total.hits += stats.hits;
    total.misses += stats.misses;
    total.savedMs += stats.savedMs;
  }
  total.bytes = (await listFiles(path.join(store.dir, "tasks"))).reduce((n, f) => n + f.size, 0) +
    blobs.reduce((n, b) => n + b.size, 0);
  const sorted: Record<string, TaskStats> = {};
  for (const task of Object.keys(byTask).sort()) sorted[task] = byTask[task]!;
  return { dir: store.dir, ...total, blobs: blobs.length, byTask: sorted };
}

/**
 * Removes entries older than `maxAgeMs` (by last use), then least recently
 * used entries until the store fits in `maxBytes`, then blobs no record
 * refers to. Entries used or written by this store instance, or used by any
 * process since it was created, are kept.
 */
export async function pruneStore(
  store: StoreFiles,
  opts: PruneOptions & {
    now: number;
    startedAt: number;
    keep: (entry: EntryInfo) => boolean;
    debug: (message: string) => void;
  },
): Promise<PruneResult> {
  const now = opts.now;
  const entries = (await listEntries(store, opts.debug)).sort((a, b) =>
    a.lastUsedMs - b.lastUsedMs
  );
  const blobFiles = await listFiles(path.join(store.dir, "blobs"));
  const blobSize = new Map<string, number>();
  for (const blob of blobFiles) blobSize.set(blobName(blob.file), blob.size);
  const refs = new Map<string, number>();
  for (const entry of entries) {
    for (const blob of new Set(entry.blobs.map((b) => b.sha256))) {
      refs.set(blob, (refs.get(blob) ?? 0) + 1);
    }
  }
  let total = entries.reduce((n, e) => n + e.recordBytes, 0) +
    blobFiles.reduce((n, b) => n + b.size, 0);
  const before = total;
  let removedEntries = 0;
  let removedBlobs = 0;
  const protectedEntry = (entry: EntryInfo) => opts.keep(entry);
  const remove = async (entry: EntryInfo) => {
    await Deno.remove(store.recordPath(entry.key)).catch(() => {});
    removedEntries++;
    total -= entry.recordBytes;
    for (const blob of new Set(entry.blobs.map((b) => b.sha256))) {
      const count = (refs.get(blob) ?? 1) - 1;
      refs.set(blob, count);
      if (count === 0 && blobSize.has(blob)) {
        // A put elsewhere that reuses this blob refreshes its mtime: then it stays.
        const info = await Deno.stat(store.blobPath(blob)).catch(() => undefined);
        if ((info?.mtime?.getTime() ?? 0) >= opts.startedAt) continue;
        await Deno.remove(store.blobPath(blob)).catch(() => {});
        total -= blobSize.get(blob)!;
        blobSize.delete(blob);
        removedBlobs++;
      }
    }
  };
  const kept: EntryInfo[] = [];
  for (const entry of entries) {
    const tooOld = opts.maxAgeMs !== undefined && now - entry.lastUsedMs > opts.maxAgeMs;
    if (tooOld && !protectedEntry(entry)) await remove(entry);
    else kept.push(entry);
  }
  if (opts.maxBytes !== undefined) {
    for (const entry of kept.slice()) {
      if (total <= opts.maxBytes) break;
      if (protectedEntry(entry)) continue;
      await remove(entry);
      kept.splice(kept.indexOf(entry), 1);
    }
  }
  // Blobs nothing refers to (left by an interrupted put, or orphaned by hand).
  for (const blob of blobFiles) {
    const name = blobName(blob.file);
    if (!blobSize.has(name) || (refs.get(name) ?? 0) > 0) continue;
    if (blob.mtimeMs > now - BLOB_GRACE_MS) continue;
    await Deno.remove(blob.file).catch(() => {});
    total -= blob.size;
    blobSize.delete(name);
    removedBlobs++;
  }
  await removeStaleTemps(store.dir, now);
  if (removedEntries) {
    opts.debug(`Pruned ${removedEntries} cache entries and ${removedBlobs} blobs`);
  }
  return {
    removedEntries,
    removedBlobs,
    freedBytes: before - total,
    keptEntries: kept.length,
    bytesAfter: total,
  };
}

/** Files below `dir` with size and mtime, skipping temp files (names starting with a dot). */
export async function listFiles(
  dir: string,
): Promise<{ file: string; size: number; mtimeMs: number }[]> {
  const out: { file: string; size: number; mtimeMs: number }[] = [];
  for await (const { name, file } of filesBelow(dir)) {
    if (name.startsWith(".")) continue;
    try {
      const info = await Deno.stat(file);
      out.push({ file, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 });
    } catch {
      // Removed meanwhile.
    }
  }
  return out;
}

async function removeStaleTemps(dir: string, now: number): Promise<void> {
  // Temp files of writers that crashed; live writers rename theirs within seconds.
  for await (const { name, file } of filesBelow(dir)) {
    if (!name.startsWith(".")) continue;
    const info = await Deno.stat(file).catch(() => undefined);
    if (info && (info.mtime?.getTime() ?? 0) < now - BLOB_GRACE_MS) {
      await Deno.remove(file).catch(() => {});
    }
  }
}

function blobName(file: string): string {
  return path.basename(path.dirname(file)) + path.basename(file);
}

/** Every regular file below `dir`, depth first; unreadable folders are skipped. */
async function* filesBelow(dir: string): AsyncGenerator<{ name: string; file: string }> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory) yield* filesBelow(file);
    else if (entry.isFile) yield { name: entry.name, file };
  }
}
