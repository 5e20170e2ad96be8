import assert from "node:assert/strict";
import * as path from "node:path";
import { changedFiles, gitRoot, relativeToProject, shortSha } from "../lib/git.ts";
import { owningComponent } from "../lib/project/project.ts";
import { loadProject } from "../lib/project/load_project.ts";
import {
  componentOptions,
  groupChanges,
  selectChanged,
  selectComponents,
} from "../lib/project/selection.ts";
import { EnvironmentError, UsageError } from "../lib/errors.ts";
import { git, gitRepository, tempDirWith } from "./helpers.ts";

const FILES = {
  "server/alembic.ini": "[alembic]\n",
  "server/requirements.txt": "fastapi\n",
  "server/app/__init__.py": "",
  "server/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
  "clients/python/pyproject.toml": "[project]\nname = 'c'\n",
  "clients/js/package.json": '{"name": "c"}\n',
  "config/test.env.template": "SECRET_KEY=x\n",
  "README.md": "hi\n",
};

Deno.test("componentOptions and selectComponents follow the detected component names", async () => {
  await using dir = await tempDirWith(FILES);
  const project = await loadProject(dir.path);
  assert.deepEqual(Object.keys(componentOptions(project)), [
    "js-client",
    "python-client",
    "server",
  ]);
  const names = (cs: { name: string }[]) => cs.map((c) => c.name);
  assert.deepEqual(names(selectComponents(project, { values: {}, names: [] })), [
    "js-client",
    "python-client",
    "server",
  ]);
  assert.deepEqual(
    names(selectComponents(project, { values: { server: true }, names: ["js-client"] })),
    ["js-client", "server"],
  );
  assert.throws(
    () => selectComponents(project, { values: {}, names: ["severs"] }),
    (e: Error) => e instanceof UsageError && /Did you mean "server"/.test(e.hint ?? ""),
  );
});

Deno.test("a component named like one of the command's options is selected by its name, never by that option", () => {
  const project = {
    components: [{ name: "force" }, { name: "server" }],
  } as unknown as Parameters<typeof selectComponents>[0];
  const own = { force: { type: "boolean" as const, description: "Ignore cached results" } };
  const names = (cs: { name: string }[]) => cs.map((c) => c.name);
  assert.deepEqual(Object.keys(componentOptions(project, "Test", own)), ["server"]);
  // rig test --force: every component, run afresh; not only the one called "force".
  assert.deepEqual(
    names(selectComponents(project, { values: { force: true }, names: [], own })),
    ["force", "server"],
  );
  assert.deepEqual(
    names(selectComponents(project, { values: { force: true }, names: ["force"], own })),
    ["force"],
  );
});

Deno.test("selectChanged adds dependents only when the dependency's contract changed", async () => {
  await using dir = await tempDirWith(FILES);
  const project = await loadProject(dir.path);
  const names = (cs: { name: string }[]) => cs.map((c) => c.name);
  const changes = groupChanges(project, ["server/app/main.py", "README.md"]);
  assert.deepEqual([...changes.byComponent], [["server", ["app/main.py"]]]);
  assert.deepEqual(changes.ignored, ["README.md"]);
  const same = await selectChanged(project, {
    changes,
    candidates: project.components,
    contractChanged: () => Promise.resolve(false),
  });
  assert.deepEqual(names(same.components), ["server"]);
  assert.match(same.skipped.get("js-client")!, /contract is unchanged/);
  const changed = await selectChanged(project, {
    changes,
    candidates: project.components,
    contractChanged: () => Promise.resolve(true),
  });
  assert.deepEqual(names(changed.components), ["js-client", "python-client", "server"]);
  const js = await selectChanged(project, {
    changes: groupChanges(project, ["clients/js/src/index.ts"]),
    candidates: project.components,
  });
  assert.deepEqual(names(js.components), ["js-client"]);
  const global = await selectChanged(project, {
    changes: groupChanges(project, ["config/test.env.template"]),
    candidates: project.components,
  });
  assert.equal(global.components.length, 3);
  assert.equal(owningComponent(project.components, "clients/jsx/a.ts"), undefined);
});

Deno.test("changedFiles compares the working tree with HEAD or with the merge-base of a ref", async () => {
  await using dir = await tempDirWith(FILES);
  const env = { PATH: Deno.env.get("PATH") ?? "", HOME: dir.path };
  await gitRepository(dir.path, { branch: "main" });
  assert.equal(await gitRoot(path.join(dir.path, "server"), { env }), dir.path);
  assert.match((await shortSha(dir.path, { env }))!, /^[0-9a-f]{7,}$/);
  assert.deepEqual((await changedFiles(dir.path, { env })).files, []);

  await git(dir.path, "checkout", "-qb", "feature");
  await dir.write({ "server/app/main.py": "# changed\n" });
  await git(dir.path, "commit", "-qam", "server change");
  await dir.write({ "clients/js/index.ts": "export {};\n", "README.md": "edited\n" });
  await git(dir.path, "add", "README.md");
  // vs HEAD: the untracked file and the staged edit, not the committed change.
  assert.deepEqual((await changedFiles(dir.path, { env })).files, [
    "README.md",
    "clients/js/index.ts",
  ]);
  // vs main: the committed change too.
  const sinceMain = await changedFiles(path.join(dir.path, "server"), { env, ref: "main" });
  assert.deepEqual(sinceMain.files, ["README.md", "clients/js/index.ts", "server/app/main.py"]);
  assert.deepEqual(relativeToProject(dir.path, path.join(dir.path, "server"), sinceMain.files), [
    "app/main.py",
  ]);
  await assert.rejects(
    () => changedFiles(dir.path, { env, ref: "no-such-branch" }),
    (e: Error) =>
      e instanceof EnvironmentError && /Unknown git ref "no-such-branch"/.test(e.message),
  );
});

Deno.test("files declared as a component's inputs in rig.toml select it when they change", async () => {
  await using dir = await tempDirWith({
    ...FILES,
    "shared/schema.json": "{}",
    "rig.toml": '[components.js-client]\ninputs = ["../../shared/*.json"]\n',
  });
  const project = await loadProject(dir.path);
  const changes = groupChanges(project, ["shared/schema.json", "shared/notes.txt"]);
  assert.deepEqual([...changes.byComponent], [["js-client", ["../../shared/schema.json"]]]);
  assert.deepEqual(changes.ignored, ["shared/notes.txt"]);
});
