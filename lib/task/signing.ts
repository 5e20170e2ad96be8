/**
 * Authenticated cache records. Every task record carries an HMAC-SHA256 over
 * its canonical bytes (stable JSON without `lastUsedAt`, `checksum` and
 * `signature`) under a key that lives outside the project:
 *
 * - `RIG_CACHE_SIGNING_KEY` when set (CI, and teams sharing a remote cache);
 * - else `<user cache>/signing-key`, 32 random bytes (hex) created on first use
 *   with mode 0600.
 *
 * Someone who can write `.rig/cache` (a restored CI cache, a pull request's
 * workspace) can recompute a SHA-256 checksum but not this signature, so a
 * forged record is refused before anything in it is used.
 *
 * Remote artifacts are signed the way Turborepo signs them, so they interoperate
 * with existing servers and `turbo` itself: the `x-artifact-tag` header is
 * base64 (no padding) of HMAC-SHA256(key, `{"hash":…,"teamId":…}` + body), with
 * the key from `TURBO_REMOTE_CACHE_SIGNATURE_KEY` (else the record key above).
 */
import * as path from "../path.ts";
import { EnvironmentError } from "../errors.ts";
import { type CacheOs, userCacheDir } from "../cache_paths.ts";
import { stableJson } from "../stable_json.ts";

/** Signs and verifies byte strings with one HMAC-SHA256 key. */
export interface Signer {
  /** Where the key came from, for messages (never the key itself). */
  readonly source: string;
  /** Hex HMAC-SHA256 of `bytes`. */
  sign(bytes: Uint8Array): Promise<string>;
  /** True when `signature` (hex) is the HMAC of `bytes`; constant time. */
  verify(bytes: Uint8Array, signature: string): Promise<boolean>;
  /** The raw key bytes (for the Turborepo artifact tag when no separate key is set). */
  keyBytes(): Promise<Uint8Array>;
}

const encoder = new TextEncoder();

/** The name of the key file in the user cache dir. */
export const SIGNING_KEY_FILE = "signing-key";
/** What the key file holds: 32 bytes as hex. */
const KEY_TEXT = /^[0-9a-f]{64}$/;

function keyFile(env: Record<string, string | undefined>, os: CacheOs): string {
  return path.join(userCacheDir(env, os), SIGNING_KEY_FILE);
}

/** The canonical bytes a record's signature covers. */
export function canonicalRecordBytes(record: object): Uint8Array {
  const { lastUsedAt: _used, checksum: _sum, signature: _sig, ...rest } = record as Record<
    string,
    unknown
  >;
  return encoder.encode(stableJson(rest));
}

/** A signer over fixed key bytes. */
export function signerFromKey(key: Uint8Array, source: string): Signer {
  let imported: Promise<CryptoKey> | undefined;
  const cryptoKey = () =>
    imported ??= crypto.subtle.importKey(
      "raw",
      key as BufferSource,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  return {
    source,
    async sign(bytes) {
      const mac = await crypto.subtle.sign("HMAC", await cryptoKey(), bytes as BufferSource);
      return toHex(new Uint8Array(mac));
    },
    async verify(bytes, signature) {
      const mac = fromHex(signature);
      if (!mac || mac.length !== 32) return false;
      return await crypto.subtle.verify(
        "HMAC",
        await cryptoKey(),
        mac as BufferSource,
        bytes as BufferSource,
      );
    },
    keyBytes: () => Promise.resolve(key),
  };
}

/**
 * The signer commands use: `RIG_CACHE_SIGNING_KEY` when set, else the key file
 * in the user cache dir (created with mode 0600 on first use). The file is
 * read lazily, on the first sign or verify.
 */
export function signerFromEnv(
  env: Record<string, string | undefined>,
  opts: { os: CacheOs },
): Signer {
  const configured = env.RIG_CACHE_SIGNING_KEY;
  if (configured !== undefined && configured !== "") {
    return signerFromKey(encoder.encode(configured), "RIG_CACHE_SIGNING_KEY");
  }
  const file = keyFile(env, opts.os);
  let inner: Promise<Signer> | undefined;
  const load = () => inner ??= loadKeyFile(file).then((key) => signerFromKey(key, file));
  return {
    source: file,
    sign: async (bytes) => (await load()).sign(bytes),
    verify: async (bytes, signature) => (await load()).verify(bytes, signature),
    keyBytes: async () => (await load()).keyBytes(),
  };
}

/**
 * The commands' signer when its key is at hand without creating it or waiting
 * on asynchronous file operations (the decision memo's replay, where the first
 * of those costs a few ms); undefined when the key file does not exist yet.
 */
export function existingSigner(
  env: Record<string, string | undefined>,
  opts: { os: CacheOs },
): Signer | undefined {
  const configured = env.RIG_CACHE_SIGNING_KEY;
  if (configured !== undefined && configured !== "") return signerFromEnv(env, opts);
  const file = keyFile(env, opts.os);
  try {
    const text = Deno.readTextFileSync(file).trim();
    return KEY_TEXT.test(text) ? signerFromKey(encoder.encode(text), file) : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the key file, creating it (0600, 32 random bytes as hex) when absent. */
export async function loadKeyFile(file: string): Promise<Uint8Array> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const text = (await Deno.readTextFile(file)).trim();
      if (!KEY_TEXT.test(text)) {
        throw new EnvironmentError(
          `Cache signing key "${file}" is damaged: expected 64 hex digits`,
          `Delete it (rig creates a new one; existing cache entries become misses) or set RIG_CACHE_SIGNING_KEY`,
        );
      }
      if (Deno.build.os !== "windows") {
        const info = await Deno.stat(file);
        // Only its owner may read the key; tighten a copy made with a looser umask.
        if (info.mode !== null && (info.mode & 0o077) !== 0) await Deno.chmod(file, 0o600);
      }
      return encoder.encode(text);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await createKeyFile(file);
  }
  throw new EnvironmentError(`Cannot create the cache signing key "${file}"`);
}

async function createKeyFile(file: string): Promise<void> {
  await Deno.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = toHex(crypto.getRandomValues(new Uint8Array(32)));
  const temp = `${file}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, key + "\n", { mode: 0o600, createNew: true });
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o600);
    // link() never replaces: when two rigs race, the first key wins and both use it.
    await Deno.link(temp, file).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
  } catch (error) {
    throw new EnvironmentError(
      `Cannot create the cache signing key "${file}": ${(error as Error).message}`,
      "Make the user cache dir writable (or set RIG_CACHE_DIR), or set RIG_CACHE_SIGNING_KEY",
      { cause: error },
    );
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/** The key remote artifacts are tagged with: TURBO_REMOTE_CACHE_SIGNATURE_KEY, else the record key. */
export async function artifactKey(
  env: Record<string, string | undefined>,
  records: Signer,
): Promise<Uint8Array> {
  const turbo = env.TURBO_REMOTE_CACHE_SIGNATURE_KEY;
  if (turbo !== undefined && turbo !== "") return encoder.encode(turbo);
  return await records.keyBytes();
}

/**
 * Turborepo's `x-artifact-tag`: base64 without padding of
 * HMAC-SHA256(key, JSON `{"hash":hash,"teamId":team}` followed by the body).
 */
export async function artifactTag(
  key: Uint8Array,
  opts: { hash: string; teamId: string; body: Uint8Array },
): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(key),
    artifactMessage(opts) as BufferSource,
  );
  return toBase64(new Uint8Array(mac)).replace(/=+$/, "");
}

/** True when `tag` is the Turborepo tag of the artifact (padded or not); constant time. */
export async function verifyArtifactTag(
  key: Uint8Array,
  tag: string,
  opts: { hash: string; teamId: string; body: Uint8Array },
): Promise<boolean> {
  let mac: Uint8Array;
  try {
    const padded = tag.trim() + "=".repeat((4 - (tag.trim().length % 4)) % 4);
    mac = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  } catch {
    return false;
  }
  if (mac.length !== 32) return false;
  return await crypto.subtle.verify(
    "HMAC",
    await hmacKey(key),
    mac as BufferSource,
    artifactMessage(opts) as BufferSource,
  );
}

function artifactMessage(opts: { hash: string; teamId: string; body: Uint8Array }): Uint8Array {
  // serde_json's output for Turborepo's ArtifactSignature struct: fields in declaration order.
  const metadata = encoder.encode(JSON.stringify({ hash: opts.hash, teamId: opts.teamId }));
  const message = new Uint8Array(metadata.length + opts.body.length);
  message.set(metadata);
  message.set(opts.body, metadata.length);
  return message;
}

function hmacKey(key: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    key as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-f]{2})*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

let processKey: Signer | undefined;

/**
 * A random key that lives as long as this process: the default of stores
 * opened without a signer (tests, scratch stores). Commands sign with
 * `signerFromEnv`, whose key outlives the process.
 */
export function processSigner(): Signer {
  return processKey ??= signerFromKey(
    crypto.getRandomValues(new Uint8Array(32)),
    "a per-process key",
  );
}
