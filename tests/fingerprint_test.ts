import assert from "node:assert/strict";
import * as path from "node:path";
import { crlfToLf, hashFile, looksBinary } from "../lib/task/content_hash.ts";
import { fingerprint } from "../lib/task/fingerprint.ts";
import { listInputs } from "../lib/task/input_listing.ts";
import { loadTextRules, readAutocrlf } from "../lib/task/text_rules.ts";
import { StatCache } from "../lib/task/stat_cache.ts";
import { compileRules, isPathIgnored } from "../lib/ignore.ts";
import {
  describeExplanation,
  explain,
  hashEnv,
  keyManifest,
  stableJson,
  taskKey,
  type TaskKeyInput,
} from "../lib/task/task_key.ts";
import { userCacheDir, userDownloadCacheDir } from "../lib/cache_paths.ts";
import { git, tempDir, tempDirWith } from "./helpers.ts";

const env = Deno.env.toObject();
const PAST = new Date(Date.now() - 3_600_000);

async function ageAll(root: string, files: string[]): Promise<void> {
  // Files written in the last second are "racy" and always re-hashed; age them.
  for (const file of files) await Deno.utime(path.join(root, file), PAST, PAST);
}

async function keyOf(root: string, opts: { statCache?: StatCache } = {}): Promise<string> {
  const files = await listInputs(root, { dirs: ["."], env });
  const inputs = await fingerprint(root, files, { env, statCache: opts.statCache });
  return await taskKey({ task: "test", component: "app", command: ["pytest"], inputs });
}

Deno.test("listInputs lists tracked and untracked files but not ignored ones in a git repo", async () => {
  await using dir = await tempDirWith({
    ".gitignore": "*.log\nbuild/\n",
    "src/a.py": "a",
    "src/b.py": "b",
    "src/debug.log": "x",
    "build/out.js": "x",
    "node_modules/pkg/index.js": "x",
    ".venv/lib/x.py": "x",
    "myenv/pyvenv.cfg": "home = /usr/bin",
    "myenv/lib/site.py": "x",
    "server/__pycache__/a.pyc": "x",
    "server/.coverage": "x",
    "server/htmlcov/index.html": "x",
    "server/app.py": "x",
    "docs/readme.md": "x",
  });
  await git(dir.path, "init", "-q");
  await git(dir.path, "add", "src/a.py", ".gitignore");
  await git(dir.path, "commit", "-qm", "init");
  const all = await listInputs(dir.path, { dirs: ["."], env });
  assert.deepEqual(all, [".gitignore", "docs/readme.md", "server/app.py", "src/a.py", "src/b.py"]);
  const some = await listInputs(dir.path, {
    dirs: ["src"],
    include: ["docs/*.md"],
    exclude: ["b.py"],
    env,
  });
  assert.deepEqual(some, ["docs/readme.md", "src/a.py"]);
});

Deno.test("listInputs applies .gitignore rules outside git, with nesting and negation", async () => {
  await using dir = await tempDirWith({
    ".gitignore": "*.tmp\n/out\nlogs/\n!keep.tmp\n",
    "a.txt": "a",
    "b.tmp": "b",
    "keep.tmp": "k",
    "out/x.txt": "x",
    "sub/out/y.txt": "y",
    "sub/logs/z.txt": "z",
    "sub/.gitignore": "secret.txt\n",
    "sub/secret.txt": "s",
    "sub/c.txt": "c",
    "dist/bundle.js": "x",
  });
  const files = await listInputs(dir.path, { dirs: ["."], useGit: false });
  assert.deepEqual(files, [
    ".gitignore",
    "a.txt",
    "keep.tmp",
    "sub/.gitignore",
    "sub/c.txt",
    "sub/out/y.txt",
  ]);
  const sub = await listInputs(dir.path, { dirs: ["sub"], useGit: false });
  assert.deepEqual(sub, ["sub/.gitignore", "sub/c.txt", "sub/out/y.txt"]);
});

Deno.test("gitignore patterns follow git's anchoring, folder and double-star rules", () => {
  const rules = compileRules([
    "# comment",
    "*.pyc",
    "/root-only.txt",
    "docs/**/*.draft",
    "cache/",
    "a/**",
    "!a/keep",
    "\\#literal",
    "fo[ox].txt",
  ]);
  const ignored = (file: string) => isPathIgnored([rules], file);
  assert.ok(ignored("x/y/z.pyc"));
  assert.ok(ignored("root-only.txt"));
  assert.ok(!ignored("sub/root-only.txt"));
  assert.ok(ignored("docs/a/b/c.draft"));
  assert.ok(ignored("docs/c.draft"));
  assert.ok(ignored("deep/cache/file"));
  assert.ok(!ignored("cache"));
  assert.ok(ignored("a/b"));
  assert.ok(!ignored("a/keep"));
  assert.ok(ignored("#literal"));
  assert.ok(ignored("fox.txt"));
  assert.ok(!ignored("fob.txt"));
});

Deno.test("a content change, an added, a deleted or a renamed file changes the key", async () => {
  await using dir = await tempDirWith({ "src/a.py": "print(1)\n", "src/b.py": "print(2)\n" });
  const base = await keyOf(dir.path);
  assert.equal(await keyOf(dir.path), base);

  await dir.write({ "src/a.py": "print(3)\n" });
  const changed = await keyOf(dir.path);
  assert.notEqual(changed, base);
  await dir.write({ "src/a.py": "print(1)\n" });
  assert.equal(await keyOf(dir.path), base);

  await dir.write({ "src/c.py": "" });
  assert.notEqual(await keyOf(dir.path), base);
  await Deno.remove(dir.join("src/c.py"));
  assert.equal(await keyOf(dir.path), base);

  await Deno.remove(dir.join("src/b.py"));
  assert.notEqual(await keyOf(dir.path), base);
  await dir.write({ "src/b.py": "print(2)\n" });

  await Deno.rename(dir.join("src/b.py"), dir.join("src/renamed.py"));
  assert.notEqual(await keyOf(dir.path), base);
});

Deno.test("touching a file's mtime alone does not change the key, with or without a stat cache", async () => {
  await using dir = await tempDirWith({ "a.txt": "same", "b.txt": "other" });
  await ageAll(dir.path, ["a.txt", "b.txt"]);
  const statCache = await StatCache.load(dir.join(".rig/cache/stat-cache.bin"));
  const before = await keyOf(dir.path, { statCache });
  const later = new Date();
  await Deno.utime(dir.join("a.txt"), later, later);
  const reloaded = await StatCache.load(dir.join(".rig/cache/stat-cache.bin"));
  assert.equal(await keyOf(dir.path, { statCache: reloaded }), before);
  assert.equal(await keyOf(dir.path), before);
});

Deno.test("the stat cache skips unchanged files and re-hashes changed ones", async () => {
  await using dir = await tempDirWith({ "a.txt": "one", "b.txt": "two", "c.txt": "three" });
  await ageAll(dir.path, ["a.txt", "b.txt", "c.txt"]);
  const file = dir.join(".rig/cache/stat-cache.bin");
  const files = ["a.txt", "b.txt", "c.txt"];
  const cold = { hashed: 0, reused: 0 };
  const first = await fingerprint(dir.path, files, {
    statCache: await StatCache.load(file),
    counters: cold,
  });
  assert.deepEqual(cold, { hashed: 3, reused: 0 });
  const warm = { hashed: 0, reused: 0 };
  assert.deepEqual(
    await fingerprint(dir.path, files, { statCache: await StatCache.load(file), counters: warm }),
    first,
  );
  assert.deepEqual(warm, { hashed: 0, reused: 3 });

  await dir.write({ "b.txt": "TWO" });
  const after = { hashed: 0, reused: 0 };
  const changed = await fingerprint(dir.path, files, {
    statCache: await StatCache.load(file),
    counters: after,
  });
  assert.deepEqual(after, { hashed: 1, reused: 2 });
  assert.notEqual(changed["b.txt"], first["b.txt"]);
  assert.equal(changed["a.txt"], first["a.txt"]);
});

Deno.test("a corrupt stat cache file is treated as empty", async () => {
  await using dir = await tempDirWith({ "a.txt": "x", ".rig/cache/stat-cache.bin": "{not json" });
  const cache = await StatCache.open(dir.path);
  assert.equal(cache.size, 0);
  const manifest = await fingerprint(dir.path, ["a.txt"], { statCache: cache });
  assert.equal(Object.keys(manifest).length, 1);
});

Deno.test("keys are identical when the project is copied elsewhere", async () => {
  await using one = await tempDir();
  await using two = await tempDir();
  const files = {
    "server/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    "server/requirements.txt": "fastapi\n",
    "clients/js/src/index.ts": "export const x = 1;\n",
    "rig.toml": "[project]\nname = 'demo'\n",
  };
  await one.write(files);
  await two.write(files);
  await git(one.path, "init", "-q");
  const keyOne = await keyOf(one.path, { statCache: await StatCache.open(one.path) });
  const keyTwo = await keyOf(two.path, { statCache: await StatCache.open(two.path) });
  assert.equal(keyOne, keyTwo);
});

Deno.test("CRLF and LF text files hash equally when .gitattributes declares text or text=auto", async () => {
  await using dir = await tempDirWith({
    ".gitattributes": "*.txt text\n*.md text=auto\n*.bin binary\n",
    "lf.txt": "a\nb\n",
    "crlf.txt": "a\r\nb\r\n",
    "lf.md": "# t\nx\n",
    "crlf.md": "# t\r\nx\r\n",
    "lf.py": "x\n",
    "crlf.py": "x\r\n",
  });
  await Deno.writeFile(dir.join("crlf-nul.md"), new Uint8Array([97, 0, 13, 10]));
  await Deno.writeFile(dir.join("lf-nul.md"), new Uint8Array([97, 0, 10]));
  await Deno.writeFile(dir.join("lf.bin"), new TextEncoder().encode("a\n"));
  await Deno.writeFile(dir.join("crlf.bin"), new TextEncoder().encode("a\r\n"));
  const files = await listInputs(dir.path, { dirs: ["."], useGit: false });
  const m = await fingerprint(dir.path, files, {
    textRules: await loadTextRules(dir.path, { files, autocrlf: false }),
  });
  assert.equal(m["crlf.txt"], m["lf.txt"]);
  assert.equal(m["crlf.md"], m["lf.md"]);
  assert.notEqual(m["crlf.py"], m["lf.py"], "no attribute, no autocrlf: bytes as they are");
  assert.notEqual(m["crlf-nul.md"], m["lf-nul.md"], "text=auto leaves binary files alone");
  assert.notEqual(m["crlf.bin"], m["lf.bin"]);
});

Deno.test("CRLF and LF text files hash equally when core.autocrlf is true", async () => {
  await using dir = await tempDirWith({ "lf.py": "x\ny\n", "crlf.py": "x\r\ny\r\n" });
  await git(dir.path, "init", "-q");
  await git(dir.path, "config", "core.autocrlf", "true");
  const files = await listInputs(dir.path, { dirs: ["."], env });
  const m = await fingerprint(dir.path, files, { env });
  assert.equal(m["crlf.py"], m["lf.py"]);
  await git(dir.path, "config", "core.autocrlf", "false");
  const raw = await fingerprint(dir.path, files, { env });
  assert.notEqual(raw["crlf.py"], raw["lf.py"]);
});

Deno.test("a nested .gitattributes applies to its own folder only", async () => {
  await using dir = await tempDirWith({
    "sub/.gitattributes": "*.txt text\n",
    "sub/lf.txt": "a\n",
    "sub/crlf.txt": "a\r\n",
    "top-crlf.txt": "a\r\n",
    "top-lf.txt": "a\n",
  });
  const files = await listInputs(dir.path, { dirs: ["."], useGit: false });
  const m = await fingerprint(dir.path, files, {
    textRules: await loadTextRules(dir.path, { files, autocrlf: false }),
  });
  assert.equal(m["sub/crlf.txt"], m["sub/lf.txt"]);
  assert.notEqual(m["top-crlf.txt"], m["top-lf.txt"]);
});

Deno.test("streamed hashing of a large file matches hashing it whole, CRLF split across chunks included", async () => {
  await using dir = await tempDir();
  const size = 9 * 1024 * 1024;
  const bytes = new Uint8Array(size).fill(120);
  // A CRLF straddling the 4 MiB chunk boundary, and one at the very end.
  bytes[4 * 1024 * 1024 - 1] = 13;
  bytes[4 * 1024 * 1024] = 10;
  bytes[size - 2] = 13;
  bytes[size - 1] = 10;
  await Deno.writeFile(dir.join("big.txt"), bytes);
  const { createHash } = await import("node:crypto");
  const raw = createHash("sha256").update(bytes).digest("hex");
  const lf = createHash("sha256").update(crlfToLf(bytes)).digest("hex");
  assert.equal(await hashFile(dir.join("big.txt")), raw);
  assert.equal(await hashFile(dir.join("big.txt"), { mode: "text" }), lf);
  assert.equal(await hashFile(dir.join("big.txt"), { mode: "auto" }), lf);
  assert.notEqual(raw, lf);
});

Deno.test("crlfToLf and looksBinary follow git's conversion rules", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.deepEqual(crlfToLf(enc("a\r\nb\rc\r\n")), enc("a\nb\rc\n"));
  assert.ok(looksBinary(new Uint8Array([97, 0, 98])));
  assert.ok(looksBinary(enc("lone\rcr")));
  assert.ok(!looksBinary(enc("text\r\nwith crlf\n")));
});

Deno.test("missing and non-regular files are left out of a fingerprint", async () => {
  await using dir = await tempDirWith({ "a.txt": "a", "sub/b.txt": "b" });
  const m = await fingerprint(dir.path, ["a.txt", "gone.txt", "sub"]);
  assert.deepEqual(Object.keys(m), ["a.txt"]);
});

const KNOWN_INPUT: TaskKeyInput = {
  task: "test",
  component: "server",
  command: ["pytest", "-q"],
  config: { path: "server", env: ["DATABASE_URL"], nested: { b: 2, a: 1 } },
  inputs: {
    "server/app/main.py": "1".repeat(64),
    "server/tests/test_a.py": "2".repeat(64),
    "10": "3".repeat(64),
    "9": "4".repeat(64),
  },
  lockFiles: { "server/requirements.txt": "5".repeat(64) },
  tools: { python: "3.11.2", pip: "23.0.1" },
  env: { DATABASE_URL: "postgresql://u:secret@localhost/db", UNSET: undefined },
  dependencies: { "server:openapi": "6".repeat(64) },
};

Deno.test("taskKey is deterministic and matches its known value", async () => {
  const key = await taskKey(KNOWN_INPUT);
  assert.equal(key, "5a620c506f64588c121d14f7410b4804330b598c13b31895fbeca28ed9801c4e");
  const reordered: TaskKeyInput = {
    ...KNOWN_INPUT,
    config: { nested: { a: 1, b: 2 }, env: ["DATABASE_URL"], path: "server" },
    inputs: Object.fromEntries(Object.entries(KNOWN_INPUT.inputs).reverse()),
    tools: { pip: "23.0.1", python: "3.11.2" },
  };
  assert.equal(await taskKey(reordered), key);
});

Deno.test("every part of the task key input changes the key", async () => {
  const base = await taskKey(KNOWN_INPUT);
  const variants: Partial<TaskKeyInput>[] = [
    { task: "lint" },
    { component: "client" },
    { command: ["pytest"] },
    { config: { path: "server" } },
    { inputs: { ...KNOWN_INPUT.inputs, "server/app/main.py": "7".repeat(64) } },
    { lockFiles: {} },
    { tools: { python: "3.12.0", pip: "23.0.1" } },
    { env: { DATABASE_URL: "postgresql://other" } },
    { env: { DATABASE_URL: "postgresql://u:secret@localhost/db", UNSET: "now set" } },
    { dependencies: { "server:openapi": "8".repeat(64) } },
  ];
  const keys = new Set([base]);
  for (const variant of variants) keys.add(await taskKey({ ...KNOWN_INPUT, ...variant }));
  assert.equal(keys.size, variants.length + 1);
});

Deno.test("key manifests keep env var names and value hashes, never values", async () => {
  const manifest = await keyManifest(KNOWN_INPUT);
  const text = stableJson(manifest);
  assert.ok(!text.includes("secret"));
  assert.deepEqual(Object.keys(manifest.env), ["DATABASE_URL", "UNSET"]);
  assert.equal(manifest.env.UNSET, null);
  assert.match(manifest.env.DATABASE_URL!, /^[0-9a-f]{64}$/);
  assert.notEqual((await hashEnv({ A: "x" })).A, (await hashEnv({ B: "x" })).B);
});

Deno.test("explain names changed, added, removed and renamed files, env names, tools and deps", async () => {
  const before = await keyManifest(KNOWN_INPUT);
  const after = await keyManifest({
    ...KNOWN_INPUT,
    command: ["pytest", "-x"],
    inputs: {
      "server/app/main.py": "9".repeat(64),
      "server/tests/test_renamed.py": "2".repeat(64),
      "10": "3".repeat(64),
      "new.py": "a".repeat(64),
    },
    tools: { python: "3.12.0", pip: "23.0.1" },
    env: { DATABASE_URL: "postgresql://changed" },
    dependencies: { "server:openapi": "b".repeat(64) },
  });
  const e = explain(before, after);
  assert.ok(e.changed);
  assert.deepEqual(e.filesChanged, ["server/app/main.py"]);
  assert.deepEqual(e.filesAdded, ["new.py"]);
  assert.deepEqual(e.filesRemoved, ["9"]);
  assert.deepEqual(e.filesRenamed, [{
    from: "server/tests/test_a.py",
    to: "server/tests/test_renamed.py",
  }]);
  assert.deepEqual(e.envChanged, ["DATABASE_URL", "UNSET"]);
  assert.deepEqual(e.toolsChanged, [{ name: "python", from: "3.11.2", to: "3.12.0" }]);
  assert.deepEqual(e.dependenciesChanged, ["server:openapi"]);
  assert.deepEqual(e.commandChanged, { from: ["pytest", "-q"], to: ["pytest", "-x"] });
  const text = describeExplanation(e).join("\n");
  assert.match(text, /Changed: server\/app\/main\.py/);
  assert.match(text, /Env vars changed: DATABASE_URL, UNSET/);
  assert.ok(!text.includes("changed@"), "no env values");
  assert.deepEqual(explain(before, before).changed, false);
  assert.deepEqual(describeExplanation(explain(before, before)), [
    "Nothing changed since the previous run",
  ]);
});

Deno.test("userCacheDir follows each OS's convention and RIG_CACHE_DIR overrides it", () => {
  assert.equal(userCacheDir({ HOME: "/home/u" }, "linux"), "/home/u/.cache/rig");
  assert.equal(
    userCacheDir({ HOME: "/home/u", XDG_CACHE_HOME: "/xdg" }, "linux"),
    "/xdg/rig",
  );
  assert.equal(
    userCacheDir({ HOME: "/home/u", XDG_CACHE_HOME: "relative" }, "linux"),
    "/home/u/.cache/rig",
  );
  assert.equal(userCacheDir({ HOME: "/Users/u" }, "darwin"), "/Users/u/Library/Caches/rig");
  assert.equal(
    userCacheDir({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }, "windows"),
    "C:\\Users\\u\\AppData\\Local\\rig\\cache",
  );
  assert.equal(userCacheDir({ HOME: "/home/u", RIG_CACHE_DIR: "/c/rig" }, "linux"), "/c/rig");
  assert.equal(
    userDownloadCacheDir({ HOME: "/home/u" }, { os: "linux", tool: "pip" }),
    "/home/u/.cache/rig/pip",
  );
  assert.equal(
    userDownloadCacheDir({ LOCALAPPDATA: "D:\\L" }, { os: "windows", tool: "npm" }),
    "D:\\L\\rig\\cache\\npm",
  );
});

Deno.test("hash workers give the same manifest as hashing on the main thread", async () => {
  await using dir = await tempDir();
  const files: Record<string, string> = { ".gitattributes": "*.txt text\n" };
  for (let i = 0; i < 150; i++) files[`d${i % 7}/f${i}.txt`] = `line ${i}\r\n`.repeat(i);
  files["bin.dat"] = "a\r\nb";
  await dir.write(files);
  const names = await listInputs(dir.path, { dirs: ["."], useGit: false });
  const textRules = await loadTextRules(dir.path, { files: names, autocrlf: false });
  const counters = { hashed: 0, reused: 0 };
  const threaded = await fingerprint(dir.path, [...names, "gone.txt"], {
    textRules,
    workers: 2,
    counters,
  });
  const single = await fingerprint(dir.path, names, { textRules, workers: 0 });
  assert.deepEqual(threaded, single);
  assert.equal(counters.hashed, names.length);
  assert.equal(threaded["d1/f1.txt"], threaded["d1/f1.txt"]);
  const { createHash } = await import("node:crypto");
  assert.equal(
    threaded["d3/f3.txt"],
    createHash("sha256").update("line 3\n".repeat(3)).digest("hex"),
  );
});

Deno.test("the stat cache file round-trips unicode paths and all text modes", async () => {
  await using dir = await tempDirWith({
    ".gitattributes": "*.md text\n*.txt text=auto\n",
    "héllo wörld/ünïcode.md": "x\r\n",
    "a.txt": "y\r\n",
    "b.bin": "z",
  });
  const names = await listInputs(dir.path, { dirs: ["."], useGit: false });
  await ageAll(dir.path, names);
  const textRules = await loadTextRules(dir.path, { files: names, autocrlf: false });
  const first = await fingerprint(dir.path, names, {
    statCache: await StatCache.open(dir.path),
    textRules,
  });
  const counters = { hashed: 0, reused: 0 };
  const second = await fingerprint(dir.path, names, {
    statCache: await StatCache.open(dir.path),
    textRules,
    counters,
  });
  assert.deepEqual(second, first);
  assert.deepEqual(counters, { hashed: 0, reused: names.length });
});

Deno.test("core.autocrlf is read from the repository and global config files without git", async () => {
  await using dir = await tempDir();
  await using home = await tempDir();
  await git(dir.path, "init", "-q");
  const homeEnv = { HOME: home.path, PATH: env.PATH ?? "", GIT_CONFIG_NOSYSTEM: "1" };
  assert.equal(readAutocrlf(dir.path, homeEnv), false);
  await home.write({ ".gitconfig": "[core]\n\tautocrlf = true\n" });
  assert.equal(readAutocrlf(dir.path, homeEnv), true);
  await git(dir.path, "config", "core.autocrlf", "false");
  assert.equal(readAutocrlf(dir.path, homeEnv), false, "the repository overrides global");
  await home.write({ ".gitconfig": '[include]\n\tpath = other\n[core]\n\tautocrlf = "input"\n' });
  assert.equal(readAutocrlf(dir.path, homeEnv), undefined, "includes need git itself");
  assert.equal(readAutocrlf(dir.path, { ...homeEnv, GIT_CONFIG_COUNT: "1" }), undefined);
});

Deno.test("stableJson sorts keys at every level and serialises dates like JSON", () => {
  assert.equal(
    stableJson({ b: [{ y: 1, x: undefined }, null], a: new Date(0), c: undefined }),
    '{"a":"1970-01-01T00:00:00.000Z","b":[{"y":1},null]}',
  );
});
