/**
 * Where a project's database is configured: `--db URL`, a `DATABASE_URL`, or
 * parts the app assembles itself (`POSTGRES_SERVER|POSTGRES_HOST`,
 * `POSTGRES_PORT`, `POSTGRES_USER`, `POSTGRES_PASSWORD`, `POSTGRES_DB`, or the
 * `DB_HOST`… family). Says where each came from, refuses parts that contradict
 * the URL, and turns another database (a `--db` URL, a throwaway test
 * database) into overrides of the very variables the project reads.
 */
import { EnvironmentError } from "../errors.ts";
import { isPlaceholder } from "../env/sources.ts";
import {
  type DatabaseConfig,
  type DatabaseOrigin,
  describeDatabase,
  hostPort,
  maskUrl,
  parseDatabaseUrl,
  withDatabaseName,
} from "./database.ts";

/** The variables of one family of database parts. */
export interface PartsFamily {
  /** `POSTGRES` or `DB`. */
  name: string;
  /** Host variables, the first one set wins. */
  host: string[];
  port: string;
  user: string;
  password: string;
  database: string;
}

/** The families rig reads, in order. */
export const PART_FAMILIES: PartsFamily[] = [
  {
    name: "POSTGRES",
    host: ["POSTGRES_SERVER", "POSTGRES_HOST"],
    port: "POSTGRES_PORT",
    user: "POSTGRES_USER",
    password: "POSTGRES_PASSWORD",
    database: "POSTGRES_DB",
  },
  {
    name: "DB",
    host: ["DB_HOST"],
    port: "DB_PORT",
    user: "DB_USER",
    password: "DB_PASSWORD",
    database: "DB_NAME",
  },
];

/** The URL variable rig reads. */
export const URL_VARIABLE = "DATABASE_URL";

/** The variables a hint names: what rig reads to find a database. */
export const DATABASE_VARIABLES = `${URL_VARIABLE}, or POSTGRES_SERVER/POSTGRES_PORT/` +
  "POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB (or DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME)";

/** Describes a variable's source for messages: `.env line 3`, `the environment`. */
export type SourceOf = (key: string) => string | undefined;

/** A project's database and how the project spells it. */
export interface ResolvedDatabase {
  db: DatabaseConfig;
  origin: DatabaseOrigin;
  /** The URL variable the project sets, when it does. */
  urlKey?: string;
  /** The parts family the project sets, and which host variable it uses. */
  parts?: { family: PartsFamily; hostKey: string };
}

interface FoundParts {
  family: PartsFamily;
  hostKey: string;
  host: string;
  port?: string;
  user?: string;
  password?: string;
  database?: string;
  keys: string[];
}

function findParts(values: Record<string, string>): FoundParts | undefined {
  for (const family of PART_FAMILIES) {
    const hostKey = family.host.find((k) => values[k]);
    if (!hostKey) continue;
    const get = (k: string) => values[k] || undefined;
    const keys = [hostKey, family.port, family.user, family.password, family.database].filter(
      (k) => get(k) !== undefined,
    );
    return {
      family,
      hostKey,
      host: values[hostKey]!,
      port: get(family.port),
      user: get(family.user),
      password: get(family.password),
      database: get(family.database),
      keys,
    };
  }
  return undefined;
}

function partsUrl(parts: FoundParts): string {
  const auth = parts.user
    ? `${encodeURIComponent(parts.user)}${
      parts.password ? `:${encodeURIComponent(parts.password)}` : ""
    }@`
    : "";
  const host = parts.host.includes(":") ? `[${parts.host}]` : parts.host;
  return `postgresql://${auth}${host}:${parts.port ?? "5432"}/${
    encodeURIComponent(parts.database ?? "")
  }`;
}

/** `.env`, or `POSTGRES_PASSWORD: the environment; POSTGRES_SERVER, POSTGRES_DB: .env`. */
function whereOf(keys: string[], sourceOf: SourceOf): string {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const place = (sourceOf(key) ?? "the environment").replace(/ line \d+$/, "");
    groups.set(place, [...(groups.get(place) ?? []), key]);
  }
  if (groups.size === 1) return [...groups.keys()][0]!;
  return [...groups].map(([place, list]) => `${list.join(", ")}: ${place}`).join("; ");
}

/**
 * Finds the database: `flag` (`--db`) > `DATABASE_URL` > parts. Parts that
 * name another server or database than `DATABASE_URL` are an EnvironmentError.
 * Undefined when the project configures none.
 */
export function resolveDatabase(
  values: Record<string, string>,
  opts: { flag?: string; baseDir: string; sourceOf: SourceOf },
): ResolvedDatabase | undefined {
  const { sourceOf } = opts;
  const url = values[URL_VARIABLE] || undefined;
  const parts = findParts(values);
  const fileOf = (key: string) => sourceOf(key)?.replace(/ line \d+$/, "") ?? "the environment";
  if (parts && parts.database === undefined) {
    throw new EnvironmentError(
      `${parts.hostKey} is set (${
        sourceOf(parts.hostKey) ?? "the environment"
      }) but ${parts.family.database} is not: rig cannot tell which database the app uses`,
      `Set ${parts.family.database}=NAME in ${
        fileOf(parts.hostKey)
      } or export it, or give a URL: rig run --db postgresql://USER@HOST:PORT/NAME`,
    );
  }
  const fromParts = parts
    ? parseDatabaseUrl(partsUrl(parts), { baseDir: opts.baseDir })
    : undefined;
  const fromUrl = url ? parseDatabaseUrl(url, { baseDir: opts.baseDir }) : undefined;
  if (fromUrl && fromParts) checkAgreement(fromUrl, fromParts, parts!, sourceOf);
  const spelled = {
    urlKey: fromUrl ? URL_VARIABLE : undefined,
    parts: parts ? { family: parts.family, hostKey: parts.hostKey } : undefined,
  };
  if (opts.flag) {
    const db = parseDatabaseUrl(opts.flag, { baseDir: opts.baseDir });
    return {
      db,
      ...spelled,
      origin: {
        label: "--db",
        hostVars: ["--db"],
        loginVars: ["--db"],
        where: "the command line",
      },
    };
  }
  if (fromUrl) {
    const where = sourceOf(URL_VARIABLE) ?? "the environment";
    return {
      db: fromUrl,
      ...spelled,
      origin: {
        label: `${URL_VARIABLE} (${where})`,
        hostVars: [URL_VARIABLE],
        loginVars: [URL_VARIABLE],
        where,
        placeholderPassword: fromUrl.password !== undefined && isPlaceholder(fromUrl.password),
      },
    };
  }
  if (parts && fromParts) {
    const where = whereOf(parts.keys, sourceOf);
    // One place: name the variables; several: the breakdown names them already.
    const label = where.includes(": ")
      ? `${parts.family.name}_* parts (${where})`
      : `${parts.keys.join(", ")} (${where})`;
    return {
      db: fromParts,
      ...spelled,
      origin: {
        label,
        hostVars: [parts.hostKey, parts.family.port],
        loginVars: [parts.family.user, parts.family.password],
        where,
        placeholderPassword: parts.password !== undefined && isPlaceholder(parts.password),
        passwordVar: parts.family.password,
        hostWhere: whereOf([parts.hostKey, parts.family.port].filter((k) => values[k]), sourceOf),
        passwordWhere: sourceOf(parts.family.password) ?? "the environment",
      },
    };
  }
  return undefined;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1"]);

function sameHost(a: string | undefined, b: string | undefined): boolean {
  const x = (a ?? "localhost").toLowerCase();
  const y = (b ?? "localhost").toLowerCase();
  return x === y || (LOOPBACK.has(x) && LOOPBACK.has(y));
}

function checkAgreement(
  url: DatabaseConfig,
  parts: DatabaseConfig,
  found: FoundParts,
  sourceOf: SourceOf,
): void {
  const f = found.family;
  const differences: string[] = [];
  if (url.kind !== "postgresql") {
    differences.push(`${URL_VARIABLE} is ${url.kind}, the parts describe PostgreSQL`);
  } else {
    if (!sameHost(url.host, parts.host)) {
      differences.push(`host "${url.host}" vs ${found.hostKey}="${parts.host}"`);
    }
    if (url.port !== parts.port) differences.push(`port ${url.port} vs ${f.port}=${parts.port}`);
    if (found.user !== undefined && url.user !== found.user) {
      differences.push(`user "${url.user ?? ""}" vs ${f.user}="${found.user}"`);
    }
    if (url.database !== parts.database) {
      differences.push(`database "${url.database ?? ""}" vs ${f.database}="${parts.database}"`);
    }
    if (found.password !== undefined && url.password !== found.password) {
      differences.push(`the passwords differ (${f.password})`);
    }
  }
  if (differences.length === 0) return;
  const where = (key: string) => sourceOf(key) ?? "the environment";
  throw new EnvironmentError(
    `${URL_VARIABLE} (${where(URL_VARIABLE)}) and ${found.keys.join(", ")} (${
      whereOf(found.keys, sourceOf)
    }) name different databases: ${differences.join("; ")}`,
    `Make them agree or remove one of them (the app may read either), or choose for this run: ` +
      `rig run --db ${maskUrl(url.url)}`,
  );
}

/**
 * The variables to set so the app (and Alembic) use `db`, spelled the way the
 * project spells its database: the URL, the parts, or both; `DATABASE_URL`
 * when the project names none.
 */
export function databaseOverrides(
  resolved: Pick<ResolvedDatabase, "urlKey" | "parts"> | undefined,
  db: DatabaseConfig,
): Record<string, string> {
  const out: Record<string, string> = {};
  const urlKey = resolved?.urlKey ?? (resolved?.parts ? undefined : URL_VARIABLE);
  if (urlKey) out[urlKey] = db.resolvedUrl;
  const parts = resolved?.parts;
  if (parts && db.kind !== "postgresql" && !urlKey) {
    throw new EnvironmentError(
      `The app reads its database from ${parts.hostKey}, ${parts.family.database}, …, which ` +
        `cannot name a ${db.kind} database`,
      "Give a PostgreSQL URL: rig run --db postgresql://USER@HOST:PORT/NAME",
    );
  }
  if (parts && db.kind === "postgresql") {
    out[parts.hostKey] = db.host ?? "localhost";
    out[parts.family.port] = String(db.port ?? 5432);
    if (db.user !== undefined) out[parts.family.user] = db.user;
    if (db.password !== undefined) out[parts.family.password] = db.password;
    out[parts.family.database] = db.database ?? "";
  }
  return out;
}

/** The same server with another database name (throwaway test databases). */
export function renameDatabase(db: DatabaseConfig, name: string): DatabaseConfig {
  return parseDatabaseUrl(withDatabaseName(db, name), { baseDir: "/" });
}

/** `postgresql 127.0.0.1:5432/app from POSTGRES_SERVER, … (.env)`, for run and info. */
export function describeResolved(
  resolved: ResolvedDatabase,
  opts: { baseDir?: string } = {},
): string {
  return `${describeDatabase(resolved.db, opts)} from ${resolved.origin.label}`;
}

/** `host:port` and name for error messages. */
export function databaseLocation(db: DatabaseConfig): string {
  return db.kind === "sqlite" ? describeDatabase(db) : `${hostPort(db)}/${db.database ?? ""}`;
}
