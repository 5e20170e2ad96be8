/**
 * The second reference project (examples/fullstack) end to end on real
 * PostgreSQL: configured only by POSTGRES_* parts in a tracked `.env` with
 * placeholder values, seeded by a prestart step. `rig run` creates, migrates,
 * seeds and serves it; `rig test` runs on a throwaway database whose fixtures
 * delete everything, and the developer's database, the tracked `.env` and
 * `git status` are unchanged afterwards. Bad settings are exit 3 with fixes.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePort } from "../../lib/net.ts";
import { run, which } from "../../lib/proc.ts";
import {
  baseEnv,
  copyReferenceProject,
  git,
  rigProcess,
  spawnRig,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import { PG_BIN, PG_MISSING, startPostgres } from "../pg.ts";

const PASSWORD = "s3cret-pg-pw";
const SKIP = PG_MISSING ??
  (which("uv", baseEnv()) ? undefined : "uv is not installed (.ci/run installs it)");
if (SKIP) console.log(`skipping examples/fullstack database tests: ${SKIP}`);

/** A git repository holding the tracked files of examples/fullstack, plus a test that wipes every table. */
async function copyFullstack(dest: string): Promise<string> {
  await copyReferenceProject(dest, "fullstack");
  await Deno.writeTextFile(
    path.join(dest, "backend", "tests", "test_wipe.py"),
    `"""Deletes every row of every table: rig test must never run this on the dev database."""

from sqlalchemy.orm import Session

from app.models import Base


def test_wipe_everything(db: Session) -> None:
    for table in reversed(Base.metadata.sorted_tables):
        db.execute(table.delete())
    db.commit()
`,
  );
  // test_prestart runs on the migrated test database before the tests; a test proves it did.
  await Deno.writeTextFile(
    path.join(dest, "rig.toml"),
    (await Deno.readTextFile(path.join(dest, "rig.toml"))) +
      `test_prestart = ["python -c 'from tests.seed import seed; seed()'"]\n`,
  );
  await Deno.writeTextFile(
    path.join(dest, "backend", "tests", "seed.py"),
    `from app import crud
from app.core.db import SessionLocal


def seed() -> None:
    with SessionLocal() as session:
        crud.create_user(session=session, email="prestart@example.com", password="a-long-password")
`,
  );
  await Deno.writeTextFile(
    path.join(dest, "backend", "tests", "test_a_prestart.py"),
    `from sqlalchemy.orm import Session

from app import crud


def test_test_prestart_seeded_this_database(db: Session) -> None:
    assert crud.get_user_by_email(session=db, email="prestart@example.com") is not None
`,
  );
  await git(dest, "init", "-q");
  await git(dest, "add", "-A");
  await git(dest, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init");
  return dest;
}

/** rig install put the backend's dev group and its workspace library into the workspace venv. */
async function assertBackendVenv(root: string): Promise<void> {
  const python = path.join(root, ".venv", "bin", "python");
  const probe = await run([python, "-c", "import notes_core, pytest, httpx, app"], {
    cwd: path.join(root, "backend"),
    env: baseEnv(),
  });
  assert.ok(probe.success, probe.stderr);
}

async function psql(pg: { port: number }, database: string, sql: string): Promise<string> {
  const out = await run(
    [path.join(PG_BIN, "psql"), "-X", "-At", "-h", "127.0.0.1", "-p", String(pg.port), "-U"]
      .concat(["postgres", "-d", database, "-c", sql]),
    { env: { ...baseEnv(), PGPASSWORD: PASSWORD } },
  );
  assert.ok(out.success, out.stderr);
  return out.stdout.trim();
}

async function waitForOutput(
  child: Deno.ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<{ match: RegExpMatchArray; output: () => string; done: Promise<void> }> {
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const done = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {});
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  child.status.then(() => (exited = true));
  while (performance.now() < deadline) {
    const match = text.match(pattern);
    if (match) return { match, output: () => text, done };
    if (exited) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`rig run output never matched ${pattern}:\n${text}`);
}

testWithProcesses({
  name: "a project configured by POSTGRES_* parts runs, seeds and tests on a throwaway database",
  ignore: SKIP !== undefined,
  async fn(t) {
    await using dir = await tempDir("rig-fullstack-db-");
    await using pg = await startPostgres({ password: PASSWORD });
    const root = await copyFullstack(dir.join("fullstack"));
    const trackedEnv = await Deno.readFile(path.join(root, ".env"));
    // The tracked .env says localhost:5432 and "changethis": the environment wins over it.
    const env = {
      NO_COLOR: "1",
      POSTGRES_SERVER: "127.0.0.1",
      POSTGRES_PORT: String(pg.port),
      POSTGRES_PASSWORD: PASSWORD,
    };

    await t.step("rig install sets up the backend", async () => {
      const install = await rigProcess(["-C", root, "install"], { env });
      assert.equal(install.code, 0, install.stderr + install.stdout);
      await assertBackendVenv(root);
      assert.equal(await git(root, "status", "--porcelain"), "");
    });

    await t.step("rig run creates and migrates the database, seeds it and serves", async () => {
      const port = freePort();
      const child = spawnRig(["-C", root, "run", "--port", String(port), "--no-reload"], { env });
      try {
        const ready = await waitForOutput(child, /backend ready at (http:\/\/\S+)/, 300_000);
        const base = ready.match[1]!;
        const out = ready.output();
        assert.match(
          out,
          /✓ environment development from \.env \(\d+ keys\), the environment \(POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_PASSWORD\)/,
        );
        assert.match(out, /warning: Placeholder values in development: SECRET_KEY/);
        assert.match(
          out,
          new RegExp(
            `✓ database postgresql 127\\.0\\.0\\.1:${pg.port}/app \\(created\\) from POSTGRES_\\* parts ` +
              `\\(POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_PASSWORD: the environment; POSTGRES_USER, POSTGRES_DB: \\.env\\)`,
          ),
        );
        assert.match(out, /✓ migrations 1 applied/);
        assert.match(out, /✓ prestart python -m app\.initial_data/);
        assert.ok(
          out.indexOf("prestart python -m app.initial_data") < out.indexOf("start backend"),
          "prestart runs before the server starts",
        );
        assert.doesNotMatch(out, new RegExp(PASSWORD));
        const health = await fetch(`${base}/api/v1/utils/health-check/`);
        assert.deepEqual(await health.json(), { status: "ok", database: "postgresql" });
        // The seeded superuser logs in with FIRST_SUPERUSER / FIRST_SUPERUSER_PASSWORD from .env.
        const login = await fetch(`${base}/api/v1/login/access-token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ username: "admin@example.com", password: "changethis" }),
        });
        assert.equal(login.status, 200);
        const { access_token: token } = await login.json();
        const item = await fetch(`${base}/api/v1/items/`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ title: "Keep me", description: "a row of the dev database #dev" }),
        });
        assert.equal(item.status, 201);
        child.kill("SIGINT");
        assert.equal((await child.status).code, 0);
        await ready.done;
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already stopped.
        }
      }
    });

    await t.step(
      "rig test runs on a throwaway database and leaves the dev database alone",
      async () => {
        const before = {
          users: await psql(pg, "app", 'SELECT id, email FROM "user" ORDER BY id'),
          items: await psql(pg, "app", "SELECT id, title, slug FROM item ORDER BY id"),
        };
        assert.match(before.users, /admin@example\.com/);
        assert.match(before.items, /Keep me/);
        const result = await rigProcess(["-C", root, "test", "backend", "--no-lint"], { env });
        const out = result.stdout + result.stderr;
        assert.equal(result.code, 0, out);
        assert.match(out, /✓ create test database "app_test_[0-9a-f]{8}" on 127\.0\.0\.1:\d+/);
        assert.match(out, /✓ migrate test database/);
        assert.doesNotMatch(out, new RegExp(PASSWORD));
        assert.deepEqual({
          users: await psql(pg, "app", 'SELECT id, email FROM "user" ORDER BY id'),
          items: await psql(pg, "app", "SELECT id, title, slug FROM item ORDER BY id"),
        }, before);
        assert.equal(
          await psql(
            pg,
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'app_test_%'",
          ),
          "0",
          "the test database is dropped",
        );
        assert.match(out, /✓ test_prestart python -c/);
        assert.equal(
          await psql(pg, "app", `SELECT count(*) FROM "user" WHERE email = 'prestart@example.com'`),
          "0",
          "test_prestart ran on the test database only",
        );
        assert.deepEqual(await Deno.readFile(path.join(root, ".env")), trackedEnv);
        assert.equal(await git(root, "status", "--porcelain"), "");
      },
    );

    await t.step("failing and interrupted test runs drop their test database too", async () => {
      const testDatabases = () =>
        psql(pg, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'app_test_%'");
      const failing = await rigProcess(
        ["-C", root, "test", "backend", "--no-lint", "--", "--no-such-pytest-flag"],
        { env },
      );
      assert.equal(failing.code, 1, failing.stderr + failing.stdout);
      assert.match(failing.stdout + failing.stderr, /create test database "app_test_/);
      assert.equal(await testDatabases(), "");
      const child = spawnRig(["-C", root, "test", "backend", "--no-lint", "--force"], { env });
      const running = await waitForOutput(child, /migrate test database/, 120_000);
      child.kill("SIGINT");
      assert.notEqual((await child.status).code, 0);
      await running.done;
      assert.equal(await testDatabases(), "");
      assert.equal(await git(root, "status", "--porcelain"), "");
    });

    await t.step(
      "a failing prestart step stops rig run with its output; --no-prestart skips it",
      async () => {
        const toml = path.join(root, "rig.toml");
        const original = await Deno.readTextFile(toml);
        await Deno.writeTextFile(
          toml,
          original.replace(
            'prestart = ["python -m app.initial_data"]',
            `prestart = ["python -c 'import sys; print(\\"no admin seeded\\"); sys.exit(2)'"]`,
          ),
        );
        try {
          const failed = await rigProcess(["-C", root, "run", "--no-install"], { env });
          assert.equal(failed.code, 1, failed.stderr);
          assert.match(
            failed.stderr,
            /error: prestart step "python -c .*" of "backend" failed with exit code 2:\n {2}no admin seeded/,
          );
          assert.match(failed.stderr, /hint: .*or skip it: rig run --no-prestart/);
          assert.doesNotMatch(failed.stdout + failed.stderr, /start backend/);
          const port = freePort();
          const child = spawnRig(
            [
              "-C",
              root,
              "run",
              "--no-install",
              "--no-prestart",
              "--no-reload",
              "--port",
              String(port),
            ],
            { env },
          );
          const ready = await waitForOutput(child, /backend ready at/, 120_000);
          assert.match(ready.output(), /- prestart --no-prestart/);
          child.kill("SIGINT");
          assert.equal((await child.status).code, 0);
          await ready.done;
        } finally {
          await Deno.writeTextFile(toml, original);
        }
        assert.equal(await git(root, "status", "--porcelain"), "");
      },
    );

    await t.step("the placeholder password refused by PostgreSQL is exit 3 naming it", async () => {
      const { POSTGRES_PASSWORD: _, ...withoutPassword } = env;
      const result = await rigProcess(["-C", root, "run", "--no-install"], {
        env: withoutPassword,
      });
      assert.equal(result.code, 3, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `error: PostgreSQL at "127\\.0\\.0\\.1:${pg.port}" refused the login of user "postgres" ` +
            `from POSTGRES_\\* parts .*password authentication failed.*; POSTGRES_PASSWORD is still ` +
            `a placeholder value \\(\\.env line \\d+\\)`,
        ),
      );
      assert.match(result.stderr, /hint: Export POSTGRES_PASSWORD=<the real password>/);
      assert.match(result.stderr, /rig run --db postgresql:\/\/USER@HOST:PORT\/NAME/);
      assert.doesNotMatch(result.stderr, /changethis/);
    });

    await t.step(
      "a port with nothing listening is exit 3 naming the variables and --db",
      async () => {
        const down = freePort();
        const result = await rigProcess(["-C", root, "run", "--no-install"], {
          env: { ...env, POSTGRES_PORT: String(down) },
        });
        assert.equal(result.code, 3, result.stderr);
        assert.match(
          result.stderr,
          new RegExp(
            `error: PostgreSQL at "127\\.0\\.0\\.1:${down}" does not answer \\(from POSTGRES_`,
          ),
        );
        assert.match(result.stderr, /hint: .*set POSTGRES_SERVER\/POSTGRES_PORT/);
        assert.match(result.stderr, /rig run --db postgresql:\/\/USER@HOST:PORT\/NAME/);
      },
    );

    await t.step("parts that contradict DATABASE_URL are exit 3 before anything runs", async () => {
      const result = await rigProcess(["-C", root, "run", "--no-install"], {
        env: { ...env, DATABASE_URL: `postgresql://postgres@127.0.0.1:${pg.port}/other` },
      });
      assert.equal(result.code, 3, result.stderr);
      assert.match(
        result.stderr,
        /error: DATABASE_URL \(the environment\) and POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB \(.*\) name different databases: database "other" vs POSTGRES_DB="app"/,
      );
      assert.match(result.stderr, /hint: Make them agree or remove one of them/);
      assert.equal(await git(root, "status", "--porcelain"), "");
    });
  },
});
