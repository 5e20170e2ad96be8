/**
 * `rig run` end to end on a temp copy of the reference project: rig runs as a
 * long-lived child process, as a user would start it, and the test talks to
 * the server it starts. One copy (one venv install) serves every scenario.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePort } from "../../lib/net.ts";
import {
  copyReferenceProject,
  type LiveRig,
  liveRig,
  processAlive,
  processesMentioning,
  rigInProcess,
  rigProcess,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import { PG_MISSING, startPostgres } from "../pg.ts";

/** A `rig run` started as a child process whose output the test reads. */
interface RigChild extends LiveRig {
  /** Sends a signal and waits for the exit code (SIGKILL after 20 s). */
  stop(signal?: Deno.Signal): Promise<number>;
}

function startRig(root: string, args: string[]): RigChild {
  const rig = liveRig(["-C", root, "run", ...args]);
  return {
    ...rig,
    async stop(signal = "SIGINT") {
      if (!rig.exited()) rig.kill(signal);
      const timer = setTimeout(() => rig.kill("SIGKILL"), 20_000);
      const result = await rig.status;
      clearTimeout(timer);
      return result.code;
    },
  };
}

async function register(base: string, email: string): Promise<Response> {
  return await fetch(`${base}/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery" }),
  });
}

async function login(base: string, email: string): Promise<Response> {
  return await fetch(`${base}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: email, password: "correct horse battery" }),
  });
}

async function sha256(file: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(file));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const READY = /server ready at (http:\/\/\S+) \(docs: \/docs\) in (\S+) —/;

/** Seconds from rig's duration format: 850ms, 3.2s, 2m05s. */
function readySeconds(match: RegExpMatchArray): number {
  const text = match[2]!;
  const minutes = text.match(/^(\d+)m(\d+)s$/);
  if (minutes) return Number(minutes[1]) * 60 + Number(minutes[2]);
  if (text.endsWith("ms")) return Number(text.slice(0, -2)) / 1000;
  return Number(text.slice(0, -1));
}

testWithProcesses({
  name: "rig run starts the reference project, reloads, stops cleanly and reports failures",
  async fn(t) {
    await using dir = await tempDir("rig-run-e2e-");
    const root = await copyReferenceProject(dir.join("authserver"));
    const server = path.join(root, "server");
    let firstSeconds = 0;
    let rig: RigChild | undefined;
    /** Stops the rig still running, if any, and starts `rig run` on a free port with `args`. */
    const start = async (...args: string[]) => {
      if (rig) await rig.stop("SIGTERM");
      const port = freePort();
      rig = startRig(root, ["--port", String(port), ...args]);
      return { child: rig, port };
    };
    /** start, then waits up to `timeoutMs` for the server to be ready. */
    const serve = async (timeoutMs: number, ...args: string[]) => {
      const { child, port } = await start(...args);
      const ready = await child.waitFor(READY, timeoutMs);
      return { child, port, ready, out: child.output() };
    };
    /** One `rig run` on a free port that is expected to fail before serving, run to its end. */
    const runOnce = (...args: string[]) =>
      rigProcess(["-C", root, "run", "--port", String(freePort()), ...args]);
    try {
      await t.step(
        "a first run sets everything up and serves /health, register and login",
        async () => {
          const { port, ready, out } = await serve(600_000);
          firstSeconds = readySeconds(ready);
          const base = ready[1]!;
          assert.equal(base, `http://127.0.0.1:${port}`);
          assert.match(out, /✓ environment development from \.env \(\d+ keys\)/);
          assert.match(out, /✓ install server/);
          assert.match(
            out,
            /✓ database sqlite data\/dev\.db \(new\) from DATABASE_URL \(\.env line \d+\)/,
          );
          assert.match(out, /✓ migrations 2 applied, now at 0002/);
          assert.match(out, /server │ .*Uvicorn running/);
          assert.match(out, /2 migrations applied/);
          const health = await fetch(`${base}/health`);
          assert.equal(health.status, 200);
          assert.deepEqual(await health.json(), { status: "ok", database: "ok" });
          const registered = await register(base, "ada@example.com");
          assert.equal(registered.status, 201, await registered.clone().text());
          await registered.body?.cancel();
          const loggedIn = await login(base, "ada@example.com");
          assert.equal(loggedIn.status, 200);
          assert.ok((await loggedIn.json()).access_token);
          const secret = (await Deno.readTextFile(path.join(root, ".env"))).match(
            /^SECRET_KEY=(.+)$/m,
          )![1]!;
          assert.ok(!out.includes(secret), "the generated secret must never be printed");
        },
      );

      await t.step("editing a server file reloads the server", async () => {
        const port = Number(rig!.output().match(READY)![1]!.split(":").pop());
        const main = path.join(server, "app", "main.py");
        await Deno.writeTextFile(
          main,
          (await Deno.readTextFile(main)) +
            '\n\n@app.get("/rig-reload-probe")\ndef _rig_reload_probe() -> dict[str, bool]:\n' +
            '    return {"reloaded": True}\n',
        );
        await rig!.waitFor(/server │ .*(Reloading|detected changes)/, 30_000);
        let status = 0;
        for (let i = 0; i < 100 && status !== 200; i++) {
          try {
            const response = await fetch(`http://127.0.0.1:${port}/rig-reload-probe`);
            status = response.status;
            await response.body?.cancel();
          } catch {
            // The worker is restarting.
          }
          if (status !== 200) await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(status, 200, rig!.output());
      });

      await t.step("Ctrl-C stops the server and leaves no process behind", async () => {
        const pids = [
          ...rig!.output().matchAll(/Started (?:reloader|server) process \[(\d+)\]/g),
        ].map((m) => Number(m[1]));
        assert.ok(pids.length >= 2, rig!.output());
        const code = await rig!.stop("SIGINT");
        assert.equal(code, 0, rig!.output());
        assert.match(rig!.output(), /Stopped server/);
        rig = undefined;
        await new Promise((r) => setTimeout(r, 200));
        for (const pid of pids) {
          assert.equal(processAlive(pid), false, `pid ${pid} is still running`);
        }
        assert.deepEqual(processesMentioning(server), []);
      });

      await t.step(
        "a second run skips install and migrations and serves the same data",
        async () => {
          const { child, ready, out } = await serve(120_000);
          const secondSeconds = readySeconds(ready);
          assert.match(out, /- install server up to date/);
          assert.match(out, /- migrations up to date \(at 0002\)/);
          assert.match(out, /✓ database sqlite data\/dev\.db from DATABASE_URL \(\.env line \d+\)/);
          // The outcome, not a stopwatch (deno task bench measures speed): nothing was installed
          // or migrated again.
          assert.doesNotMatch(out, /✓ install server|Running upgrade|✓ migrations/);
          console.log(`rig run ready: first ${firstSeconds}s, second ${secondSeconds}s`);
          const loggedIn = await login(ready[1]!, "ada@example.com");
          assert.equal(loggedIn.status, 200, "the user registered in the first run is still there");
          await loggedIn.body?.cancel();
          // A closed terminal (SIGHUP) reaches only rig; it must stop the server like Ctrl-C.
          assert.equal(await child.stop("SIGHUP"), 0);
          rig = undefined;
          assert.deepEqual(processesMentioning(server), []);
        },
      );

      await t.step("a busy port is an environment error naming a free one", async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (listener.addr as Deno.NetAddr).port;
        try {
          const result = await rigProcess(["-C", root, "run", "--port", String(port)]);
          assert.equal(result.code, 3, result.stderr);
          assert.match(result.stderr, new RegExp(`Port ${port} on "127.0.0.1" is already in use`));
          assert.match(result.stderr, /hint: .*rig run --port \d+/);
        } finally {
          listener.close();
        }
      });

      await t.step(
        "a failing migration names the revision and restores the SQLite file",
        async () => {
          const dbFile = path.join(server, "data", "dev.db");
          const before = await sha256(dbFile);
          const broken = path.join(server, "migrations", "versions", "0003_broken.py");
          await Deno.writeTextFile(
            broken,
            '"""broken on purpose"""\nfrom alembic import op\n\nrevision = "0003"\n' +
              'down_revision = "0002"\nbranch_labels = None\ndepends_on = None\n\n\n' +
              'def upgrade() -> None:\n    op.execute("CREATE TABLE half_done (id INTEGER)")\n' +
              '    op.execute("THIS IS NOT SQL")\n\n\ndef downgrade() -> None:\n    pass\n',
          );
          try {
            const result = await runOnce();
            assert.equal(result.code, 1, result.stderr);
            assert.match(result.stderr, /✗ migrations/);
            assert.match(
              result.stderr,
              /Migration "0003" failed \(0002 -> 0003: broken on purpose\)/,
            );
            assert.match(result.stderr, /THIS IS NOT SQL/);
            assert.match(result.stderr, /Restored "dev\.db" from the backup/);
            assert.match(result.stderr, /hint: .*0003_broken\.py.*alembic history/);
            assert.equal(await sha256(dbFile), before, "dev.db must be restored byte for byte");
          } finally {
            await Deno.remove(broken);
          }
        },
      );

      await t.step("several Alembic heads are refused with the merge command", async () => {
        const versions = path.join(server, "migrations", "versions");
        const head = (id: string) =>
          `revision = "${id}"\ndown_revision = "0002"\n\n\ndef upgrade() -> None:\n    pass\n`;
        await Deno.writeTextFile(path.join(versions, "0003_left.py"), head("0003a"));
        await Deno.writeTextFile(path.join(versions, "0003_right.py"), head("0003b"));
        try {
          const result = await runOnce();
          assert.equal(result.code, 1, result.stderr);
          assert.match(
            result.stderr,
            /Alembic migrations in "server" have 2 heads: "0003a", "0003b"/,
          );
          assert.match(
            result.stderr,
            /hint: Merge them into one: cd server && \.venv\/bin\/alembic merge -m "merge heads" 0003a 0003b/,
          );
        } finally {
          await Deno.remove(path.join(versions, "0003_left.py"));
          await Deno.remove(path.join(versions, "0003_right.py"));
        }
      });

      await t.step(
        "a component's dev command starts once the server is ready and stops with it",
        async () => {
          await Deno.writeTextFile(
            path.join(root, "rig.toml"),
            '[components.python-client]\ndev = ["python3", "-u", "-c", ' +
              "\"import time; print('client watching', flush=True); time.sleep(600)\"]\n" +
              'ready = { log = "client watching" }\n',
          );
          try {
            const { child, out } = await serve(120_000, "--no-install", "--no-reload");
            assert.match(out, /- install --no-install/);
            assert.match(out, /python-client dev/);
            const health = out.search(/server +│ .*GET \/health/);
            const client = out.indexOf("python-client │ client watching");
            assert.ok(health >= 0 && client > health, out);
            const pids = processesMentioning("client watching");
            assert.equal(pids.length, 1);
            assert.equal(await child.stop("SIGINT"), 0);
            rig = undefined;
            assert.deepEqual(processesMentioning("client watching"), []);
            assert.deepEqual(processesMentioning(server), []);
          } finally {
            await Deno.remove(path.join(root, "rig.toml"));
          }
        },
      );

      await t.step(
        "a crashed server ends rig run with exit code 1 and a JSON document",
        async () => {
          const { child, port } = await start("--no-reload", "--json");
          let healthy = false;
          for (let i = 0; i < 600 && !healthy; i++) {
            try {
              const response = await fetch(`http://127.0.0.1:${port}/health`);
              healthy = response.status === 200;
              await response.body?.cancel();
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          assert.ok(healthy, child.output());
          // rig polls /health every 100ms: give it time to see the server ready too.
          await new Promise((r) => setTimeout(r, 1500));
          const uvicorn = processesMentioning(
            ["uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", String(port)].join("\0"),
          );
          assert.equal(uvicorn.length, 1, child.output());
          Deno.kill(uvicorn[0]!, "SIGKILL");
          const code = await child.stop("SIGCONT");
          const out = child.output();
          const json = child.stdout();
          rig = undefined;
          assert.equal(code, 1, out);
          assert.match(out, /error: "server" exited with signal SIGKILL/);
          const document = JSON.parse(json);
          assert.equal(document.ok, false);
          assert.equal(document.url, `http://127.0.0.1:${port}`);
          assert.equal(document.stopped, "server exited");
          assert.equal(document.error.exitCode, 1);
          assert.deepEqual(processesMentioning(server), []);
        },
      );

      await t.step("an unsupported database URL names what is supported", async () => {
        const result = await runOnce("--db", "mysql://root:topsecret@127.0.0.1/app");
        assert.equal(result.code, 3, result.stderr);
        assert.match(result.stderr, /Unsupported database "mysql"/);
        assert.match(result.stderr, /SQLite .* PostgreSQL/);
        assert.doesNotMatch(result.stderr + result.stdout, /topsecret/);
      });

      await t.step({
        name: "PostgreSQL: rig run creates the database, migrates and serves",
        ignore: PG_MISSING !== undefined,
        async fn() {
          await using pg = await startPostgres();
          const url = pg.url("authserver_dev", "postgresql+psycopg");
          const { child, ready, out } = await serve(120_000, "--db", url);
          assert.match(out, /✓ database postgresql 127\.0\.0\.1:\d+\/authserver_dev \(created\)/);
          assert.match(out, /✓ migrations 2 applied/);
          const registered = await register(ready[1]!, "grace@example.com");
          assert.equal(registered.status, 201);
          await registered.body?.cancel();
          const loggedIn = await login(ready[1]!, "grace@example.com");
          assert.equal(loggedIn.status, 200);
          await loggedIn.body?.cancel();
          assert.equal(await child.stop("SIGINT"), 0);
          rig = undefined;

          const down = freePort();
          const refused = await runOnce(
            "--db",
            `postgresql+psycopg://app:hunter2@127.0.0.1:${down}/auth`,
          );
          assert.equal(refused.code, 3, refused.stderr);
          assert.match(
            refused.stderr,
            new RegExp(`PostgreSQL at "127\\.0\\.0\\.1:${down}" does not answer`),
          );
          assert.doesNotMatch(refused.stderr, /hunter2/);
        },
      });
    } finally {
      if (rig) await (rig as RigChild).stop("SIGTERM");
      // Last resort after a failed step: nothing started from this temp copy may outlive the test.
      for (const pid of processesMentioning(root)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
  },
});

Deno.test("rig run rejects a bad --port and stray arguments with usage errors", async () => {
  const badPort = await rigInProcess(["run", "--port", "eighty"]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--port must be a port number \(1-65535\), got "eighty"/);
  const stray = await rigInProcess(["run", "server"]);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /"rig run" takes no arguments, got "server"/);
});
