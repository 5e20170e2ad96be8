/**
 * Databases named by a `DATABASE_URL`: parse and mask the URL, make sure the
 * database is there before migrations run (SQLite: its folder; PostgreSQL: the
 * server answers a real query and the database exists), and create or drop
 * databases (used by `rig run` and for throwaway test databases).
 *
 * Relative SQLite paths (`sqlite:///data/dev.db`) resolve against `baseDir`,
 * the server component's folder, exactly as the reference app does.
 */
import { exists } from "../fs.ts";
import * as path from "../path.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { run, which } from "../proc.ts";
import { canConnect } from "../net.ts";

/** The database engines rig can prepare. */
export type DatabaseKind = "sqlite" | "postgresql";

/** A parsed DATABASE_URL. */
export interface DatabaseConfig {
  kind: DatabaseKind;
  /** The URL as given. */
  url: string;
  /** The URL to hand to the app: SQLite paths made absolute, everything else unchanged. */
  resolvedUrl: string;
  /** The scheme, e.g. `sqlite`, `postgresql+psycopg`. */
  scheme: string;
  /** SQLite: the absolute database file; undefined for an in-memory database. */
  file?: string;
  /** PostgreSQL: host name or unix-socket folder (default `localhost`). */
  host?: string;
  /** PostgreSQL: port (default 5432). */
  port?: number;
  user?: string;
  password?: string;
  /** PostgreSQL: database name. */
  database?: string;
  /** PostgreSQL: query parameters (sslmode, …) passed on to the driver. */
  params: Record<string, string>;
}

const POSTGRES_SCHEMES = /^(postgresql|postgres)(\+[a-z0-9_]+)?$/i;
const SQLITE_SCHEMES = /^sqlite(\+[a-z0-9_]+)?$/i;
const SUPPORTED = "SQLite (sqlite:///path.db) and PostgreSQL (postgresql://, " +
  "postgresql+psycopg://, postgres://)";

/** Parses a DATABASE_URL; relative SQLite paths resolve against `options.baseDir`. */
export function parseDatabaseUrl(url: string, options: { baseDir: string }): DatabaseConfig {
  const trimmed = url.trim();
  const scheme = trimmed.match(/^([A-Za-z][A-Za-z0-9+.-]*):\/\//)?.[1];
  if (!scheme) {
    throw new EnvironmentError(
      `Cannot read DATABASE_URL "${maskUrl(trimmed)}": it is not a URL like "scheme://…"`,
      "Use e.g. DATABASE_URL=sqlite:///data/dev.db or postgresql://user:pass@127.0.0.1:5432/app",
    );
  }
  if (SQLITE_SCHEMES.test(scheme)) return parseSqlite(trimmed, scheme, options.baseDir);
  if (POSTGRES_SCHEMES.test(scheme)) return parsePostgres(trimmed, scheme);
  throw new EnvironmentError(
    `Unsupported database "${scheme}" in DATABASE_URL "${maskUrl(trimmed)}"`,
    `rig supports ${SUPPORTED}; switch with: rig run --db sqlite:///data/dev.db`,
  );
}

function parseSqlite(url: string, scheme: string, baseDir: string): DatabaseConfig {
  const rest = url.slice(scheme.length + 3);
  const queryAt = rest.indexOf("?");
  const location = queryAt >= 0 ? rest.slice(0, queryAt) : rest;
  const query = queryAt >= 0 ? rest.slice(queryAt) : "";
  // sqlite:// (empty) and sqlite:///:memory: are in-memory; sqlite:///rel and sqlite:////abs are files.
  const database = location.startsWith("/") ? location.slice(1) : location;
  const params = Object.fromEntries(new URLSearchParams(query.slice(1)));
  if (!database || database === ":memory:" || database.startsWith("file:")) {
    return { kind: "sqlite", url, resolvedUrl: url, scheme, params };
  }
  const file = path.resolve(baseDir, decodeURIComponent(database));
  return {
    kind: "sqlite",
    url,
    resolvedUrl: `${scheme}:///${file}${query}`,
    scheme,
    file,
    params,
  };
}

function parsePostgres(url: string, scheme: string): DatabaseConfig {
  let parsed: URL;
  try {
    // WHATWG URL parses any scheme's authority; use a neutral one to avoid quirks.
    parsed = new URL(`pg${url.slice(scheme.length)}`);
  } catch {
    throw new EnvironmentError(
      `Cannot read DATABASE_URL "${maskUrl(url)}": malformed PostgreSQL URL`,
      "Use the form postgresql://USER@HOST:PORT/DATABASE (the password goes after USER and a colon)",
    );
  }
  const params = Object.fromEntries(parsed.searchParams);
  const host = params.host ?? (parsed.hostname.replace(/^\[|\]$/g, "") || "localhost");
  delete params.host;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  return {
    kind: "postgresql",
    url,
    resolvedUrl: url,
    scheme,
    host,
    port: parsed.port ? Number(parsed.port) : Number(params.port ?? 5432),
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: database || undefined,
    params,
  };
}

/** The URL with its password replaced by `***`, safe to print. */
export function maskUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@?#]*):([^@/?#]*)@/, "$1:***@");
}

/** Replaces the database password (plain and URL-encoded) in any text. */
export function maskPassword(text: string, db: DatabaseConfig): string {
  let out = text.replaceAll(db.url, maskUrl(db.url));
  if (db.password) {
    out = out.replaceAll(db.password, "***");
    out = out.replaceAll(encodeURIComponent(db.password), "***");
  }
  return out;
}

/** A short description for summaries: `sqlite data/dev.db`, `postgresql 127.0.0.1:5432/app`. */
export function describeDatabase(db: DatabaseConfig, options: { baseDir?: string } = {}): string {
  if (db.kind === "sqlite") {
    if (!db.file) return "sqlite (in memory)";
    const shown = options.baseDir ? path.relative(options.baseDir, db.file) : db.file;
    return `sqlite ${shown.startsWith("..") ? db.file : shown}`;
  }
  return `postgresql ${hostPort(db)}/${db.database ?? ""}`;
}

/** `host:port` of a PostgreSQL database (the socket folder for unix sockets). */
export function hostPort(db: DatabaseConfig): string {
  const host = db.host ?? "localhost";
  return host.includes(":") ? `[${host}]:${db.port}` : `${host}:${db.port}`;
}

/** Returns the URL with its database name replaced (for throwaway test databases). */
export function withDatabaseName(db: DatabaseConfig, name: string): string {
  if (db.kind === "sqlite") {
    if (!db.file) return db.url;
    const file = path.join(path.dirname(db.file), name.endsWith(".db") ? name : `${name}.db`);
    return `${db.scheme}:///${file}`;
  }
  const at = db.url.search(/[?#]/);
  const base = at >= 0 ? db.url.slice(0, at) : db.url;
  const suffix = at >= 0 ? db.url.slice(at) : "";
  const authority = base.match(/^[^:]+:\/\/[^/]*/)![0];
  return `${authority}/${encodeURIComponent(name)}${suffix}`;
}

/** Where a database setting came from, so errors name the variables to fix. */
export interface DatabaseOrigin {
  /** `DATABASE_URL (.env line 3)`, `POSTGRES_SERVER, POSTGRES_PORT, … (.env)`, `--db`. */
  label: string;
  /** The variables that say where the server is. */
  hostVars: string[];
  /** The variables that hold the login. */
  loginVars: string[];
  /** Where they are set: `.env line 3`, `the environment`, `the command line`. */
  where: string;
  /** Where the host and port variables are set (parts), else `where`. */
  hostWhere?: string;
  /** Where the password variable is set (parts), else `where`. */
  passwordWhere?: string;
  /** The password is a placeholder such as `changethis`. */
  placeholderPassword?: boolean;
  /** The variable holding the password (parts only). */
  passwordVar?: string;
}

// Printed hints are redacted like any output, so the example URL carries no password part.
const DB_FLAG = "rig run --db postgresql://USER@HOST:PORT/NAME";

/** How database operations reach PostgreSQL. */
export interface DatabaseOptions {
  /** A Python with psycopg (3) or psycopg2, normally the server's venv python. */
  python?: string;
  /** The environment for child processes (PATH is used to find psql). */
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Seconds to wait for a connection (default 5). */
  connectTimeout?: number;
  /** Where the settings came from (default: DATABASE_URL). */
  origin?: DatabaseOrigin;
}

/** What preparing a database did. */
export interface PrepareResult {
  /** The database did not exist before (SQLite: no file yet; PostgreSQL: created now). */
  created: boolean;
  /** PostgreSQL server version, when known. */
  serverVersion?: string;
}

/**
 * Makes the database usable and says whether it is new: a SQLite file's folder is
 * created; a PostgreSQL server must answer, and a missing database is created
 * through the `postgres` maintenance database.
 */
export async function createDatabase(
  db: DatabaseConfig,
  options: DatabaseOptions,
): Promise<PrepareResult> {
  if (db.kind === "sqlite") {
    if (!db.file) return { created: false };
    await Deno.mkdir(path.dirname(db.file), { recursive: true });
    return { created: !(exists(db.file)) };
  }
  const answer = await postgres(db, "create", options);
  return { created: answer.created === true, serverVersion: answer.version };
}

/** Drops the database when it exists (SQLite: removes the file and its journal files). */
export async function dropDatabase(db: DatabaseConfig, options: DatabaseOptions): Promise<void> {
  if (db.kind === "sqlite") {
    if (!db.file) return;
    for (const suffix of ["", "-journal", "-wal", "-shm"]) {
      await Deno.remove(db.file + suffix).catch(() => {});
    }
    return;
  }
  await postgres(db, "drop", options);
}

/** True when the database exists (PostgreSQL: the server must answer). */
export async function databaseExists(
  db: DatabaseConfig,
  options: DatabaseOptions,
): Promise<boolean> {
  if (db.kind === "sqlite") return db.file ? exists(db.file) : true;
  return (await postgres(db, "exists", options)).existed === true;
}

interface PgAnswer {
  ok: boolean;
  existed?: boolean;
  created?: boolean;
  version?: string;
  error?: string;
  problem?: "connect" | "auth" | "other";
}

// Runs in the server's Python; parameters arrive in RIG_PG so the password never shows in `ps`.
const PG_SCRIPT = `
import json, os, sys
p = json.loads(os.environ["RIG_PG"])
try:
    import psycopg as driver
    v3 = True
except ImportError:
    try:
        import psycopg2 as driver
        v3 = False
    except ImportError:
        sys.exit(97)
def connect(dbname):
    kw = dict(p["params"])
    kw.update(host=p["host"], port=p["port"], dbname=dbname, connect_timeout=p["timeout"])
    if p.get("user"): kw["user"] = p["user"]
    if p.get("password"): kw["password"] = p["password"]
    if v3:
        return driver.connect(autocommit=True, **kw)
    c = driver.connect(**kw)
    c.autocommit = True
    return c
def classify(e):
    m = str(e).lower()
    if "password" in m or "authentication" in m or "role" in m: return "auth"
    if "connect" in m or "refused" in m or "timeout" in m or "no such file" in m: return "connect"
    return "other"
try:
    try:
        conn = connect("postgres")
    except Exception as e:
        if 'database "postgres" does not exist' not in str(e): raise
        conn = connect("template1")
    cur = conn.cursor()
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (p["database"],))
    existed = cur.fetchone() is not None
    cur.execute("SHOW server_version")
    version = cur.fetchone()[0]
    created = False
    quoted = '"' + p["database"].replace('"', '""') + '"'
    if p["action"] == "create" and not existed:
        cur.execute("CREATE DATABASE " + quoted)
        created = True
    if p["action"] == "drop" and existed:
        sv = conn.info.server_version if v3 else conn.server_version
        force = " WITH (FORCE)" if sv >= 130000 else ""
        cur.execute("DROP DATABASE IF EXISTS " + quoted + force)
    conn.close()
    print(json.dumps({"ok": True, "existed": existed, "created": created, "version": version}))
except Exception as e:
    print(json.dumps({"ok": False, "error": str(e).strip(), "problem": classify(e)}))
    sys.exit(1)
`;

async function postgres(
  db: DatabaseConfig,
  action: "exists" | "create" | "drop",
  options: DatabaseOptions,
): Promise<PgAnswer> {
  if (!db.database) {
    throw new EnvironmentError(
      `DATABASE_URL "${maskUrl(db.url)}" names no database`,
      "Add the database name after the host: postgresql://USER@HOST:PORT/NAME",
    );
  }
  const host = db.host ?? "localhost";
  const port = db.port ?? 5432;
  const timeout = options.connectTimeout ?? 5;
  if (!host.startsWith("/") && !(await canConnect(host, port, timeout * 1000))) {
    throw notAnswering(db, undefined, options.origin);
  }
  let answer: PgAnswer | undefined;
  if (options.python) answer = await viaPython(db, action, options);
  answer ??= await viaPsql(db, action, options);
  if (!answer.ok) {
    const detail = maskPassword(answer.error ?? "unknown error", db);
    if (answer.problem === "connect") throw notAnswering(db, detail, options.origin);
    if (answer.problem === "auth") {
      const origin = options.origin;
      const login = origin ? origin.loginVars.join(" and ") : "DATABASE_URL";
      const placeholder = origin?.placeholderPassword
        ? `; ${origin.passwordVar ?? "the password"} is still a placeholder value (${
          origin.passwordWhere ?? origin.where
        })`
        : "";
      const fix = origin?.passwordVar
        ? `export ${origin.passwordVar}=<the real password> (or set it in ${
          (origin.passwordWhere ?? origin.where).replace(/ line \d+$/, "")
        })`
        : `fix the user and password in ${login}${origin ? ` (${origin.where})` : " (.env)"}`;
      throw new EnvironmentError(
        `PostgreSQL at "${hostPort(db)}" refused the login of user "${db.user ?? "(default)"}"${
          origin ? ` from ${origin.label}` : ""
        }: ${detail}${placeholder}`,
        `${fix[0]!.toUpperCase()}${fix.slice(1)}, or use another database: ${DB_FLAG}; ` +
          `or create the role: createuser -h ${host} -p ${port} --pwprompt ${db.user ?? "USER"}`,
      );
    }
    throw new RigError(
      `PostgreSQL at "${hostPort(db)}" failed to ${action} database "${db.database}": ${detail}`,
      `Check the role's rights (CREATEDB) or create it yourself: createdb -h ${host} -p ${port} ${db.database}`,
    );
  }
  return answer;
}

function notAnswering(
  db: DatabaseConfig,
  detail: string | undefined,
  origin: DatabaseOrigin | undefined,
): EnvironmentError {
  const port = db.port ?? 5432;
  const vars = origin ? origin.hostVars.join("/") : "DATABASE_URL";
  return new EnvironmentError(
    `PostgreSQL at "${hostPort(db)}" does not answer${origin ? ` (from ${origin.label})` : ""}${
      detail ? `: ${detail}` : ""
    }`,
    `Start it, e.g.: docker run -d --name pg -p ${port}:5432 -e POSTGRES_PASSWORD=postgres ` +
      `postgres:16 (or: sudo systemctl start postgresql); or point rig at a running server: ` +
      (origin?.label === "--db"
        ? ""
        : `set ${vars}${origin ? ` (${origin.hostWhere ?? origin.where})` : ""}, or `) +
      `${DB_FLAG} (SQLite: rig run --db sqlite:///data/dev.db)`,
  );
}

async function viaPython(
  db: DatabaseConfig,
  action: string,
  options: DatabaseOptions,
): Promise<PgAnswer | undefined> {
  const params = {
    action,
    host: db.host ?? "localhost",
    port: db.port ?? 5432,
    user: db.user,
    password: db.password,
    database: db.database,
    params: db.params,
    timeout: options.connectTimeout ?? 5,
  };
  const result = await run([options.python!, "-c", PG_SCRIPT], {
    env: { ...options.env, RIG_PG: JSON.stringify(params) },
    signal: options.signal,
    timeoutMs: ((options.connectTimeout ?? 5) + 25) * 1000,
  });
  if (result.code === 97) return undefined;
  const line = result.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as PgAnswer;
  } catch {
    return {
      ok: false,
      problem: "other",
      error: (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-5).join("\n"),
    };
  }
}

async function viaPsql(
  db: DatabaseConfig,
  action: string,
  options: DatabaseOptions,
): Promise<PgAnswer> {
  const psql = which("psql", options.env);
  if (!psql) {
    throw new EnvironmentError(
      `Cannot query PostgreSQL at "${
        hostPort(db)
      }": the server's Python has no psycopg and psql is not installed`,
      "Add psycopg[binary] to the server's requirements (then: rig install), or install psql: " +
        "apt-get install postgresql-client",
    );
  }
  const env: Record<string, string> = {
    ...options.env,
    PGCONNECT_TIMEOUT: String(options.connectTimeout ?? 5),
  };
  if (db.password) env.PGPASSWORD = db.password;
  if (db.params.sslmode) env.PGSSLMODE = db.params.sslmode;
  const base = [
    psql,
    "-X",
    "-A",
    "-t",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    db.host ?? "localhost",
    "-p",
    String(db.port ?? 5432),
    ...(db.user ? ["-U", db.user] : []),
    "-d",
    "postgres",
    "-w",
  ];
  const literal = `'${db.database!.replaceAll("'", "''")}'`;
  const ident = `"${db.database!.replaceAll('"', '""')}"`;
  const query = async (sql: string) => {
    const result = await run([...base, "-c", sql], {
      env,
      signal: options.signal,
      timeoutMs: 30_000,
    });
    if (!result.success) {
      const error = result.stderr.trim() || result.stdout.trim();
      const lower = error.toLowerCase();
      const problem = /password|authentication|role/.test(lower)
        ? "auth"
        : /could not connect|connection refused|timeout|no such file/.test(lower)
        ? "connect"
        : "other";
      return { error, problem } as const;
    }
    return { output: result.stdout.trim() };
  };
  const check = await query(
    `SELECT current_setting('server_version'), EXISTS (SELECT 1 FROM pg_database WHERE datname = ${literal})`,
  );
  if ("error" in check) return { ok: false, error: check.error, problem: check.problem };
  const [version, existedText] = check.output.split("|");
  const existed = existedText === "t";
  let created = false;
  if (action === "create" && !existed) {
    const made = await query(`CREATE DATABASE ${ident}`);
    if ("error" in made) return { ok: false, error: made.error, problem: made.problem };
    created = true;
  }
  if (action === "drop" && existed) {
    const dropped = await query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
    if ("error" in dropped) return { ok: false, error: dropped.error, problem: dropped.problem };
  }
  return { ok: true, existed, created, version };
}
