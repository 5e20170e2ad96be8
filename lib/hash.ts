/**
 * The one face for SHA-256: Web Crypto for strings and buffers (`sha256Hex`,
 * what keys, record checksums and a cache hit hash: native, and many digests
 * run at once), node:crypto for streams and file contents (`nodeSha256`,
 * `sha256File`), and the TypeScript SHA-256 of lib/sha256.ts behind node's
 * Hash interface where a runtime lacks node:crypto (`portableHash`). Import
 * all of them from here.
 */
import type { Hash } from "node:crypto";
import { Sha256 } from "./sha256.ts";

const encoder = new TextEncoder();

/** Hex-encodes bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const byte of view) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** SHA-256 of a string (UTF-8) or bytes, hex-encoded. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return toHex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

let createHash: ((algorithm: string) => Hash) | undefined;

/**
 * A node:crypto SHA-256 hash, the module loaded on first use: evaluating
 * node:crypto costs about 20 ms, which start-up and a cache hit never pay.
 * (`process.getBuiltinModule` loads it synchronously; a static import would
 * load it for every command, and a bundle hoists static imports to its top.)
 */
export function nodeSha256(): Hash {
  const process = (globalThis as unknown as {
    process?: { getBuiltinModule?(id: "node:crypto"): typeof import("node:crypto") };
  }).process;
  // A Deno without getBuiltinModule still hashes correctly, only more slowly.
  createHash ??= process?.getBuiltinModule?.("node:crypto").createHash ?? portableHash;
  return createHash("sha256");
}

/** node:crypto's Hash interface (update, digest hex) over lib/sha256.ts, for runtimes without getBuiltinModule. */
export function portableHash(): Hash {
  const hash = new Sha256();
  const adapter = {
    update(data: string | Uint8Array) {
      hash.update(data);
      return adapter;
    },
    digest: () => hash.digestHex(),
  };
  return adapter as unknown as Hash;
}

/** SHA-256 of a file's content, streamed so large files do not fill memory. */
export async function sha256File(file: string): Promise<string> {
  const hash = nodeSha256();
  using handle = await Deno.open(file, { read: true });
  for await (const chunk of handle.readable) hash.update(chunk);
  return hash.digest("hex");
}
