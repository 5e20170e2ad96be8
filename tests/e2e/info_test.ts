import assert from "node:assert/strict";
import * as path from "node:path";
import { REPO_ROOT, rigProcess } from "../helpers.ts";

Deno.test("rig info --json on the reference project lists its three components and their graph", async () => {
  const result = await rigProcess([
    "-C",
    path.join(REPO_ROOT, "examples", "authserver"),
    "info",
    "--json",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const doc = JSON.parse(result.stdout);
  assert.equal(doc.root, path.join(REPO_ROOT, "examples", "authserver"));
  assert.deepEqual(
    doc.components.map((c: { name: string; kind: string; path: string; dependsOn: string[] }) => [
      c.name,
      c.kind,
      c.path,
      c.dependsOn,
    ]),
    [
      ["js-client", "node-lib", "clients/js", ["server"]],
      ["python-client", "python-lib", "clients/python", ["server"]],
      ["server", "python-app", "server", []],
    ],
  );
  assert.equal(doc.components[2].app, "app.main:app");
  assert.match(doc.tools.python3.version, /^3\.\d+/);
  assert.match(doc.tools.node.version, /^\d+\./);
});

Deno.test("rig info prints a readable table of components and tools", async () => {
  const result = await rigProcess(["-C", path.join(REPO_ROOT, "examples", "authserver"), "info"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^server\s+python-app\s+server\s+pip\s+-$/m);
  assert.match(result.stdout, /^js-client\s+node-lib\s+clients\/js\s+npm\s+server$/m);
  // Why each inferred dependency exists.
  assert.match(
    result.stdout,
    /^js-client → server: a client of the API \(it lives under clients\/\)$/m,
  );
  assert.match(result.stdout, /^python3\s+3\.\d+/m);
});
