import assert from "node:assert/strict";
import { exists } from "../lib/fs.ts";
import {
  createDatabase,
  databaseExists,
  describeDatabase,
  dropDatabase,
  maskPassword,
  maskUrl,
  parseDatabaseUrl,
  withDatabaseName,
} from "../lib/db/database.ts";
import * as path from "node:path";
import {
  alembicCurrent,
  alembicHeads,
  MigrationError,
  migrationStatus,
  quickSqliteStatus,
  requireSingleHead,
  upgrade,
} from "../lib/db/alembic.ts";
import { EnvironmentError } from "../lib/errors.ts";
import { run } from "../lib/proc.ts";
import { freePort } from "../lib/net.ts";
import { baseEnv, tempDir, writeFiles } from "./helpers.ts";
import { PG_MISSING, startPostgres } from "./pg.ts";

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

Deno.test("createDatabase creates the SQLite folder and reports a new database", async () => {
  await using dir = await tempDir();
  const db = parseDatabaseUrl("sqlite:///data/nested/dev.db", { baseDir: dir.path });
  const first = await createDatabase(db, { env: baseEnv() });
  assert.equal(first.created, true);
  assert.ok(Deno.statSync(dir.join("data", "nested")).isDirectory);
  await Deno.writeTextFile(db.file!, "");
  assert.equal((await createDatabase(db, { env: baseEnv() })).created, false);
  assert.equal(await databaseExists(db, { env: baseEnv() }), true);
  await dropDatabase(db, { env: baseEnv() });
  assert.equal(await databaseExists(db, { env: baseEnv() }), false);
});

Deno.test("createDatabase names host and port and the start command when PostgreSQL is down", async () => {
  const port = freePort();
  const db = parseDatabaseUrl(`postgresql://app:hunter2@127.0.0.1:${port}/auth`, {
    baseDir: "/x",
  });
  await assert.rejects(
    () => createDatabase(db, { env: baseEnv(), connectTimeout: 1 }),
    (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.message, new RegExp(`"127\\.0\\.0\\.1:${port}" does not answer`));
      assert.match(error.hint!, /docker run .* postgres/);
      assert.doesNotMatch(`${error.message} ${error.hint}`, /hunter2/);
      return true;
    },
  );
});

Deno.test({
  name: "createDatabase and dropDatabase work on a real PostgreSQL through psql",
  ignore: PG_MISSING !== undefined,
  async fn() {
    await using pg = await startPostgres();
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
  },
});

const ALEMBIC_INI = `[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .

[loggers]
keys = root,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
`;

const ENV_PY = `import os
from logging.config import fileConfig
from alembic import context
from sqlalchemy import create_engine, pool

fileConfig(context.config.config_file_name)
engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
`;

function revision(id: string, down: string | null, body: string, message = id): string {
  return `"""${message}"""
from alembic import op
import sqlalchemy as sa

revision = "${id}"
down_revision = ${down ? `"${down}"` : "None"}
branch_labels = None
depends_on = None


def upgrade():
${body.split("\n").map((l) => `    ${l}`).join("\n")}


def downgrade():
    pass
`;
}

/** A tiny Alembic project with two good revisions. */
async function alembicFixture(dir: string): Promise<void> {
  await writeFiles(dir, {
    "alembic.ini": ALEMBIC_INI,
    "migrations/env.py": ENV_PY,
    "migrations/versions/0001_users.py": revision(
      "0001",
      null,
      'op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))',
      "create users",
    ),
    "migrations/versions/0002_email.py": revision(
      "0002",
      "0001",
      'op.add_column("users", sa.Column("email", sa.String(200)))',
      "add email",
    ),
  });
}

async function sqliteTables(file: string): Promise<string> {
  const out = await run([
    "python3",
    "-c",
    "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); " +
    "print(sorted(r[0] for r in c.execute(\"select name from sqlite_master where type='table'\")), " +
    "[r[0] for r in c.execute('select version_num from alembic_version')])",
    file,
  ], { env: baseEnv() });
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.trim();
}

Deno.test({
  name: "alembic migrations upgrade, skip when at head, refuse two heads and restore SQLite",
  async fn(t) {
    await using venvDir = await tempDir("rig-alembic-venv-");
    const env = baseEnv();
    const made = await run(["python3", "-m", "venv", venvDir.path], { env });
    assert.equal(made.code, 0, made.stderr);
    const python = path.join(venvDir.path, "bin", "python");
    const pip = await run(
      [python, "-m", "pip", "install", "-q", "alembic", "sqlalchemy", "psycopg[binary]"],
      { env: { ...env, PIP_DISABLE_PIP_VERSION_CHECK: "1" }, timeoutMs: 300_000 },
    );
    assert.equal(pip.code, 0, pip.stderr);
    await using project = await tempDir();
    await alembicFixture(project.path);
    const db = parseDatabaseUrl("sqlite:///data/app.db", { baseDir: project.path });
    const options = { python, env: { ...env, DATABASE_URL: db.resolvedUrl } };

    await t.step("a fresh database is behind and upgrades to head", async () => {
      await createDatabase(db, { env });
      const before = await migrationStatus(project.path, options);
      assert.deepEqual(before, { heads: ["0002"], current: [], upToDate: false });
      const result = await upgrade(project.path, { ...options, sqliteFile: db.file });
      assert.deepEqual(result.applied.map((s) => `${s.from}->${s.to}:${s.message}`), [
        "->0001:create users",
        "0001->0002:add email",
      ]);
      const after = await migrationStatus(project.path, {
        ...options,
        databaseUrl: db.resolvedUrl,
      });
      assert.deepEqual(after, { heads: ["0002"], current: ["0002"], upToDate: true });
      assert.deepEqual(await quickSqliteStatus(project.path, db.file!), after);
      assert.deepEqual(await alembicHeads(project.path, options), ["0002"]);
      assert.deepEqual(await alembicCurrent(project.path, options), ["0002"]);
      assert.equal(exists(`${db.file}.rig-backup`), false);
    });

    await t.step(
      "a failing migration names the revision and restores the SQLite file",
      async () => {
        await project.write({
          "migrations/versions/0003_broken.py": revision(
            "0003",
            "0002",
            'op.create_table("half", sa.Column("id", sa.Integer, primary_key=True))\n' +
              'op.execute("THIS IS NOT SQL")',
            "broken step",
          ),
        });
        const before = await sqliteTables(db.file!);
        await assert.rejects(
          () => upgrade(project.path, { ...options, sqliteFile: db.file, root: project.path }),
          (error: unknown) => {
            assert.ok(error instanceof MigrationError);
            assert.equal(error.exitCode, 1);
            assert.equal(error.failed?.to, "0003");
            assert.match(error.message, /Migration "0003" failed \(0002 -> 0003: broken step\)/);
            assert.match(error.message, /THIS IS NOT SQL/);
            assert.match(error.message, /Restored "app.db"/);
            assert.match(error.hint!, /0003_broken\.py.*alembic history/);
            return true;
          },
        );
        assert.equal(await sqliteTables(db.file!), before);
        assert.match(before, /\['alembic_version', 'users'\] \['0002'\]/);
        assert.equal(exists(`${db.file}.rig-backup`), false);
      },
    );

    await t.step("a failed upgrade of a new SQLite database removes the partial file", async () => {
      const fresh = parseDatabaseUrl("sqlite:///data/fresh.db", { baseDir: project.path });
      await assert.rejects(
        () =>
          upgrade(project.path, {
            ...options,
            env: { ...env, DATABASE_URL: fresh.resolvedUrl },
            sqliteFile: fresh.file,
          }),
        /Removed the partly migrated new database "fresh.db"/,
      );
      assert.equal(exists(fresh.file!), false);
    });

    await t.step("two heads are refused with the merge command", async () => {
      await Deno.remove(project.join("migrations/versions/0003_broken.py"));
      await project.write({
        "migrations/versions/0003a.py": revision("0003a", "0002", "pass"),
        "migrations/versions/0003b.py": revision("0003b", "0002", "pass"),
      });
      const status = await migrationStatus(project.path, options);
      assert.deepEqual(status.heads.sort(), ["0003a", "0003b"]);
      const quick = await quickSqliteStatus(project.path, db.file!);
      assert.deepEqual(quick, { heads: ["0003a", "0003b"], current: ["0002"], upToDate: false });
      assert.throws(
        () => requireSingleHead(status.heads.sort(), { dir: project.path, root: project.path }),
        (error: unknown) => {
          assert.ok(error instanceof MigrationError);
          assert.match(error.message, /have 2 heads: "0003a", "0003b"/);
          assert.equal(
            error.hint,
            'Merge them into one: cd . && alembic merge -m "merge heads" 0003a 0003b',
          );
          return true;
        },
      );
      await Deno.remove(project.join("migrations/versions/0003a.py"));
      await Deno.remove(project.join("migrations/versions/0003b.py"));
    });

    await t.step({
      name: "PostgreSQL: create the database, migrate, and see it at head",
      ignore: PG_MISSING !== undefined,
      async fn() {
        await using pg = await startPostgres();
        const pgDb = parseDatabaseUrl(pg.url("alembic_test", "postgresql+psycopg"), {
          baseDir: project.path,
        });
        const made = await createDatabase(pgDb, { python, env });
        assert.equal(made.created, true);
        const pgOptions = { python, env: { ...env, DATABASE_URL: pgDb.resolvedUrl } };
        const result = await upgrade(project.path, pgOptions);
        assert.equal(result.applied.length, 2);
        const status = await migrationStatus(project.path, {
          ...pgOptions,
          databaseUrl: pg.url("alembic_test"),
        });
        assert.equal(status.upToDate, true);
        assert.equal((await createDatabase(pgDb, { python, env })).created, false);
        await dropDatabase(pgDb, { python, env });
        assert.equal(await databaseExists(pgDb, { python, env }), false);
      },
    });
  },
});
