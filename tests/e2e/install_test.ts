/**
 * End-to-end tests of `rig install` and `rig doctor` with real venvs, real pip
 * (and uv, and npm), against tiny wheels built here and served as a PEP 503
 * index on 127.0.0.1 — never PyPI's live contents.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { installedDistributions, venvLayout } from "../../lib/python/venv.ts";
import { journalFile } from "../../lib/install/install_journal.ts";
import { which } from "../../lib/proc.ts";
import {
  baseEnv,
  REPO_ROOT,
  rigInProcess,
  spawnRig,
  type TempDir,
  tempDir,
  tempDirWith,
  testWithProcesses,
} from "../helpers.ts";
import {
  buildWheels as buildWheelsInto,
  type PyIndex,
  serveIndex as serveWheels,
  show,
} from "../py_index.ts";

const PACKAGES = [
  { name: "rigdemo-a", version: "1.0", scripts: { "rigdemo-a": "rigdemo_a:main" } },
  { name: "rigdemo-a", version: "2.0", scripts: { "rigdemo-a": "rigdemo_a:main" } },
  { name: "rigdemo-b", version: "1.0", requires: ["rigdemo-a<2"] },
  { name: "rigdemo-c", version: "1.0" },
  { name: "rigdemo-c", version: "1.5" },
  { name: "rigdemo-d", version: "0.3" },
  { name: "pytest-rigdemo", version: "0.1" },
  { name: "rigdemo-slow", version: "1.0" },
];

let wheels: Promise<string> | undefined;

/** Builds the test wheels once per test file (into a folder removed at exit). */
function buildWheels(): Promise<string> {
  wheels ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "rig-wheels-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Already gone.
      }
    });
    await buildWheelsInto(dir, PACKAGES);
    return dir;
  })();
  return wheels;
}

/** The shared test index (tests/py_index.ts) over this file's wheels. */
async function serveIndex(): Promise<PyIndex> {
  return serveWheels(await buildWheels());
}

/**
 * What an install of rigdemo-d into component "tool" leaves when its rig dies (pid 999999 is
 * gone): requirements.txt edited from `original` and the journal that would roll it back to
 * `original` and the venv to `before`.
 */
async function interruptedAdd(
  dir: TempDir,
  original: string,
  before: Record<string, string>,
): Promise<void> {
  const file = dir.join("tool/requirements.txt");
  await Deno.writeTextFile(file, original + "rigdemo-d>=0.3\n");
  await Deno.mkdir(path.dirname(journalFile(dir.path)), { recursive: true });
  await Deno.writeTextFile(
    journalFile(dir.path),
    JSON.stringify({
      version: 1,
      component: "tool",
      kind: "python",
      pid: 999999,
      startedAt: new Date().toISOString(),
      action: "pip install rigdemo-d",
      files: [{ path: file, content: original }],
      venvDir: dir.join("tool/.venv"),
      before,
      installer: "pip",
    }),
  );
}

/** A project that installs with pip from `index`: its env and rig run in its folder. */
function pipProject(index: PyIndex, dir: TempDir) {
  const env = {
    PIP_INDEX_URL: `${index.url}/simple/`,
    RIG_CACHE_DIR: dir.join(".cache"),
    RIG_INSTALLER: "pip",
  };
  const rig = (...args: string[]) => rigInProcess(args, { cwd: dir.path, env });
  // A rig run that must succeed (exit 0); its output is shown when it does not.
  const rigOk = async (...args: string[]) => {
    const run = await rig(...args);
    assert.equal(run.code, 0, show(run));
    return run;
  };
  return { env, rig, rigOk };
}

function read(file: string): string {
  return Deno.readTextFileSync(file);
}

function dists(componentDir: string): Record<string, string> {
  const all = installedDistributions(venvLayout(path.join(componentDir, ".venv")));
  return Object.fromEntries(Object.entries(all).filter(([n]) => n.includes("rigdemo")));
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

testWithProcesses({
  name:
    "rig install sets up components, skips unchanged ones, adds packages, refuses conflicts and rolls back failures",
  async fn(t) {
    await using index = await serveIndex();
    await using dir = await tempDirWith({
      "rig.toml": '[project]\nname = "demo"\n',
      "server/alembic.ini": "[alembic]\n",
      "server/requirements.txt": "# server deps\nrigdemo-b<2\n",
      "tool/requirements.txt": "rigdemo-c==1.0\n",
    });
    const { env, rig, rigOk } = pipProject(index, dir);
    const server = dir.join("server");
    const tool = dir.join("tool");

    await t.step("a fresh clone gets venvs and requirements", async () => {
      const run = await rigOk("install");
      assert.match(run.stderr, /✓ install server pip: created \.venv/);
      assert.match(run.stderr, /✓ install tool pip: created \.venv/);
      assert.deepEqual(dists(server), { "rigdemo-a": "1.0", "rigdemo-b": "1.0" });
      assert.deepEqual(dists(tool), { "rigdemo-c": "1.0" });
      const state = JSON.parse(read(dir.join(".rig/install/server.json")));
      assert.equal(state.packages["rigdemo-b"], "1.0");
    });

    await t.step("a second rig install skips everything", async () => {
      const started = performance.now();
      const run = await rig("install");
      const elapsed = performance.now() - started;
      assert.equal(run.code, 0, show(run));
      assert.match(run.stderr, /- install server up to date/);
      assert.match(run.stderr, /- install tool up to date/);
      assert.match(run.stderr, /Everything is up to date/);
      assert.ok(elapsed < 2000, `took ${elapsed}ms`);
    });

    await t.step("a changed requirement re-installs only that component", async () => {
      await Deno.writeTextFile(dir.join("tool/requirements.txt"), "rigdemo-c==1.5\n");
      const run = await rigOk("install");
      assert.match(run.stderr, /✓ install tool pip: "tool\/requirements\.txt" changed/);
      assert.match(run.stderr, /- install server up to date/);
      assert.deepEqual(dists(tool), { "rigdemo-c": "1.5" });
    });

    await t.step("a package removed behind rig's back is noticed", async () => {
      const py = venvLayout(dir.join("tool/.venv")).python;
      const out = await new Deno.Command(py, {
        args: ["-m", "pip", "uninstall", "-y", "-q", "rigdemo-c"],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(out.success);
      const run = await rigOk("install", "--tool");
      assert.match(
        run.stderr,
        /install tool pip: the environment changed since the last install \(rigdemo-c removed\)/,
      );
      assert.deepEqual(dists(tool), { "rigdemo-c": "1.5" });
    });

    await t.step("rig install PKG records a runtime dependency in requirements.txt", async () => {
      const run = await rigOk("install", "rigdemo-c");
      assert.equal(
        read(dir.join("server/requirements.txt")),
        "# server deps\nrigdemo-b<2\nrigdemo-c>=1.5\n",
      );
      assert.match(run.stdout, /server\/requirements\.txt:3 {2}add "rigdemo-c>=1\.5"/);
      assert.deepEqual(dists(server), {
        "rigdemo-a": "1.0",
        "rigdemo-b": "1.0",
        "rigdemo-c": "1.5",
      });
      assert.throws(() => Deno.statSync(journalFile(dir.path)), "journal left behind");
    });

    await t.step("development tools and --dev go to requirements-dev.txt", async () => {
      let run = await rigOk("install", "pytest-rigdemo");
      assert.equal(
        read(dir.join("server/requirements-dev.txt")),
        "-r requirements.txt\npytest-rigdemo>=0.1\n",
      );
      run = await rigOk("install", "rigdemo-d", "--dev", "--server");
      assert.equal(
        read(dir.join("server/requirements-dev.txt")),
        "-r requirements.txt\npytest-rigdemo>=0.1\nrigdemo-d>=0.3\n",
      );
      assert.equal(
        read(dir.join("server/requirements.txt")),
        "# server deps\nrigdemo-b<2\nrigdemo-c>=1.5\n",
      );
      run = await rigOk("install");
      assert.match(run.stderr, /Everything is up to date/);
    });

    await t.step("a user's specifier updates the existing line in place", async () => {
      const run = await rigOk("install", "rigdemo-c>=1.0,<2");
      assert.equal(
        read(dir.join("server/requirements.txt")),
        "# server deps\nrigdemo-b<2\nrigdemo-c>=1.0,<2\n",
      );
      assert.match(
        run.stdout,
        /server\/requirements\.txt:3 {2}change "rigdemo-c>=1\.5" → "rigdemo-c>=1\.0,<2"/,
      );
    });

    const snapshot = () => ({
      prod: read(dir.join("server/requirements.txt")),
      dev: read(dir.join("server/requirements-dev.txt")),
      dists: dists(server),
    });

    await t.step(
      "a conflicting specifier is refused with both lines quoted and files untouched",
      async () => {
        const before = snapshot();
        const run = await rig("install", "rigdemo-b>=2");
        assert.equal(run.code, 1, show(run));
        assert.match(
          run.stderr,
          /Cannot add "rigdemo-b>=2": server\/requirements\.txt:2 already requires "rigdemo-b<2", and no version satisfies both/,
        );
        assert.match(run.stderr, /hint: Ask for a version that fits \(rig install "rigdemo-b<2"\)/);
        assert.deepEqual(snapshot(), before);
      },
    );

    await t.step("an unsatisfiable install rolls back files and environment", async () => {
      const before = snapshot();
      const run = await rig("install", "rigdemo-a>=2");
      assert.equal(run.code, 1, show(run));
      assert.match(run.stderr, /Install failed; rolling back server/);
      assert.match(run.stderr, /Command failed with exit code 1: .*pip install/);
      assert.deepEqual(snapshot(), before);
      assert.throws(() => Deno.statSync(journalFile(dir.path)));
    });

    await t.step("--dry-run prints the change and does nothing", async () => {
      const before = read(dir.join("tool/requirements.txt"));
      const run = await rigOk("install", "rigdemo-d", "--tool", "--dry-run");
      assert.match(
        run.stdout,
        /Would run \(in tool\): .*pip install -r requirements\.txt rigdemo-d/,
      );
      assert.match(
        run.stdout,
        /tool\/requirements\.txt:2 {2}would add "rigdemo-d>=<installed version>"/,
      );
      assert.equal(read(dir.join("tool/requirements.txt")), before);
      assert.deepEqual(dists(tool), { "rigdemo-c": "1.5" });
    });

    await t.step("selection mistakes and malformed files are clear errors", async () => {
      let run = await rig("install", "rigdemo-d", "--tool", "--server");
      assert.equal(run.code, 2, show(run));
      assert.match(run.stderr, /Packages go into one component/);
      run = await rig("install", "rigdemo-d", "--nope");
      assert.equal(run.code, 2, show(run));
      await Deno.writeTextFile(
        dir.join("tool/requirements.txt"),
        "rigdemo-c==1.5 \\\n    --hash=sha256:0000\n",
      );
      run = await rig("install", "rigdemo-d", "--tool");
      assert.equal(run.code, 1, show(run));
      assert.match(
        run.stderr,
        /Cannot add packages to "tool\/requirements\.txt": it pins hashes \(tool\/requirements\.txt:1\)/,
      );
      await Deno.writeTextFile(dir.join("tool/requirements.txt"), "rigdemo-c >= = 1\n");
      run = await rig("install");
      assert.equal(run.code, 3, show(run));
      assert.match(run.stderr, /"tool\/requirements\.txt" line 1: invalid version specifier/);
      await Deno.writeTextFile(dir.join("tool/requirements.txt"), "rigdemo-c==1.5\n");
    });

    await t.step(
      "a journal left by an interrupted install is rolled back by the next run",
      async () => {
        // What an interrupted `rig install rigdemo-d --tool` leaves: rigdemo-d installed, the file edited.
        const py = venvLayout(dir.join("tool/.venv")).python;
        const before = installedDistributions(venvLayout(dir.join("tool/.venv")));
        const original = read(dir.join("tool/requirements.txt"));
        const out = await new Deno.Command(py, {
          args: ["-m", "pip", "install", "-q", "--index-url", `${index.url}/simple/`, "rigdemo-d"],
          stdout: "null",
          stderr: "piped",
          env: { PIP_DISABLE_PIP_VERSION_CHECK: "1" },
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        await interruptedAdd(dir, original, before);
        const run = await rigOk("install");
        assert.match(
          run.stderr,
          /An earlier "rig install" \(pip install rigdemo-d\) of component "tool" was interrupted; rolling it back/,
        );
        assert.match(
          run.stderr,
          /Rolled back: restored tool\/requirements\.txt; uninstalled rigdemo-d/,
        );
        assert.equal(read(dir.join("tool/requirements.txt")), original);
        assert.deepEqual(dists(tool), { "rigdemo-c": "1.5" });
        assert.throws(() => Deno.statSync(journalFile(dir.path)));
      },
    );

    await t.step("rig doctor also finishes an interrupted rollback", async () => {
      const file = dir.join("tool/requirements.txt");
      const original = read(file);
      await interruptedAdd(
        dir,
        original,
        installedDistributions(venvLayout(dir.join("tool/.venv"))),
      );
      const run = await rigOk("doctor");
      assert.match(
        run.stdout,
        /tool .*rolled back an interrupted install \(pip install rigdemo-d\)/,
      );
      assert.equal(read(file), original);
      assert.throws(() => Deno.statSync(journalFile(dir.path)));
    });

    await t.step("component names as arguments select components", async () => {
      const run = await rigOk("install", "tool");
      assert.match(run.stderr, /- install tool up to date/);
      assert.doesNotMatch(run.stderr, /install server/);
    });

    await t.step("a killed rig install leaves a journal that the next run finishes", async () => {
      const before = { file: read(dir.join("tool/requirements.txt")), dists: dists(tool) };
      index.slow = /rigdemo_slow/;
      const child = spawnRig(["install", "rigdemo-slow", "--tool"], { cwd: dir.path, env });
      try {
        await waitFor(() => index.held() > 0, 60_000, "pip to download rigdemo-slow");
        const journal = JSON.parse(read(journalFile(dir.path)));
        assert.equal(journal.component, "tool");
        child.kill("SIGKILL");
        await child.output(); // also closes the pipes
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already stopped.
        }
      }
      assert.ok(Deno.statSync(journalFile(dir.path)).isFile);
      index.slow = undefined;
      const run = await rig("install", "--tool");
      index.release();
      assert.equal(run.code, 0, show(run));
      assert.match(
        run.stderr,
        /\(pip install rigdemo-slow\) of component "tool" was interrupted; rolling it back/,
      );
      assert.equal(read(dir.join("tool/requirements.txt")), before.file);
      assert.deepEqual(dists(tool), before.dists);
      assert.throws(() => Deno.statSync(journalFile(dir.path)));
    });

    await t.step("Ctrl-C during rig install PKG rolls back at once", async () => {
      const before = { file: read(dir.join("tool/requirements.txt")), dists: dists(tool) };
      index.slow = /rigdemo_slow/;
      const child = spawnRig(["install", "rigdemo-slow", "--tool"], { cwd: dir.path, env });
      let output: Deno.CommandOutput;
      try {
        await waitFor(() => index.held() > 0, 60_000, "pip to download rigdemo-slow");
        child.kill("SIGINT");
        output = await child.output();
      } finally {
        index.slow = undefined;
        index.release();
      }
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 130, stderr);
      assert.match(stderr, /Interrupted; rolling back tool/);
      assert.equal(read(dir.join("tool/requirements.txt")), before.file);
      assert.deepEqual(dists(tool), before.dists);
      assert.throws(() => Deno.statSync(journalFile(dir.path)));
    });

    await t.step(
      "a venv whose interpreter is gone is reported by doctor and recreated",
      async () => {
        const python = venvLayout(dir.join("server/.venv")).python;
        await Deno.remove(python);
        await Deno.symlink("/usr/bin/python3.10-removed", python);
        let run = await rig("doctor");
        assert.equal(run.code, 3, show(run));
        assert.match(
          run.stdout,
          /server .*server\/\.venv: its interpreter "\/usr\/bin\/python3\.10-removed" no longer exists/,
        );
        assert.match(run.stdout, /fix: rig install --server \(recreates it\)/);
        run = await rigOk("install");
        assert.match(
          run.stderr,
          /Recreating server\/\.venv: its interpreter "\/usr\/bin\/python3\.10-removed" no longer exists/,
        );
        assert.match(run.stderr, /- install tool up to date/);
        assert.deepEqual(dists(server), {
          "rigdemo-a": "1.0",
          "rigdemo-b": "1.0",
          "rigdemo-c": "1.5",
          "rigdemo-d": "0.3",
          "pytest-rigdemo": "0.1",
        });
        run = await rigOk("--json", "doctor");
        const report = JSON.parse(run.stdout);
        const serverFinding = report.findings.find((f: { name: string }) => f.name === "server");
        assert.equal(serverFinding.severity, "ok");
      },
    );
  },
});

/** uv on PATH (.ci/run installs it); the uv test is ignored, with this reason, without it. */
const UV = which("uv", Deno.env.toObject());
if (!UV) console.log("ignoring the uv install test: uv is not on PATH (pip install uv)");

testWithProcesses({
  name: "rig install uses uv when asked and records packages the same way",
  ignore: !UV,
  async fn() {
    await using dir = await tempDir();
    const uvBin = path.dirname(UV!);
    await using index = await serveIndex();
    await dir.write({
      "proj/rig.toml": '[project]\nname = "uvdemo"\n',
      "proj/tool/requirements.txt": "rigdemo-b\n",
    });
    const env = {
      PIP_INDEX_URL: `${index.url}/simple/`,
      RIG_CACHE_DIR: dir.join("cache"),
      RIG_INSTALLER: "uv",
      PATH: `${uvBin}:${baseEnv().PATH}`,
    };
    const cwd = dir.join("proj");
    let run = await rigInProcess(["install"], { cwd, env });
    assert.equal(run.code, 0, show(run));
    assert.match(run.stderr, /✓ install tool uv: created \.venv/);
    assert.deepEqual(dists(dir.join("proj/tool")), { "rigdemo-a": "1.0", "rigdemo-b": "1.0" });
    assert.ok(Deno.statSync(dir.join("cache/uv")).isDirectory);
    run = await rigInProcess(["install", "rigdemo-c"], { cwd, env });
    assert.equal(run.code, 0, show(run));
    assert.equal(read(dir.join("proj/tool/requirements.txt")), "rigdemo-b\nrigdemo-c>=1.5\n");
    run = await rigInProcess(["install", "rigdemo-a>=2"], { cwd, env });
    assert.equal(run.code, 1, show(run));
    assert.match(run.stderr, /warning: uv failed \(.*\); retrying with pip/);
    assert.match(run.stderr, /Command failed with exit code 1: .*pip install/);
    assert.equal(read(dir.join("proj/tool/requirements.txt")), "rigdemo-b\nrigdemo-c>=1.5\n");
    run = await rigInProcess(["install"], { cwd, env });
    assert.equal(run.code, 0, show(run));
    assert.match(run.stderr, /Everything is up to date/);
  },
});

testWithProcesses({
  name:
    "rig install runs npm for node components, skips when node_modules matches, and restores package.json on failure",
  async fn() {
    await using dir = await tempDirWith({
      "src/tiny/package.json": JSON.stringify({
        name: "rig-tiny",
        version: "1.0.0",
        main: "index.js",
      }),
      "src/tiny/index.js": "module.exports = 42;\n",
      "src/tiny2/package.json": JSON.stringify({
        name: "rig-tiny2",
        version: "2.0.0",
        main: "index.js",
      }),
      "src/tiny2/index.js": "module.exports = 43;\n",
      "proj/rig.toml": '[project]\nname = "npmdemo"\n',
    });
    await Deno.mkdir(dir.join("pkgs"));
    for (const name of ["tiny", "tiny2"]) {
      const out = await new Deno.Command("npm", {
        args: ["pack", "--silent", "--pack-destination", dir.join("pkgs")],
        cwd: dir.join("src", name),
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    }
    const manifest = JSON.stringify(
      {
        name: "web",
        version: "0.1.0",
        private: true,
        dependencies: { "rig-tiny": "file:../../pkgs/rig-tiny-1.0.0.tgz" },
      },
      null,
      2,
    ) + "\n";
    await dir.write({ "proj/web/package.json": manifest });
    const env = { RIG_CACHE_DIR: dir.join("cache"), npm_config_offline: "true" };
    const cwd = dir.join("proj");
    let run = await rigInProcess(["install"], { cwd, env });
    assert.equal(run.code, 0, show(run));
    assert.match(run.stderr, /✓ install web npm/);
    assert.equal(
      read(dir.join("proj/web/node_modules/rig-tiny/index.js")),
      "module.exports = 42;\n",
    );
    // Setup never writes a lockfile (npm install --no-package-lock without one); only
    // `rig install PKG` below records packages, lockfile included.
    assert.throws(() => Deno.statSync(dir.join("proj/web/package-lock.json")));

    run = await rigInProcess(["install"], { cwd, env });
    assert.match(run.stderr, /- install web up to date/);

    await Deno.remove(dir.join("proj/web/node_modules"), { recursive: true });
    run = await rigInProcess(["--json", "doctor"], { cwd, env });
    const finding = JSON.parse(run.stdout).findings.find((f: { name: string }) => f.name === "web");
    assert.match(finding.detail, /node_modules missing \(npm\)/);
    run = await rigInProcess(["install"], { cwd, env });
    assert.equal(run.code, 0, show(run));
    assert.match(run.stderr, /✓ install web npm: node_modules is missing/);

    run = await rigInProcess(["install", "--web", "--dev", "../../pkgs/rig-tiny2-2.0.0.tgz"], {
      cwd,
      env,
    });
    assert.equal(run.code, 0, show(run));
    const pkg = JSON.parse(read(dir.join("proj/web/package.json")));
    assert.deepEqual(Object.keys(pkg.devDependencies), ["rig-tiny2"]);
    run = await rigInProcess(["install"], { cwd, env });
    assert.match(run.stderr, /- install web up to date/);

    const before = {
      manifest: read(dir.join("proj/web/package.json")),
      lock: read(dir.join("proj/web/package-lock.json")),
    };
    run = await rigInProcess(["install", "--web", "../../pkgs/missing-9.9.9.tgz"], { cwd, env });
    assert.equal(run.code, 1, show(run));
    assert.match(run.stderr, /Install failed; rolling back web/);
    assert.equal(read(dir.join("proj/web/package.json")), before.manifest);
    assert.equal(read(dir.join("proj/web/package-lock.json")), before.lock);
  },
});

const LIB_PYPROJECT = `[build-system]
requires = []
build-backend = "rig_inline_backend"
backend-path = ["_backend"]

[project]
name = "libdemo"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = [
    "rigdemo-c>=1.0",  # the core dependency
]

[project.optional-dependencies]
dev = ["pytest-rigdemo"]

[tool.black]
line-length = 88
`;

testWithProcesses({
  name: "rig install edits pyproject.toml of package components in place",
  async fn(t) {
    await using index = await serveIndex();
    await using dir = await tempDir();
    const backend = read(
      path.join(REPO_ROOT, "tests/testdata/wheels-src/inline_backend/rig_inline_backend.py"),
    );
    await dir.write({
      "rig.toml": '[project]\nname = "libdemo"\n',
      "libdemo/pyproject.toml": LIB_PYPROJECT,
      "libdemo/_backend/rig_inline_backend.py": backend,
      "libdemo/src/libdemo/__init__.py": "VALUE = 1\n",
    });
    const { rig, rigOk } = pipProject(index, dir);
    const lib = dir.join("libdemo");
    const pyproject = dir.join("libdemo/pyproject.toml");

    await t.step("setup installs the package editable with its dev extra", async () => {
      await rigOk("install");
      assert.deepEqual(dists(lib), { "rigdemo-c": "1.5", "pytest-rigdemo": "0.1" });
      assert.ok("libdemo" in installedDistributions(venvLayout(path.join(lib, ".venv"))));
    });

    await t.step("a runtime dependency is appended to [project] dependencies", async () => {
      await rigOk("install", "rigdemo-d");
      assert.equal(
        read(pyproject),
        LIB_PYPROJECT.replace(
          '    "rigdemo-c>=1.0",  # the core dependency\n',
          '    "rigdemo-c>=1.0",  # the core dependency\n    "rigdemo-d>=0.3",\n',
        ),
      );
    });

    await t.step("--dev appends to the dev extra and a specifier updates an entry", async () => {
      await rigOk("install", "rigdemo-a", "--dev");
      assert.match(read(pyproject), /^dev = \["pytest-rigdemo", "rigdemo-a>=2\.0"\]$/m);
      await rigOk("install", "rigdemo-c>=1.5");
      assert.match(read(pyproject), /^ {4}"rigdemo-c>=1\.5", {2}# the core dependency$/m);
    });

    await t.step("a conflict names pyproject.toml and its line", async () => {
      const before = read(pyproject);
      const run = await rig("install", "rigdemo-c<1");
      assert.equal(run.code, 1, show(run));
      assert.match(run.stderr, /libdemo\/pyproject\.toml:11 already requires "rigdemo-c>=1\.5"/);
      assert.equal(read(pyproject), before);
    });

    await t.step("nothing changed: the next rig install skips", async () => {
      const run = await rigOk("install");
      assert.match(run.stderr, /Everything is up to date/);
    });
  },
});
