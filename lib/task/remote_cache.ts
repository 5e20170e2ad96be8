/**
 * The optional remote cache (DESIGN.md layer 3): task entries shared through a
 * server speaking Turborepo's remote-cache HTTP API (`PUT/GET/HEAD
 * /v8/artifacts/:hash?teamId=…` with a Bearer token), so a team or CI shares
 * results through an existing server and its storage backends. An entry
 * travels as one gzip'd artifact: the task record plus its blobs. Remote
 * trouble (network, auth, a bad artifact) is a warning and a miss, never a
 * failed task.
 *
 * Artifacts are signed as Turborepo signs them (`x-artifact-tag`, see
 * signing.ts): uploads carry the tag, and a download whose tag is missing or
 * does not verify is refused (ArtifactSignatureError). In read-only mode
 * (`read_only = true`, `RIG_REMOTE_CACHE_READ_ONLY=1`) rig only downloads.
 */
import { RigError } from "../errors.ts";
import { artifactKey, artifactTag, type Signer, verifyArtifactTag } from "./signing.ts";
import { nodeSha256 } from "../hash.ts";

/** Where the remote cache is and how to authenticate. */
export interface RemoteCacheConfig {
  /** Base URL of the server, e.g. `https://cache.example.com`. */
  url: string;
  /** Team id sent as `?teamId=`. */
  team?: string;
  /** Bearer token. */
  token?: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** The key of the `x-artifact-tag` signatures; unset sends and checks no tags. */
  signatureKey?: () => Promise<Uint8Array>;
  /** Never upload (untrusted runs must not write the shared cache). */
  readOnly?: boolean;
}

/** rig.toml's `[project] remote_cache` table. */
export interface RemoteCacheSettings {
  url: string;
  team?: string;
  tokenEnv?: string;
  /** `read_only = true`: download only. */
  readOnly?: boolean;
}

/** A downloaded artifact whose `x-artifact-tag` is missing or wrong: it is never used. */
export class ArtifactSignatureError extends RigError {
  constructor(readonly key: string, problem: string) {
    super(
      `Remote cache artifact "${key.slice(0, 12)}" ${problem} and was ignored`,
      "Every rig sharing the cache needs the same key: set TURBO_REMOTE_CACHE_SIGNATURE_KEY " +
        "(or RIG_CACHE_SIGNING_KEY); if it is set alike everywhere, the artifact was tampered with",
    );
  }
}

/** The parts of a task entry that travel to and from the remote cache. */
export interface PackedEntry {
  /** The task record's JSON document. */
  record: unknown;
  /** Blob SHA-256 → bytes. */
  blobs: Map<string, Uint8Array>;
}

const PACK_MAGIC = "RIGPACK1\n";

/** Serialises a record and its blobs into one gzip'd artifact. */
export async function packEntry(entry: PackedEntry): Promise<Uint8Array> {
  const blobs = [...entry.blobs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header = new TextEncoder().encode(JSON.stringify({
    record: entry.record,
    blobs: blobs.map(([sha256, bytes]) => ({ sha256, size: bytes.length })),
  }));
  const magic = new TextEncoder().encode(PACK_MAGIC);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, header.length, true);
  const parts = [magic, length, header, ...blobs.map(([, bytes]) => bytes)];
  const stream = new Blob(parts as BlobPart[]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads an artifact made by `packEntry`, verifying every blob's hash; throws a RigError when it is not one. */
export async function unpackEntry(bytes: Uint8Array): Promise<PackedEntry> {
  let raw: Uint8Array;
  try {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    raw = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    throw new RigError("Remote cache artifact is not gzip data");
  }
  const magic = new TextDecoder().decode(raw.subarray(0, PACK_MAGIC.length));
  if (magic !== PACK_MAGIC || raw.length < PACK_MAGIC.length + 4) {
    throw new RigError("Remote cache artifact was not written by rig");
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const headerLength = view.getUint32(PACK_MAGIC.length, true);
  let at = PACK_MAGIC.length + 4;
  let header: { record: unknown; blobs: { sha256: string; size: number }[] };
  try {
    header = JSON.parse(new TextDecoder().decode(raw.subarray(at, at + headerLength)));
  } catch {
    throw new RigError("Remote cache artifact has a corrupt header");
  }
  at += headerLength;
  const blobs = new Map<string, Uint8Array>();
  for (const blob of header.blobs ?? []) {
    const data = raw.subarray(at, at + blob.size);
    at += blob.size;
    const actual = nodeSha256().update(data).digest("hex");
    if (data.length !== blob.size || actual !== blob.sha256) {
      throw new RigError(`Remote cache artifact has a corrupt blob "${blob.sha256.slice(0, 12)}"`);
    }
    blobs.set(blob.sha256, data);
  }
  if (at !== raw.length) throw new RigError("Remote cache artifact has trailing data");
  return { record: header.record, blobs };
}

/** A client of a Turborepo-compatible remote cache server. */
export class RemoteCache {
  readonly #config: RemoteCacheConfig;
  readonly #fetch: typeof fetch;

  constructor(config: RemoteCacheConfig, opts: { fetch?: typeof fetch } = {}) {
    this.#config = config;
    this.#fetch = opts.fetch ?? fetch;
  }

  /** The server's base URL (for messages). */
  get url(): string {
    return this.#config.url;
  }

  /** True when this client never uploads. */
  get readOnly(): boolean {
    return this.#config.readOnly === true;
  }

  /** True when the server has an artifact for `key` (HEAD). */
  async exists(key: string): Promise<boolean> {
    const response = await this.#request("HEAD", key);
    await response.body?.cancel();
    if (response.status === 404) return false;
    this.#check(response, "check");
    return true;
  }

  /** Downloads the artifact for `key`; undefined when the server has none. */
  async download(key: string): Promise<Uint8Array | undefined> {
    const response = await this.#request("GET", key);
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    this.#check(response, "download");
    const body = new Uint8Array(await response.arrayBuffer());
    if (this.#config.signatureKey) {
      const tag = response.headers.get("x-artifact-tag");
      if (!tag) throw new ArtifactSignatureError(key, "carries no signature (x-artifact-tag)");
      const ok = await verifyArtifactTag(await this.#config.signatureKey(), tag, {
        hash: key,
        teamId: this.#config.team ?? "",
        body,
      });
      if (!ok) throw new ArtifactSignatureError(key, "failed signature verification");
    }
    return body;
  }

  /** Uploads an artifact for `key`, telling the server how long the task took. */
  async upload(key: string, bytes: Uint8Array, opts: { durationMs?: number } = {}): Promise<void> {
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (opts.durationMs !== undefined) {
      headers["x-artifact-duration"] = String(Math.round(opts.durationMs));
    }
    if (this.readOnly) throw new RigError("Cannot upload to a read-only remote cache");
    if (this.#config.signatureKey) {
      headers["x-artifact-tag"] = await artifactTag(await this.#config.signatureKey(), {
        hash: key,
        teamId: this.#config.team ?? "",
        body: bytes,
      });
    }
    const response = await this.#request("PUT", key, { body: bytes, headers });
    await response.body?.cancel();
    this.#check(response, "upload");
  }

  async #request(
    method: string,
    key: string,
    init: { body?: Uint8Array; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const base = this.#config.url.replace(/\/+$/, "");
    const query = this.#config.team ? `?teamId=${encodeURIComponent(this.#config.team)}` : "";
    const headers: Record<string, string> = { ...init.headers };
    if (this.#config.token) headers.authorization = `Bearer ${this.#config.token}`;
    try {
      return await this.#fetch(`${base}/v8/artifacts/${key}${query}`, {
        method,
        headers,
        body: init.body as BodyInit | undefined,
        signal: AbortSignal.timeout(this.#config.timeoutMs ?? 10_000),
      });
    } catch (error) {
      throw new RigError(
        `Cannot reach the remote cache "${base}": ${(error as Error).message}`,
        "Check [project] remote_cache in rig.toml and your network",
        { cause: error },
      );
    }
  }

  #check(response: Response, action: string): void {
    if (response.ok) return;
    const auth = response.status === 401 || response.status === 403;
    throw new RigError(
      `Remote cache refused the ${action}: HTTP ${response.status} ${response.statusText}`.trim(),
      auth
        ? "Check the token: set the variable named by token_env in rig.toml [project] remote_cache"
        : "Check [project] remote_cache in rig.toml",
    );
  }
}

/**
 * Builds the remote cache client from rig.toml settings, reading the token from
 * `env`; artifacts are signed with `artifactKey(env, signer)` when a signer is
 * given, and `RIG_REMOTE_CACHE_READ_ONLY=1` makes it download only.
 */
export function remoteCacheFromSettings(
  settings: RemoteCacheSettings | undefined,
  env: Record<string, string | undefined>,
  signer?: Signer,
): RemoteCache | undefined {
  if (!settings?.url) return undefined;
  const token = env[settings.tokenEnv ?? "RIG_REMOTE_CACHE_TOKEN"];
  const flag = env.RIG_REMOTE_CACHE_READ_ONLY?.trim().toLowerCase();
  const readOnly = settings.readOnly === true || flag === "1" || flag === "true";
  let key: Promise<Uint8Array> | undefined;
  return new RemoteCache({
    url: settings.url,
    team: settings.team,
    token,
    readOnly,
    signatureKey: signer ? () => key ??= artifactKey(env, signer) : undefined,
  });
}
