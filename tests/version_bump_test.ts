import assert from "node:assert/strict";
import { exists } from "../lib/fs.ts";
import { EnvironmentError, UsageError } from "../lib/errors.ts";
import { loadProject } from "../lib/project/load_project.ts";
import {
  applyBump,
  findJsonStrings,
  findVersionSites,
  planBump,
} from "../lib/builder/version_bump.ts";
import { tempDirWith } from "./helpers.ts";

const PACKAGE_JSON = `{
  "name": "@demo/client",
  "version": "0.1.0",
  "scripts": { "build": "tsc" },
  "devDependencies": { "typescript": "^5.4.0" }
}
`;

const PACKAGE_LOCK = `{
  "name": "@demo/client",
  "version": "0.1.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "@demo/client",
      "version": "0.1.0",
      "devDependencies": { "typescript": "^5.4.0" }
    },
    "node_modules/typescript": {
      "version": "5.9.3",
      "dev": true
    }
  }
}
`;

const PYPROJECT = `[build-system]
requires = ["setuptools>=68"]

[project]
name = "demo-client"   # the client
version = "0.1.0"
dependencies = ["httpx>=0.24"]

[tool.other]
version = "9.9.9"
`;

const FIXTURE = {
  "server/requirements.txt": "fastapi\n",
  "server/alembic.ini": "[alembic]\n",
  "server/app/__init__.py": '"""Server."""\n\n__version__ = "0.1.0"\n',
  "server/app/main.py": `from fastapi import FastAPI


def create_app() -> FastAPI:
    application = FastAPI(
        title="Demo",
        version="0.1.0",
    )
    return application


app = create_app()
`,
  "clients/python/pyproject.toml": PYPROJECT,
  "clients/python/src/demo/__init__.py": '__version__ = "0.1.0"\n',
  "clients/js/package.json": PACKAGE_JSON,
  "clients/js/package-lock.json": PACKAGE_LOCK,
};

Deno.test("findJsonStrings locates nested string values and ignores look-alikes", async () => {
  const [top, inner, missing] = await findJsonStrings("package-lock.json", PACKAGE_LOCK, [
    ["version"],
    ["packages", "", "version"],
    ["nope"],
  ]);
  assert.equal(top?.value, "0.1.0");
  assert.equal(inner?.value, "0.1.0");
  assert.ok(inner!.start > top!.start);
  assert.equal(missing, undefined);
  await assert.rejects(findJsonStrings("bad.json", '{\n  "a": tru\n}', [["a"]]), /line 2/);
});

Deno.test("findVersionSites finds every version statement of the project", async () => {
  await using dir = await tempDirWith(FIXTURE);
  const project = await loadProject(dir.path);
  const sites = await findVersionSites(project);
  assert.deepEqual(
    sites.map((s) => `${s.display} ${s.where} ${s.current}`).sort(),
    [
      'clients/js/package-lock.json "version" 0.1.0',
      'clients/js/package-lock.json packages[""].version 0.1.0',
      'clients/js/package.json "version" 0.1.0',
      "clients/python/pyproject.toml [project] version 0.1.0",
      "clients/python/src/demo/__init__.py __version__ 0.1.0",
      "server/app/__init__.py __version__ 0.1.0",
      "server/app/main.py FastAPI(version=...) 0.1.0",
    ],
  );
});

Deno.test("applyBump sets one version everywhere and keeps formatting", async () => {
  await using dir = await tempDirWith(FIXTURE);
  const project = await loadProject(dir.path);
  const plan = await planBump(await findVersionSites(project), "minor");
  assert.equal(plan.from, "0.1.0");
  assert.equal(plan.to, "0.2.0");
  const files = await applyBump(project, plan, { backupDir: dir.join(".rig", "backup") });
  assert.equal(files.length, 6);
  const read = (f: string) => Deno.readTextFile(dir.join(f));
  assert.equal(await read("clients/js/package.json"), PACKAGE_JSON.replace("0.1.0", "0.2.0"));
  assert.equal(
    await read("clients/js/package-lock.json"),
    PACKAGE_LOCK.replaceAll('"version": "0.1.0"', '"version": "0.2.0"'),
  );
  assert.equal(
    await read("clients/python/pyproject.toml"),
    PYPROJECT.replace('version = "0.1.0"', 'version = "0.2.0"'),
  );
  assert.match(await read("server/app/main.py"), /version="0\.2\.0",/);
  assert.match(await read("server/app/__init__.py"), /__version__ = "0\.2\.0"/);
  assert.ok(!(exists(dir.join(".rig", "backup"))), "backups are removed on success");
  for (const site of await findVersionSites(project)) assert.equal(site.current, "0.2.0");
});

Deno.test("planBump refuses disagreeing versions unless an explicit version is given", async () => {
  await using dir = await tempDirWith({
    ...FIXTURE,
    "clients/js/package.json": PACKAGE_JSON.replace("0.1.0", "0.3.0"),
  });
  const sites = await findVersionSites(await loadProject(dir.path));
  await assert.rejects(
    () => planBump(sites, "patch"),
    (error: unknown) =>
      error instanceof EnvironmentError &&
      /Components disagree on the current version: 0\.1\.0 \(.*\); 0\.3\.0 \(clients\/js\/package\.json\)/
        .test(error.message) &&
      /--bump X\.Y\.Z/.test(error.hint ?? ""),
  );
  const plan = await planBump(sites, "1.0.0");
  assert.equal(plan.to, "1.0.0");
  await assert.rejects(() => planBump(sites, "1.0"), UsageError);
  await assert.rejects(() => planBump(sites, "huge"), /Invalid version "huge"/);
});

Deno.test("applyBump restores every file when one edit fails", async () => {
  await using dir = await tempDirWith(FIXTURE);
  const project = await loadProject(dir.path);
  const plan = await planBump(await findVersionSites(project), "patch");
  let writes = 0;
  await assert.rejects(
    () =>
      applyBump(project, plan, {
        backupDir: dir.join(".rig", "backup"),
        beforeWrite: () => {
          if (++writes === 4) throw new Error("disk full");
        },
      }),
    /Cannot set version 0\.1\.1: disk full; every file was restored/,
  );
  for (const [file, content] of Object.entries(FIXTURE)) {
    assert.equal(await Deno.readTextFile(dir.join(file)), content, file);
  }
});
