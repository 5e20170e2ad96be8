import assert from "node:assert/strict";
import * as path from "node:path";
import {
  assembleContext,
  baseImages,
  compileDockerignore,
  isDockerignored,
} from "../lib/builder/image_context.ts";
import { isLoopbackRegistry } from "../lib/builder/image_push.ts";
import { tempDir, writeFiles } from "./helpers.ts";

/** A temp folder with component "server" holding `files`; `assemble()` builds its context into ctx/. */
async function serverComponent(files: Record<string, string>) {
  const dir = await tempDir();
  const component = dir.join("server");
  await writeFiles(component, files);
  return Object.assign(dir, {
    component,
    assemble: () => assembleContext(component, dir.join("ctx")),
  });
}

Deno.test(".dockerignore patterns are anchored at the context root, exclude folders and honour !", () => {
  const rules = compileDockerignore("# comment\n*.pyc\n/build\ndocs/\n**/__pycache__\n!keep.pyc\n");
  assert.ok(isDockerignored(rules, "a.pyc"));
  assert.ok(!isDockerignored(rules, "pkg/a.pyc"), "*.pyc matches only at the root, as Docker does");
  assert.ok(!isDockerignored(rules, "keep.pyc"));
  assert.ok(isDockerignored(rules, "build/lib/x.py"), "a folder's exclusion covers its files");
  assert.ok(isDockerignored(rules, "docs/index.md"));
  assert.ok(isDockerignored(rules, "app/sub/__pycache__/m.cpython-311.pyc"));
  assert.ok(!isDockerignored(rules, "app/main.py"));
});

Deno.test("the assembled context leaves out .env files, .git, venvs and ignored files, and hashes the rest", async () => {
  await using dir = await serverComponent({
    "app/main.py": "app = 1\n",
    ".env": "SECRET_KEY=x\n",
    ".env.production": "SECRET_KEY=y\n",
    ".env.example": "SECRET_KEY=\n",
    ".git/HEAD": "ref\n",
    "somevenv/pyvenv.cfg": "home = /usr\n",
    "somevenv/lib/x.py": "\n",
    "notes.txt": "n\n",
    ".dockerignore": "notes.txt\n.env.example\n",
  });
  const first = await dir.assemble();
  assert.deepEqual(first.files.map((f) => f.path), [".dockerignore", "app/main.py"]);
  assert.equal(first.defaultIgnore, false);
  const again = await dir.assemble();
  assert.equal(again.hash, first.hash);
  await Deno.writeTextFile(path.join(dir.component, "app/main.py"), "app = 2\n");
  assert.notEqual((await dir.assemble()).hash, first.hash);
});

Deno.test("without a .dockerignore rig's default rules apply and go into the context", async () => {
  await using dir = await serverComponent({
    "app/main.py": "\n",
    "node_modules/x/index.js": "\n",
    "dist/a.whl": "\n",
    ".env.example": "K=\n",
  });
  const context = await dir.assemble();
  assert.deepEqual(context.files.map((f) => f.path), ["app/main.py"]);
  assert.equal(context.defaultIgnore, true);
  assert.match(await Deno.readTextFile(dir.join("ctx/.dockerignore")), /node_modules/);
});

Deno.test("a symlink leaving the component is refused with the fix", async () => {
  await using dir = await serverComponent({ "app/main.py": "\n" });
  await dir.write({ "outside.txt": "secret\n" });
  await Deno.symlink(dir.join("outside.txt"), path.join(dir.component, "link.txt"));
  await assert.rejects(
    () => dir.assemble(),
    /"link\.txt" is a symlink to a file outside the component/,
  );
});

Deno.test("baseImages substitutes ARG defaults and build arguments and skips stages and scratch", () => {
  const dockerfile = [
    "ARG BASE_IMAGE=python:3.11-slim",
    "FROM ${BASE_IMAGE} AS builder",
    "RUN true",
    "FROM --platform=linux/amd64 builder AS again",
    "FROM scratch",
    "FROM $BASE_IMAGE",
  ].join("\n");
  assert.deepEqual(baseImages(dockerfile), ["python:3.11-slim"]);
  assert.deepEqual(baseImages(dockerfile, { BASE_IMAGE: "localhost/base:1" }), [
    "localhost/base:1",
  ]);
});

Deno.test("only registries on this machine count as loopback (plain HTTP allowed)", () => {
  for (const r of ["127.0.0.1:5000", "localhost:5000", "[::1]:5000", "127.1.2.3"]) {
    assert.ok(isLoopbackRegistry(r), r);
  }
  for (const r of ["registry.example.com", "10.0.0.1:5000", "ghcr.io", "localhost.example.com"]) {
    assert.ok(!isLoopbackRegistry(r), r);
  }
});
