/**
 * A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temp folder,
 * listening on 127.0.0.1 on a free port with trust authentication, its unix
 * socket inside the temp folder. As root the server runs as user `postgres`.
 *
 *   Deno.test({ name, ignore: PG_MISSING !== undefined, async fn() {
 *     await using pg = await startPostgres();
 *     const url = pg.url("app");
 *   } });
 *
 * Where PostgreSQL is missing the test is reported as ignored, with the reason
 * printed once.
 */
import * as path from "node:path";
import { freePort } from "./helpers.ts";

/** Where Debian's PostgreSQL server binaries live: the newest version installed (RIG_PG_BIN overrides). */
export const PG_BIN = Deno.env.get("RIG_PG_BIN") ?? newestDebianPostgres();

function newestDebianPostgres(): string {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((entry) => entry.name)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return `/usr/lib/postgresql/${versions[0]}/bin`;
  } catch {
    // Not Debian's layout; the skip reason says what is missing.
  }
  return "/usr/lib/postgresql/15/bin";
}

/** A running test PostgreSQL server; disposing it stops it and removes its files. */
export interface PgServer extends AsyncDisposable {
  host: string;
  port: number;
  /** The superuser to connect as. */
  user: string;
  /** Its password, when the server was started with one. */
  password?: string;
  /** A connection URL for `database` (scheme default `postgresql`). */
  url(database: string, scheme?: string): string;
  stop(): Promise<void>;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresSkipReason(): string | undefined {
  for (const tool of ["initdb", "pg_ctl", "postgres"]) {
    try {
      Deno.statSync(path.join(PG_BIN, tool));
    } catch {
      return `PostgreSQL binaries not found in "${PG_BIN}" (missing ${tool}); set RIG_PG_BIN`;
    }
  }
  if (Deno.uid() === 0 && osUser("postgres") === undefined) {
    return `Running as root but there is no "postgres" user to run the server as`;
  }
  return undefined;
}

/** Why PostgreSQL tests are ignored on this machine (printed once), or undefined. */
export const PG_MISSING: string | undefined = postgresSkipReason();
if (PG_MISSING) console.log(`ignoring the PostgreSQL tests: ${PG_MISSING}`);

/**
 * Starts a fresh PostgreSQL server (ignore the test with `PG_MISSING` where it cannot).
 * With `password`, TCP logins need it (scram-sha-256); the unix socket stays trusted.
 */
export async function startPostgres(options: { password?: string } = {}): Promise<PgServer> {
  if (PG_MISSING) throw new Error(`PostgreSQL is not available: ${PG_MISSING}`);
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rig-pg-" }));
  const asRoot = Deno.uid() === 0;
  const owner = asRoot ? osUser("postgres")! : undefined;
  if (owner) await Deno.chown(dir, owner.uid, owner.gid);
  const prefix = asRoot ? ["runuser", "-u", "postgres", "--"] : [];
  const data = path.join(dir, "data");
  const port = freePort();
  const exec = async (argv: string[]) => {
    const [program, ...args] = [...prefix, ...argv];
    const out = await new Deno.Command(program!, {
      args,
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C.UTF-8", LANG: "C.UTF-8" },
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      throw new Error(`${argv.join(" ")} failed:\n${text}`);
    }
  };
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await exec([path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"])
        .catch((error) => console.error(`could not stop test PostgreSQL: ${error}`));
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const auth = ["-A", "trust"];
  if (options.password !== undefined) {
    const pwfile = path.join(dir, "pwfile");
    await Deno.writeTextFile(pwfile, options.password + "\n");
    if (owner) await Deno.chown(pwfile, owner.uid, owner.gid);
    auth.splice(0, 2, "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
  }
  try {
    await exec([
      path.join(PG_BIN, "initdb"),
      "-D",
      data,
      ...auth,
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    started = true;
    await exec([
      path.join(PG_BIN, "pg_ctl"),
      "-D",
      data,
      "-l",
      path.join(dir, "server.log"),
      "-w",
      "-t",
      "30",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host: "127.0.0.1",
    port,
    user: "postgres",
    password: options.password,
    url: (database, scheme = "postgresql") =>
      `${scheme}://postgres${
        options.password === undefined ? "" : `:${encodeURIComponent(options.password)}`
      }@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function osUser(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const [user, , uid, gid] = line.split(":");
      if (user === name) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // No passwd file: not a Unix system we can run PostgreSQL tests on.
  }
  return undefined;
}
