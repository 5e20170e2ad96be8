/**
 * The uv reference project (examples/fullstack) end to end on a fresh,
 * git-committed copy: `rig install` installs exactly uv.lock (read back from
 * the dist-info folders), `rig test` is green with the checks the project
 * configures (ruff, mypy, alembic — no black, no flake8), `--changed` follows
 * the conftest's imports, and `rig install PKG` changes pyproject.toml and
 * uv.lock together or not at all. The locked packages come from PyPI through
 * rig's shared uv cache; the package added with --dev comes from an index on
 * 127.0.0.1.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import { installedDistributions, venvLayout } from "../../lib/python/venv.ts";
import {
  copyReferenceProject,
  git,
  gitRepository,
  rigProcess,
  type RigRun,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import { wheelIndex } from "../py_index.ts";
import { PG_MISSING, startPostgres } from "../pg.ts";

const HAS_UV = (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
  try {
    return Deno.statSync(path.join(dir, "uv")).isFile;
  } catch {
    return false;
  }
});

function show(run: RigRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

interface LockPackage {
  name: string;
  version: string;
  source: Record<string, string>;
}

function lockPackages(file: string): LockPackage[] {
  return (parseToml(Deno.readTextFileSync(file)) as unknown as { package: LockPackage[] }).package;
}

const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

testWithProcesses({
  name:
    "examples/fullstack installs exactly uv.lock, tests green with its own checks, and adds packages through uv",
  // The backend's database is PostgreSQL from POSTGRES_* in the tracked .env.
  ignore: !HAS_UV || PG_MISSING !== undefined,
  async fn(t) {
    await using dir = await tempDir("rig-fullstack-");
    await using pg = await startPostgres();
    const root = await copyReferenceProject(dir.join("fullstack"), "fullstack");
    await gitRepository(root, { branch: "main" });
    // rig test makes its throwaway database on the server the POSTGRES_* parts name.
    const env = { POSTGRES_SERVER: "127.0.0.1", POSTGRES_PORT: String(pg.port) };
    const pyproject = path.join(root, "backend", "pyproject.toml");
    const lock = path.join(root, "uv.lock");
    const venv = venvLayout(path.join(root, ".venv"));

    await t.step(
      "rig install: one uv sync for both members; installed versions equal uv.lock",
      async () => {
        const run = await rigProcess(["install"], { cwd: root, env });
        assert.equal(run.code, 0, show(run));
        assert.match(run.stdout + run.stderr, /one sync for backend, notes-core/);
        const installed = installedDistributions(venv);
        const locked = new Map<string, Set<string>>();
        for (const p of lockPackages(lock)) {
          const versions = locked.get(normalize(p.name)) ?? new Set();
          versions.add(p.version);
          locked.set(normalize(p.name), versions);
        }
        for (const [name, version] of Object.entries(installed)) {
          assert.ok(locked.get(name)?.has(version), `${name} ${version} is not in uv.lock`);
        }
        // Runtime, workspace and dev-group packages are all there.
        for (
          const name of [
            "fastapi",
            "sqlalchemy",
            "alembic",
            "notes-core",
            "app",
            "pytest",
            "ruff",
            "mypy",
          ]
        ) {
          assert.ok(name in installed, `${name} was not installed`);
        }
        const again = await rigProcess(["install"], { cwd: root, env });
        assert.equal(again.code, 0, show(again));
        assert.match(again.stdout + again.stderr, /Everything is up to date/);
      },
    );

    await t.step(
      "rig test is green and runs ruff, ruff format and mypy, never black or flake8",
      async () => {
        const run = await rigProcess(["--json", "test"], { cwd: root, env });
        assert.equal(run.code, 0, show(run));
        const doc = JSON.parse(run.stdout) as {
          components: {
            name: string;
            tasks: {
              passed: number;
              failed: number;
              coverage: number;
              checks: { name: string; status: string }[];
            }[];
          }[];
        };
        const backend = doc.components.find((c) => c.name === "backend")!.tasks[0]!;
        assert.ok(backend.passed >= 10 && backend.failed === 0, run.stdout);
        assert.ok(backend.coverage > 50);
        assert.deepEqual(backend.checks.map((c) => `${c.name}:${c.status}`), [
          "ruff:passed",
          "ruff-format:passed",
          "mypy:passed",
          "alembic:passed",
        ]);
        const core = doc.components.find((c) => c.name === "notes-core")!.tasks[0]!;
        assert.equal(core.failed, 0);
        assert.ok(core.checks.every((c) => !["black", "flake8", "isort"].includes(c.name)));
        assert.equal(await git(root, "status", "--porcelain"), "");
      },
    );

    await t.step("--changed on app/crud.py selects test_login.py via conftest.py", async () => {
      const crud = path.join(root, "backend", "app", "crud.py");
      await Deno.writeTextFile(crud, (await Deno.readTextFile(crud)) + "\n# edited\n");
      const run = await rigProcess(["test", "--changed", "--explain", "--dry-run"], {
        cwd: root,
        env,
      });
      assert.equal(run.code, 0, show(run));
      assert.match(run.stdout + run.stderr, /via conftest\.py by [^\n]*tests\/test_login\.py/);
      await git(root, "checkout", "-q", "--", "backend/app/crud.py");
    });

    await using index = await wheelIndex(dir.join("wheels"), [
      { name: "pytest-timeout", version: "9.9" },
    ]);
    // The local index first (pytest-timeout), PyPI for what it does not have.
    const addEnv = { ...env, UV_EXTRA_INDEX_URL: index.simple };

    await t.step(
      "rig install httpx and --dev pytest-timeout update pyproject.toml and uv.lock",
      async () => {
        const lockBefore = await Deno.readTextFile(lock);
        const prod = await rigProcess(["install", "httpx"], { cwd: root, env: addEnv });
        assert.equal(prod.code, 0, show(prod));
        const dev = await rigProcess(["install", "--dev", "pytest-timeout"], {
          cwd: root,
          env: addEnv,
        });
        assert.equal(dev.code, 0, show(dev));
        const data = parseToml(await Deno.readTextFile(pyproject)) as {
          project: { dependencies: string[] };
          "dependency-groups": { dev: string[] };
        };
        assert.ok(data.project.dependencies.some((d) => /^httpx\b/.test(d)));
        assert.ok(data["dependency-groups"].dev.some((d) => /^pytest-timeout\b/.test(d)));
        const lockAfter = await Deno.readTextFile(lock);
        assert.notEqual(lockAfter, lockBefore);
        const timeout = lockPackages(lock).find((p) => p.name === "pytest-timeout");
        assert.equal(timeout?.version, "9.9");
        assert.equal(installedDistributions(venv)["pytest-timeout"], "9.9");
      },
    );

    await t.step(
      "a conflicting spec leaves pyproject.toml and uv.lock byte-identical",
      async () => {
        const before = [await Deno.readTextFile(pyproject), await Deno.readTextFile(lock)];
        const disjoint = await rigProcess(["install", "sqlalchemy<2"], { cwd: root, env: addEnv });
        assert.equal(disjoint.code, 1, show(disjoint));
        assert.match(disjoint.stderr, /already requires "sqlalchemy>=2\.0\.30,<3\.0"/);
        const unresolvable = await rigProcess(["install", "starlette<0.20"], {
          cwd: root,
          env: addEnv,
        });
        assert.notEqual(unresolvable.code, 0, show(unresolvable));
        assert.deepEqual(
          [await Deno.readTextFile(pyproject), await Deno.readTextFile(lock)],
          before,
        );
      },
    );
  },
});
