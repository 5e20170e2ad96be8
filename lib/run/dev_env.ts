/**
 * `rig run`'s engine: the steps that bring a development environment up, and
 * the supervision of its processes until Ctrl-C.
 */
import * as path from "../path.ts";
import { isDir, isFile } from "../fs.ts";
import { EnvironmentError, RigError, UsageError } from "../errors.ts";
import { findAlembicDir, migrationStatus, requireSingleHead, upgrade } from "../db/alembic.ts";
import {
  createDatabase,
  type DatabaseConfig,
  describeDatabase,
  maskPassword,
} from "../db/database.ts";
import {
  DATABASE_VARIABLES,
  databaseOverrides,
  resolveDatabase,
  type ResolvedDatabase,
} from "../db/db_config.ts";
import { sourceLookup } from "../env/sources.ts";
import { describeSource, type LoadedEnv, loadEnvironment } from "../env/env_config.ts";
import { summarizeSources } from "../env/sources.ts";
import { runPrestart } from "./prestart.ts";
import { asgiApp, uvicornArgv } from "../python/uvicorn.ts";
import { ensureInstalled } from "../install/install.ts";
import { isPortInUse, nextFreePort } from "../net.ts";
import {
  type Component,
  isNode,
  type Project,
  type Readiness,
  topoOrder,
} from "../project/project.ts";
import { apiUrlVariables, DEV_URL, devServerUrl, scriptsOf } from "../node/app.ts";
import { detectToolchain, readPackageJson, scriptArgv } from "../node/managers.ts";
import {
  describeExit,
  type ReadyCheck,
  ServiceError,
  type ServiceSpec,
  Supervisor,
} from "./supervisor.ts";
import { formatDuration, type Ui } from "../ui.ts";
import { findVenv, type Venv, venvEnv } from "../python/venv.ts";

/** What `rig run` was asked for, and the world it runs in. */
export interface DevContext extends DevOptions {
  ui: Ui;
  env: Record<string, string>;
  signal: AbortSignal;
}

/** What `rig run` was asked for. */
export interface DevOptions {
  /** The environment to start (`development`, `test`, …). */
  environment: string;
  db?: string;
  host?: string;
  port?: number;
  reload: boolean;
  migrate: boolean;
  install: boolean;
  /** Run the server's `prestart` steps (default true). */
  prestart?: boolean;
}

/**
 * Brings the development environment up and supervises it until a signal or a
 * crash: configuration, dependencies, database, migrations, then the server and
 * every dev command. Returns the exit code (0 after Ctrl-C, 1 when a service died).
 */
export async function startDev(project: Project, options: DevContext): Promise<number> {
  const started = performance.now();
  const ui = options.ui;
  const server = findServer(project);
  const devComponents = topoOrder(project.components).filter((c) =>
    c !== server && devCommand(project, c)
  );

  // 1. Configuration.
  const envStep = ui.step("environment");
  let loaded;
  try {
    loaded = await loadEnvironment(project, {
      name: options.environment,
      processEnv: options.env,
      ui,
      generate: true,
    });
  } catch (error) {
    envStep.fail();
    throw error;
  }
  const values = { ...loaded.values };
  const envShown = path.relative(project.root, loaded.file) || loaded.file;
  envStep.done(`${options.environment} ${describeEnvSources(loaded)}`);
  for (const key of loaded.keys) {
    const source = loaded.sources[key];
    if (source) ui.debug(`  ${key} from ${describeSource(source)}`);
  }
  const placeholders = loaded.warnings.filter((p) => p.kind === "placeholder");
  if (placeholders.length) {
    ui.warn(
      `Placeholder values in ${options.environment}: ${
        placeholders.map((p) => p.key).join(", ")
      } (fine on your machine; errors for --env production)`,
      `Replace them before deploying; see: rig env check${
        options.environment === "development" ? "" : ` --env ${options.environment}`
      }`,
    );
  }

  const host = options.host ?? (values.HOST || "127.0.0.1");
  const port = options.port ?? (values.PORT ? parsePort(values.PORT, `PORT in ${envShown}`) : 8000);
  const probeHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  if (await isPortInUse(port, probeHost)) {
    const free = await nextFreePort(port, probeHost);
    throw new EnvironmentError(
      `Port ${port} on "${host}" is already in use`,
      `Stop what uses it (lsof -i :${port}), or use a free port: rig run --port ${free}`,
    );
  }

  // Read the database settings now: a bad URL should not wait for an install to be reported.
  const resolved: ResolvedDatabase | undefined = resolveDatabase(values, {
    flag: options.db,
    baseDir: server.dir,
    sourceOf: sourceLookup(loaded.sources),
  });
  const db: DatabaseConfig | undefined = resolved?.db;
  const mask = (text: string) => db ? maskPassword(loaded.mask(text), db) : loaded.mask(text);

  // 2. Dependencies.
  const toInstall = [server, ...devComponents];
  if (options.install) {
    await ensureInstalled(project, toInstall, { env: options.env, ui, signal: options.signal });
  } else {
    ui.step("install").skip("--no-install");
  }
  const venv = findVenv(server, { env: options.env });
  if (!venv) {
    throw new EnvironmentError(
      `The "${server.name}" component has no virtual environment`,
      "Run: rig install",
    );
  }

  // 3. Database.
  let dbExisted = false;
  const dbStep = ui.step("database");
  try {
    if (!db || !resolved) {
      dbStep.skip(`none configured (rig reads ${DATABASE_VARIABLES}; or rig run --db URL)`);
    } else {
      const prepared = await createDatabase(db, {
        python: venv.python,
        env: options.env,
        signal: options.signal,
        origin: resolved.origin,
      });
      dbExisted = !prepared.created;
      const shown = describeDatabase(db, { baseDir: server.dir });
      const made = prepared.created ? (db.kind === "sqlite" ? " (new)" : " (created)") : "";
      dbStep.done(`${shown}${made} from ${resolved.origin.label}`);
      Object.assign(values, databaseOverrides(resolved, db));
    }
  } catch (error) {
    dbStep.fail();
    throw error;
  }

  // 4. Migrations.
  let applied = 0;
  const alembicDir = findAlembicDir(server.dir, project.root);
  if (!options.migrate) {
    ui.step("migrations").skip("--no-migrate");
  } else if (!alembicDir) {
    ui.step("migrations").skip("no alembic.ini");
  } else {
    applied = await migrate(options, {
      project,
      venv,
      dir: alembicDir,
      db,
      dbExisted,
      values,
      mask,
    });
  }

  // 5. Prestart steps (seed data, …), with the app's environment.
  const prestart = server.prestart ?? [];
  if (prestart.length && options.prestart === false) {
    ui.step("prestart").skip("--no-prestart");
  } else if (prestart.length) {
    await runPrestart(prestart, {
      cwd: server.dir,
      env: venvEnv(venv, { ...values, PYTHONUNBUFFERED: "1" }),
      signal: options.signal,
      ui,
      mask,
      key: "prestart",
      component: server.name,
      skipHint: "rig run --no-prestart",
    });
  }

  // 5. Server and dev processes.
  const showHost = probeHost.includes(":") ? `[${probeHost}]` : probeHost;
  const baseUrl = `http://${showHost}:${port}`;
  const appEnv: Record<string, string> = {
    ...values,
    HOST: host,
    PORT: String(port),
    PYTHONUNBUFFERED: "1",
  };
  const services: ServiceSpec[] = [
    serverService(server, venv, { host, port, baseUrl, reload: options.reload, env: appEnv }),
    ...devComponents.map((c) => devService(c, project, { baseUrl, env: options.env })),
  ];
  const width = Math.max(...services.map((s) => s.name.length));
  const serverStep = ui.step(`start ${services.map((s) => s.name).join(", ")}`);
  // The URL each app's dev server printed, for the summary.
  const appUrls: Record<string, string> = {};
  const apps = new Set(devComponents.filter((c) => c.kind === "node-app").map((c) => c.name));
  const supervisor = new Supervisor(services, {
    signal: options.signal,
    graceMs: 5000,
    output: (line) => {
      const name = line.split("│")[0]!.trim();
      if (apps.has(name) && !appUrls[name]) {
        const url = devServerUrl(line);
        if (url) appUrls[name] = url;
      }
      ui.print(mask(line));
    },
  });
  try {
    await supervisor.start();
  } catch (error) {
    serverStep.fail();
    if (error instanceof ServiceError) {
      throw new RigError(
        `${error.message}\n${indent(mask(error.lastLines.slice(-15).join("\n")))}`,
        error.hint,
      );
    }
    throw error;
  }
  const elapsed = performance.now() - started;
  serverStep.done(`${baseUrl}`);
  const parts = [
    `env ${options.environment}`,
    db ? describeDatabase(db, { baseDir: server.dir }) : "database from the app's defaults",
    ...(alembicDir && options.migrate
      ? [
        applied
          ? `${applied} migration${applied === 1 ? "" : "s"} applied`
          : "migrations up to date",
      ]
      : []),
    ...devComponents.map((c) => `${c.name} dev`),
  ];
  ui.print(`${"".padEnd(width)}   API   ${baseUrl}`);
  ui.print(`${"".padEnd(width)}   docs  ${baseUrl}/docs`);
  for (const [name, url] of Object.entries(appUrls)) {
    ui.print(`${"".padEnd(width)}   ${name}  ${url} (API at ${baseUrl})`);
  }
  ui.success(
    `${server.name} ready at ${baseUrl} (docs: /docs) in ${formatDuration(elapsed)} — ${
      parts.join(", ")
    }`,
  );
  ui.info(ui.style("dim", "Press Ctrl-C to stop"));

  const exit = await supervisor.wait();
  const document = {
    ok: exit.reason === "signal",
    url: baseUrl,
    docs: `${baseUrl}/docs`,
    env: options.environment,
    database: db ? describeDatabase(db, { baseDir: server.dir }) : null,
    databaseFrom: resolved?.origin.label ?? null,
    envSources: loaded.read,
    prestart: prestart.length && options.prestart !== false ? prestart.length : 0,
    migrationsApplied: applied,
    readyMs: Math.round(elapsed),
    services: services.map((s) => s.name),
    apps: appUrls,
    stopped: exit.reason === "signal" ? "signal" : `${exit.service} exited`,
  };
  if (exit.reason === "signal") {
    ui.info(`Stopped ${services.map((s) => s.name).join(", ")}`);
    ui.result(document);
    return 0;
  }
  const shown = exit.lastLines.slice(-15).join("\n");
  const message = `"${exit.service}" exited with ${
    exit.result ? describeExit(exit.result) : "an error"
  }${shown ? `; its last output:\n${indent(mask(shown))}` : ""}`;
  const hint = "Fix the error shown above and run again: rig run";
  // One document on stdout: this failure is reported here rather than thrown to main.
  ui.error(message, hint);
  ui.result({ ...document, error: { message, hint, exitCode: 1 } });
  return 1;
}

function findServer(project: Project): Component {
  const apps = project.components.filter((c) => c.kind === "python-app");
  if (apps.length === 0) {
    throw new EnvironmentError(
      `No server found in "${project.root}": rig run starts a python-app component`,
      "Add alembic.ini or a FastAPI app to the server folder, or declare one in rig.toml: " +
        '[components.server] path = "server" kind = "python-app" app = "app.main:app"',
    );
  }
  if (apps.length > 1) {
    throw new EnvironmentError(
      `Several python-app components (${
        apps.map((a) => `"${a.name}"`).join(", ")
      }); rig run starts one`,
      "Mark the others as python-lib in rig.toml",
    );
  }
  return apps[0]!;
}

async function migrate(
  ctx: DevContext,
  state: {
    project: Project;
    venv: Venv;
    /** The folder holding alembic.ini. */
    dir: string;
    /** Undefined without DATABASE_URL: the app's env.py then picks the database. */
    db: DatabaseConfig | undefined;
    dbExisted: boolean;
    values: Record<string, string>;
    mask: (text: string) => string;
  },
): Promise<number> {
  const { project, dir, venv, db, values, mask } = state;
  const step = ctx.ui.step("migrations");
  const options = {
    python: venv.python,
    env: venvEnv(venv, { ...values, PYTHONUNBUFFERED: "1" }),
    signal: ctx.signal,
    mask,
    onLine: (line: string) => ctx.ui.debug(`  alembic │ ${mask(line)}`),
    onNotice: (message: string) => ctx.ui.warn(message),
  };
  try {
    // A SQLite file that does not exist yet has nothing applied; do not create it here.
    const fresh = db?.kind === "sqlite" && !state.dbExisted;
    const sqliteFile = db?.kind === "sqlite" ? db.file : undefined;
    const status = await migrationStatus(dir, {
      ...options,
      databaseUrl: fresh ? undefined : db?.resolvedUrl,
      sqliteFile,
    });
    requireSingleHead(status.heads, { dir, root: project.root, python: venv.python });
    if (status.heads.length === 0) {
      step.skip("no migrations");
      return 0;
    }
    if (db && status.upToDate) {
      step.skip(`up to date (at ${status.heads[0]})`);
      return 0;
    }
    const result = await upgrade(dir, { ...options, root: project.root, sqliteFile });
    step.done(
      result.applied.length
        ? `${result.applied.length} applied, now at ${status.heads[0]}`
        : `up to date (at ${status.heads[0]})`,
    );
    return result.applied.length;
  } catch (error) {
    step.fail();
    throw error;
  }
}

function serverService(
  server: Component,
  venv: Venv,
  options: {
    host: string;
    port: number;
    baseUrl: string;
    reload: boolean;
    env: Record<string, string>;
  },
): ServiceSpec {
  const app = asgiApp(server);
  const argv = uvicornArgv(venv.python, {
    app,
    host: options.host,
    port: options.port,
    reload: options.reload,
    reloadDirs: options.reload ? reloadDirs(server, app) : [],
  });
  return {
    name: server.name,
    argv,
    cwd: server.dir,
    env: venvEnv(venv, options.env),
    ready: readiness(server, options.baseUrl, { http: "/health" }),
    readyTimeoutMs: 90_000,
    // uvicorn's reloader survives a worker that cannot import the app.
    failOn: /^(Traceback \(most recent call last\)|ERROR:\s+Error loading ASGI app)/,
  };
}

function devService(
  component: Component,
  project: Project,
  options: { baseUrl: string; env: Record<string, string> },
): ServiceSpec {
  const venv = isNode(component) ? undefined : findVenv(component, options);
  // The caller's environment plus where the server is, under the names the app reads
  // (VITE_API_URL, NEXT_PUBLIC_API_URL, …); never the server's secrets.
  const env: Record<string, string> = {
    ...options.env,
    RIG_SERVER_URL: options.baseUrl,
    API_URL: options.baseUrl,
  };
  if (isNode(component)) {
    for (const name of apiUrlVariables(component.dir)) env[name] = options.baseUrl;
  }
  // A node app's dev server is ready once it prints the local URL it listens on.
  const printsUrl = component.kind === "node-app" && !component.ready;
  return {
    name: component.name,
    argv: devCommand(project, component)!,
    cwd: component.dir,
    env: venv ? venvEnv(venv, env) : env,
    dependsOn: component.dependsOn.filter((d) =>
      project.components.some((c) => c.name === d && (c.kind === "python-app" || c.commands.dev))
    ),
    ready: printsUrl ? { log: DEV_URL } : readiness(component, options.baseUrl),
  };
}

/** A component's dev command: rig.toml `dev`, else an app's `dev` script through its manager. */
export function devCommand(project: Project, component: Component): string[] | undefined {
  if (component.commands.dev?.length) return component.commands.dev;
  if (component.kind !== "node-app") return undefined;
  if (!scriptsOf(readPackageJson(component.dir)).dev) return undefined;
  return scriptArgv(detectToolchain(component.dir, project.root), "dev");
}

function readiness(component: Component, baseUrl: string, fallback?: { http: string }): ReadyCheck {
  const ready: Readiness | undefined = component.ready ?? fallback;
  if (!ready) return { started: true };
  if (ready.log) return { log: new RegExp(ready.log) };
  if (ready.port) return { port: ready.port };
  if (ready.http) {
    const url = /^https?:\/\//.test(ready.http)
      ? ready.http
      : `${baseUrl}${ready.http.startsWith("/") ? "" : "/"}${ready.http}`;
    // A 404 on the default /health still proves the app answers (it has no such route).
    const isDefault = !component.ready;
    return {
      http: url,
      accept: (status) => (status >= 200 && status < 400) || (isDefault && status === 404),
    };
  }
  return { started: true };
}

/** The server's own source packages (the app's package and its sibling packages). */
function reloadDirs(server: Component, app: string): string[] {
  const skip = new Set(["tests", "test", "migrations", "alembic", "node_modules", "data"]);
  const dirs = new Set<string>();
  const appPackage = app.split(":")[0]!.split(".")[0]!;
  if (isDir(path.join(server.dir, appPackage))) dirs.add(appPackage);
  for (const entry of Deno.readDirSync(server.dir)) {
    if (!entry.isDirectory || entry.name.startsWith(".") || skip.has(entry.name)) continue;
    if (isFile(path.join(server.dir, entry.name, "__init__.py"))) dirs.add(entry.name);
  }
  return dirs.size ? [...dirs].sort() : ["."];
}

/** `from .env (9 keys), environment (PORT)`; never names a file that was not read. */
function describeEnvSources(loaded: LoadedEnv): string {
  const groups = summarizeSources(loaded.keys, loaded.sources);
  if (groups.length === 0) {
    return loaded.read.length
      ? `(${loaded.read.join(", ")}: no keys)`
      : "(no .env or templates: the process environment only)";
  }
  const parts = groups.map((g) =>
    g.label === "environment"
      ? `the environment (${g.keys.join(", ")})`
      : `${g.label} (${g.keys.length} ${g.keys.length === 1 ? "key" : "keys"})`
  );
  return `from ${parts.join(", ")}`;
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}

/** Reads a port number; `source` names where it came from in the error. */
export function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || port < 1 || port > 65535) {
    throw new UsageError(
      `${source} must be a port number (1-65535), got "${text}"`,
      "Example: rig run --port 8001",
    );
  }
  return port;
}
