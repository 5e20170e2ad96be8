/**
 * Content hashing with git's line-ending rules: SHA-256 of a file's bytes, or
 * of its text with CRLF turned into LF when git would normalise it. Large
 * files are streamed. Kept free of other imports so hash workers start fast.
 */
import type { Hash } from "node:crypto";
import { nodeSha256 } from "../hash.ts";

/** How a file's bytes are hashed: as they are, as text (CRLF → LF), or text when it looks like text. */
export type TextMode = "raw" | "text" | "auto";

/** Files at least this large are hashed in streamed chunks instead of read whole. */
export const STREAM_THRESHOLD = 8 * 1024 * 1024;
const CHUNK_SIZE = 4 * 1024 * 1024;

/** True when git's `text=auto` would treat these bytes as binary (NUL, lone CR, or mostly control bytes). */
export function looksBinary(bytes: Uint8Array): boolean {
  let printable = 0;
  let nonPrintable = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if (b === 13) {
      if (bytes[i + 1] !== 10) return true;
      continue;
    }
    if (b === 127) nonPrintable++;
    else if (b < 32) {
      // Backspace, escape, form feed, tab and newline count as printable, as in git.
      if (b === 8 || b === 27 || b === 12 || b === 9 || b === 10) printable++;
      else nonPrintable++;
    } else printable++;
  }
  return (printable >> 7) < nonPrintable;
}

/** Replaces every CRLF with LF (lone CRs stay); returns the input when it has none. */
export function crlfToLf(bytes: Uint8Array): Uint8Array {
  let at = bytes.indexOf(13);
  if (at < 0) return bytes;
  const out = new Uint8Array(bytes.length);
  let written = 0;
  let from = 0;
  while (at >= 0) {
    if (bytes[at + 1] === 10) {
      out.set(bytes.subarray(from, at), written);
      written += at - from;
      from = at + 1;
    }
    at = bytes.indexOf(13, at + 1);
  }
  out.set(bytes.subarray(from), written);
  written += bytes.length - from;
  return out.subarray(0, written);
}

/** SHA-256 hex of bytes after the normalisation `mode` asks for. */
export function hashContent(bytes: Uint8Array, mode: TextMode): string {
  let data = bytes;
  if (mode === "text") data = crlfToLf(bytes);
  else if (mode === "auto" && bytes.indexOf(13) >= 0 && !looksBinary(bytes)) data = crlfToLf(bytes);
  return nodeSha256().update(data).digest("hex");
}

/** SHA-256 hex of one file's content after line-ending normalisation (`mode`, default raw). */
export async function hashFile(
  file: string,
  opts: { size?: number; mode?: TextMode } = {},
): Promise<string> {
  const mode = opts.mode ?? "raw";
  const size = opts.size ?? (await Deno.stat(file)).size;
  if (size < STREAM_THRESHOLD) return hashContent(await Deno.readFile(file), mode);
  return await hashStream(file, mode);
}

async function hashStream(file: string, mode: TextMode): Promise<string> {
  const hash = nodeSha256();
  using handle = await Deno.open(file, { read: true });
  const buffers = [new Uint8Array(CHUNK_SIZE), new Uint8Array(CHUNK_SIZE)];
  let current = 0;
  let pending = readFull(handle, buffers[0]!);
  const feed = normaliser(hash, mode);
  for (;;) {
    const length = await pending;
    if (length === 0) break;
    const chunk = buffers[current]!.subarray(0, length);
    current ^= 1;
    // Read the next chunk while this one is hashed: I/O and hashing overlap.
    pending = readFull(handle, buffers[current]!);
    feed(chunk);
  }
  feed(undefined);
  return hash.digest("hex");
}

const CR = new Uint8Array([13]);

async function readFull(handle: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const read = await handle.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return filled;
}

/** Synchronous `hashFile`, for hash workers where blocking is the fastest way. */
export function hashFileSync(file: string, opts: { size?: number; mode?: TextMode } = {}): string {
  const mode = opts.mode ?? "raw";
  const size = opts.size ?? Deno.statSync(file).size;
  if (size < STREAM_THRESHOLD) return hashContent(Deno.readFileSync(file), mode);
  const hash = nodeSha256();
  using handle = Deno.openSync(file, { read: true });
  const buffer = new Uint8Array(CHUNK_SIZE);
  const feed = normaliser(hash, mode);
  for (;;) {
    let filled = 0;
    while (filled < buffer.length) {
      const read = handle.readSync(buffer.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    if (filled === 0) break;
    feed(buffer.subarray(0, filled));
    if (filled < buffer.length) break;
  }
  feed(undefined);
  return hash.digest("hex");
}

/** Feeds chunks into a hash, turning CRLF into LF across chunk boundaries; `undefined` ends. */
function normaliser(
  hash: Hash,
  mode: TextMode,
): (chunk: Uint8Array | undefined) => void {
  let normalise: boolean | undefined = mode === "text" ? true : mode === "raw" ? false : undefined;
  let carriedCr = false;
  return (chunk) => {
    if (chunk === undefined) {
      if (carriedCr) hash.update(CR);
      return;
    }
    // For text=auto on a large file, git's quick binary check looks at the first 8000 bytes.
    normalise ??= chunk.subarray(0, 8000).indexOf(0) < 0;
    if (!normalise) {
      hash.update(chunk);
      return;
    }
    let body = chunk;
    if (carriedCr) {
      if (body[0] !== 10) hash.update(CR);
      carriedCr = false;
    }
    if (body[body.length - 1] === 13) {
      carriedCr = true;
      body = body.subarray(0, body.length - 1);
    }
    hash.update(crlfToLf(body));
  };
}
