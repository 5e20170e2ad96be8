/**
 * Task cache keys. A key is the SHA-256 of a stable JSON document (the key
 * manifest) holding rig's cache format version, the task, its command line,
 * the component's config, every input path and hash, lock files, tool
 * versions, declared env vars (value hashes only) and the keys or contract
 * hashes of the components it depends on. The manifest is stored in each
 * cache record so `explain` can say what changed.
 */
import { sha256Hex } from "../hash.ts";
import type { Manifest } from "./fingerprint.ts";
import { stableJson } from "../stable_json.ts";

export { stableJson };

/** Bumped whenever what goes into a key changes meaning; old entries then never match. */
export const CACHE_FORMAT_VERSION = 1;

/** What a task's key is computed from. */
export interface TaskKeyInput {
  /** The task kind, e.g. `test`, `lint`, `build`. */
  task: string;
  /** The component's name, e.g. `server`. */
  component: string;
  /** The command line the task runs, as argv. */
  command: string[];
  /** The component's config (rig.toml table or detected settings); hashed as stable JSON. */
  config?: unknown;
  /** Input files: path → SHA-256 (from `fingerprint`). */
  inputs: Manifest;
  /** Lock/requirements files (path → SHA-256), kept apart so explanations can name them. */
  lockFiles?: Manifest;
  /** Tool versions, e.g. `{ python: "3.11.2", pip: "23.0.1" }`. */
  tools?: Record<string, string>;
  /** Declared env vars and their values (undefined = unset); only value hashes are kept. */
  env?: Record<string, string | undefined>;
  /** Keys or contract hashes of what the task depends on, e.g. `{ "server:openapi": "ab12…" }`. */
  dependencies?: Record<string, string>;
}

/** The hashed form of a `TaskKeyInput`, safe to store: env values appear only as hashes. */
export interface KeyManifest {
  formatVersion: number;
  task: string;
  component: string;
  command: string[];
  config: unknown;
  configHash: string;
  inputs: Manifest;
  lockFiles: Manifest;
  tools: Record<string, string>;
  /** Env var name → SHA-256 of its value, or null when unset. */
  env: Record<string, string | null>;
  dependencies: Record<string, string>;
}

/**
 * Hashes env values so they can be stored and compared but never read back.
 * Web Crypto, all at once: a cache hit hashes a few hundred small strings, and
 * native digests in parallel cost a fraction of a cold TypeScript SHA-256.
 */
export async function hashEnv(
  env: Record<string, string | undefined>,
): Promise<Record<string, string | null>> {
  const names = Object.keys(env).sort();
  const hashes = await Promise.all(names.map((name) => {
    const value = env[name];
    // The name is mixed in so equal values of different variables do not look alike.
    return value === undefined ? null : sha256Hex(`rig-env\0${name}\0${value}`);
  }));
  const out: Record<string, string | null> = {};
  names.forEach((name, i) => out[name] = hashes[i]!);
  return out;
}

/** Builds the storable key manifest of a task (sorted, env values hashed). */
export async function keyManifest(input: TaskKeyInput): Promise<KeyManifest> {
  const config = input.config === undefined ? null : JSON.parse(stableJson(input.config));
  const [configHash, env] = await Promise.all([
    sha256Hex(stableJson(config)),
    hashEnv(input.env ?? {}),
  ]);
  return {
    formatVersion: CACHE_FORMAT_VERSION,
    task: input.task,
    component: input.component,
    command: [...input.command],
    config,
    configHash,
    inputs: sortRecord(input.inputs),
    lockFiles: sortRecord(input.lockFiles ?? {}),
    tools: sortRecord(input.tools ?? {}),
    env,
    dependencies: sortRecord(input.dependencies ?? {}),
  };
}

function sortRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}

/** The cache key of a key manifest: SHA-256 hex over its stable JSON (the config itself is represented by its hash). */
export function manifestKey(manifest: KeyManifest): Promise<string> {
  const parts = [
    `rig-task-key\0${manifest.formatVersion}\0`,
    stableJson({ ...manifest, config: undefined, inputs: undefined }),
  ];
  // Inputs follow entry by entry, sorted explicitly: integer-like keys ("10", "9")
  // iterate numerically in JS objects. (10,000 paths make about a megabyte.)
  for (const file of Object.keys(manifest.inputs).sort()) {
    parts.push(`\0${file}\0${manifest.inputs[file]}`);
  }
  return sha256Hex(parts.join(""));
}

/** The cache key of a task: SHA-256 hex, deterministic across machines and checkouts. */
export async function taskKey(input: TaskKeyInput): Promise<string> {
  return await manifestKey(await keyManifest(input));
}

/** What differs between the key manifests of two runs of a task. */
export interface Explanation {
  /** True when anything that goes into the key differs. */
  changed: boolean;
  formatChanged: boolean;
  commandChanged: { from: string[]; to: string[] } | undefined;
  configChanged: boolean;
  filesAdded: string[];
  filesRemoved: string[];
  filesChanged: string[];
  /** A removed and an added file with the same content. */
  filesRenamed: { from: string; to: string }[];
  /** Lock/requirements files added, removed or changed. */
  lockFilesChanged: string[];
  /** Names of env vars whose value changed, appeared or disappeared (never values). */
  envChanged: string[];
  toolsChanged: { name: string; from: string | null; to: string | null }[];
  /** Dependencies (component keys, contract hashes) that changed. */
  dependenciesChanged: string[];
}

/** Compares the manifest of a previous run (or its record) with the current one. */
export function explain(
  previous: KeyManifest | { manifest: KeyManifest },
  current: KeyManifest | { manifest: KeyManifest },
): Explanation {
  const before = "manifest" in previous ? previous.manifest : previous;
  const after = "manifest" in current ? current.manifest : current;
  const files = diffRecords(before.inputs ?? {}, after.inputs ?? {});
  const renamed: { from: string; to: string }[] = [];
  const byHash = new Map<string, string[]>();
  for (const file of files.removed) {
    const hash = before.inputs[file]!;
    byHash.set(hash, [...(byHash.get(hash) ?? []), file]);
  }
  const added: string[] = [];
  for (const file of files.added) {
    const candidates = byHash.get(after.inputs[file]!);
    const from = candidates?.shift();
    if (from) renamed.push({ from, to: file });
    else added.push(file);
  }
  const renamedFrom = new Set(renamed.map((r) => r.from));
  const locks = diffRecords(before.lockFiles ?? {}, after.lockFiles ?? {});
  const env = diffRecords(before.env ?? {}, after.env ?? {});
  const deps = diffRecords(before.dependencies ?? {}, after.dependencies ?? {});
  const tools = diffRecords(before.tools ?? {}, after.tools ?? {});
  const commandChanged = stableJson(before.command) === stableJson(after.command)
    ? undefined
    : { from: before.command ?? [], to: after.command ?? [] };
  const result: Explanation = {
    changed: false,
    formatChanged: before.formatVersion !== after.formatVersion,
    commandChanged,
    configChanged: before.configHash !== after.configHash,
    filesAdded: added,
    filesRemoved: files.removed.filter((f) => !renamedFrom.has(f)),
    filesChanged: files.changed,
    filesRenamed: renamed,
    lockFilesChanged: [...locks.added, ...locks.removed, ...locks.changed].sort(),
    envChanged: [...env.added, ...env.removed, ...env.changed].sort(),
    toolsChanged: [...tools.added, ...tools.removed, ...tools.changed].sort().map((name) => ({
      name,
      from: before.tools?.[name] ?? null,
      to: after.tools?.[name] ?? null,
    })),
    dependenciesChanged: [...deps.added, ...deps.removed, ...deps.changed].sort(),
  };
  result.changed = result.formatChanged || !!result.commandChanged || result.configChanged ||
    result.filesAdded.length + result.filesRemoved.length + result.filesChanged.length +
          result.filesRenamed.length + result.lockFilesChanged.length + result.envChanged.length +
          result.toolsChanged.length + result.dependenciesChanged.length > 0;
  return result;
}

function diffRecords<T>(
  before: Record<string, T>,
  after: Record<string, T>,
): { added: string[]; removed: string[]; changed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const key of Object.keys(after)) {
    if (!(key in before)) added.push(key);
    else if (before[key] !== after[key]) changed.push(key);
  }
  for (const key of Object.keys(before)) if (!(key in after)) removed.push(key);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

/** Human sentences for an explanation, e.g. `changed: server/app/main.py`; `limit` caps file lists. */
export function describeExplanation(e: Explanation, opts: { limit?: number } = {}): string[] {
  const limit = opts.limit ?? 10;
  const list = (items: string[]) =>
    items.length > limit
      ? `${items.slice(0, limit).join(", ")} and ${items.length - limit} more`
      : items.join(", ");
  const lines: string[] = [];
  if (!e.changed) return ["Nothing changed since the previous run"];
  if (e.formatChanged) lines.push("rig's cache format changed");
  if (e.commandChanged) {
    lines.push(
      `Command changed: "${e.commandChanged.from.join(" ")}" → "${e.commandChanged.to.join(" ")}"`,
    );
  }
  if (e.configChanged) lines.push("Component config changed (rig.toml)");
  if (e.filesChanged.length) lines.push(`Changed: ${list(e.filesChanged)}`);
  if (e.filesAdded.length) lines.push(`Added: ${list(e.filesAdded)}`);
  if (e.filesRemoved.length) lines.push(`Removed: ${list(e.filesRemoved)}`);
  if (e.filesRenamed.length) {
    lines.push(`Renamed: ${list(e.filesRenamed.map((r) => `${r.from} → ${r.to}`))}`);
  }
  if (e.lockFilesChanged.length) lines.push(`Lock files changed: ${list(e.lockFilesChanged)}`);
  if (e.envChanged.length) lines.push(`Env vars changed: ${list(e.envChanged)}`);
  for (const tool of e.toolsChanged) {
    lines.push(`Tool ${tool.name} changed: ${tool.from ?? "(none)"} → ${tool.to ?? "(none)"}`);
  }
  if (e.dependenciesChanged.length) {
    lines.push(`Dependencies changed: ${list(e.dependenciesChanged)}`);
  }
  return lines;
}
