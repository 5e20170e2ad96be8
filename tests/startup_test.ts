import assert from "node:assert/strict";
import { REPO_ROOT } from "./helpers.ts";
import { staticImports, unloadableImports } from "./module_graph.ts";
import { TEMPLATES } from "../templates/mod.ts";

/** What `rig --version` and `rig --help` may evaluate: the CLI layer and nothing of lib/'s work. */
const CLI_LAYER = new Set([
  "main.ts",
  "commands/mod.ts",
  "commands/replayers.ts",
  "lib/command.ts",
  "lib/errors.ts",
  "lib/flags.ts",
  "lib/invocation.ts",
  "lib/path.ts",
  "lib/trace.ts",
  "lib/ui.ts",
  "lib/version.ts",
  // rig's version is read from deno.json (a small JSON import).
  "deno.json",
]);

Deno.test("rig --version and --help evaluate only the CLI layer: no command, no npm package, no node: module", async () => {
  const loaded = await staticImports(REPO_ROOT, "main.ts");
  const extra = [...loaded].filter((m) => !CLI_LAYER.has(m));
  assert.deepEqual(extra, [], `main.ts statically imports ${extra.join(", ")}`);
});

Deno.test("every file in templates/ is read through templates/mod.ts, so bundles carry it", () => {
  const files = [...Deno.readDirSync(`${REPO_ROOT}/templates`)]
    .map((e) => e.name)
    .filter((name) => name !== "mod.ts")
    .sort();
  assert.deepEqual(Object.keys(TEMPLATES).sort(), files);
  for (const name of files) {
    assert.equal(TEMPLATES[name], Deno.readTextFileSync(`${REPO_ROOT}/templates/${name}`), name);
  }
});

Deno.test("a cached rig test evaluates no install, build, database, server or npm module, nor any node: module", async () => {
  const loaded = [...await staticImports(REPO_ROOT, "commands/test.ts")];
  const offPath = loaded.filter((m) =>
    // lib/node's detection modules (app, managers, api_client) belong to the project model;
    // running and packing npm (npm.ts, npm_pack.ts) do not.
    /^lib\/(install|builder|db|run)\//.test(m) ||
    [
      "lib/node/npm.ts",
      "lib/node/npm_pack.ts",
      "lib/testing/component_tests.ts",
      "lib/testing/services.ts",
    ].includes(m) ||
    // The first node: module of a process wakes Deno's Node layer (about 13 ms).
    m.startsWith("node:") ||
    ["npm:semver", "npm:@renovatebot/pep440", "npm:dotenv"].includes(m)
  );
  assert.deepEqual(offPath, [], `commands/test.ts statically imports ${offPath.join(", ")}`);
});

Deno.test("every module rig and its bundle's entry import, also by import(), exists", async () => {
  for (const entry of ["main.ts", "bundle_main.ts"]) {
    assert.deepEqual(await unloadableImports(REPO_ROOT, entry), [], entry);
  }
});
