import assert from "node:assert/strict";
import {
  createDatabase,
  databaseExists,
  describeDatabase,
  dropDatabase,
  maskPassword,
  maskUrl,
  parseDatabaseUrl,
  prepareDatabase,
  withDatabaseName,
} from "../lib/database.ts";
import { EnvironmentError } from "../lib/errors.ts";
import { freePort } from "../lib/net.ts";
import { baseEnv, tempDir } from "./helpers.ts";
import { startPostgres } from "./pg.ts";

Deno.test("parseDatabaseUrl resolves relative SQLite paths against the server folder", () => {
  const db = parseDatabaseUrl("sqlite:///data/dev.db", { baseDir: "/srv/app/server" });
  assert.equal(db.kind, "sqlite");
  assert.equal(db.file, "/srv/app/server/data/dev.db");
  assert.equal(db.resolvedUrl, "sqlite:////srv/app/server/data/dev.db");
  assert.equal(describeDatabase(db, { baseDir: "/srv/app/server" }), "sqlite data/dev.db");
  const absolute = parseDatabaseUrl("sqlite:////var/db/x.db?timeout=5", { baseDir: "/srv" });
  assert.equal(absolute.file, "/var/db/x.db");
  assert.equal(absolute.resolvedUrl, "sqlite:////var/db/x.db?timeout=5");
  const memory = parseDatabaseUrl("sqlite:///:memory:", { baseDir: "/srv" });
  assert.equal(memory.file, undefined);
  assert.equal(parseDatabaseUrl("sqlite+pysqlite:///a.db", { baseDir: "/b" }).file, "/b/a.db");
});

Deno.test("parseDatabaseUrl reads every PostgreSQL scheme and decodes credentials", () => {
  for (const scheme of ["postgresql", "postgresql+psycopg", "postgres", "postgresql+psycopg2"]) {
    const db = parseDatabaseUrl(`${scheme}://app:p%40ss@db.local:6543/auth?sslmode=disable`, {
      baseDir: "/x",
    });
    assert.equal(db.kind, "postgresql");
    assert.equal(db.scheme, scheme);
    assert.equal(db.host, "db.local");
    assert.equal(db.port, 6543);
    assert.equal(db.user, "app");
    assert.equal(db.password, "p@ss");
    assert.equal(db.database, "auth");
    assert.deepEqual(db.params, { sslmode: "disable" });
  }
  const defaults = parseDatabaseUrl("postgresql:///auth", { baseDir: "/x" });
  assert.equal(defaults.host, "localhost");
  assert.equal(defaults.port, 5432);
  const socket = parseDatabaseUrl("postgresql:///auth?host=/run/pg", { baseDir: "/x" });
  assert.equal(socket.host, "/run/pg");
  assert.deepEqual(socket.params, {});
});

Deno.test("parseDatabaseUrl rejects other databases naming what is supported", () => {
  assert.throws(
    () => parseDatabaseUrl("mysql://root:secret@localhost/app", { baseDir: "/x" }),
    (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.equal(error.exitCode, 3);
      assert.match(error.message, /Unsupported database "mysql"/);
      assert.doesNotMatch(error.message, /secret/);
      assert.match(error.hint!, /SQLite .* PostgreSQL/);
      return true;
    },
  );
  assert.throws(() => parseDatabaseUrl("not a url", { baseDir: "/x" }), EnvironmentError);
});

Deno.test("maskUrl and maskPassword never show the password", () => {
  assert.equal(maskUrl("postgresql://app:s3cret@h:5432/db"), "postgresql://app:***@h:5432/db");
  assert.equal(maskUrl("sqlite:///data/dev.db"), "sqlite:///data/dev.db");
  assert.equal(maskUrl("postgresql://app@h/db"), "postgresql://app@h/db");
  const db = parseDatabaseUrl("postgresql://app:p%40ss@h/db", { baseDir: "/x" });
  assert.equal(
    maskPassword("failed for postgresql://app:p%40ss@h/db with p@ss", db),
    "failed for postgresql://app:***@h/db with ***",
  );
});

Deno.test("withDatabaseName swaps only the database name", () => {
  const pg = parseDatabaseUrl("postgresql+psycopg://u:p@h:1/app?sslmode=disable", {
    baseDir: "/x",
  });
  assert.equal(
    withDatabaseName(pg, "app_test_1"),
    "postgresql+psycopg://u:p@h:1/app_test_1?sslmode=disable",
  );
  const lite = parseDatabaseUrl("sqlite:///data/dev.db", { baseDir: "/srv" });
  assert.equal(withDatabaseName(lite, "test"), "sqlite:////srv/data/test.db");
});

Deno.test("prepareDatabase creates the SQLite folder and reports a new database", async () => {
  await using dir = await tempDir();
  const db = parseDatabaseUrl("sqlite:///data/nested/dev.db", { baseDir: dir.path });
  const first = await prepareDatabase(db, { env: baseEnv() });
  assert.equal(first.created, true);
  assert.ok(Deno.statSync(dir.join("data", "nested")).isDirectory);
  await Deno.writeTextFile(db.file!, "");
  assert.equal((await prepareDatabase(db, { env: baseEnv() })).created, false);
  assert.equal(await databaseExists(db, { env: baseEnv() }), true);
  await dropDatabase(db, { env: baseEnv() });
  assert.equal(await databaseExists(db, { env: baseEnv() }), false);
});

Deno.test("prepareDatabase names host and port and the start command when PostgreSQL is down", async () => {
  const port = freePort();
  const db = parseDatabaseUrl(`postgresql://app:hunter2@127.0.0.1:${port}/auth`, {
    baseDir: "/x",
  });
  await assert.rejects(
    () => prepareDatabase(db, { env: baseEnv(), connectTimeout: 1 }),
    (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.message, new RegExp(`"127\\.0\\.0\\.1:${port}" does not answer`));
      assert.match(error.hint!, /docker run .* postgres/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /hunter2/);
      return true;
    },
  );
});

Deno.test("createDatabase and dropDatabase work on a real PostgreSQL through psql", async () => {
  await using pg = await startPostgres();
  if (!pg) return;
  const env = baseEnv();
  const db = parseDatabaseUrl(pg.url("rig_psql_test"), { baseDir: "/x" });
  assert.equal(await databaseExists(db, { env }), false);
  const made = await createDatabase(db, { env });
  assert.equal(made.created, true);
  assert.match(made.serverVersion ?? "", /^15/);
  assert.equal((await createDatabase(db, { env })).created, false);
  assert.equal(await databaseExists(db, { env }), true);
  await dropDatabase(db, { env });
  assert.equal(await databaseExists(db, { env }), false);
  const weird = parseDatabaseUrl(pg.url(`it's "odd"`), { baseDir: "/x" });
  assert.equal((await createDatabase(weird, { env })).created, true);
  await dropDatabase(weird, { env });
});
