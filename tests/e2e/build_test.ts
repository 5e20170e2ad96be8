import assert from "node:assert/strict";
import { exists } from "../../lib/fs.ts";
import * as path from "node:path";
import { chooseDockerfile, imageTags, renderTemplate } from "../../lib/builder/docker.ts";
import { detectEngine } from "../../lib/container_engine.ts";
import { loadProject } from "../../lib/project/load_project.ts";
import { sha256File } from "../../lib/hash.ts";
import { validateWheel, ValidationError } from "../../lib/python/wheel.ts";
import {
  copyReferenceProject,
  git,
  gitRepository,
  rigInProcess,
  rigProcess,
  tempDir,
  tempDirWith,
  testWithProcesses,
} from "../helpers.ts";

const WHEEL = "dist/python-client/authserver_client-0.1.0-py3-none-any.whl";
const SDIST = "dist/python-client/authserver_client-0.1.0.tar.gz";
const TARBALL = "dist/js-client/authserver-client-0.1.0.tgz";

interface BuildJson {
  ok: boolean;
  components: {
    name: string;
    status: string;
    reason: string | null;
    artifacts: { path?: string; type: string; sha256?: string }[];
  }[];
  docker: { available: boolean; problem?: string; hint?: string } | null;
}

// These tests are about everything but images (tests/e2e/image_test.ts builds those): they
// ask for the docker client alone, whose engine does not run on test machines.
const NO_ENGINE = { RIG_CONTAINER_ENGINE: "docker" };

function statusOf(doc: BuildJson): Record<string, string> {
  return Object.fromEntries(doc.components.map((c) => [c.name, c.status]));
}

Deno.test("imageTags names version, git sha and latest", () => {
  assert.deepEqual(imageTags("AuthServer", "1.2.0+b1", "abc1234"), [
    "authserver:1.2.0-b1",
    "authserver:abc1234",
    "authserver:latest",
  ]);
  assert.deepEqual(imageTags("svc", "0.1.0"), ["svc:0.1.0", "svc:latest"]);
});

Deno.test("renderTemplate fills the app, Python version and migrations", () => {
  const text = renderTemplate({
    app: "api.main:app",
    pythonVersion: "3.12",
    requirements: ["requirements.txt"],
    installPackage: false,
    migrations: false,
  });
  assert.match(text, /^ARG BASE_IMAGE=python:3\.12-slim$/m);
  assert.match(text, /^FROM \$\{BASE_IMAGE\}$/m);
  assert.match(text, /^RUN python3 -m venv \/opt\/venv$/m);
  assert.match(text, /^RUN pip install -r requirements\.txt$/m);
  assert.match(text, /^CMD \["uvicorn","api\.main:app","--host","0\.0\.0\.0","--port","8000"\]$/m);
  assert.doesNotMatch(text, /\{\{/);
});

Deno.test("detectEngine refuses an unknown RIG_CONTAINER_ENGINE and names the choices", async () => {
  const probe = await detectEngine({ PATH: "/usr/bin:/bin", RIG_CONTAINER_ENGINE: "rkt" });
  assert.equal(probe.engine, undefined);
  assert.match(
    probe.problem!,
    /RIG_CONTAINER_ENGINE is "rkt", which is neither "docker" nor "podman"/,
  );
});

Deno.test("detectEngine explains how to get an engine when none is on PATH", async () => {
  const probe = await detectEngine({ PATH: "/nonexistent" });
  assert.equal(probe.engine, undefined);
  assert.match(probe.problem!, /neither docker nor podman is on PATH/);
  assert.match(probe.hint, /rig build --docker/);
});

Deno.test("chooseDockerfile renders rig's template when the component has no Dockerfile", async () => {
  await using dir = await tempDirWith({
    "api/requirements.txt": "fastapi\n",
    "api/alembic.ini": "[alembic]\n",
    "api/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
  });
  const project = await loadProject(dir.path);
  const component = project.components[0]!;
  const work = dir.join(".rig", "build", component.name);
  const choice = await chooseDockerfile(component, {
    workDir: work,
    app: "app.main:app",
    pythonVersion: "3.11",
    installPackage: false,
  });
  assert.deepEqual(choice, { file: path.join(work, "Dockerfile"), template: true });
  assert.match(
    await Deno.readTextFile(choice.file),
    /alembic upgrade head && uvicorn app\.main:app/,
  );
  await dir.write({ "api/Dockerfile": "FROM scratch\n" });
  const own = await chooseDockerfile(component, {
    workDir: work,
    app: "app.main:app",
    pythonVersion: "3.11",
    installPackage: false,
  });
  assert.deepEqual(own, { file: dir.join("api", "Dockerfile"), template: false });
});

Deno.test("rig build rejects contradictory or misplaced options with exit 2", async () => {
  await using dir = await tempDirWith({
    "lib/pyproject.toml": '[project]\nname = "x"\nversion = "1.0.0"\n',
  });
  const cases: [string[], RegExp][] = [
    [["--docker", "--no-docker"], /"--docker" and "--no-docker" cannot be used together/],
    [["--dry-run"], /Option "--dry-run" only works with "--bump"/],
    [["--push", "127.0.0.1:5000"], /Option "--push" only works with "--docker"/],
    [["--base-image", "python:3.11", "--no-docker"], /"--base-image" and "--no-docker" cannot/],
    [["--bump", "1.0"], /Invalid version "1\.0"/],
    [["nope"], /No component named "nope"/],
  ];
  for (const [args, message] of cases) {
    const out = await rigInProcess(["build", ...args], { cwd: dir.path });
    assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
    assert.match(out.stderr, message);
  }
});

testWithProcesses({
  name: "rig build makes validated artifacts, restores them from cache and rebuilds only changes",
  async fn(t) {
    await using dir = await tempDir("rig-build-");
    const root = await copyReferenceProject(dir.join("authserver"));
    await gitRepository(root);
    // A build that succeeds with these component statuses.
    const buildsAs = async (args: string[], statuses: Record<string, string>) => {
      const out = await rigInProcess(["--json", "build", ...args], { cwd: root, env: NO_ENGINE });
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(statusOf(JSON.parse(out.stdout) as BuildJson), statuses);
      return out;
    };
    const assertArtifactsInDist = () => {
      for (const file of [WHEEL, SDIST, TARBALL]) {
        assert.ok(exists(path.join(root, file)), file);
      }
    };

    await t.step("a cold build makes a wheel, an sdist and an npm tarball", async () => {
      const { stderr } = await buildsAs(["--skip-tests"], {
        "js-client": "built",
        "python-client": "built",
        server: "skipped",
      });
      assert.match(stderr, /warning: Skipping tests \(--skip-tests\)/);
      assert.match(stderr, /No container engine answers/);
      assert.match(stderr, /sudo systemctl start docker/);
      assertArtifactsInDist();
      const manifest = JSON.parse(await Deno.readTextFile(path.join(root, "dist/manifest.json")));
      assert.deepEqual(
        manifest.artifacts.map((a: { path: string }) => a.path).sort(),
        [TARBALL, WHEEL, SDIST].sort(),
      );
      for (const artifact of manifest.artifacts) {
        assert.equal(artifact.sha256, await sha256File(path.join(root, artifact.path)));
        assert.equal(artifact.version, "0.1.0");
        assert.match(artifact.sourceKey, /^[0-9a-f]{64}$/);
      }
    });

    await t.step("a corrupted wheel fails validation naming the file and mismatch", async () => {
      const corrupt = dir.join("corrupt.whl");
      const python = `import zipfile, sys
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
  for i in a.infolist():
    data = a.read(i)
    if i.filename == "authclient/client.py":
      data += b"\\n# tampered\\n"
    b.writestr(i, data)
`;
      const out = await new Deno.Command("python3", {
        args: ["-c", python, path.join(root, WHEEL), corrupt],
      }).output();
      assert.ok(out.success);
      const target = dir.join("authserver_client-0.1.0-py3-none-any.whl");
      await Deno.rename(corrupt, target);
      await assert.rejects(
        () => validateWheel(target, { name: "authserver-client", version: "0.1.0" }),
        (error: unknown) =>
          error instanceof ValidationError &&
          /^Wheel "authserver_client-0\.1\.0-py3-none-any\.whl" is invalid: RECORD hash mismatch for "authclient\/client\.py"/
            .test(error.message),
      );
    });

    await t.step("an unchanged second build restores every artifact from the cache", async () => {
      await Deno.remove(path.join(root, "dist"), { recursive: true });
      await buildsAs(["--skip-tests"], {
        "js-client": "cached",
        "python-client": "cached",
        server: "skipped",
      });
      assertArtifactsInDist();
    });

    await t.step("changing one client rebuilds only that client", async () => {
      const file = path.join(root, "clients/js/src/index.ts");
      await Deno.writeTextFile(file, (await Deno.readTextFile(file)) + "\n// a change\n");
      await buildsAs(["--skip-tests", "--js-client", "--python-client"], {
        "js-client": "built",
        "python-client": "cached",
      });
    });

    await t.step("a tarball with test files fails validation and keeps the old dist", async () => {
      const file = path.join(root, "clients/js/package.json");
      const original = await Deno.readTextFile(file);
      await Deno.writeTextFile(file, original.replace(`"dist"\n`, `"dist",\n    "test"\n`));
      const before = await sha256File(path.join(root, TARBALL));
      const { code, stderr } = await rigInProcess(["build", "--skip-tests", "--js-client"], {
        cwd: root,
      });
      await Deno.writeTextFile(file, original);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /error: Package "authserver-client-0\.1\.0\.tgz" is invalid: "test\/[\w.]+\.test\.ts" is a test file and must not be published/,
      );
      assert.equal(await sha256File(path.join(root, TARBALL)), before);
    });

    await t.step(
      "--docker without an engine builds the rest and exits 3 with the fix",
      async () => {
        const { code, stderr, stdout } = await rigProcess(["build", "--skip-tests", "--docker"], {
          cwd: root,
          env: NO_ENGINE,
        });
        assert.equal(code, 3, stderr);
        assert.match(stdout, /python-client .* cached/);
        assert.match(
          stderr,
          /error: Cannot build the container image: No container engine answers: docker is installed but its engine is not running/,
        );
        assert.match(stderr, /hint: Start Docker Desktop or run: sudo systemctl start docker/);
      },
    );

    await t.step("a failing test stops the build before anything is built", async () => {
      await Deno.remove(path.join(root, "dist"), { recursive: true });
      const testFile = path.join(root, "clients/js/test/client.test.ts");
      const original = await Deno.readTextFile(testFile);
      await Deno.writeTextFile(
        testFile,
        original + `\nit("rig build guard", () => {\n  throw new Error("boom");\n});\n`,
      );
      const failed = await rigInProcess(["build", "--js-client"], { cwd: root });
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, /Tests failed for js-client: nothing was built/);
      assert.ok(!(exists(path.join(root, TARBALL))));
      await Deno.writeTextFile(testFile, original);
      const passed = await rigInProcess(["build", "--js-client"], { cwd: root });
      assert.equal(passed.code, 0, passed.stderr);
      assert.ok(exists(path.join(root, TARBALL)));
    });

    await t.step("--bump sets one version in every file and refuses a dirty tree", async () => {
      await git(root, "add", "-A");
      await git(root, "commit", "-qm", "changes");
      const dry = await rigInProcess(["build", "--bump", "minor", "--dry-run"], { cwd: root });
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /Would set version 0\.2\.0 \(was 0\.1\.0\):/);
      assert.match(
        dry.stdout,
        /server\/app\/main\.py FastAPI\(version=\.\.\.\) +0\.1\.0 → 0\.2\.0/,
      );
      assert.equal((await git(root, "status", "--porcelain")).trim(), "");

      const bumped = await rigInProcess(["build", "--bump", "minor", "--no-build"], { cwd: root });
      assert.equal(bumped.code, 0, bumped.stderr);
      assert.match(bumped.stderr, /Set version 0\.2\.0 in 6 file\(s\)/);
      const read = (f: string) => Deno.readTextFile(path.join(root, f));
      assert.match(await read("clients/python/pyproject.toml"), /^version = "0\.2\.0"$/m);
      assert.match(await read("clients/python/src/authclient/__init__.py"), /"0\.2\.0"/);
      assert.match(await read("server/app/__init__.py"), /__version__ = "0\.2\.0"/);
      assert.match(await read("server/app/main.py"), /version="0\.2\.0"/);
      const pkg = JSON.parse(await read("clients/js/package.json"));
      const lock = JSON.parse(await read("clients/js/package-lock.json"));
      assert.equal(pkg.version, "0.2.0");
      assert.equal(lock.version, "0.2.0");
      assert.equal(lock.packages[""].version, "0.2.0");
      const changed = (await git(root, "diff", "--numstat")).trim().split("\n");
      assert.equal(changed.length, 6, "only the version lines changed");
      assert.ok(changed.every((l) => /^(1\t1|2\t2)\t/.test(l)), changed.join("\n"));

      const dirty = await rigInProcess(["build", "--bump", "patch", "--no-build"], { cwd: root });
      assert.equal(dirty.code, 3);
      assert.match(dirty.stderr, /Refusing to bump versions with uncommitted changes/);
      assert.match(dirty.stderr, /--allow-dirty/);
    });
  },
});

testWithProcesses({
  name: "a build venv left without pip by a killed rig is made again, not trusted",
  async fn() {
    await using dir = await tempDirWith({
      "lib/pyproject.toml": [
        "[build-system]",
        'requires = ["setuptools>=61"]',
        'build-backend = "setuptools.build_meta"',
        "[project]",
        'name = "tinylib"',
        'version = "0.1.0"',
        "",
      ].join("\n"),
      "lib/tinylib/__init__.py": "VALUE = 1\n",
      "rig.toml": '[project]\nname = "tiny"\n',
    }, "rig-build-venv-");
    // What `python -m venv` leaves when it is killed before ensurepip ran: a venv with no pip.
    const cut = await new Deno.Command("python3", {
      args: ["-m", "venv", "--without-pip", dir.join(".rig/build/venv")],
    }).output();
    assert.ok(cut.success);
    const out = await rigInProcess(["build", "--skip-tests", "--no-install-check"], {
      cwd: dir.path,
      env: NO_ENGINE,
    });
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /No module named pip/);
    assert.ok(exists(dir.join("dist/lib/tinylib-0.1.0-py3-none-any.whl")), out.stdout);
  },
});
