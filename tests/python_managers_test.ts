/**
 * Unit tests of how rig reads Python projects: which manager (uv, Poetry,
 * pip), uv workspaces and their dependency edges, the offline uv.lock check,
 * the quality checks a project configures, and detection of a root project.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { tempDir, tempDirWith } from "./helpers.ts";
import { detectManager, findUvWorkspace, workspaceSources } from "../lib/python/managers.ts";
import { readUvLock, uvLockDifferences } from "../lib/python/uv.ts";
import { extraGroups } from "../lib/python/poetry.ts";
import { pythonChecks } from "../lib/python/quality.ts";
import { readConfigTexts } from "../lib/testing/plan.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { ConfigError, EnvironmentError } from "../lib/errors.ts";
import { REPO_ROOT } from "./helpers.ts";

const FULLSTACK = path.join(REPO_ROOT, "examples", "fullstack");

Deno.test("the manager comes from the project's files: uv.lock, [tool.uv], poetry.lock, [tool.poetry], else pip", async () => {
  await using dir = await tempDirWith({
    "a/pyproject.toml": '[project]\nname = "a"\n',
    "a/uv.lock": "version = 1\n",
    "b/pyproject.toml": '[project]\nname = "b"\n[tool.uv]\ndev-dependencies = ["pytest"]\n',
    "c/pyproject.toml": '[tool.poetry]\nname = "c"\n[tool.poetry.dependencies]\npython = "^3.11"\n',
    "d/pyproject.toml": '[project]\nname = "d"\n',
    "d/poetry.lock": "",
    "e/pyproject.toml": '[project]\nname = "e"\n[dependency-groups]\ndev = ["pytest"]\n',
    "e/requirements.txt": "httpx\n",
  });
  const manager = (sub: string) => detectManager(dir.join(sub), dir.path);
  assert.equal(manager("a").manager, "uv");
  assert.equal(manager("a").lockFile, dir.join("a", "uv.lock"));
  assert.equal(manager("b").manager, "uv");
  assert.equal(manager("c").manager, "poetry");
  assert.equal(manager("c").declaresDependencies, false, "python alone is no dependency");
  assert.equal(manager("d").manager, "poetry");
  assert.equal(manager("e").manager, "pip");
  assert.deepEqual(manager("e").groups, ["dev"]);
  assert.ok(manager("e").inputs.includes(dir.join("e", "pyproject.toml")));
});

Deno.test("a malformed pyproject.toml is a ConfigError naming the file and line", async () => {
  await using dir = await tempDirWith({
    "pyproject.toml": '[project]\nname = "x"\ndependencies = [\n',
  });
  assert.throws(() => detectManager(dir.path, dir.path), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /"pyproject\.toml" line \d+: is not valid TOML/);
    return true;
  });
});

Deno.test("uv workspace members share the root lock and their workspace sources become edges", () => {
  const backend = path.join(FULLSTACK, "backend");
  const core = path.join(FULLSTACK, "packages", "notes-core");
  const workspace = findUvWorkspace(backend, FULLSTACK);
  assert.deepEqual(workspace, { root: FULLSTACK, members: [backend, core] });
  const info = detectManager(core, FULLSTACK);
  assert.equal(info.manager, "uv");
  assert.equal(info.projectDir, FULLSTACK);
  assert.equal(info.lockFile, path.join(FULLSTACK, "uv.lock"));
  for (const f of ["uv.lock", "pyproject.toml", "backend/pyproject.toml", ".python-version"]) {
    assert.ok(info.inputs.includes(path.join(FULLSTACK, f)), f);
  }
  assert.deepEqual(workspaceSources(backend, FULLSTACK), [core]);
  assert.deepEqual(workspaceSources(core, FULLSTACK), []);
});

Deno.test("rig info's project model: workspace members use the root .venv and depend on their sources", async () => {
  const project = await loadProject(FULLSTACK);
  const byName = Object.fromEntries(project.components.map((c) => [c.name, c]));
  // (frontend/, a node component, sits beside them.)
  assert.ok(byName.backend && byName["notes-core"], Object.keys(byName).join());
  assert.deepEqual(byName.backend!.dependsOn, ["notes-core"]);
  assert.equal(byName.backend!.venv, "../.venv");
  assert.equal(byName["notes-core"]!.venv, "../../.venv");
  assert.equal(byName.backend!.kind, "python-app");
  assert.equal(byName.backend!.app, "app.main:app");
});

Deno.test("the committed uv.lock of examples/fullstack matches its pyproject files", () => {
  const info = detectManager(path.join(FULLSTACK, "backend"), FULLSTACK);
  assert.deepEqual(uvLockDifferences(info, FULLSTACK), []);
  assert.ok(readUvLock(info.lockFile!, FULLSTACK).members.includes("notes-core"));
});

Deno.test("uv.lock out of date with a pyproject is found offline, naming the requirement", async () => {
  await using dir = await tempDir();
  for (
    const f of [
      "pyproject.toml",
      "uv.lock",
      "backend/pyproject.toml",
      "packages/notes-core/pyproject.toml",
    ]
  ) {
    await dir.write({ [f]: await Deno.readTextFile(path.join(FULLSTACK, f)) });
  }
  const file = dir.join("backend", "pyproject.toml");
  const text = await Deno.readTextFile(file);
  await Deno.writeTextFile(
    file,
    text.replace('"pytest>=8.2,<9.0",', '"pytest>=8.3,<9.0",').replace(
      '"tenacity>=8.2,<10.0",',
      '"tenacity>=8.2,<10.0",\n    "rich>=13",',
    ),
  );
  const info = detectManager(dir.join("backend"), dir.path);
  const differences = uvLockDifferences(info, dir.path);
  assert.ok(differences.some((d) => /requires "rich>=13", which uv\.lock does not/.test(d)));
  assert.ok(
    differences.some((d) => /\[dependency-groups\] dev requires "pytest<9\.0,>=8\.3"/.test(d)),
  );
  await Deno.writeTextFile(dir.join("uv.lock"), "version = 1\n[[package]\n");
  assert.throws(() => uvLockDifferences(info, dir.path), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /"uv\.lock" line 2: is not a valid lock file/);
    assert.match(error.hint!, /git checkout -- uv\.lock.*uv lock/);
    return true;
  });
  await Deno.remove(dir.join("uv.lock"));
  assert.throws(() => uvLockDifferences(info, dir.path), EnvironmentError);
});

Deno.test("Poetry's optional dev and test groups are asked for; default groups need nothing", async () => {
  await using dir = await tempDirWith({
    "pyproject.toml": [
      "[tool.poetry.group.dev]",
      "optional = true",
      "[tool.poetry.group.dev.dependencies]",
      'pytest = "*"',
      "[tool.poetry.group.test.dependencies]",
      'coverage = "*"',
      "[tool.poetry.group.docs]",
      "optional = true",
      "",
    ].join("\n"),
  });
  assert.deepEqual(extraGroups(dir.path), ["dev"]);
});

Deno.test("quality checks come from the project's configuration, never a fixed list", async () => {
  await using dir = await tempDir();
  const checks = (sub: string, installed: Record<string, string> = {}) =>
    pythonChecks(dir.join(sub), readConfigTexts(dir.join(sub)), installed).map((c) =>
      `${c.name}:${c.args.join(" ")}`
    );
  await dir.write({
    "ruffy/pyproject.toml":
      '[project]\nname = "r"\n[tool.ruff]\nline-length = 100\n[tool.mypy]\nfiles = ["app"]\n',
    "ruffdev/pyproject.toml": '[project]\nname = "r"\n[dependency-groups]\ndev = ["ruff>=0.6"]\n',
    "legacy/setup.cfg": "[flake8]\nmax-line-length = 88\n[mypy]\nstrict = True\n",
    "legacy/pyproject.toml": '[tool.black]\nline-length = 88\n[tool.isort]\nprofile = "black"\n',
    "legacy/alembic.ini": "[alembic]\n",
    "bare/pyproject.toml": '[project]\nname = "b"\n',
    "poetry/pyproject.toml": '[tool.poetry.group.dev.dependencies]\nmypy = "^1"\nblack = "*"\n',
  });
  assert.deepEqual(checks("ruffy"), ["ruff:check .", "ruff-format:format --check .", "mypy:"]);
  assert.deepEqual(checks("ruffdev"), ["ruff:check .", "ruff-format:format --check ."]);
  assert.deepEqual(checks("legacy"), [
    "black:--check .",
    "isort:--check-only --diff .",
    "flake8:",
    "mypy:.",
    "alembic:check",
  ]);
  assert.deepEqual(checks("bare"), []);
  assert.deepEqual(checks("bare", { mypy: "1.11", ruff: "0.6.0" }), [
    "ruff:check .",
    "ruff-format:format --check .",
    "mypy:.",
  ]);
  assert.deepEqual(checks("poetry"), ["black:--check .", "mypy:."]);
  // The reference project uses ruff and mypy: no black, no flake8.
  const backend = path.join(FULLSTACK, "backend");
  assert.deepEqual(pythonChecks(backend, readConfigTexts(backend), {}).map((c) => c.name), [
    "ruff",
    "ruff-format",
    "mypy",
    "alembic",
  ]);
});

Deno.test("a Python project at the root is a component next to subfolder components", async () => {
  await using dir = await tempDirWith({
    "rig.toml": '[project]\nname = "mono"\n\n[components.api]\npath = "api"\nkind = "python-app"\n',
    "pyproject.toml": '[tool.poetry]\nname = "shop"\n[tool.poetry.dependencies]\nfastapi = "*"\n',
    "shop/__init__.py": "",
    "shop/app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
    "frontend/package.json": '{"name": "frontend"}\n',
    "api/service.py": "import fastapi\n\napi = fastapi.FastAPI(title='x')\n",
    "tools/pyproject.toml": "[tool.ruff]\nline-length = 100\n",
  });
  const project = await loadProject(dir.path);
  const summary = project.components.map((c) => `${c.name}:${c.kind}:${c.path}:${c.app ?? "-"}`);
  assert.deepEqual(
    summary.sort(),
    [
      "api:python-app:api:service:api",
      "frontend:node-lib:frontend:-",
      `${path.basename(dir.path)}:python-app:.:shop.app:app`,
      "tools:python-lib:tools:-",
    ].sort(),
  );
});

Deno.test("a virtual uv workspace root is not a component of its own", async () => {
  const project = await loadProject(FULLSTACK);
  assert.ok(project.components.every((c) => c.path !== "."));
});
