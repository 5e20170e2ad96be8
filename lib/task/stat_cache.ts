/**
 * The stat cache: each file's hash remembered with its size, mtime, inode and
 * ctime, so an unchanged file is not read again.
 */
import { writeFileAtomic } from "../fs_atomic.ts";
import { statCacheFile } from "../cache_paths.ts";
import { type TextMode } from "./content_hash.ts";

type StatEntry = [
  size: number,
  mtimeMs: number,
  ino: number,
  ctimeMs: number,
  mode: TextMode,
  hash: string,
];

/** Files modified this close to their hashing are re-hashed next time (git's "racy" entries). */
const RACY_WINDOW_MS = 1000;
const MAGIC = "RIGSTAT1";
const MODES: TextMode[] = ["raw", "text", "auto"];

/**
 * Remembers each file's hash together with its size, mtime, inode and ctime,
 * so an unchanged file is not read again. Persisted in a compact binary file
 * (written atomically) that loads in a few milliseconds for 10,000 files; a
 * missing or unreadable file is an empty cache.
 *
 * Layout: "RIGSTAT1", u32 count, u32 path bytes, the paths joined by "\n"
 * (UTF-8), 64 hex digits per hash, one mode byte per entry, padding to 8
 * bytes, then four float64 per entry: size, mtimeMs, ino, ctimeMs.
 */
export class StatCache {
  #entries: Map<string, StatEntry>;
  #racy = new Set<string>();
  #dirty = false;

  private constructor(readonly file: string | undefined, entries: Map<string, StatEntry>) {
    this.#entries = entries;
  }

  /** An empty cache that is never saved (for tests and one-off hashing). */
  static memory(): StatCache {
    return new StatCache(undefined, new Map());
  }

  /** Loads the stat cache from `file` (an empty one when it is missing or corrupt). */
  static async load(file: string): Promise<StatCache> {
    let entries = new Map<string, StatEntry>();
    try {
      entries = decodeStatCache(await Deno.readFile(file));
    } catch {
      // Missing or corrupt: start empty; it is only a cache.
    }
    return new StatCache(file, entries);
  }

  /** Opens the project's stat cache in `.rig/cache/`. */
  static open(root: string): Promise<StatCache> {
    return StatCache.load(statCacheFile(root));
  }

  /** Number of remembered files. */
  get size(): number {
    return this.#entries.size;
  }

  /** The remembered hash when the file's stat data and text mode are unchanged. */
  lookup(file: string, info: Deno.FileInfo, mode: TextMode): string | undefined {
    const entry = this.#entries.get(file);
    if (!entry) return undefined;
    if (
      entry[0] !== info.size || entry[1] !== (info.mtime?.getTime() ?? 0) ||
      entry[2] !== (info.ino ?? 0) || entry[3] !== (info.ctime?.getTime() ?? 0) ||
      entry[4] !== mode
    ) return undefined;
    // An entry hashed in the same moment its file changed may hide a later change.
    if (this.#racy.has(file)) return undefined;
    return entry[5];
  }

  /** Remembers a file's hash; `hashedAt` is when its content was read (ms since epoch). */
  remember(
    file: string,
    info: Deno.FileInfo,
    opts: { mode: TextMode; hash: string; hashedAt: number },
  ): void {
    const mtimeMs = info.mtime?.getTime() ?? 0;
    const entry: StatEntry = [
      info.size,
      mtimeMs,
      info.ino ?? 0,
      info.ctime?.getTime() ?? 0,
      opts.mode,
      opts.hash,
    ];
    if (mtimeMs >= opts.hashedAt - RACY_WINDOW_MS) this.#racy.add(file);
    else this.#racy.delete(file);
    this.#entries.set(file, entry);
    this.#dirty = true;
  }

  /** Forgets files that no longer exist or are no longer inputs. */
  forget(files: Iterable<string>): void {
    for (const file of files) {
      if (this.#entries.delete(file)) this.#dirty = true;
    }
  }

  /** Writes the cache when it changed (temp file + rename); racy entries are left out. */
  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    const kept: [string, StatEntry][] = [];
    for (const pair of this.#entries) {
      if (!this.#racy.has(pair[0])) kept.push(pair);
    }
    try {
      await writeFileAtomic(this.file, encodeStatCache(kept));
    } catch {
      // Only a speed-up: a read-only or full cache folder costs the next run some hashing.
      return;
    }
    this.#dirty = false;
  }
}

function encodeStatCache(entries: [string, StatEntry][]): Uint8Array {
  const encoder = new TextEncoder();
  const paths = encoder.encode(entries.map(([name]) => name).join("\n"));
  const count = entries.length;
  const head = 8 + 4 + 4;
  const numbersAt = Math.ceil((head + paths.length + 64 * count + count) / 8) * 8;
  const bytes = new Uint8Array(numbersAt + 32 * count);
  bytes.set(encoder.encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, count, true);
  view.setUint32(12, paths.length, true);
  bytes.set(paths, head);
  let at = head + paths.length;
  bytes.set(encoder.encode(entries.map(([, e]) => e[5]).join("")), at);
  at += 64 * count;
  for (let i = 0; i < count; i++) bytes[at + i] = MODES.indexOf(entries[i]![1][4]);
  const numbers = new Float64Array(bytes.buffer, numbersAt, 4 * count);
  for (let i = 0; i < count; i++) {
    const entry = entries[i]![1];
    numbers[4 * i] = entry[0];
    numbers[4 * i + 1] = entry[1];
    numbers[4 * i + 2] = entry[2];
    numbers[4 * i + 3] = entry[3];
  }
  return bytes;
}

function decodeStatCache(bytes: Uint8Array): Map<string, StatEntry> {
  const entries = new Map<string, StatEntry>();
  const decoder = new TextDecoder();
  if (bytes.length < 16 || decoder.decode(bytes.subarray(0, 8)) !== MAGIC) return entries;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(8, true);
  const pathBytes = view.getUint32(12, true);
  const head = 16;
  const numbersAt = Math.ceil((head + pathBytes + 64 * count + count) / 8) * 8;
  if (bytes.length !== numbersAt + 32 * count) return entries;
  const names = count ? decoder.decode(bytes.subarray(head, head + pathBytes)).split("\n") : [];
  if (names.length !== count) return entries;
  const hashes = decoder.decode(bytes.subarray(head + pathBytes, head + pathBytes + 64 * count));
  const modesAt = head + pathBytes + 64 * count;
  // Copy so the float64 view is aligned whatever the buffer's offset.
  const numbers = new Float64Array(bytes.slice(numbersAt).buffer);
  for (let i = 0; i < count; i++) {
    const mode = MODES[bytes[modesAt + i]!];
    if (!mode) return new Map();
    entries.set(names[i]!, [
      numbers[4 * i]!,
      numbers[4 * i + 1]!,
      numbers[4 * i + 2]!,
      numbers[4 * i + 3]!,
      mode,
      hashes.substring(64 * i, 64 * i + 64),
    ]);
  }
  return entries;
}
