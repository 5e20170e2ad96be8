/**
 * `rig test` end to end on a git-committed copy of examples/authserver. One
 * installed copy is shared by every step (installs from PyPI are slow).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  copyReferenceProject,
  git,
  gitRepository,
  rigProcess,
  spawnRig,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import { parseJunit } from "../../lib/testing/junit.ts";
import { PG_MISSING, startPostgres } from "../pg.ts";

interface JsonTask {
  task: "test" | "integration";
  ok: boolean;
  cached: boolean;
  wouldRun: boolean;
  passed: number | null;
  failed: number | null;
  skipped: number | null;
  coverage: number | null;
  checks: { name: string; status: string }[];
  files: string[] | null;
  reasons: string[];
}
interface JsonDoc {
  ok: boolean;
  components: { name: string; tasks: JsonTask[] }[];
}

async function rigJson(cwd: string, args: string[], env: Record<string, string> = {}) {
  const result = await rigProcess(["--json", ...args], { cwd, env });
  let doc: JsonDoc;
  try {
    doc = JSON.parse(result.stdout);
  } catch {
    throw new Error(
      `rig ${args.join(" ")} printed no JSON (exit ${result.code}):\n${result.stderr}`,
    );
  }
  return { ...result, doc };
}

function task(doc: JsonDoc, component: string, kind: "test" | "integration" = "test"): JsonTask {
  const found = doc.components.find((c) => c.name === component)?.tasks.find((t) =>
    t.task === kind
  );
  assert.ok(found, `no ${kind} task for ${component} in ${JSON.stringify(doc)}`);
  return found;
}

async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await Deno.readTextFile(file);
  assert.ok(text.includes(from), `${file} does not contain ${from}`);
  await Deno.writeTextFile(file, text.replace(from, to));
}

testWithProcesses({
  name: "rig test runs, caches and selects the reference project's suites",
  async fn(t) {
    await using dir = await tempDir("rig-e2e-test-");
    const root = await copyReferenceProject(dir.join("authserver"));
    await gitRepository(root, { branch: "main" });
    const names = (doc: JsonDoc) => doc.components.map((c) => c.name).sort();

    await t.step("a full run reports tests, coverage and checks, with JUnit XML", async () => {
      const junit = dir.join("junit");
      const { code, doc, stderr } = await rigJson(root, ["test", "--junit", junit]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(names(doc), ["js-client", "python-client", "server"]);
      const server = task(doc, "server");
      assert.ok(server.passed! > 10 && server.failed === 0);
      assert.ok(server.coverage! > 50);
      assert.deepEqual(
        server.checks.map((c) => `${c.name}:${c.status}`),
        ["black:passed", "flake8:passed", "mypy:passed", "alembic:passed"],
      );
      assert.deepEqual(task(doc, "js-client").checks.map((c) => c.name), ["lint", "tsc"]);
      assert.ok(task(doc, "python-client").coverage! > 50);
      // Integration tests ran against the live server, not skipped.
      assert.ok(task(doc, "python-client", "integration").passed! >= 1);
      assert.equal(task(doc, "python-client", "integration").skipped, 0);
      assert.equal(task(doc, "js-client", "integration").skipped, 0);
      const files = [...Deno.readDirSync(junit)].map((e) => e.name).sort();
      assert.deepEqual(files, [
        "js-client-integration.xml",
        "js-client.xml",
        "python-client-integration.xml",
        "python-client.xml",
        "server.xml",
      ]);
      const report = parseJunit(await Deno.readTextFile(path.join(junit, "server.xml")));
      assert.equal(report.passed, server.passed! + 4);
      assert.match(await Deno.readTextFile(path.join(junit, "js-client.xml")), /^<\?xml/);
    });

    await t.step("a second run is replayed entirely from the cache", async () => {
      const { code, doc } = await rigJson(root, ["test"]);
      assert.equal(code, 0);
      for (const c of doc.components) for (const x of c.tasks) assert.ok(x.cached, c.name);
    });

    await t.step("a js-client edit with --changed runs only js-client", async () => {
      const file = path.join(root, "clients/js/src/errors.ts");
      await Deno.writeTextFile(file, (await Deno.readTextFile(file)) + "// edited\n");
      const { code, doc, stderr } = await rigJson(root, ["test", "--changed"]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(names(doc), ["js-client"]);
      assert.equal(task(doc, "js-client").cached, false);
      // Its integration tests ran against a copy of the migrated test database kept from
      // the first run (the server did not change, so neither did its schema): an entry of the
      // store, which the cache's own statistics count along with the API contract.
      await git(root, "checkout", "-q", "--", "clients/js/src/errors.ts");
      assert.equal(task(doc, "js-client", "integration").ok, true);
      const stats = await rigJson(root, ["cache", "stats"]);
      const byTask = (stats.doc as unknown as {
        byTask: Record<string, { entries: number; hits: number }>;
      }).byTask;
      assert.equal(byTask.testdb?.entries, 1, JSON.stringify(byTask));
      assert.ok(byTask.testdb!.hits >= 1, JSON.stringify(byTask));
      assert.equal(byTask.openapi?.entries, 1, JSON.stringify(byTask));
    });

    await t.step(
      "a server-internal edit selects the server and the test files reaching it, directly or via conftest.py",
      async () => {
        await edit(
          path.join(root, "server/app/security.py"),
          '"""Check ``password`` against a hash from :func:`hash_password`."""',
          '"""Check ``password`` against an encoded hash (internal wording)."""',
        );
        const { code, doc, stderr } = await rigJson(root, ["test", "--changed", "--explain"]);
        assert.equal(code, 0, stderr);
        assert.deepEqual(names(doc), ["server"]);
        const files = task(doc, "server").files!;
        assert.ok(files.includes("tests/test_security.py"), files.join());
        // tests/conftest.py imports app.security (and app.main), so pytest loads the edited
        // module before test_config.py too: it is selected through the conftest.
        assert.ok(files.includes("tests/test_config.py"), files.join());
        assert.match(
          task(doc, "server").reasons.join("\n"),
          /via conftest\.py by [^\n]*test_config\.py/,
        );
        // Without --changed: clients' unit tests stay cached (same contract), integration reruns.
        const full = await rigJson(root, ["test", "--explain"]);
        assert.equal(full.code, 0, full.stderr);
        for (const client of ["python-client", "js-client"]) {
          assert.equal(task(full.doc, client).cached, true, client);
          const integration = task(full.doc, client, "integration");
          assert.equal(integration.cached, false, client);
          assert.ok(
            integration.reasons.some((r) => /server:code/.test(r)),
            integration.reasons.join(),
          );
        }
      },
    );

    await t.step("an API change selects the clients too", async () => {
      await edit(
        path.join(root, "server/app/routers/health.py"),
        '"Database unreachable"',
        '"Database unreachable or not migrated"',
      );
      const { code, doc, stderr } = await rigJson(root, ["test", "--changed", "--dry-run"]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(names(doc), ["js-client", "python-client", "server"]);
      assert.ok(task(doc, "python-client").wouldRun);
      await git(root, "checkout", "-q", "--", "server");
    });

    await t.step("a failing test exits 1 and is not cached", async () => {
      await dir.write({
        "authserver/clients/python/tests/test_broken.py": "def test_broken() -> None:\n" +
          "    assert 1 + 1 == 3\n",
      });
      for (let i = 0; i < 2; i++) {
        const { code, doc } = await rigJson(root, ["test", "--python-client", "--no-lint"]);
        assert.equal(code, 1);
        const unit = task(doc, "python-client");
        assert.equal(unit.cached, false);
        assert.equal(unit.failed, 1);
      }
      const human = await rigProcess(["test", "--python-client", "--no-lint"], { cwd: root });
      assert.match(human.stdout, /python-client failed: 1 test failed/);
      assert.match(human.stdout, /assert 1 \+ 1 == 3/);
      await Deno.remove(path.join(root, "clients/python/tests/test_broken.py"));
    });

    await t.step({
      name: "an interrupted run drops its PostgreSQL test database",
      ignore: PG_MISSING !== undefined,
      async fn() {
        await using pg = await startPostgres();
        const listDatabases = async () => {
          const out = await new Deno.Command("psql", {
            args: [
              "-h",
              pg.host,
              "-p",
              String(pg.port),
              "-U",
              pg.user,
              "-d",
              "postgres",
              "-Atc",
              "select datname from pg_database",
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          return new TextDecoder().decode(out.stdout).split("\n").filter((d) =>
            d.includes("_test_")
          );
        };
        const child = spawnRig(["test", "--server", "--force"], {
          cwd: root,
          env: { DATABASE_URL: pg.url("auth", "postgresql+psycopg") },
        });
        let exited = false;
        const output = child.output().finally(() => exited = true);
        let created: string[] = [];
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline && created.length === 0 && !exited) {
          await new Promise((r) => setTimeout(r, 200));
          created = await listDatabases();
        }
        if (created.length === 0) {
          const early = await output;
          throw new Error(
            `the test database was never created (exit ${early.code}):\n${
              new TextDecoder().decode(early.stderr)
            }${new TextDecoder().decode(early.stdout)}`,
          );
        }
        assert.equal(created.length, 1, "the test database was never created");
        assert.match(created[0]!, /^auth_test_[0-9a-f]{8}$/);
        await new Promise((r) => setTimeout(r, 2500));
        child.kill("SIGINT");
        const result = await output;
        assert.notEqual(result.code, 0);
        assert.deepEqual(await listDatabases(), [], new TextDecoder().decode(result.stderr));
      },
    });
  },
});
