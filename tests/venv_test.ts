import assert from "node:assert/strict";
import * as path from "node:path";
import { EnvironmentError } from "../lib/errors.ts";
import { type Component, makeComponent } from "../lib/project/project.ts";
import { BufferWriter, Ui } from "../lib/ui.ts";
import {
  checkVenv,
  findVenv,
  installedDistributions,
  interpreterCandidates,
  pythonRequirements,
  toSpecifier,
  venvBin,
  venvEnv,
  venvLayout,
} from "../lib/python/venv.ts";
import { ensureVenv } from "../lib/python/venv_ensure.ts";
import { installerEnv } from "../lib/python/pip.ts";
import { npmEnv } from "../lib/node/npm.ts";
import { baseEnv, tempDir, tempDirWith } from "./helpers.ts";

function component(dir: string, extra: Partial<Component> = {}): Component {
  return { ...makeComponent(dir, dir, "python-app"), name: "server", path: "server", ...extra };
}

function quietUi(): { ui: Ui; err: BufferWriter } {
  const err = new BufferWriter();
  return { ui: new Ui({ stdout: new BufferWriter(), stderr: err }), err };
}

Deno.test("venvBin and venvEnv point at the venv's scripts folder", () => {
  const venv = venvLayout("/p/server/.venv");
  assert.equal(venv.python, "/p/server/.venv/bin/python");
  assert.equal(venvBin(venv, "pytest"), "/p/server/.venv/bin/pytest");
  const env = venvEnv(venv, { PATH: "/usr/bin", PYTHONHOME: "/x", HOME: "/h" });
  assert.deepEqual(env, {
    PATH: "/p/server/.venv/bin:/usr/bin",
    VIRTUAL_ENV: "/p/server/.venv",
    HOME: "/h",
  });
});

Deno.test("findVenv prefers .venv, then venv, then env, and honours rig.toml venv", async () => {
  await using dir = await tempDirWith({
    "env/pyvenv.cfg": "home = /usr/bin\n",
    "venv/pyvenv.cfg": "home = /usr/bin\n",
  });
  assert.equal(findVenv(component(dir.path), { env: {} })?.dir, dir.join("venv"));
  await dir.write({ ".venv/pyvenv.cfg": "home = /usr/bin\n" });
  assert.equal(findVenv(component(dir.path), { env: {} })?.dir, dir.join(".venv"));
  assert.equal(findVenv(component(dir.path, { venv: "env" }), { env: {} })?.dir, dir.join("env"));
  assert.equal(findVenv(component(dir.path, { venv: "nope" }), { env: {} }), undefined);
});

Deno.test("findVenv uses an activated VIRTUAL_ENV only inside the component or when asked to", async () => {
  await using dir = await tempDirWith({
    "server/custom/pyvenv.cfg": "home = /usr/bin\n",
    "elsewhere/pyvenv.cfg": "home = /usr/bin\n",
  });
  const c = component(dir.join("server"));
  assert.equal(
    findVenv(c, { env: { VIRTUAL_ENV: dir.join("server/custom") } })?.dir,
    dir.join("server/custom"),
  );
  assert.equal(findVenv(c, { env: { VIRTUAL_ENV: dir.join("elsewhere") } }), undefined);
  assert.equal(
    findVenv(c, { env: { VIRTUAL_ENV: dir.join("elsewhere"), RIG_USE_VIRTUAL_ENV: "1" } })?.dir,
    dir.join("elsewhere"),
  );
});

Deno.test("pythonRequirements collects rig.toml, requires-python and .python-version", async () => {
  await using dir = await tempDirWith({
    "c/pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.9"\n',
    ".python-version": "3.11\n",
  });
  const reqs = pythonRequirements(component(dir.join("c"), { python: "3.11" }), dir.path);
  assert.deepEqual(reqs, [
    { specifier: "==3.11.*", source: 'rig.toml "python"' },
    { specifier: ">=3.9", source: "pyproject.toml requires-python" },
    { specifier: "==3.11.*", source: '"' + path.basename(dir.path) + '/.python-version"' },
  ]);
  assert.equal(toSpecifier("3.12.1"), "==3.12.1");
  assert.equal(toSpecifier(">=3.10"), ">=3.10");
  const candidates = interpreterCandidates(component(dir.join("c"), { python: "3.11" }), {
    env: { PATH: "", RIG_PYTHON: "/opt/py/bin/python3" },
    root: dir.path,
  });
  assert.deepEqual(candidates.map((c) => c.argv.join(" ")), [
    "python3.11",
    "/opt/py/bin/python3",
    "python3",
  ]);
});

Deno.test("ensureVenv creates a venv, reuses it, recreates it when its interpreter is gone, and checks requires-python", async () => {
  await using dir = await tempDir();
  const c = component(dir.path);
  const env = baseEnv();
  const { ui, err } = quietUi();
  const first = await ensureVenv(c, { env, ui, root: dir.path });
  assert.equal(first.created, true);
  assert.equal(first.dir, dir.join(".venv"));
  assert.equal((await checkVenv(first, c, { env })).ok, true);
  const second = await ensureVenv(c, { env, ui, root: dir.path });
  assert.equal(second.created, false);
  assert.ok(Object.keys(installedDistributions(second)).includes("pip"));

  // A venv whose base interpreter was uninstalled: the symlink dangles.
  await Deno.remove(first.python);
  await Deno.symlink("/usr/bin/python3.10-gone", first.python);
  const health = await checkVenv(first, c, { env });
  assert.equal(health.ok, false);
  assert.match(health.problem!, /interpreter "\/usr\/bin\/python3\.10-gone" no longer exists/);
  const third = await ensureVenv(c, { env, ui, root: dir.path });
  assert.equal(third.created, true);
  assert.match(
    third.reason!,
    /\.venv: its interpreter "\/usr\/bin\/python3\.10-gone" no longer exists/,
  );
  assert.match(err.text, /Recreating \.venv: its interpreter/);
  assert.equal((await checkVenv(third, c, { env })).ok, true);

  // A Python that no longer satisfies requires-python, and no interpreter that does.
  await dir.write({ "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.99"\n' });
  const health2 = await checkVenv(third, c, { env });
  assert.equal(health2.ok, false);
  assert.match(health2.problem!, /does not satisfy ">=3\.99" \(pyproject\.toml requires-python\)/);
  await assert.rejects(
    () => ensureVenv(c, { env, ui }),
    (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.message, /No Python interpreter for component "server" matches >=3\.99/);
      assert.match(error.hint!, /RIG_PYTHON/);
      return true;
    },
  );
});

Deno.test("pip, uv and npm use the shared user cache and the user's index settings", () => {
  const venv = venvLayout("/p/.venv");
  const env = installerEnv(venv, {
    env: { PATH: "/usr/bin", PIP_INDEX_URL: "http://127.0.0.1:1/simple/", PIP_FIND_LINKS: "/w" },
    cacheDir: "/home/u/.cache/rig",
  });
  assert.equal(env.PIP_CACHE_DIR, "/home/u/.cache/rig/pip");
  assert.equal(env.UV_CACHE_DIR, "/home/u/.cache/rig/uv");
  assert.equal(env.PIP_INDEX_URL, "http://127.0.0.1:1/simple/");
  assert.equal(env.UV_INDEX_URL, "http://127.0.0.1:1/simple/");
  assert.equal(env.UV_FIND_LINKS, "/w");
  assert.equal(env.VIRTUAL_ENV, "/p/.venv");
  const explicit = installerEnv(venv, { env: { PIP_CACHE_DIR: "/mine" }, cacheDir: "/c" });
  assert.equal(explicit.PIP_CACHE_DIR, "/mine");
  assert.equal(npmEnv({ env: {}, cacheDir: "/c" }).npm_config_cache, "/c/npm");
});

Deno.test("ensureVenv never deletes a broken venv activated from outside the component", async () => {
  await using dir = await tempDirWith({
    "elsewhere/pyvenv.cfg": "home = /nowhere\n",
    "server/app.py": "",
  });
  await Deno.mkdir(dir.join("elsewhere/bin"));
  await Deno.symlink("/nowhere/python3", dir.join("elsewhere/bin/python"));
  const { ui } = quietUi();
  await assert.rejects(
    () =>
      ensureVenv(component(dir.join("server")), {
        env: { ...baseEnv(), VIRTUAL_ENV: dir.join("elsewhere"), RIG_USE_VIRTUAL_ENV: "1" },
        ui,
      }),
    (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.message, /The activated virtual environment ".*elsewhere" is broken/);
      return true;
    },
  );
  assert.ok(Deno.statSync(dir.join("elsewhere/pyvenv.cfg")).isFile);
});
