/**
 * The task engine: one place owns the life of every cached unit of work (a
 * component's tests, its build, the server's API contract, the migrated test
 * database). Commands describe their tasks; the engine provides
 *
 * 1. inputs: one listing and one stat cache for all components of a command;
 * 2. tools: versions read without starting processes (tool_versions.ts);
 * 3. the hermetic environment: allow-listed and declared variables only;
 * 4. the key: one recipe (task_key.ts);
 * 5. lookup, restore and store through the project's cache store, with its
 *    size limit and the remote cache (openCacheStore);
 * 6. explanations of a miss (what changed since the last stored run).
 */
import type { Ui } from "../ui.ts";
import {
  type Component,
  extraInputGlobs,
  isComponentInput,
  type Project,
} from "../project/project.ts";
import type { CacheStore } from "./cache.ts";
import { openCacheStore } from "./cache_open.ts";
import type { TaskRecord } from "./cache_record.ts";
import { fingerprint, type Manifest } from "./fingerprint.ts";
import { listInputs } from "./input_listing.ts";
import { StatCache } from "./stat_cache.ts";
import { hermeticEnv } from "./hermetic_env.ts";
import {
  describeExplanation,
  explain,
  type KeyManifest,
  keyManifest,
  manifestKey,
  type TaskKeyInput,
} from "./task_key.ts";
import { type ComponentTools, componentTools } from "./tool_versions.ts";
import { CacheWriteGuard } from "./cache_write.ts";
import * as path from "../path.ts";

/** Options of a `TaskEngine`. */
export interface TaskEngineOptions {
  /** The caller's environment: never passed whole to a task. */
  env: Record<string, string>;
  ui: Ui;
  /** Read cached results (false with --force or --no-cache). */
  readCache?: boolean;
  /** Store results (false with --no-cache). */
  writeCache?: boolean;
  /** An open store to use instead of the project's (tests). */
  store?: CacheStore;
}

/** A task's computed key and the manifest it was computed from (stored for --explain). */
export interface TaskKey {
  key: string;
  manifest: KeyManifest;
}

/** What a finished task leaves in the store. */
export interface TaskResult {
  exitCode: number;
  durationMs: number;
  /** Replayed on a hit (counts, coverage, artifact list…). */
  summary?: unknown;
  log?: string;
  /** Output files to store, posix paths relative to `artifactRoot`. */
  artifacts?: string[];
  /** The folder artifacts are relative to (default: the project root). */
  artifactRoot?: string;
}

/** The hermetic environment of a component's tasks and the variables its keys cover. */
export interface TaskEnvironment {
  /** What the task's processes see. */
  env: Record<string, string>;
  /** Declared names and configuration values → values (hashed into keys). */
  keyEnv: Record<string, string | undefined>;
}

/** The life of a project's cached tasks. */
export class TaskEngine {
  readonly store: CacheStore;
  readonly readCache: boolean;
  readonly writeCache: boolean;
  readonly #writes: CacheWriteGuard;

  constructor(readonly project: Project, readonly opts: TaskEngineOptions) {
    this.readCache = opts.readCache ?? true;
    this.writeCache = opts.writeCache ?? true;
    this.store = opts.store ?? openCacheStore(project.root, {
      env: opts.env,
      remoteCache: project.settings.remoteCache,
      components: project.components,
      ui: opts.ui,
    });
    this.#writes = new CacheWriteGuard(
      opts.ui,
      path.relative(project.root, this.store.dir) || this.store.dir,
    );
  }

  /**
   * The input manifests of `components` (name → path → hash): one listing of
   * their folders, rig.toml and declared `inputs`, hashed through the stat
   * cache; each file belongs to the innermost component holding it (or one that
   * declares it).
   */
  async inputs(
    components: Component[],
    opts: { exclude?: string[] } = {},
  ): Promise<Map<string, Manifest>> {
    const { root } = this.project;
    const files = await listInputs(root, {
      dirs: components.map((c) => c.path),
      include: ["rig.toml", ...components.flatMap(extraInputGlobs)],
      exclude: opts.exclude,
      env: this.opts.env,
    });
    const statCache = await StatCache.open(root);
    const all = await fingerprint(root, files, { statCache, env: this.opts.env });
    const out = new Map<string, Manifest>();
    for (const c of components) {
      const manifest: Manifest = {};
      for (const [file, hash] of Object.entries(all)) {
        if (isComponentInput(this.project.components, c, file)) manifest[file] = hash;
      }
      out.set(c.name, manifest);
    }
    return out;
  }

  /** A component's tool versions (and its venv), read without starting processes. */
  async tools(component: Component): Promise<ComponentTools> {
    return await componentTools(component, { env: this.opts.env, root: this.project.root });
  }

  /**
   * The hermetic environment of a component's tasks: the allow-listed variables
   * of the caller, the declared ones (rig.toml `env` of the project and the
   * component) and `values` (e.g. the test configuration), nothing else.
   */
  environment(component: Component, values: Record<string, string> = {}): TaskEnvironment {
    const declared = [...this.project.settings.env, ...component.env];
    const keyEnv: Record<string, string | undefined> = { ...values };
    for (const name of declared) keyEnv[name] = this.opts.env[name];
    return { env: hermeticEnv(this.opts.env, { declared, values }), keyEnv };
  }

  /** The key of a task (the one recipe in task_key.ts). */
  async key(input: TaskKeyInput): Promise<TaskKey> {
    const manifest = await keyManifest(input);
    return { key: await manifestKey(manifest), manifest };
  }

  /** The stored result for a key, when reading the cache (a local miss asks the remote). */
  async lookup(
    key: string,
    where: { task: string; component: string },
  ): Promise<TaskRecord | undefined> {
    if (!this.readCache) return undefined;
    return await this.store.get(key, where);
  }

  /**
   * Writes a record's artifacts below `destRoot` (default: the project root),
   * each checked against its SHA-256; throws a RigError naming a missing or
   * corrupt one.
   */
  async restore(
    record: TaskRecord,
    destRoot?: string,
  ): ReturnType<CacheStore["restore"]> {
    return await this.store.restore(record, destRoot);
  }

  /**
   * Stores a finished task's result (when writing the cache); returns whether it
   * was stored. A failed write (read-only or full disk) is one warning per
   * command, never a failed task.
   */
  async save(
    task: TaskKey,
    where: { task: string; component: string },
    result: TaskResult,
  ): Promise<boolean> {
    if (!this.writeCache) return false;
    return await this.#writes.attempt(() =>
      this.store.put({
        key: task.key,
        task: where.task,
        component: where.component,
        exitCode: result.exitCode,
        summary: result.summary,
        durationMs: result.durationMs,
        manifest: task.manifest,
      }, {
        log: result.log,
        artifacts: result.artifacts,
        artifactRoot: result.artifactRoot,
      })
    );
  }

  /**
   * Why a task must run: what changed since the last stored run of the same task
   * and component (its files, tools, variables, command, configuration or
   * dependencies), or that none is stored.
   */
  async explainMiss(
    where: { task: string; component: string },
    manifest: KeyManifest,
    opts: { normalise?: (m: KeyManifest) => KeyManifest } = {},
  ): Promise<string[]> {
    const previous = await this.store.latest(where.task, where.component);
    if (!previous) return ["no earlier green run is cached"];
    const same = opts.normalise ?? ((m: KeyManifest) => m);
    return describeExplanation(explain(same(previous.manifest), same(manifest)));
  }
}
