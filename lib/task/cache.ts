/**
 * The project cache store below `<root>/.rig/cache/`:
 *
 * ```
 * blobs/ab/cdef…        content-addressed files (artifacts, logs), by SHA-256
 * tasks/<key>.json      one task record each (checksummed JSON)
 * latest/<task>@<comp>  the key of the last record stored for a task/component
 * events.jsonl          hits and misses, appended (for `rig cache stats`)
 * ```
 *
 * Every write is atomic (temp file + rename), so several rig processes can
 * share a store: the last writer of a record wins and readers never see half a
 * file. A corrupt, truncated or tampered record is a miss (and is removed); a
 * missing or corrupt blob makes `restore` throw a RigError rather than
 * silently miss. Records are least-recently-used first when pruning; entries
 * used or written by this store instance (this run) are never pruned.
 *
 * Typical use by a command:
 *
 * ```ts
 * const files = await listInputs(root, { dirs: [component.path], include: ["rig.toml"], env });
 * const inputs = await fingerprint(root, files, { statCache: await StatCache.open(root), env });
 * const manifest = keyManifest({ task: "test", component: component.name, command, inputs, env: declared });
 * const key = manifestKey(manifest);
 * const store = openCacheStore(root, { env, remoteCache: project.settings.remoteCache, ui });
 * const hit = ctx.flags.noCache ? undefined : await store.get(key, { task: "test", component: component.name });
 * if (hit) { ui.print(await store.readLog(hit)); await store.restore(hit); }
 * else {
 *   const previous = await store.latest("test", component.name);
 *   if (previous) describeExplanation(explain(previous, manifest)).forEach((l) => ui.info(l));
 *   // … run the task, then:
 *   await store.put({ key, task: "test", component: component.name, exitCode, summary, durationMs, manifest },
 *     { log, artifacts: ["server/coverage.xml"] });
 * }
 * ```
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { RigError, UsageError } from "../errors.ts";
import { comparePaths } from "./input_listing.ts";
import { hashFile } from "./content_hash.ts";
import { tempSibling, writeFileAtomic } from "../fs_atomic.ts";
import { ensureRigDir, projectCacheDir } from "../cache_paths.ts";
import { CACHE_FORMAT_VERSION, type KeyManifest, sha256Text, stableJson } from "./task_key.ts";
import { RIG_VERSION } from "../version.ts";

export { describeExplanation, explain, type Explanation } from "./task_key.ts";
import {
  type PackedEntry,
  packEntry,
  type RemoteCache,
  remoteCacheFromSettings,
  unpackEntry,
} from "./remote_cache.ts";

/** A file stored in the blob store. */
export interface BlobRef {
  sha256: string;
  size: number;
}

/** An output file of a task, restored on a cache hit. */
export interface ArtifactEntry {
  /** Posix path relative to the project root. */
  path: string;
  sha256: string;
  size: number;
  /** Permission bits (e.g. 0o644). */
  mode: number;
}

/** One cached task result. */
export interface TaskRecord {
  formatVersion: number;
  key: string;
  task: string;
  component: string;
  exitCode: number;
  /** Whatever the task wants replayed on a hit (counts, coverage…). */
  summary: unknown;
  /** The task's output, stored as a blob; read it with `store.readLog(record)`. */
  log: BlobRef | null;
  artifacts: ArtifactEntry[];
  durationMs: number;
  /** ISO time the record was written. */
  createdAt: string;
  /** ISO time the record was last read by a `get` (from the file's mtime). */
  lastUsedAt: string;
  rigVersion: string;
  tools: Record<string, string>;
  /** Everything the key was computed from (env values only as hashes). */
  manifest: KeyManifest;
  /** SHA-256 over the record's other fields (except lastUsedAt). */
  checksum: string;
}

/** What a caller supplies to `put`; the store fills in the rest. */
export interface NewTaskRecord {
  key: string;
  task: string;
  component: string;
  exitCode: number;
  summary?: unknown;
  durationMs: number;
  manifest: KeyManifest;
}

/** Output stored with a record. */
export interface PutOptions {
  /** The task's log text (or bytes). */
  log?: string | Uint8Array;
  /** Output files to store, posix paths relative to the project root. */
  artifacts?: string[];
}

/** Options of a `CacheStore`. */
export interface CacheStoreOptions {
  /** The store folder (default `<root>/.rig/cache`). */
  dir?: string;
  /** Size limit enforced after each `put` (default 2 GiB); 0 or Infinity turns it off. */
  maxBytes?: number;
  /** Receives debug messages (corrupt records, pruning); pass `ctx.ui.debug`. */
  debug?: (message: string) => void;
  /** Receives warnings (remote cache trouble); pass `ctx.ui.warn`. */
  warn?: (message: string, hint?: string) => void;
  /** A remote cache consulted on local misses and fed by every `put`. */
  remote?: RemoteCache;
  /** Current time, for tests. */
  now?: () => number;
}

/** The default size limit of a project cache. */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
/** The event log is folded into per-task totals when it grows past this. */
const EVENTS_COMPACT_BYTES = 1024 * 1024;
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

interface CacheEvent {
  /** `summary` lines stand for many older hits and misses (see #compactEvents). */
  type: "hit" | "miss" | "put" | "summary";
  hits?: number;
  misses?: number;
  remote?: boolean;
  task?: string;
  component?: string;
  key: string;
  ms?: number;
  at: number;
}

/** A project's content-addressed task cache. */
export class CacheStore {
  /** The store folder. */
  readonly dir: string;
  readonly #maxBytes: number;
  readonly #debug: (message: string) => void;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #inUse = new Set<string>();
  readonly #warn: (message: string, hint?: string) => void;
  readonly #remote: RemoteCache | undefined;
  #remoteWarned = false;
  #gitignoreChecked = false;

  constructor(readonly root: string, opts: CacheStoreOptions = {}) {
    this.dir = opts.dir ?? projectCacheDir(root);
    this.#warn = opts.warn ?? (() => {});
    this.#remote = opts.remote;
    this.#maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#debug = opts.debug ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** Path of a record file. */
  recordPath(key: string): string {
    return path.join(this.dir, "tasks", `${key}.json`);
  }

  /** Path of a blob file. */
  blobPath(sha256: string): string {
    return path.join(this.dir, "blobs", sha256.slice(0, 2), sha256.slice(2));
  }

  /**
   * Looks a key up for reuse: the valid record, or undefined on a miss. Counts
   * the hit or miss for `stats` (pass the task/component so misses are
   * attributed) and marks the entry used, so pruning keeps it.
   */
  async get(
    key: string,
    opts: { task?: string; component?: string } = {},
  ): Promise<TaskRecord | undefined> {
    let record = await this.read(key);
    let remote = false;
    if (!record && this.#remote) {
      record = await this.#pull(key);
      remote = record !== undefined;
    }
    if (record) {
      this.#inUse.add(key);
      // The entry now reflects the current inputs: the next --explain compares against it.
      await writeFileAtomic(
        this.#latestPath(record.task, record.component),
        JSON.stringify({ key }),
      ).catch(() => {});
      const now = new Date(this.#now());
      await Deno.utime(this.recordPath(key), now, now).catch(() => {});
      record.lastUsedAt = now.toISOString();
      await this.#event({
        type: "hit",
        key,
        task: record.task,
        component: record.component,
        ms: record.durationMs,
        at: now.getTime(),
        ...(remote ? { remote } : {}),
      });
    } else {
      await this.#event({
        type: "miss",
        key,
        task: opts.task,
        component: opts.component,
        at: this.#now(),
      });
    }
    return record;
  }

  /** Reads a record without counting it as a hit; corrupt records are removed and read as undefined. */
  async read(key: string): Promise<TaskRecord | undefined> {
    if (!/^[0-9a-f]{64}$/.test(key)) return undefined;
    const file = this.recordPath(key);
    let text: string;
    let mtime: Date | null;
    try {
      const info = await Deno.stat(file);
      mtime = info.mtime;
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const problem = validateRecord(text, key);
    if (typeof problem === "string") {
      this.#debug(`Cache record "${key.slice(0, 12)}" is unusable (${problem}): removed`);
      await Deno.remove(file).catch(() => {});
      return undefined;
    }
    if (mtime) problem.lastUsedAt = mtime.toISOString();
    return problem;
  }

  /** True when a valid record exists for `key`. */
  async has(key: string): Promise<boolean> {
    return (await this.read(key)) !== undefined;
  }

  /**
   * Stores a task result with its log and artifacts (blobs first, then the
   * record, each atomically), points `latest` at it and prunes the store when
   * it outgrew its size limit. Returns the stored record.
   */
  async put(input: NewTaskRecord, opts: PutOptions = {}): Promise<TaskRecord> {
    if (!/^[0-9a-f]{64}$/.test(input.key)) {
      throw new RigError(`Cannot store cache entry: "${input.key}" is not a SHA-256 key`);
    }
    this.#inUse.add(input.key);
    await this.#ignoreInGit();
    const artifacts: ArtifactEntry[] = [];
    for (const file of [...new Set(opts.artifacts ?? [])].sort(comparePaths)) {
      artifacts.push(await this.#storeArtifact(file));
    }
    let log: BlobRef | null = null;
    if (opts.log !== undefined) {
      const bytes = typeof opts.log === "string" ? new TextEncoder().encode(opts.log) : opts.log;
      log = await this.putBlob(bytes);
    }
    const now = new Date(this.#now()).toISOString();
    const body: Omit<TaskRecord, "checksum"> = {
      formatVersion: CACHE_FORMAT_VERSION,
      key: input.key,
      task: input.task,
      component: input.component,
      exitCode: input.exitCode,
      summary: input.summary ?? null,
      log,
      artifacts,
      durationMs: Math.round(input.durationMs),
      createdAt: now,
      lastUsedAt: now,
      rigVersion: RIG_VERSION,
      tools: { ...input.manifest.tools },
      manifest: input.manifest,
    };
    // Round-trip through JSON first: the checksum must be of what a reader will parse
    // (Dates become strings, undefined members vanish).
    const plain = JSON.parse(JSON.stringify(body)) as Omit<TaskRecord, "checksum">;
    const record: TaskRecord = { ...plain, checksum: recordChecksum(plain) };
    await writeFileAtomic(this.recordPath(input.key), JSON.stringify(record));
    await writeFileAtomic(
      this.#latestPath(input.task, input.component),
      JSON.stringify({ key: input.key }),
    );
    await this.#event({
      type: "put",
      key: input.key,
      task: input.task,
      component: input.component,
      ms: record.durationMs,
      at: this.#now(),
    });
    if (this.#remote) await this.#push(record);
    if (this.#maxBytes > 0 && Number.isFinite(this.#maxBytes)) {
      const size = await this.size();
      if (size > this.#maxBytes) {
        this.#debug(`Cache is ${size} bytes, over its ${this.#maxBytes} byte limit: pruning`);
        await this.prune({ maxBytes: this.#maxBytes });
      }
    }
    return record;
  }

  /** Stores bytes as a blob (idempotent) and returns its reference. */
  async putBlob(bytes: Uint8Array): Promise<BlobRef> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const target = this.blobPath(sha256);
    if (!(await this.#blobPresent(target, bytes.length))) {
      await writeFileAtomic(target, bytes);
    }
    return { sha256, size: bytes.length };
  }

  /** Reads a blob, verifying its hash; throws a RigError when it is missing or corrupt. */
  async readBlob(ref: BlobRef, what = "cached output"): Promise<Uint8Array> {
    const file = this.blobPath(ref.sha256);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      throw missingBlob(what, ref, error);
    }
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== ref.sha256) {
      await Deno.remove(file).catch(() => {});
      throw corruptBlob(what, ref);
    }
    return bytes;
  }

  /** The log stored with a record ("" when there is none); throws a RigError when its blob is gone. */
  async readLog(record: TaskRecord): Promise<string> {
    if (!record.log) return "";
    return new TextDecoder().decode(await this.readBlob(record.log, `the log of ${record.task}`));
  }

  /**
   * Writes a record's artifacts below `destRoot` (default the project root),
   * verifying each blob's hash. Throws a RigError naming the file when a blob
   * is missing or corrupt or the destination cannot be written.
   */
  async restore(
    record: TaskRecord,
    destRoot: string = this.root,
  ): Promise<{ files: number; bytes: number }> {
    let bytes = 0;
    for (const artifact of record.artifacts) {
      const relative = safeRelative(artifact.path);
      const dest = path.join(destRoot, ...relative.split("/"));
      const source = this.blobPath(artifact.sha256);
      try {
        await Deno.stat(source);
      } catch (error) {
        throw missingBlob(`"${artifact.path}"`, artifact, error);
      }
      try {
        await Deno.mkdir(path.dirname(dest), { recursive: true });
      } catch (error) {
        throw unwritable(artifact.path, error);
      }
      const temp = tempSibling(dest);
      try {
        try {
          await Deno.copyFile(source, temp);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) {
            throw missingBlob(`"${artifact.path}"`, artifact, error);
          }
          throw unwritable(artifact.path, error);
        }
        const actual = await hashFile(temp);
        if (actual !== artifact.sha256) {
          await Deno.remove(source).catch(() => {});
          throw corruptBlob(`"${artifact.path}"`, artifact);
        }
        try {
          if (Deno.build.os !== "windows") await Deno.chmod(temp, artifact.mode & 0o7777);
          await Deno.rename(temp, dest);
        } catch (error) {
          throw unwritable(artifact.path, error);
        }
      } finally {
        await Deno.remove(temp).catch(() => {});
      }
      bytes += artifact.size;
    }
    return { files: record.artifacts.length, bytes };
  }

  /** The last record stored for a task of a component (for `--explain`), if still present. */
  async latest(task: string, component: string): Promise<TaskRecord | undefined> {
    let key: unknown;
    try {
      key = JSON.parse(await Deno.readTextFile(this.#latestPath(task, component)))?.key;
    } catch {
      return undefined;
    }
    return typeof key === "string" ? await this.read(key) : undefined;
  }

  /** Resolves a full key from a unique prefix (at least 4 hex digits); throws a UsageError otherwise. */
  async resolveKey(prefix: string): Promise<string> {
    const wanted = prefix.toLowerCase();
    if (!/^[0-9a-f]{4,64}$/.test(wanted)) {
      throw new UsageError(
        `"${prefix}" is not a cache key: expected at least 4 hex digits`,
        "Run: rig cache stats --list to see the keys",
      );
    }
    const matches = (await this.#recordKeys()).filter((k) => k.startsWith(wanted));
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0) {
      throw new UsageError(
        `No cache entry has a key starting with "${prefix}"`,
        "Run: rig cache stats --list to see the keys",
      );
    }
    throw new UsageError(
      `Cache key prefix "${prefix}" is ambiguous: ${matches.length} entries match`,
      "Give more digits of the key",
    );
  }

  /** Every valid entry with its size and last use (corrupt records are removed). */
  async entries(): Promise<EntryInfo[]> {
    const out: EntryInfo[] = [];
    for (const key of await this.#recordKeys()) {
      const file = this.recordPath(key);
      let info: Deno.FileInfo;
      let text: string;
      try {
        info = await Deno.stat(file);
        text = await Deno.readTextFile(file);
      } catch {
        continue; // removed by another process meanwhile
      }
      const record = validateRecord(text, key);
      if (typeof record === "string") {
        this.#debug(`Cache record "${key.slice(0, 12)}" is unusable (${record}): removed`);
        await Deno.remove(file).catch(() => {});
        continue;
      }
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
  async size(): Promise<number> {
    let total = 0;
    for (const file of await this.#walk("tasks")) total += file.size;
    for (const file of await this.#walk("blobs")) total += file.size;
    return total;
  }

  /** Entries, sizes, hits, misses and time saved, overall and per task kind. */
  async stats(): Promise<CacheStats> {
    const entries = await this.entries();
    const blobs = await this.#walk("blobs");
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
    for (const event of await this.#events()) {
      if (event.type === "put") continue;
      const stats = bucket(event.task ?? "unknown");
      if (event.type === "summary") {
        stats.hits += event.hits ?? 0;
        stats.misses += event.misses ?? 0;
        stats.savedMs += event.ms ?? 0;
      } else if (event.type === "hit") {
        stats.hits++;
        stats.savedMs += event.ms ?? 0;
      } else stats.misses++;
    }
    const total: TaskStats = { entries: 0, bytes: 0, hits: 0, misses: 0, savedMs: 0 };
    for (const stats of Object.values(byTask)) {
      total.entries += stats.entries;
      total.hits += stats.hits;
      total.misses += stats.misses;
      total.savedMs += stats.savedMs;
    }
    total.bytes = (await this.#walk("tasks")).reduce((n, f) => n + f.size, 0) +
      blobs.reduce((n, b) => n + b.size, 0);
    const sorted: Record<string, TaskStats> = {};
    for (const task of Object.keys(byTask).sort()) sorted[task] = byTask[task]!;
    return { dir: this.dir, ...total, blobs: blobs.length, byTask: sorted };
  }

  /**
   * Removes entries older than `maxAgeMs` (by last use), then least recently
   * used entries until the store fits in `maxBytes`, then blobs no record
   * refers to. Entries used or written by this store instance, or used by any
   * process since it was created, are kept.
   */
  async prune(opts: PruneOptions): Promise<PruneResult> {
    const now = this.#now();
    const entries = (await this.entries()).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    const blobFiles = await this.#walk("blobs");
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
    const protectedEntry = (entry: EntryInfo) =>
      this.#inUse.has(entry.key) || entry.lastUsedMs >= this.#startedAt;
    const remove = async (entry: EntryInfo) => {
      await Deno.remove(this.recordPath(entry.key)).catch(() => {});
      removedEntries++;
      total -= entry.recordBytes;
      for (const blob of new Set(entry.blobs.map((b) => b.sha256))) {
        const count = (refs.get(blob) ?? 1) - 1;
        refs.set(blob, count);
        if (count === 0 && blobSize.has(blob)) {
          // A put elsewhere that reuses this blob refreshes its mtime: then it stays.
          const info = await Deno.stat(this.blobPath(blob)).catch(() => undefined);
          if ((info?.mtime?.getTime() ?? 0) >= this.#startedAt) continue;
          await Deno.remove(this.blobPath(blob)).catch(() => {});
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
    await this.#removeStaleTemps(now);
    await this.#compactEvents();
    if (removedEntries) {
      this.#debug(`Pruned ${removedEntries} cache entries and ${removedBlobs} blobs`);
    }
    return {
      removedEntries,
      removedBlobs,
      freedBytes: before - total,
      keptEntries: kept.length,
      bytesAfter: total,
    };
  }

  /** Deletes the whole store; returns how many entries and bytes it held. */
  async clean(): Promise<{ entries: number; bytes: number }> {
    const entries = (await this.#recordKeys()).length;
    const bytes = await this.size();
    await Deno.remove(this.dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    return { entries, bytes };
  }

  /**
   * Stores an entry that came from elsewhere (the remote cache): the record
   * must be valid for `key` and every blob it names must be present and match
   * its hash. Throws a RigError otherwise.
   */
  async importEntry(key: string, entry: PackedEntry): Promise<TaskRecord> {
    const record = validateRecord(JSON.stringify(entry.record), key);
    if (typeof record === "string") {
      throw new RigError(`Cache entry "${key.slice(0, 12)}" is unusable: ${record}`);
    }
    const refs = [...record.artifacts, ...(record.log ? [record.log] : [])];
    for (const ref of refs) {
      const bytes = entry.blobs.get(ref.sha256);
      if (!bytes || bytes.length !== ref.size) {
        throw new RigError(
          `Cache entry "${key.slice(0, 12)}" lacks blob "${ref.sha256.slice(0, 12)}"`,
        );
      }
      const stored = await this.putBlob(bytes);
      if (stored.sha256 !== ref.sha256) {
        throw new RigError(`Cache entry "${key.slice(0, 12)}" has a corrupt blob`);
      }
    }
    await writeFileAtomic(this.recordPath(key), JSON.stringify(record));
    return (await this.read(key))!;
  }

  /** Packs a stored record and its blobs as one artifact (for the remote cache). */
  async exportEntry(record: TaskRecord): Promise<Uint8Array> {
    const blobs = new Map<string, Uint8Array>();
    for (const ref of [...record.artifacts, ...(record.log ? [record.log] : [])]) {
      blobs.set(ref.sha256, await this.readBlob(ref));
    }
    const { lastUsedAt: _unused, ...body } = record;
    return await packEntry({ record: { ...body, lastUsedAt: record.createdAt }, blobs });
  }

  async #pull(key: string): Promise<TaskRecord | undefined> {
    try {
      const bytes = await this.#remote!.download(key);
      if (!bytes) return undefined;
      const record = await this.importEntry(key, await unpackEntry(bytes));
      this.#debug(`Cache entry "${key.slice(0, 12)}" came from the remote cache`);
      return record;
    } catch (error) {
      this.#remoteTrouble(error);
      return undefined;
    }
  }

  async #push(record: TaskRecord): Promise<void> {
    try {
      if (await this.#remote!.exists(record.key)) return;
      await this.#remote!.upload(record.key, await this.exportEntry(record), {
        durationMs: record.durationMs,
      });
    } catch (error) {
      this.#remoteTrouble(error);
    }
  }

  #remoteTrouble(error: unknown): void {
    const message = (error as Error).message;
    this.#debug(`Remote cache: ${message}`);
    // One warning per run is enough; the local cache keeps working.
    if (this.#remoteWarned) return;
    this.#remoteWarned = true;
    this.#warn(
      `Remote cache unavailable, using the local cache only: ${message}`,
      error instanceof RigError ? error.hint : undefined,
    );
  }

  /** Writes `.rig/.gitignore` (`*`) once, so the cache never shows up in `git status`. */
  async #ignoreInGit(): Promise<void> {
    if (this.#gitignoreChecked) return;
    this.#gitignoreChecked = true;
    if (this.dir !== projectCacheDir(this.root)) return;
    await ensureRigDir(this.root).catch(() => {});
  }

  #latestPath(task: string, component: string): string {
    return path.join(
      this.dir,
      "latest",
      `${encodeURIComponent(task)}@${encodeURIComponent(component)}.json`,
    );
  }

  async #blobPresent(file: string, size: number): Promise<boolean> {
    try {
      const info = await Deno.stat(file);
      if (info.size !== size) return false;
      // Refresh its mtime so a concurrent prune's grace period covers it.
      const now = new Date(this.#now());
      await Deno.utime(file, now, now).catch(() => {});
      return true;
    } catch {
      return false;
    }
  }

  async #storeArtifact(file: string): Promise<ArtifactEntry> {
    const relative = safeRelative(file);
    const source = path.join(this.root, ...relative.split("/"));
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(source);
    } catch (error) {
      throw new RigError(
        `Cannot cache artifact "${relative}": ${(error as Error).message}`,
        "Check that the task produced the file",
      );
    }
    if (!info.isFile) {
      throw new RigError(`Cannot cache artifact "${relative}": it is not a file`);
    }
    // Copy first, then hash the copy: the blob's name always matches its bytes.
    const staging = path.join(this.dir, "blobs", `.staging-${Deno.pid}-${crypto.randomUUID()}`);
    await Deno.mkdir(path.dirname(staging), { recursive: true });
    try {
      await Deno.copyFile(source, staging);
      const size = (await Deno.stat(staging)).size;
      const sha256 = await hashFile(staging, { size });
      const target = this.blobPath(sha256);
      if (!(await this.#blobPresent(target, size))) {
        await Deno.mkdir(path.dirname(target), { recursive: true });
        await Deno.rename(staging, target);
      }
      return { path: relative, sha256, size, mode: (info.mode ?? 0o644) & 0o7777 };
    } finally {
      await Deno.remove(staging).catch(() => {});
    }
  }

  async #recordKeys(): Promise<string[]> {
    const keys: string[] = [];
    try {
      for await (const entry of Deno.readDir(path.join(this.dir, "tasks"))) {
        const match = entry.name.match(/^([0-9a-f]{64})\.json$/);
        if (entry.isFile && match) keys.push(match[1]!);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return keys.sort();
  }

  async #walk(sub: string): Promise<{ file: string; size: number; mtimeMs: number }[]> {
    const out: { file: string; size: number; mtimeMs: number }[] = [];
    for await (const { name, file } of filesBelow(path.join(this.dir, sub))) {
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

  async #removeStaleTemps(now: number): Promise<void> {
    // Temp files of writers that crashed; live writers rename theirs within seconds.
    for await (const { name, file } of filesBelow(this.dir)) {
      if (!name.startsWith(".")) continue;
      const info = await Deno.stat(file).catch(() => undefined);
      if (info && (info.mtime?.getTime() ?? 0) < now - BLOB_GRACE_MS) {
        await Deno.remove(file).catch(() => {});
      }
    }
  }

  async #event(event: CacheEvent): Promise<void> {
    const file = path.join(this.dir, "events.jsonl");
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      // One small O_APPEND write per event: concurrent processes do not interleave lines.
      await Deno.writeTextFile(file, JSON.stringify(event) + "\n", { append: true });
    } catch (error) {
      this.#debug(`Cannot record cache ${event.type}: ${(error as Error).message}`);
    }
  }

  /** Folds the event log into one summary line per task once it passes 1 MB. */
  async #compactEvents(): Promise<void> {
    const file = path.join(this.dir, "events.jsonl");
    const info = await Deno.stat(file).catch(() => undefined);
    if (!info || info.size < EVENTS_COMPACT_BYTES) return;
    const totals = new Map<string, CacheEvent>();
    for (const event of await this.#events()) {
      if (event.type === "put") continue;
      const task = event.task ?? "unknown";
      const sum = totals.get(task) ??
        { type: "summary", task, key: "", hits: 0, misses: 0, ms: 0, at: this.#now() };
      if (event.type === "summary") {
        sum.hits! += event.hits ?? 0;
        sum.misses! += event.misses ?? 0;
        sum.ms! += event.ms ?? 0;
      } else if (event.type === "hit") {
        sum.hits!++;
        sum.ms! += event.ms ?? 0;
      } else sum.misses!++;
      totals.set(task, sum);
    }
    const text = [...totals.values()].map((e) => JSON.stringify(e) + "\n").join("");
    await writeFileAtomic(file, text);
  }

  async #events(): Promise<CacheEvent[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(path.join(this.dir, "events.jsonl"));
    } catch {
      return [];
    }
    const out: CacheEvent[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const event = JSON.parse(line);
        if (event && typeof event.type === "string") out.push(event);
      } catch {
        // A torn line from a crash: skip it.
      }
    }
    return out;
  }
}

function blobName(file: string): string {
  return path.basename(path.dirname(file)) + path.basename(file);
}

/** The checksum stored in a record: SHA-256 over its stable JSON without checksum and lastUsedAt. */
export function recordChecksum(record: Omit<TaskRecord, "checksum"> | TaskRecord): string {
  const { lastUsedAt: _used, ...rest } = record as TaskRecord;
  return sha256Text(stableJson({ ...rest, checksum: undefined }));
}

/** Parses and checks a record file; returns the record or why it is unusable. */
function validateRecord(text: string, key: string): TaskRecord | string {
  let record: TaskRecord;
  try {
    record = JSON.parse(text);
  } catch {
    return "not valid JSON, probably truncated";
  }
  if (!record || typeof record !== "object") return "not an object";
  if (record.formatVersion !== CACHE_FORMAT_VERSION) return "written by another cache format";
  if (record.key !== key) return "its key does not match its file name";
  if (typeof record.checksum !== "string" || recordChecksum(record) !== record.checksum) {
    return "checksum mismatch";
  }
  if (!Array.isArray(record.artifacts) || !record.manifest) return "fields missing";
  return record;
}

function safeRelative(file: string): string {
  const posix = file.replaceAll("\\", "/");
  const normal = path.posix.normalize(posix);
  if (
    path.posix.isAbsolute(normal) || /^[A-Za-z]:/.test(normal) || normal.startsWith("../") ||
    normal === ".."
  ) {
    throw new RigError(`Artifact path "${file}" must be relative to the project root`);
  }
  return normal;
}

const RESTORE_HINT = "Run: rig cache clean, then run the task again (or pass --no-cache)";

function missingBlob(what: string, ref: BlobRef, cause: unknown): RigError {
  return new RigError(
    `Cannot restore ${what} from the cache: blob "${ref.sha256.slice(0, 12)}" is missing`,
    RESTORE_HINT,
    { cause },
  );
}

function corruptBlob(what: string, ref: BlobRef): RigError {
  return new RigError(
    `Cannot restore ${what} from the cache: blob "${
      ref.sha256.slice(0, 12)
    }" is corrupt (hash mismatch)`,
    RESTORE_HINT,
  );
}

function unwritable(file: string, cause: unknown): RigError {
  return new RigError(
    `Cannot restore "${file}" from the cache: ${(cause as Error).message}`,
    `Check that "${path.posix.dirname(file)}" is writable, or pass --no-cache`,
    { cause },
  );
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses a size like `500MB`, `2G`, `1.5GiB` or `1024` (bytes; units are powers of 1024). */
export function parseSize(text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(
      `Cannot read size "${text}": expected a number with an optional unit (KB, MB, GB, TB)`,
      "Example: rig cache prune --max-size 500MB",
    );
  }
  return Math.round(Number(match[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Parses a duration like `7d`, `12h`, `30m`, `1d12h` or `90s` into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|min|s|m|h|d|w)/g)];
  const consumed = parts.map((p) => p[0]).join("");
  if (!parts.length || consumed !== trimmed) {
    throw new UsageError(
      `Cannot read duration "${text}": expected a number with a unit (s, m, h, d, w), e.g. 7d or 12h`,
      "Example: rig cache prune --max-age 7d",
    );
  }
  return parts.reduce((total, p) => total + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
}

/** The project cache's size limit: `RIG_CACHE_MAX_SIZE` (e.g. `5G`) when set, else 2 GiB. */
export function cacheMaxBytes(env: Record<string, string | undefined>): number {
  const configured = env.RIG_CACHE_MAX_SIZE?.trim();
  return configured ? parseSize(configured) : DEFAULT_MAX_BYTES;
}

/** Options of `openCacheStore`. */
export interface OpenCacheStoreOptions {
  /** The caller's environment: RIG_CACHE_MAX_SIZE and the remote cache token are read from it. */
  env: Record<string, string | undefined>;
  /** rig.toml's `[project] remote_cache` (project.settings.remoteCache). */
  remoteCache?: { url: string; team?: string; tokenEnv?: string };
  /** Where debug lines and warnings go (pass `ctx.ui`). */
  ui?: { debug(text: string): void; warn(text: string, hint?: string): void };
}

/** Opens a project's cache store the way commands should: size limit from env, remote cache from rig.toml. */
export function openCacheStore(root: string, opts: OpenCacheStoreOptions): CacheStore {
  return new CacheStore(root, {
    maxBytes: cacheMaxBytes(opts.env),
    remote: remoteCacheFromSettings(opts.remoteCache, opts.env),
    debug: opts.ui ? (text) => opts.ui!.debug(text) : undefined,
    warn: opts.ui ? (text, hint) => opts.ui!.warn(text, hint) : undefined,
  });
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
