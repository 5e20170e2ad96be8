/**
 * `rig install`, `rig install PKG` and `rig doctor` on uv projects (and pip with PEP 735 groups),
 * end to end with the real uv, against tiny wheels served on
 * 127.0.0.1 (tests/py_index.ts): locked installs, lock checks, adds that change
 * pyproject.toml and the lock together, and failures that change nothing.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import {
  git,
  gitRepository,
  python3Executable,
  rigProcess,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import {
  assertConflictsChangeNothing,
  assertInstallsLock,
  assertStaleLockRefused,
  assertUnchanged,
  buildWheels,
  demoDists,
  lockedProject,
  lockedVersions,
  type PyIndex,
  runTool,
  show,
  snapshot,
  wheelIndex,
  type WheelSpec,
  which,
} from "../py_index.ts";

/** Published after the lock was made: a locked install must not pick it. */
const NEWER: WheelSpec[] = [{ name: "rigdemo-c", version: "1.5" }];

const HAS_UV = which("uv");
if (!HAS_UV) console.log("ignored: the uv project tests (uv is not on PATH; .ci/run installs it)");

/** The uv wheel .ci/run keeps in the test tools cache, for rig's own uv tool environment. */
const TOOL_WHEELS = path.join(
  Deno.env.get("XDG_CACHE_HOME") ?? path.join(Deno.env.get("HOME") ?? "/tmp", ".cache"),
  "rig-test-tools",
  "wheels",
);
const UV_WHEEL = (() => {
  try {
    return [...Deno.readDirSync(TOOL_WHEELS)].some((e) => /^uv-.*\.whl$/.test(e.name));
  } catch {
    return false;
  }
})();
if (!UV_WHEEL) {
  console.log(
    `ignored: rig installing uv itself (no uv wheel in ${TOOL_WHEELS}; .ci/run downloads one)`,
  );
}

/** Locks the project in `root` with uv against the test index. */
async function uvLock(root: string, index: PyIndex, cacheDir: string): Promise<void> {
  await runTool(["uv", "lock", "--default-index", index.simple], root, {
    ...Deno.env.toObject(),
    UV_CACHE_DIR: cacheDir,
  });
}

/** A folder with only python3 and git on it, to stand for a machine without uv. */
async function pathWithoutUv(dir: string): Promise<string> {
  const bin = path.join(dir, "bin-without-uv");
  await Deno.mkdir(bin, { recursive: true });
  const python = await python3Executable();
  const gitPath = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "command -v git"], stdout: "piped" }).output())
      .stdout,
  ).trim();
  await Deno.symlink(python, path.join(bin, "python3"));
  await Deno.symlink(gitPath, path.join(bin, "git"));
  return bin;
}

testWithProcesses({
  name:
    "a uv project installs exactly its lock, checks the lock, and adds packages to pyproject and uv.lock together",
  ignore: !HAS_UV,
  async fn(t) {
    await using dir = await tempDir("rig-uv-");
    await using index = await wheelIndex(dir.join("wheels"));
    const root = dir.join("uvdemo");
    await dir.write({
      "uvdemo/pyproject.toml": [
        "[project]",
        'name = "uvdemo"',
        'version = "0.1.0"',
        'requires-python = ">=3.9"',
        'dependencies = ["rigdemo-a>=1,<2", "rigdemo-c>=1"]',
        "",
        "[dependency-groups]",
        'dev = ["pytest-rigdemo"]',
        "",
        "[tool.uv]",
        "package = false",
        "",
      ].join("\n"),
      "uvdemo/rig.toml": '[project]\nname = "uvdemo"\n',
      "uvdemo/.gitignore": ".venv/\n",
    });
    await uvLock(root, index, dir.join("uv-cache"));
    await gitRepository(root, { branch: "main" });
    // rigdemo-c 1.5 appears after locking: the locked install keeps 1.0.
    await buildWheels(dir.join("wheels"), NEWER);
    const project = lockedProject(root, "uv.lock", "uv lock", {
      PIP_INDEX_URL: index.simple,
      RIG_CACHE_DIR: dir.join("cache"),
    });
    const { env, pyproject, lock, venv } = project;

    await t.step("rig install syncs exactly the locked versions, dev group included", async () => {
      const { run, locked } = await assertInstallsLock(project, [
        "rigdemo-a",
        "rigdemo-c",
        "pytest-rigdemo",
      ]);
      assert.match(run.stderr + run.stdout, /uv/);
      assert.equal(locked["rigdemo-c"], "1.0");
    });

    await t.step("a second rig install does nothing; rig info and doctor name uv", async () => {
      const run = await rigProcess(["install"], { cwd: root, env });
      assert.equal(run.code, 0, show(run));
      assert.match(run.stdout + run.stderr, /up to date/);
      const info = await rigProcess(["--json", "info"], { cwd: root, env });
      assert.equal(JSON.parse(info.stdout).components[0].manager, "uv");
      const doctor = await rigProcess(["doctor"], { cwd: root, env });
      assert.equal(doctor.code, 0, show(doctor));
    });

    await t.step(
      "a lock out of date with pyproject.toml is exit 3 with the fix, in install and doctor alike",
      async () => {
        await assertStaleLockRefused(
          project,
          ['"rigdemo-c>=1"', '"rigdemo-c>=1", "rigdemo-d"'],
          /"uv\.lock" is out of date with pyproject\.toml: .*rigdemo-d/,
        );
        await git(root, "checkout", "-q", "--", "pyproject.toml");
      },
    );

    await t.step("a corrupt uv.lock is exit 3 naming the file and line", async () => {
      await Deno.writeTextFile(lock, (await Deno.readTextFile(lock)) + "\n[[package]\n");
      const before = await snapshot([pyproject, lock]);
      const run = await rigProcess(["install", "--force"], { cwd: root, env });
      assert.equal(run.code, 3, show(run));
      assert.match(run.stderr, /"uv\.lock" line \d+: is not a valid lock file/);
      assert.match(run.stderr, /git checkout -- uv\.lock/);
      await assertUnchanged(before, "corrupt lock");
      await git(root, "checkout", "-q", "--", "uv.lock");
    });

    await t.step("rig install PKG runs uv add: pyproject and uv.lock change together", async () => {
      const run = await rigProcess(["install", "rigdemo-d"], { cwd: root, env });
      assert.equal(run.code, 0, show(run));
      const data = parseToml(await Deno.readTextFile(pyproject)) as {
        project: { dependencies: string[] };
        "dependency-groups": { dev: string[] };
      };
      assert.ok(data.project.dependencies.some((d) => d.startsWith("rigdemo-d")), show(run));
      assert.equal(lockedVersions(lock)["rigdemo-d"], "0.3");
      assert.equal(demoDists(venv)["rigdemo-d"], "0.3");
      const dev = await rigProcess(["install", "--dev", "pytest-timeout"], { cwd: root, env });
      assert.equal(dev.code, 0, show(dev));
      const after = parseToml(await Deno.readTextFile(pyproject)) as typeof data;
      assert.ok(after["dependency-groups"].dev.some((d) => d.startsWith("pytest-timeout")));
      assert.ok(!after.project.dependencies.some((d) => d.startsWith("pytest-timeout")));
      assert.equal(lockedVersions(lock)["pytest-timeout"], "9.9");
      assert.equal(demoDists(venv)["pytest-timeout"], "9.9");
      // The next install is a no-op: the fingerprint was recorded after the add.
      const again = await rigProcess(["install"], { cwd: root, env });
      assert.match(again.stdout + again.stderr, /up to date/, show(again));
    });

    await t.step(
      "a conflicting spec leaves pyproject.toml and uv.lock byte-identical",
      async () => {
        await assertConflictsChangeNothing(project);
        const status = await git(root, "status", "--porcelain");
        assert.doesNotMatch(status, /journal/);
      },
    );
  },
});

testWithProcesses({
  name:
    "uv that is neither on PATH nor obtainable is exit 3 with the install command, and nothing changes",
  ignore: !HAS_UV,
  async fn() {
    await using dir = await tempDir("rig-nouv-");
    const root = dir.join("proj");
    await dir.write({
      "proj/pyproject.toml":
        '[project]\nname = "p"\nversion = "0.1.0"\ndependencies = ["rigdemo-a"]\n',
      "proj/uv.lock":
        'version = 1\nrevision = 3\nrequires-python = ">=3.9"\n\n[[package]]\nname = "p"\nversion = "0.1.0"\nsource = { virtual = "." }\n',
      "proj/rig.toml": '[project]\nname = "p"\n',
    });
    const bin = await pathWithoutUv(dir.path);
    const closed = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      return port;
    })();
    const before = await snapshot([path.join(root, "pyproject.toml"), path.join(root, "uv.lock")]);
    const run = await rigProcess(["install"], {
      cwd: root,
      env: {
        PATH: bin,
        RIG_CACHE_DIR: dir.join("cache"),
        PIP_INDEX_URL: `http://127.0.0.1:${closed}/simple`,
        PIP_RETRIES: "0",
      },
    });
    assert.equal(run.code, 3, show(run));
    assert.match(run.stderr, /"uv\.lock" needs uv, which is not on PATH, and installing it failed/);
    assert.match(run.stderr, /hint: Install uv \(pip install "uv>=0\.5,<1"/);
    assert.match(run.stdout + run.stderr, /installing "uv>=0\.5,<1" into/);
    await assertUnchanged(before, "uv unobtainable");
    assert.equal(await Deno.stat(path.join(root, ".venv")).then(() => true, () => false), false);
  },
});

testWithProcesses({
  name:
    "when uv is missing rig installs it into its tool environment once, saying so, and reuses it",
  ignore: !HAS_UV || !UV_WHEEL,
  async fn() {
    await using dir = await tempDir("rig-uvtool-");
    await using index = await wheelIndex(dir.join("wheels"));
    const root = dir.join("proj");
    await dir.write({
      "proj/pyproject.toml":
        '[project]\nname = "p"\nversion = "0.1.0"\nrequires-python = ">=3.9"\n' +
        'dependencies = ["rigdemo-a>=1,<2"]\n\n[tool.uv]\npackage = false\n',
      "proj/rig.toml": '[project]\nname = "p"\n',
    });
    await uvLock(root, index, dir.join("uv-cache"));
    const env = {
      PATH: await pathWithoutUv(dir.path),
      RIG_CACHE_DIR: dir.join("cache"),
      // uv comes from the wheel .ci/run keeps; the project's packages from the test index.
      PIP_FIND_LINKS: TOOL_WHEELS,
      PIP_NO_INDEX: "1",
      UV_DEFAULT_INDEX: index.simple,
    };
    const first = await rigProcess(["install"], { cwd: root, env });
    assert.equal(first.code, 0, show(first));
    const said = (first.stdout + first.stderr).match(
      /uv is not on PATH .*installing "uv>=0\.5,<1" into .*tools\/uv/g,
    );
    assert.equal(said?.length, 1, show(first));
    assert.deepEqual(demoDists(path.join(root, ".venv")), { "rigdemo-a": "1.0" });
    const second = await rigProcess(["install", "--force"], { cwd: root, env });
    assert.equal(second.code, 0, show(second));
    assert.doesNotMatch(second.stdout + second.stderr, /installing "uv/);
  },
});

testWithProcesses({
  name: "PEP 735 dependency groups without uv or Poetry are installed with --group dev",
  // uv pip reads --group; pip needs 25.1+, which a fresh venv lacks and the test index cannot serve.
  ignore: !HAS_UV,
  async fn() {
    await using dir = await tempDir("rig-groups-");
    await using index = await wheelIndex(dir.join("wheels"));
    const root = dir.join("groups");
    await dir.write({
      "groups/requirements.txt": "rigdemo-a>=1,<2\n",
      "groups/pyproject.toml":
        '[dependency-groups]\ndev = ["pytest-rigdemo"]\n[tool.pytest.ini_options]\n',
      "groups/rig.toml": '[project]\nname = "groups"\n',
    });
    const run = await rigProcess(["install"], {
      cwd: root,
      env: { PIP_INDEX_URL: index.simple, RIG_CACHE_DIR: dir.join("cache") },
    });
    assert.equal(run.code, 0, show(run));
    assert.deepEqual(demoDists(path.join(root, ".venv")), {
      "rigdemo-a": "1.0",
      "pytest-rigdemo": "0.1",
    });
    // Only a "docs" group, no [project]: nothing would be installed — an error, in doctor too.
    const other = dir.join("docsonly");
    await dir.write({
      "docsonly/pyproject.toml": '[dependency-groups]\ndocs = ["rigdemo-d"]\n',
      "docsonly/rig.toml": '[project]\nname = "docsonly"\n',
    });
    const cache = { RIG_CACHE_DIR: dir.join("cache") };
    const empty = await rigProcess(["install"], { cwd: other, env: cache });
    assert.equal(empty.code, 3, show(empty));
    assert.match(
      empty.stderr,
      /declares dependencies in \.\/pyproject\.toml, but rig found nothing/,
    );
    assert.doesNotMatch(empty.stdout + empty.stderr, /Installed/);
    assert.equal(await Deno.stat(path.join(other, ".venv")).then(() => true, () => false), false);
    const doctor = await rigProcess(["doctor"], { cwd: other, env: cache });
    assert.equal(doctor.code, 3, show(doctor));
    assert.match(doctor.stdout, /but rig found nothing to install/);
  },
});
