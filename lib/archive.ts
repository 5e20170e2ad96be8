/**
 * Reads zip (wheels) and gzip-compressed tar (sdists, npm tarballs) archives in
 * pure TypeScript: the zip central directory plus DecompressionStream
 * ("deflate-raw"), and tar over DecompressionStream("gzip"). Malformed archives
 * raise ArchiveError naming the archive and what is wrong.
 */
import { RigError } from "./errors.ts";

/** One file inside an archive. */
export interface ArchiveEntry {
  /** The path inside the archive, with `/` separators. */
  name: string;
  /** The uncompressed size as recorded by the archive. */
  size: number;
  /** Reads the uncompressed content. */
  read(): Promise<Uint8Array>;
}

/** An archive that cannot be read. */
export class ArchiveError extends RigError {}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** Lists the files of a zip archive (directories are left out); `label` names it in errors. */
export function readZip(bytes: Uint8Array, label = "archive"): ArchiveEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (problem: string): never => {
    throw new ArchiveError(`Cannot read zip "${label}": ${problem}`);
  };
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("no end of central directory (not a zip file, or truncated)");
  const count = view.getUint16(eocd + 10, true);
  const dirSize = view.getUint32(eocd + 12, true);
  const dirOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || dirOffset === 0xffffffff) fail("ZIP64 archives are not supported");
  if (dirOffset + dirSize > eocd) fail("central directory lies outside the file");
  const decoder = new TextDecoder();
  const entries: ArchiveEntry[] = [];
  let offset = dirOffset;
  for (let n = 0; n < count; n++) {
    if (offset + 46 > bytes.length || view.getUint32(offset, true) !== CENTRAL_SIGNATURE) {
      fail(`central directory entry ${n + 1} is damaged`);
    }
    const method = view.getUint16(offset + 10, true);
    const crc = view.getUint32(offset + 16, true);
    const compressedSize = view.getUint32(offset + 20, true);
    const size = view.getUint32(offset + 24, true);
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    const localOffset = view.getUint32(offset + 42, true);
    const name = decoder.decode(bytes.subarray(offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue;
    entries.push({
      name,
      size,
      read: async () => {
        if (
          localOffset + 30 > bytes.length || view.getUint32(localOffset, true) !== LOCAL_SIGNATURE
        ) {
          fail(`local header of "${name}" is damaged`);
        }
        const start = localOffset + 30 + view.getUint16(localOffset + 26, true) +
          view.getUint16(localOffset + 28, true);
        const data = bytes.subarray(start, start + compressedSize);
        if (data.length !== compressedSize) fail(`"${name}" is truncated`);
        let content: Uint8Array;
        if (method === 0) content = data;
        else if (method === 8) {
          try {
            content = await decompress(data, "deflate-raw");
          } catch (error) {
            return fail(`"${name}" does not inflate: ${(error as Error).message}`);
          }
        } else return fail(`"${name}" uses unsupported compression method ${method}`);
        if (content.length !== size) {
          fail(`"${name}" inflates to ${content.length} bytes, expected ${size}`);
        }
        if (crc32(content) !== crc) fail(`"${name}" fails its CRC-32 check`);
        return content;
      },
    });
  }
  return entries;
}

/** Lists the regular files of a gzip-compressed tar archive; `label` names it in errors. */
export async function readTarGz(bytes: Uint8Array, label = "archive"): Promise<ArchiveEntry[]> {
  let tar: Uint8Array;
  try {
    tar = await decompress(bytes, "gzip");
  } catch (error) {
    throw new ArchiveError(
      `Cannot read tar.gz "${label}": it does not decompress (${(error as Error).message})`,
    );
  }
  return readTar(tar, label);
}

/** Lists the regular files of an uncompressed tar archive (ustar, pax and GNU long names). */
export function readTar(tar: Uint8Array, label = "archive"): ArchiveEntry[] {
  const decoder = new TextDecoder();
  const field = (block: Uint8Array, start: number, length: number) => {
    const raw = block.subarray(start, start + length);
    const end = raw.indexOf(0);
    return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
  };
  const entries: ArchiveEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const sizeText = field(header, 124, 12).trim();
    const size = parseInt(sizeText || "0", 8);
    if (!Number.isFinite(size) || size < 0) {
      throw new ArchiveError(`Cannot read tar "${label}": bad size field at byte ${offset}`);
    }
    if (!checksumOk(header)) {
      throw new ArchiveError(`Cannot read tar "${label}": header checksum fails at byte ${offset}`);
    }
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + 512;
    if (dataStart + size > tar.length) {
      throw new ArchiveError(`Cannot read tar "${label}": truncated at byte ${offset}`);
    }
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      paxPath = parsePax(decoder.decode(data)).path ?? paxPath;
      continue;
    }
    if (type === "g") continue;
    const prefix = field(header, 345, 155);
    const name = paxPath ?? longName ??
      (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    paxPath = undefined;
    if (type !== "0" && type !== "\0" && type !== "7") continue;
    entries.push({ name, size, read: () => Promise.resolve(data) });
  }
  return entries;
}

function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = text;
  while (rest.length) {
    const space = rest.indexOf(" ");
    const length = parseInt(rest.slice(0, space), 10);
    if (!(length > 0)) break;
    // Lengths count bytes; the records rig meets are ASCII or short enough for this to hold.
    const record = rest.slice(space + 1, length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    rest = rest.slice(length);
  }
  return out;
}

function checksumOk(header: Uint8Array): boolean {
  const stored = parseInt(new TextDecoder().decode(header.subarray(148, 156)).trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return stored === sum;
}

/** Decompresses bytes with a web DecompressionStream format. */
export async function decompress(
  data: Uint8Array,
  format: "gzip" | "deflate-raw" | "deflate",
): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream(format),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads every entry of an archive into a name → bytes map. */
export async function readAll(entries: ArchiveEntry[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const entry of entries) out.set(entry.name, await entry.read());
  return out;
}

/** Opens an archive file by its extension (.whl/.zip, .tar.gz/.tgz). */
export async function openArchive(file: string): Promise<ArchiveEntry[]> {
  const bytes = await Deno.readFile(file);
  const base = file.split(/[\\/]/).pop() ?? file;
  if (/\.(whl|zip)$/i.test(base)) return readZip(bytes, base);
  if (/\.(tar\.gz|tgz)$/i.test(base)) return await readTarGz(bytes, base);
  throw new ArchiveError(`Cannot open "${base}": unknown archive type`);
}

let CRC_TABLE: Uint32Array | undefined;

/** CRC-32 (IEEE) of bytes, as zip stores it. */
export function crc32(data: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** One file to put into a zip archive. */
export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Unix permissions (e.g. 0o755 for a script); 0o644 when left out. */
  mode?: number;
}

/**
 * Writes a zip archive (deflate, fixed 1980-01-01 timestamps, entries in the
 * given order), so the same files give the same bytes: wheels are reproducible.
 */
export async function writeZip(files: ZipInput[]): Promise<Uint8Array> {
  const encoder = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const file of files) {
    const name = encoder.encode(file.name);
    const compressed = await compress(file.data);
    const crc = crc32(file.data);
    const header = (signature: number, size: number) => {
      const bytes = new Uint8Array(size + name.length);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, signature, true);
      return { bytes, view };
    };
    const local = header(LOCAL_SIGNATURE, 30);
    const lv = local.view;
    lv.setUint16(4, 20, true); // version needed
    lv.setUint16(8, 8, true); // deflate
    lv.setUint16(10, 0, true); // time 00:00
    lv.setUint16(12, 0x21, true); // date 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, compressed.length, true);
    lv.setUint32(22, file.data.length, true);
    lv.setUint16(26, name.length, true);
    local.bytes.set(name, 30);
    const central = header(CENTRAL_SIGNATURE, 46);
    const cv = central.view;
    cv.setUint16(4, 0x0314, true); // made by: Unix, zip 2.0
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, compressed.length, true);
    cv.setUint32(24, file.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(38, ((0o100000 | (file.mode ?? 0o644)) << 16) >>> 0, true);
    cv.setUint32(42, offset, true);
    central.bytes.set(name, 46);
    locals.push(local.bytes, compressed);
    centrals.push(central.bytes);
    offset += local.bytes.length + compressed.length;
  }
  const centralSize = centrals.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD_SIGNATURE, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, centralSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + centralSize + end.length);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function compress(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate-raw"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
