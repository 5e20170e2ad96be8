/**
 * Prestart steps (rig.toml `prestart` / `test_prestart` on a python-app) and
 * where Alembic runs from: the folder with alembic.ini, the real env.py, and a
 * command that exists.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { runPrestart } from "../lib/run/prestart.ts";
import { alembicCommand, envPyPath, findAlembicDir } from "../lib/db/alembic.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { BufferWriter, Ui } from "../lib/ui.ts";
import { RigError } from "../lib/errors.ts";
import { tempDir, tempDirWith } from "./helpers.ts";

const PYTHON = Deno.env.get("RIG_PYTHON") ?? "python3";
const ENV = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? "/" };

function testUi() {
  const stdout = new BufferWriter();
  const stderr = new BufferWriter();
  return { ui: new Ui({ stdout, stderr }), stdout, stderr };
}

Deno.test("prestart commands run in order with the app's environment; the first failure stops with its output", async () => {
  await using dir = await tempDir();
  const { ui, stderr } = testUi();
  const marker = dir.join("seeded.txt");
  const ran = await runPrestart([
    [PYTHON, "-c", `import os; open(${JSON.stringify(marker)}, "w").write(os.environ["SEED"])`],
    [PYTHON, "-c", "print('second')"],
  ], {
    cwd: dir.path,
    env: { ...ENV, SEED: "first-user" },
    ui,
    mask: (t) => t,
    key: "prestart",
    component: "backend",
  });
  assert.equal(ran, 2);
  assert.equal(await Deno.readTextFile(marker), "first-user");
  assert.match(stderr.text, /prestart .*print\('second'\)/);

  const failing = runPrestart([
    [PYTHON, "-c", "import sys; print('password s3cr3t-value refused'); sys.exit(3)"],
    [PYTHON, "-c", `open(${JSON.stringify(dir.join("never.txt"))}, "w")`],
  ], {
    cwd: dir.path,
    env: ENV,
    ui,
    mask: (t) => t.replaceAll("s3cr3t-value", "****"),
    key: "prestart",
    component: "backend",
    skipHint: "rig run --no-prestart",
  });
  await assert.rejects(failing, (error: unknown) => {
    assert.ok(error instanceof RigError);
    assert.equal(error.exitCode, 1);
    assert.match(
      error.message,
      /^prestart step ".*" of "backend" failed with exit code 3:\n {2}password \*\*\*\* refused$/,
    );
    assert.doesNotMatch(error.message, /s3cr3t-value/);
    assert.match(
      error.hint!,
      /rig\.toml \[components\.backend\] prestart\), or skip it: rig run --no-prestart/,
    );
    return true;
  });
  await assert.rejects(Deno.stat(dir.join("never.txt")), Deno.errors.NotFound);
});

Deno.test("rig.toml prestart takes a list of commands, only on a python-app", async () => {
  await using dir = await tempDirWith({
    "backend/alembic.ini": "[alembic]\nscript_location = app/alembic\n",
    "backend/pyproject.toml": '[project]\nname = "app"\nversion = "0.1.0"\n',
    "lib/pyproject.toml": '[project]\nname = "lib"\nversion = "0.1.0"\n',
    "rig.toml": `[components.backend]
prestart = ["python -m app.initial_data", ["python", "-c", "print('a b')"]]
test_prestart = "python -m app.test_seed"
`,
  });
  const project = await loadProject(dir.path);
  const backend = project.components.find((c) => c.name === "backend")!;
  assert.deepEqual(backend.prestart, [
    ["python", "-m", "app.initial_data"],
    ["python", "-c", "print('a b')"],
  ]);
  assert.deepEqual(backend.testPrestart, [["python", "-m", "app.test_seed"]]);

  await Deno.writeTextFile(dir.join("rig.toml"), '[components.lib]\nprestart = ["python x.py"]\n');
  await assert.rejects(
    loadProject(dir.path),
    /"rig\.toml" line 2: "prestart" only works on a python-app component \("lib" is python-lib\)/,
  );
  await Deno.writeTextFile(dir.join("rig.toml"), "[components.backend]\nprestart = [1]\n");
  await assert.rejects(loadProject(dir.path), /must be a list of commands/);
});

Deno.test("Alembic runs from the folder with alembic.ini, up to the project root; hints name env.py and the venv's alembic", async () => {
  await using dir = await tempDirWith({
    "alembic.ini": "[alembic]\nscript_location = %(here)s/alembic\n",
    "alembic/env.py": "",
    "services/api/pyproject.toml": "",
    "services/api/.venv/bin/alembic": "",
    "services/api/.venv/bin/python": "",
    "backend/alembic.ini": "[alembic]\nscript_location = app/alembic\n",
  });
  assert.equal(findAlembicDir(dir.join("services", "api"), dir.path), dir.path);
  assert.equal(findAlembicDir(dir.join("backend"), dir.path), dir.join("backend"));
  assert.equal(findAlembicDir(dir.join("services"), dir.join("services")), undefined);
  assert.equal(envPyPath(dir.path), path.join("alembic", "env.py"));
  assert.equal(envPyPath(dir.join("backend")), path.join("app", "alembic", "env.py"));
  assert.equal(
    alembicCommand(dir.path, dir.join("services", "api", ".venv", "bin", "python")),
    path.join("services", "api", ".venv", "bin", "alembic"),
  );
  assert.equal(
    alembicCommand(dir.join("backend"), dir.join("backend", ".venv", "bin", "python")),
    `${path.join(".venv", "bin", "python")} -m alembic`,
  );
});
