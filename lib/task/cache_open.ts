/**
 * How commands open a project's cache store: the size limit from the
 * environment, records signed with the user's key, stored logs redacted
 * through the ui, the remote cache from rig.toml.
 */
import { CacheStore } from "./cache.ts";
import { signerFromEnv } from "./signing.ts";
import { declaredOutputRoots } from "./restore_policy.ts";
import { cacheMaxBytes } from "./cache_limits.ts";
import { remoteCacheFromSettings, type RemoteCacheSettings } from "./remote_cache.ts";

/** Options of `openCacheStore`. */
export interface OpenCacheStoreOptions {
  /** The caller's environment: RIG_CACHE_MAX_SIZE and the remote cache token are read from it. */
  env: Record<string, string | undefined>;
  /** rig.toml's `[project] remote_cache` (project.settings.remoteCache). */
  remoteCache?: RemoteCacheSettings;
  /** The project's components (name and folder), for the test tasks' output roots. */
  components?: { name: string; path: string; buildOutputs?: string[] }[];
  /** Where debug lines and warnings go (pass `ctx.ui`); its `redact` masks stored logs. */
  ui?: {
    debug(text: string): void;
    warn(text: string, hint?: string): void;
    redact?(text: string): string;
  };
}

/**
 * Opens a project's cache store the way commands should: size limit from env,
 * records signed with the user's key (RIG_CACHE_SIGNING_KEY or the key file in
 * the user cache), stored logs redacted through the ui, remote cache from rig.toml.
 */
export function openCacheStore(root: string, opts: OpenCacheStoreOptions): CacheStore {
  const signer = signerFromEnv(opts.env, { os: Deno.build.os });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  const paths = new Map(opts.components?.map((c) => [c.name, c.path]));
  const buildOutputs = new Map(opts.components?.map((c) => [c.name, c.buildOutputs ?? []]));
  const ui = opts.ui;
  return new CacheStore(root, {
    maxBytes: cacheMaxBytes(opts.env),
    signer,
    env,
    outputRoots: (task, component) =>
      declaredOutputRoots(task, component, paths.get(component), buildOutputs.get(component)),
    redact: ui?.redact ? (text) => ui.redact!(text) : undefined,
    remote: remoteCacheFromSettings(opts.remoteCache, opts.env, signer),
    debug: opts.ui ? (text) => opts.ui!.debug(text) : undefined,
    warn: opts.ui ? (text, hint) => opts.ui!.warn(text, hint) : undefined,
  });
}
