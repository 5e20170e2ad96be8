import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import { dependents, toArgv, topoOrder } from "../lib/project/project.ts";
import { detectComponents } from "../lib/project/detect.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { findRoot } from "../lib/project/root.ts";
import { tempDir, tempDirWith } from "./helpers.ts";

const FASTAPI_MAIN = "from fastapi import FastAPI\n\napp = FastAPI(title='x')\n";

const LAYOUT = {
  "server/requirements.txt": "fastapi>=0.110\n",
  "server/alembic.ini": "[alembic]\n",
  "server/app/__init__.py": "",
  "server/app/main.py": FASTAPI_MAIN,
  "clients/python/pyproject.toml": "[project]\nname = 'c'\nversion = '0.1.0'\n",
  "clients/js/package.json": '{"name":"c","version":"0.1.0"}',
};

Deno.test("the reference layout gives server, python-client and js-client with client dependencies", async () => {
  await using dir = await tempDirWith(LAYOUT);
  const project = await loadProject(dir.path);
  assert.deepEqual(
    project.components.map((c) => [c.name, c.kind, c.path, c.dependsOn]),
    [
      ["js-client", "node-lib", "clients/js", ["server"]],
      ["python-client", "python-lib", "clients/python", ["server"]],
      ["server", "python-app", "server", []],
    ],
  );
  assert.equal(project.components.find((c) => c.name === "server")?.app, "app.main:app");
  assert.deepEqual(topoOrder(project.components).map((c) => c.name)[0], "server");
  assert.deepEqual(dependents(project.components, "server").map((c) => c.name), [
    "js-client",
    "python-client",
  ]);
});

Deno.test("a FastAPI app without alembic is still a python-app", async () => {
  await using dir = await tempDirWith({
    "api/requirements.txt": "fastapi\n",
    "api/main.py": FASTAPI_MAIN,
  });
  const [component] = await detectComponents(dir.path);
  assert.equal(component?.kind, "python-app");
  assert.equal(component?.app, "main:app");
});

Deno.test("missing folders leave only the components that exist", async () => {
  await using dir = await tempDirWith({ "clients/js/package.json": "{}" });
  const project = await loadProject(dir.path);
  assert.deepEqual(project.components.map((c) => [c.name, c.dependsOn]), [["js-client", []]]);
});

Deno.test("a project with only a JS client at its root is one node-lib named after the folder", async () => {
  await using dir = await tempDirWith({ "package.json": "{}", "src/index.ts": "" });
  const project = await loadProject(dir.path);
  assert.equal(project.components.length, 1);
  assert.equal(project.components[0]?.kind, "node-lib");
  assert.equal(project.components[0]?.path, ".");
});

Deno.test("an empty folder has no components", async () => {
  await using dir = await tempDir();
  const project = await loadProject(dir.path);
  assert.deepEqual(project.components, []);
});

Deno.test("node_modules, venvs and hidden folders are never components", async () => {
  await using dir = await tempDirWith({
    "web/package.json": "{}",
    "node_modules/x/package.json": "{}",
    ".venv/lib/pyproject.toml": "",
    ".hidden/package.json": "{}",
  });
  const project = await loadProject(dir.path);
  assert.deepEqual(project.components.map((c) => c.path), ["web"]);
});

Deno.test("the root is the nearest folder with rig.toml, else the git root", async () => {
  await using dir = await tempDirWith({ "a/b/c/x.txt": "", "a/rig.toml": "", ".git/HEAD": "" });
  assert.equal(findRoot(dir.join("a/b/c")), dir.join("a"));
  await Deno.remove(dir.join("a/rig.toml"));
  assert.equal(findRoot(dir.join("a/b/c")), dir.path);
});

Deno.test("rig.toml renames, overrides and adds components", async () => {
  await using dir = await tempDirWith({
    ...LAYOUT,
    "docs/index.md": "",
    "rig.toml": `
[project]
name = "auth"

[components.api]
path = "server"
env = ["STRIPE_KEY"]
fail_under = 80
test = "pytest -x -k 'not slow'"

[components.js-client]
dev = ["npm", "run", "dev"]
ready = { log = "Watching" }

[components.docs]
path = "docs"
kind = "node-lib"
depends_on = ["api"]
`,
  });
  const project = await loadProject(dir.path);
  assert.equal(project.settings.name, "auth");
  const byName = Object.fromEntries(project.components.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ["api", "docs", "js-client", "python-client"]);
  assert.equal(byName.api?.kind, "python-app");
  assert.deepEqual(byName.api?.env, ["STRIPE_KEY"]);
  assert.equal(byName.api?.failUnder, 80);
  assert.deepEqual(byName.api?.commands.test, ["pytest", "-x", "-k", "not slow"]);
  assert.deepEqual(byName["js-client"]?.commands.dev, ["npm", "run", "dev"]);
  assert.deepEqual(byName["js-client"]?.ready, { log: "Watching" });
  assert.deepEqual(byName.docs?.dependsOn, ["api"]);
  assert.equal(byName.docs?.declared, true);
});

async function configError(
  toml: string,
  files: Record<string, string> = LAYOUT,
): Promise<ConfigError> {
  await using dir = await tempDirWith({ ...files, "rig.toml": toml });
  const error = await loadProject(dir.path).then(() => undefined, (e) => e);
  assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
  assert.equal(error.exitCode, 3);
  return error;
}

Deno.test("a malformed rig.toml names the file and line", async () => {
  const error = await configError(`[project]\nname = "x"\n\n[components.api\npath = "server"\n`);
  assert.match(error.message, /^"rig\.toml" line 4: invalid TOML/);
});

Deno.test("an unknown key in rig.toml names its line and the known keys", async () => {
  const error = await configError(`[components.server]\npath = "server"\ntset = "pytest"\n`);
  assert.equal(error.message, `"rig.toml" line 3: unknown key "components.server.tset"`);
  assert.match(error.hint ?? "", /Known keys: path, kind/);
});

Deno.test("a wrongly typed value in rig.toml names its line", async () => {
  const error = await configError(`[project]\n\n[components.server]\nfail_under = "80"\n`);
  assert.equal(error.message, `"rig.toml" line 4: "components.server.fail_under" must be a number`);
});

Deno.test("an unknown kind in rig.toml lists the kinds", async () => {
  const error = await configError(`[components.docs]\npath = "server"\nkind = "rust-lib"\n`);
  assert.match(error.message, /line 3: unknown kind "rust-lib"/);
  assert.match(error.hint ?? "", /python-app, python-lib, node-lib/);
});

Deno.test("a component in rig.toml with a missing folder is refused", async () => {
  const error = await configError(`[components.docs]\npath = "nowhere"\nkind = "node-lib"\n`);
  assert.match(error.message, /line 2: folder "nowhere" of component "docs" does not exist/);
});

Deno.test("a dependency on an unknown component is refused", async () => {
  const error = await configError(`[components.js-client]\ndepends_on = ["backend"]\n`);
  assert.match(error.message, /depends on "backend", which does not exist/);
});

Deno.test("a dependency cycle is refused", async () => {
  const error = await configError(
    `[components.js-client]\ndepends_on = ["python-client"]\n[components.python-client]\ndepends_on = ["js-client"]\n`,
  );
  assert.match(error.message, /cycle: /);
});

Deno.test("command strings split into arguments with quotes", () => {
  assert.deepEqual(toArgv(`pytest -k "a and b" -x ''`), ["pytest", "-k", "a and b", "-x", ""]);
  assert.deepEqual(toArgv(["npm", "test"]), ["npm", "test"]);
});

Deno.test("renaming the server keeps the clients' inferred dependency on it", async () => {
  await using dir = await tempDirWith({
    ...LAYOUT,
    "rig.toml": `[components.api]\npath = "server"\n`,
  });
  const project = await loadProject(dir.path);
  assert.deepEqual(project.components.find((c) => c.name === "js-client")?.dependsOn, ["api"]);
});

Deno.test("an invalid readiness table in rig.toml is refused", async () => {
  const error = await configError(`[components.js-client]\nready = { http = "health" }\n`);
  assert.match(error.message, /line 2: "components.js-client.ready" must be a table such as/);
});

Deno.test("an app built by a factory function is found in the module that imports FastAPI", async () => {
  await using dir = await tempDirWith({
    "server/requirements.txt": "fastapi\n",
    "server/app/__init__.py": "",
    "server/app/main.py":
      "from fastapi import FastAPI\n\ndef create_app() -> FastAPI:\n    return FastAPI()\n\napp = create_app()\n",
  });
  const [component] = await detectComponents(dir.path);
  assert.equal(component?.app, "app.main:app");
});
