/**
 * What integration tests need around them: a throwaway test database (SQLite
 * file or PostgreSQL database, migrated once) and the server on a free port.
 */
import * as path from "../path.ts";
import { InterruptedError, RigError } from "../errors.ts";
import { type Child, spawn, tail } from "../proc.ts";
import type { Component, Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { venvEnv } from "../python/venv.ts";
import {
  createDatabase,
  type DatabaseConfig,
  type DatabaseOrigin,
  dropDatabase,
  hostPort,
  parseDatabaseUrl,
} from "../db/database.ts";
import { findAlembicDir, upgrade } from "../db/alembic.ts";
import {
  databaseOverrides,
  renameDatabase,
  resolveDatabase,
  type SourceOf,
} from "../db/db_config.ts";
import { runPrestart } from "../run/prestart.ts";
import { waitForHttp } from "../net.ts";
import { asgiApp, uvicornArgv } from "../python/uvicorn.ts";
import type { ComponentState } from "./plan.ts";
import type { TaskEngine, TaskKey } from "../task/task.ts";
/** A throwaway database for one `rig test` run, created on first use and always dropped. */
export class TestDatabase {
  #config?: DatabaseConfig;
  #python?: string;
  #origin?: DatabaseOrigin;

  constructor(
    readonly project: Project,
    readonly opts: {
      engine: TaskEngine;
      temp: string;
      configValues: Record<string, string>;
      env: Record<string, string>;
      ui: Ui;
      mask: (t: string) => string;
      /** Where each configuration key came from (`.env line 3`), for error messages. */
      sourceOf?: SourceOf;
      signal?: AbortSignal;
    },
  ) {}

  #ready?: Promise<Record<string, string>>;

  /**
   * The variables that point the server's tasks at the test database, spelled
   * the way the project spells its database (`DATABASE_URL`, `POSTGRES_DB`, …).
   * On first call the database is created, migrated with the full test
   * configuration, and `test_prestart` runs; empty when no database is configured.
   */
  env(server: Component, state: ComponentState): Promise<Record<string, string>> {
    this.#ready ??= this.#prepare(server, state);
    return this.#ready;
  }

  async #prepare(server: Component, state: ComponentState): Promise<Record<string, string>> {
    const venv = state.venv!;
    this.#python = venv.python;
    const resolved = resolveDatabase(state.env, {
      baseDir: server.dir,
      sourceOf: this.opts.sourceOf ?? (() => undefined),
    });
    let overrides: Record<string, string> = {};
    let sqlite = false;
    if (resolved?.db.kind === "sqlite") {
      sqlite = true;
      const file = path.join(this.opts.temp, TESTDB_FILE);
      await Deno.mkdir(path.dirname(file), { recursive: true });
      const db = parseDatabaseUrl(`${resolved.db.scheme}:///${file}`, { baseDir: server.dir });
      overrides = databaseOverrides(resolved, db);
    } else if (resolved) {
      const random = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
      const base = (resolved.db.database ?? "app").replace(/[^A-Za-z0-9_]/g, "_");
      const name = `${base}_test_${random}`;
      this.#config = renameDatabase(resolved.db, name);
      this.#origin = resolved.origin;
      const step = this.opts.ui.step(`create test database "${name}"`);
      try {
        await createDatabase(this.#config, {
          python: venv.python,
          env: venvEnv(venv, state.env),
          origin: resolved.origin,
          signal: this.opts.signal,
        });
        step.done(`on ${hostPort(this.#config)}, from ${resolved.origin.label}`);
      } catch (error) {
        step.fail();
        throw error;
      }
      overrides = databaseOverrides(resolved, this.#config);
    }
    const appEnv = venvEnv(venv, { ...state.env, ...overrides, PYTHONUNBUFFERED: "1" });
    const alembicDir = findAlembicDir(server.dir, this.project.root);
    if (alembicDir && resolved) {
      // A migrated SQLite file depends only on the server's files and packages, so it is
      // kept as a task entry of the store ("testdb") and restored on later runs, sparing
      // Alembic's start-up until the server changes.
      const template = sqlite ? await testDbTask(this.opts.engine, server, state) : undefined;
      if (!template || !(await this.#restoreTemplate(server, template))) {
        const migrated = performance.now();
        await this.opts.ui.task(`migrate test database`, async () => {
          await upgrade(alembicDir, {
            python: venv.python,
            env: appEnv,
            mask: this.opts.mask,
            signal: this.opts.signal,
            root: this.project.root,
          });
        });
        if (template) {
          await this.opts.engine.save(template, { task: TESTDB_TASK, component: server.name }, {
            exitCode: 0,
            durationMs: performance.now() - migrated,
            artifacts: [TESTDB_FILE],
            artifactRoot: this.opts.temp,
          }).catch((error) =>
            this.opts.ui.debug(
              `Cannot keep the migrated test database: ${(error as Error).message}`,
            )
          );
        }
      }
    }
    if (server.testPrestart?.length) {
      await runPrestart(server.testPrestart, {
        cwd: server.dir,
        env: appEnv,
        signal: this.opts.signal,
        ui: this.opts.ui,
        mask: this.opts.mask,
        key: "test_prestart",
        component: server.name,
      });
    }
    return overrides;
  }

  /** Copies the stored migrated database into the temp folder; false when there is none. */
  async #restoreTemplate(server: Component, template: TaskKey): Promise<boolean> {
    const { engine, temp, ui } = this.opts;
    const record = await engine.store.get(template.key, {
      task: TESTDB_TASK,
      component: server.name,
    });
    if (!record) return false;
    try {
      await engine.restore(record, temp);
    } catch (error) {
      ui.debug(`Cannot restore the migrated test database: ${(error as Error).message}`);
      return false;
    }
    ui.step("migrate test database").skip("restored a migrated copy from the cache");
    return true;
  }

  /** Drops a PostgreSQL test database (SQLite files go with the temp folder). */
  async dispose(): Promise<void> {
    if (!this.#config || !this.#python) return;
    const name = this.#config.database;
    try {
      await dropDatabase(this.#config, {
        python: this.#python,
        env: this.opts.env,
        origin: this.#origin,
      });
      this.opts.ui.debug(`Dropped test database "${name}"`);
    } catch (error) {
      this.opts.ui.warn(
        `Cannot drop test database "${name}": ${(error as Error).message}`,
        `Drop it by hand: dropdb -h ${this.#config.host} -p ${this.#config.port} ${name}`,
      );
    }
  }
}

/** The store's name for migrated SQLite test databases. */
export const TESTDB_TASK = "testdb";
/** The migrated SQLite file, relative to the run's temp folder (the "testdb" task's output root). */
const TESTDB_FILE = "testdb/test.db";

/** The task key of a server's migrated SQLite test database: its files, packages and variables. */
function testDbTask(
  engine: TaskEngine,
  server: Component,
  state: ComponentState,
): Promise<TaskKey> {
  return engine.key({
    task: TESTDB_TASK,
    component: server.name,
    command: ["alembic", "upgrade", "head", TESTDB_FILE],
    inputs: state.manifest,
    tools: state.tools,
    env: state.keyEnv,
  });
}

export interface RunningServer {
  /** Resolves with the server's URL once it answers its health check; rejects when it cannot start. */
  ready: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the server for integration tests in the background. uvicorn binds a
 * port of its own choosing (`--port 0`) and names it in its log, so two rigs
 * (or anything else on the machine) are never handed the same port: a port
 * found free, released and bound later is a race that two `rig test` lost.
 */
export function launchServer(
  server: Component,
  opts: { state: ComponentState; database: TestDatabase; signal: AbortSignal; ui: Ui },
): RunningServer {
  const venv = opts.state.venv!;
  let child: Child | undefined;
  let stopped = false;
  const ready = (async () => {
    const env: Record<string, string> = {
      ...venvEnv(venv, opts.state.env),
      ...await opts.database.env(server, opts.state),
    };
    env.HOST = "127.0.0.1";
    if (stopped || opts.signal.aborted) throw new InterruptedError();
    const step = opts.ui.step(`start ${server.name}`);
    let output = "";
    let bound: ((url: string) => void) | undefined;
    const listening = new Promise<string>((resolve) => (bound = resolve));
    const started = spawn(
      uvicornArgv(venv.python, { app: asgiApp(server), host: "127.0.0.1", port: 0 }),
      {
        cwd: server.dir,
        env,
        signal: opts.signal,
        capture: false,
        onLine: (line) => {
          output += line + "\n";
          const url = line.match(/Uvicorn running on (https?:\/\/[^\s]+)/)?.[1];
          if (url) bound?.(url);
        },
      },
    );
    child = started;
    let exited: string | undefined;
    const exit = started.status.then((s) => {
      exited = `the server exited with code ${s.code}`;
      return undefined;
    });
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 60_000);
      });
      const url = await Promise.race([listening, exit, timeout]);
      clearTimeout(timer);
      if (!url) throw new RigError(exited ?? "it named no port within 60s");
      const health = server.ready?.http ?? "/health";
      await waitForHttp(`${url}${health}`, {
        timeoutMs: 60_000,
        signal: opts.signal,
        giveUp: () => exited,
      });
      step.done(url);
      return url;
    } catch (error) {
      step.fail();
      await started.stop();
      if (error instanceof InterruptedError) throw error;
      throw new RigError(
        `Cannot start "${server.name}" for integration tests: ${(error as Error).message}\n${
          tail(output, 30)
        }`,
        `Check that it starts with: rig run`,
      );
    }
  })();
  // Failures are reported by whoever awaits `ready`; never as an unhandled rejection.
  ready.catch(() => {});
  return {
    ready,
    async stop() {
      stopped = true;
      await ready.catch(() => {});
      await child?.stop(3000);
    },
  };
}
