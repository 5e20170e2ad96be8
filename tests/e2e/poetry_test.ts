/**
 * `rig install`, `rig install PKG` and `rig doctor` on a Poetry project, end to
 * end with the real Poetry against tiny wheels served on 127.0.0.1: the locked
 * install with the dev group, `poetry add` changing pyproject.toml and
 * poetry.lock together, conflicts and a stale lock changing nothing.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import { rigProcess, tempDir } from "../helpers.ts";
import {
  assertUnchanged,
  buildWheels,
  demoDists,
  lockedVersions,
  runTool,
  serveIndex,
  show,
  snapshot,
  TEST_WHEELS as WHEELS,
  which,
} from "../py_index.ts";

const HAS_POETRY = which("poetry");
if (!HAS_POETRY) console.log("ignored: the Poetry project test (poetry is not on PATH)");

Deno.test({
  name:
    "a Poetry project installs its lock with the dev group, and rig install PKG runs poetry add",
  ignore: !HAS_POETRY,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using dir = await tempDir("rig-poetry-");
    await Deno.mkdir(dir.join("wheels"));
    await buildWheels(dir.join("wheels"), WHEELS);
    await using index = await serveIndex(dir.join("wheels"));
    const root = dir.join("poetrydemo");
    await dir.write({
      "poetrydemo/pyproject.toml": [
        "[project]",
        'name = "poetrydemo"',
        'version = "0.1.0"',
        'requires-python = ">=3.9"',
        'dependencies = ["rigdemo-a>=1,<2"]',
        "",
        "[tool.poetry]",
        "package-mode = false",
        "",
        "[tool.poetry.group.dev.dependencies]",
        'pytest-rigdemo = "*"',
        "",
        "[[tool.poetry.source]]",
        'name = "local"',
        `url = "${index.simple}/"`,
        'priority = "primary"',
        "",
      ].join("\n"),
      "poetrydemo/rig.toml": '[project]\nname = "poetrydemo"\n',
    });
    const poetryEnv: Record<string, string> = {
      ...Deno.env.toObject(),
      POETRY_CACHE_DIR: dir.join("poetry-cache"),
    };
    delete poetryEnv.VIRTUAL_ENV;
    await runTool(["poetry", "lock", "--no-interaction"], root, poetryEnv);
    const env = { RIG_CACHE_DIR: dir.join("cache") };
    const pyproject = path.join(root, "pyproject.toml");
    const lock = path.join(root, "poetry.lock");
    const venv = path.join(root, ".venv");

    await t.step(
      "rig install installs poetry.lock's versions into .venv, dev group included",
      async () => {
        const run = await rigProcess(["install"], { cwd: root, env });
        assert.equal(run.code, 0, show(run));
        const locked = lockedVersions(lock);
        assert.deepEqual(demoDists(venv), {
          "rigdemo-a": locked["rigdemo-a"]!,
          "pytest-rigdemo": locked["pytest-rigdemo"]!,
        });
        const again = await rigProcess(["install"], { cwd: root, env });
        assert.match(again.stdout + again.stderr, /up to date/, show(again));
      },
    );

    await t.step(
      "rig install PKG and --dev PKG change pyproject.toml and poetry.lock",
      async () => {
        const beforeLock = await Deno.readTextFile(lock);
        const run = await rigProcess(["install", "rigdemo-d"], { cwd: root, env });
        assert.equal(run.code, 0, show(run));
        const dev = await rigProcess(["install", "--dev", "rigdemo-c"], { cwd: root, env });
        assert.equal(dev.code, 0, show(dev));
        const data = parseToml(await Deno.readTextFile(pyproject)) as {
          project: { dependencies: string[] };
          tool: { poetry: { group: { dev: { dependencies: Record<string, string> } } } };
        };
        assert.ok(data.project.dependencies.some((d) => d.startsWith("rigdemo-d")));
        assert.ok("rigdemo-c" in data.tool.poetry.group.dev.dependencies);
        assert.notEqual(await Deno.readTextFile(lock), beforeLock);
        assert.equal(lockedVersions(lock)["rigdemo-d"], "0.3");
        assert.equal(demoDists(venv)["rigdemo-d"], "0.3");
        assert.equal(demoDists(venv)["rigdemo-c"], lockedVersions(lock)["rigdemo-c"]);
      },
    );

    await t.step(
      "a conflicting spec leaves pyproject.toml and poetry.lock byte-identical",
      async () => {
        const before = await snapshot([pyproject, lock]);
        const disjoint = await rigProcess(["install", "rigdemo-a>=2"], { cwd: root, env });
        assert.equal(disjoint.code, 1, show(disjoint));
        await assertUnchanged(before, "disjoint spec");
        const conflict = await rigProcess(["install", "rigdemo-e"], { cwd: root, env });
        assert.notEqual(conflict.code, 0, show(conflict));
        await assertUnchanged(before, "unresolvable add");
      },
    );

    await t.step(
      "a poetry.lock out of date is exit 3 with the fix, in install and doctor",
      async () => {
        const text = await Deno.readTextFile(pyproject);
        await Deno.writeTextFile(
          pyproject,
          text.replace('"rigdemo-a>=1,<2"', '"rigdemo-a>=1,<2", "rigdemo-b"'),
        );
        const before = await snapshot([pyproject, lock]);
        const run = await rigProcess(["install"], { cwd: root, env });
        assert.equal(run.code, 3, show(run));
        assert.match(run.stderr, /"poetry\.lock" is out of date with pyproject\.toml/);
        assert.match(run.stderr, /hint: Update the lock with: poetry lock, then run: rig install/);
        const doctor = await rigProcess(["doctor"], { cwd: root, env });
        assert.equal(doctor.code, 3, show(doctor));
        assert.match(
          doctor.stdout + doctor.stderr,
          /"poetry\.lock" is out of date with pyproject\.toml/,
        );
        await assertUnchanged(before, "stale poetry.lock");
      },
    );
  },
});
