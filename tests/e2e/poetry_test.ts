/**
 * `rig install`, `rig install PKG` and `rig doctor` on a Poetry project, end to
 * end with the real Poetry against tiny wheels served on 127.0.0.1: the locked
 * install with the dev group, `poetry add` changing pyproject.toml and
 * poetry.lock together, conflicts and a stale lock changing nothing.
 */
import assert from "node:assert/strict";
import { parse as parseToml } from "smol-toml";
import { rigProcess, tempDir, testWithProcesses } from "../helpers.ts";
import {
  assertConflictsChangeNothing,
  assertInstallsLock,
  assertStaleLockRefused,
  demoDists,
  lockedProject,
  lockedVersions,
  runTool,
  show,
  wheelIndex,
  which,
} from "../py_index.ts";

const HAS_POETRY = which("poetry");
if (!HAS_POETRY) console.log("ignored: the Poetry project test (poetry is not on PATH)");

testWithProcesses({
  name:
    "a Poetry project installs its lock with the dev group, and rig install PKG runs poetry add",
  ignore: !HAS_POETRY,
  async fn(t) {
    await using dir = await tempDir("rig-poetry-");
    await using index = await wheelIndex(dir.join("wheels"));
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
    const project = lockedProject(root, "poetry.lock", "poetry lock", {
      RIG_CACHE_DIR: dir.join("cache"),
    });
    const { env, pyproject, lock, venv } = project;

    await t.step(
      "rig install installs poetry.lock's versions into .venv, dev group included",
      async () => {
        await assertInstallsLock(project, ["rigdemo-a", "pytest-rigdemo"]);
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
      () => assertConflictsChangeNothing(project),
    );

    await t.step(
      "a poetry.lock out of date is exit 3 with the fix, in install and doctor",
      () =>
        assertStaleLockRefused(
          project,
          ['"rigdemo-a>=1,<2"', '"rigdemo-a>=1,<2", "rigdemo-b"'],
          /"poetry\.lock" is out of date with pyproject\.toml/,
        ),
    );
  },
});
