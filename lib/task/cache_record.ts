/**
 * A cache entry's record: what it holds, its checksum, validation of a record
 * read back from disk or the remote, and the errors of a failed restore.
 */
import * as path from "../path.ts";
import { RigError } from "../errors.ts";
import { sha256Hex } from "../hash.ts";
import { CACHE_FORMAT_VERSION, type KeyManifest } from "./task_key.ts";
import { canonicalRecordBytes } from "./signing.ts";

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
  /** Hex HMAC-SHA256 of the canonical record bytes under the signing key (signing.ts). */
  signature: string;
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

/**
 * The checksum stored in a record: SHA-256 over its canonical bytes (stable
 * JSON without checksum, signature and lastUsedAt), the bytes it is signed over.
 */
export function recordChecksum(
  record: Omit<TaskRecord, "checksum" | "signature"> | TaskRecord,
): Promise<string> {
  return sha256Hex(canonicalRecordBytes(record));
}

/** A record that passed `validateRecord`, with the canonical bytes its signature covers. */
export interface ValidRecord {
  record: TaskRecord;
  canonical: Uint8Array;
}

/**
 * Parses and checks a record file; returns the record (and its canonical bytes,
 * serialised once for the checksum and the signature) or why it is unusable.
 */
export async function validateRecord(text: string, key: string): Promise<ValidRecord | string> {
  let record: TaskRecord;
  try {
    record = JSON.parse(text);
  } catch {
    return "not valid JSON, probably truncated";
  }
  if (!record || typeof record !== "object") return "not an object";
  if (record.formatVersion !== CACHE_FORMAT_VERSION) return "written by another cache format";
  if (record.key !== key) return "its key does not match its file name";
  if (typeof record.checksum !== "string") return "checksum mismatch";
  const canonical = canonicalRecordBytes(record);
  if (await sha256Hex(canonical) !== record.checksum) return "checksum mismatch";
  if (!Array.isArray(record.artifacts) || !record.manifest) return "fields missing";
  return { record, canonical };
}

export function safeRelative(file: string): string {
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

export function missingBlob(what: string, ref: BlobRef, cause: unknown): RigError {
  return new RigError(
    `Cannot restore ${what} from the cache: blob "${ref.sha256.slice(0, 12)}" is missing`,
    RESTORE_HINT,
    { cause },
  );
}

export function corruptBlob(what: string, ref: BlobRef): RigError {
  return new RigError(
    `Cannot restore ${what} from the cache: blob "${
      ref.sha256.slice(0, 12)
    }" is corrupt (hash mismatch)`,
    RESTORE_HINT,
  );
}

export function unwritable(file: string, cause: unknown): RigError {
  return new RigError(
    `Cannot restore "${file}" from the cache: ${(cause as Error).message}`,
    `Check that "${path.posix.dirname(file)}" is writable, or pass --no-cache`,
    { cause },
  );
}
