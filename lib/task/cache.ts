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
 * file. Records are signed (HMAC-SHA256, see signing.ts): one whose signature
 * does not verify is a loud warning and a miss; restores write only what
 * restore_policy.ts allows. A corrupt or truncated record is a miss (and is removed); a
 * missing or corrupt blob makes `restore` throw a RigError rather than
 * silently miss. Records are least-recently-used first when pruning; entries
 * used or written by this store instance (this run) are never pruned.
 *
 * Commands do not use the store directly: lib/task/ runs a task's life (inputs,
 * key, lookup, run, store) and opens the store with `openCacheStore` (cache_open.ts).
 */
import * as path from "../path.ts";
import { readTextIfPresent } from "../fs.ts";
import { RigError, UsageError } from "../errors.ts";
import { sha256Hex } from "../hash.ts";
import { comparePaths } from "./input_listing.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { ensureRigDir, projectCacheDir } from "../cache_paths.ts";
import { CACHE_FORMAT_VERSION } from "./task_key.ts";
import { RIG_VERSION } from "../version.ts";
import { canonicalRecordBytes, processSigner, type Signer } from "./signing.ts";
import { checkRestore, checkScratchDir, declaredOutputRoots } from "./restore_policy.ts";
import {
  type ArtifactEntry,
  type BlobRef,
  corruptBlob,
  missingBlob,
  type NewTaskRecord,
  type TaskRecord,
  validateRecord,
  type ValidRecord,
} from "./cache_record.ts";
import { DEFAULT_MAX_BYTES } from "./cache_limits.ts";
import { CacheEventLog } from "./cache_events.ts";
import { touch } from "./observe.ts";
import { blobPresent, storeArtifact, writeArtifacts } from "./cache_blobs.ts";
import {
  type CacheStats,
  collectStats,
  type EntryInfo,
  listEntries,
  type PruneOptions,
  type PruneResult,
  pruneStore,
  storeSize,
} from "./cache_maintenance.ts";

import {
  ArtifactSignatureError,
  type PackedEntry,
  packEntry,
  type RemoteCache,
  unpackEntry,
} from "./remote_cache.ts";

/** Output stored with a record. */
export interface PutOptions {
  /** The task's log text (or bytes). */
  log?: string | Uint8Array;
  /** Output files to store, posix paths relative to `artifactRoot`. */
  artifacts?: string[];
  /** The folder artifacts are read from (default: the project root); restore them with `destRoot`. */
  artifactRoot?: string;
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
  /** Signs and verifies records (default: a per-process key; commands pass `signerFromEnv`). */
  signer?: Signer;
  /** Environment git runs with when a restore asks which files are tracked. */
  env?: Record<string, string>;
  /** A task's output roots (default `declaredOutputRoots`); restores write only inside them. */
  outputRoots?: (task: string, component: string) => string[];
  /** Masks secrets in the stored log and summary (pass `ui.redact`). */
  redact?: (text: string) => string;
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
  readonly #events: CacheEventLog;
  readonly #signer: Signer;
  readonly #env: Record<string, string>;
  readonly #outputRoots: (task: string, component: string) => string[];
  readonly #redact: ((text: string) => string) | undefined;
  /** Keys whose remote artifact was refused: an honest result replaces it on the server. */
  readonly #refused = new Set<string>();
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
    this.#signer = opts.signer ?? processSigner();
    this.#env = opts.env ?? {};
    this.#outputRoots = opts.outputRoots ??
      ((task, component) => declaredOutputRoots(task, component));
    this.#redact = opts.redact;
    this.#events = new CacheEventLog(path.join(this.dir, "events.jsonl"), {
      now: this.#now,
      debug: this.#debug,
    });
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
      const latest = this.#latestPath(record.task, record.component);
      const pointer = JSON.stringify({ key });
      if (readTextIfPresent(latest) !== pointer) {
        await writeFileAtomic(latest, pointer).catch(() => {});
      }
      const now = new Date(this.#now());
      touch(this.recordPath(key), now);
      record.lastUsedAt = now.toISOString();
      this.#events.append({
        type: "hit",
        key,
        task: record.task,
        component: record.component,
        ms: record.durationMs,
        at: now.getTime(),
        ...(remote ? { remote } : {}),
      });
    } else {
      this.#events.append({
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
      // Synchronous: a record is a few kilobytes, and a cache hit reads one per task.
      const info = Deno.statSync(file);
      mtime = info.mtime;
      text = Deno.readTextFileSync(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const valid = await validateRecord(text, key);
    if (typeof valid === "string") {
      this.#debug(`Cache record "${key.slice(0, 12)}" is unusable (${valid}): removed`);
      await Deno.remove(file).catch(() => {});
      return undefined;
    }
    if (!(await this.#verified(valid, file))) return undefined;
    if (mtime) valid.record.lastUsedAt = mtime.toISOString();
    return valid.record;
  }

  /** Checks a record's signature; a forged or foreign record is a loud warning and is removed. */
  async #verified({ record, canonical }: ValidRecord, file: string): Promise<boolean> {
    if (typeof record.signature !== "string") {
      // Written by a rig before records were signed: never used, not worth a warning.
      this.#debug(`Cache record "${record.key.slice(0, 12)}" is unsigned (older rig): removed`);
      await Deno.remove(file).catch(() => {});
      return false;
    }
    if (await this.#signer.verify(canonical, record.signature)) return true;
    this.#warn(
      `Cache record "${record.key.slice(0, 12)}" (${record.task} of "${record.component}") ` +
        `failed signature verification and was ignored: ${file}`,
      `It was not written by rig with this key (${this.#signer.source}); ` +
        "the task runs normally. If .rig/cache comes from elsewhere, run: rig cache clean",
    );
    await Deno.remove(file).catch(() => {});
    return false;
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
      const artifact = await storeArtifact(
        this.dir,
        (sha: string) => this.blobPath(sha),
        file,
        opts.artifactRoot ?? this.root,
        this.#now(),
      );
      // Only build outputs keep executable bits; setuid/setgid/sticky never travel.
      artifact.mode &= input.task === "build" ? 0o777 : 0o666;
      artifacts.push(artifact);
    }
    let log: BlobRef | null = null;
    if (opts.log !== undefined) {
      const text = typeof opts.log === "string" ? opts.log : undefined;
      // Secrets never reach the store: the log and the summary pass the redaction step.
      const bytes = text !== undefined
        ? new TextEncoder().encode(this.#redact ? this.#redact(text) : text)
        : opts.log as Uint8Array;
      log = await this.putBlob(bytes);
    }
    const now = new Date(this.#now()).toISOString();
    const body: Omit<TaskRecord, "checksum" | "signature"> = {
      formatVersion: CACHE_FORMAT_VERSION,
      key: input.key,
      task: input.task,
      component: input.component,
      exitCode: input.exitCode,
      summary: this.#redact
        ? redactDeep(input.summary ?? null, this.#redact)
        : input.summary ?? null,
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
    const plain = JSON.parse(JSON.stringify(body)) as Omit<TaskRecord, "checksum" | "signature">;
    const record = await this.#seal(plain);
    await writeFileAtomic(this.recordPath(input.key), JSON.stringify(record));
    await writeFileAtomic(
      this.#latestPath(input.task, input.component),
      JSON.stringify({ key: input.key }),
    );
    this.#events.append({
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
    const sha256 = await sha256Hex(bytes);
    const target = this.blobPath(sha256);
    if (!(await blobPresent(target, bytes.length, this.#now()))) {
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
    const actual = await sha256Hex(bytes);
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
   * Writes a record's artifacts below `destRoot` (default the project root).
   * First the whole record is checked against the restore policy (paths inside
   * the task's output roots of the project, no .git, no tracked file, no
   * symlink, no stray mode bits; see restore_policy.ts) and every blob's hash
   * is verified: a RestoreRejectedError or a RigError naming the file comes
   * before any write. Returns exactly the files written.
   */
  async restore(
    record: TaskRecord,
    destRoot: string = this.root,
  ): Promise<{ files: number; bytes: number; paths: string[] }> {
    try {
      await checkRestore(this.root, record, {
        roots: this.#outputRoots(record.task, record.component),
        env: this.#env,
      });
      if (destRoot !== this.root) await checkScratchDir(this.root, destRoot, record);
    } catch (error) {
      this.#refused.add(record.key);
      throw error;
    }
    return await writeArtifacts(record, destRoot, (sha: string) => this.blobPath(sha));
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
    const matches = (await this.recordKeys()).filter((k) => k.startsWith(wanted));
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
    return await listEntries(this, this.#debug);
  }

  /** Total bytes of records and blobs (a quick walk, no parsing). */
  async size(): Promise<number> {
    return await storeSize(this);
  }

  /** Entries, sizes, hits, misses and time saved, overall and per task kind. */
  async stats(): Promise<CacheStats> {
    return await collectStats(this, { events: await this.#events.read(), debug: this.#debug });
  }

  /**
   * Removes entries older than `maxAgeMs` (by last use), then least recently
   * used entries until the store fits in `maxBytes`, then blobs no record
   * refers to. Entries used or written by this store instance, or used by any
   * process since it was created, are kept.
   */
  async prune(opts: PruneOptions): Promise<PruneResult> {
    const result = await pruneStore(this, {
      ...opts,
      now: this.#now(),
      keep: (entry) => this.#inUse.has(entry.key) || entry.lastUsedMs >= this.#startedAt,
      startedAt: this.#startedAt,
      debug: this.#debug,
    });
    await this.#events.compact();
    return result;
  }

  /** The keys of every record file, sorted (for maintenance and key prefixes). */
  async recordKeys(): Promise<string[]> {
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

  /** Deletes the whole store; returns how many entries and bytes it held. */
  async clean(): Promise<{ entries: number; bytes: number }> {
    const entries = (await this.recordKeys()).length;
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
    const valid = await validateRecord(JSON.stringify(entry.record), key);
    if (typeof valid === "string") {
      throw new RigError(`Cache entry "${key.slice(0, 12)}" is unusable: ${valid}`);
    }
    const { record } = valid;
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
    // The remote artifact was authenticated as a whole (x-artifact-tag); sign it for this store.
    const { checksum: _sum, signature: _sig, ...body } = record;
    await writeFileAtomic(this.recordPath(key), JSON.stringify(await this.#seal(body)));
    return (await this.read(key))!;
  }

  /** Adds the checksum and the signature to a record body. */
  async #seal(body: Omit<TaskRecord, "checksum" | "signature">): Promise<TaskRecord> {
    // One serialisation for both: the checksum is the SHA-256 of the bytes that are signed.
    const canonical = canonicalRecordBytes(body);
    const [checksum, signature] = await Promise.all([
      sha256Hex(canonical),
      this.#signer.sign(canonical),
    ]);
    return { ...body, checksum, signature };
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
      if (error instanceof ArtifactSignatureError) {
        this.#refused.add(key);
        this.#warn(error.message, error.hint);
      } else this.#remoteTrouble(error);
      return undefined;
    }
  }

  async #push(record: TaskRecord): Promise<void> {
    if (this.#remote!.readOnly) {
      this.#debug(`Remote cache is read-only: "${record.key.slice(0, 12)}" stays local`);
      return;
    }
    try {
      if (!this.#refused.has(record.key) && await this.#remote!.exists(record.key)) return;
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
}

/** A copy of a JSON-like value with every string redacted. */
function redactDeep(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, redact);
    return out;
  }
  return value;
}
