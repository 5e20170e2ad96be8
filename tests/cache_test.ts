import assert from "node:assert/strict";
import * as path from "node:path";
import { CacheStore } from "../lib/task/cache.ts";
import { openCacheStore } from "../lib/task/cache_open.ts";
import type { TaskRecord } from "../lib/task/cache_record.ts";
import { parseDuration, parseSize } from "../lib/task/cache_limits.ts";
import { ensureRigDir } from "../lib/cache_paths.ts";
import { packEntry, unpackEntry } from "../lib/task/remote_cache.ts";
import { RigError, UsageError } from "../lib/errors.ts";
import { keyManifest, manifestKey, type TaskKeyInput } from "../lib/task/task_key.ts";
import { signerFromKey } from "../lib/task/signing.ts";
import { freePort, git, type TempDir, tempDir, tempDirWith } from "./helpers.ts";

/** Stores in these tests share one signing key and restore below out/ and dist/. */
const TEST_KEY = "rig cache test key";
const TEST_STORE = {
  signer: signerFromKey(new TextEncoder().encode(TEST_KEY), "the test key"),
  outputRoots: () => ["out/", "dist/"],
};

function input(n: number, extra: Partial<TaskKeyInput> = {}): TaskKeyInput {
  return {
    task: "test",
    component: "server",
    command: ["pytest"],
    inputs: { "server/a.py": n.toString(16).padStart(64, "0") },
    ...extra,
  };
}

async function putEntry(
  store: CacheStore,
  n: number,
  opts: { artifacts?: string[]; log?: string; task?: string } = {},
): Promise<TaskRecord> {
  const manifest = await keyManifest(input(n, opts.task ? { task: opts.task } : {}));
  return await store.put(
    {
      key: await manifestKey(manifest),
      task: manifest.task,
      component: manifest.component,
      exitCode: 0,
      summary: { passed: n },
      durationMs: 1000 + n,
      manifest,
    },
    { log: opts.log ?? `log ${n}\n`, artifacts: opts.artifacts },
  );
}

/**
 * Stores `count` entries, each with one artifact of `bytes` bytes; entry n was last used 10 - n
 * hours ago, so entry 0 is the least recently used.
 */
async function putAgedEntries(
  store: CacheStore,
  dir: TempDir,
  count: number,
  bytes: number,
): Promise<TaskRecord[]> {
  const records: TaskRecord[] = [];
  for (let n = 0; n < count; n++) {
    await dir.write({ [`out/${n}.bin`]: String(n).repeat(bytes) });
    records.push(await putEntry(store, n, { artifacts: [`out/${n}.bin`] }));
    const used = new Date(Date.now() - (10 - n) * 3_600_000);
    await Deno.utime(store.recordPath(records[n]!.key), used, used);
  }
  return records;
}

Deno.test("a stored task result is found, replays its log and restores its artifacts", async () => {
  await using dir = await tempDirWith({
    "dist/pkg.whl": "wheel bytes",
    "dist/sub/readme.txt": "hi",
  });
  await Deno.chmod(dir.join("dist/pkg.whl"), 0o755);
  const store = new CacheStore(dir.path, TEST_STORE);
  const record = await putEntry(store, 1, {
    artifacts: ["dist/pkg.whl", "dist/sub/readme.txt"],
    log: "3 passed\n",
  });
  const found = await store.get(record.key);
  assert.ok(found);
  assert.equal(found.exitCode, 0);
  assert.deepEqual(found.summary, { passed: 1 });
  assert.equal(await store.readLog(found), "3 passed\n");
  assert.deepEqual(found.artifacts.map((a) => a.path), ["dist/pkg.whl", "dist/sub/readme.txt"]);
  assert.equal(found.rigVersion.length > 0, true);

  await Deno.remove(dir.join("dist"), { recursive: true });
  assert.deepEqual(await store.restore(found), {
    files: 2,
    bytes: 13,
    paths: ["dist/pkg.whl", "dist/sub/readme.txt"],
  });
  assert.equal(await Deno.readTextFile(dir.join("dist/pkg.whl")), "wheel bytes");
  // Executable bits travel only with build outputs; this is a test task's record.
  assert.equal((await Deno.stat(dir.join("dist/pkg.whl"))).mode! & 0o777, 0o644);

  await using other = await tempDir();
  await store.restore(found, other.path);
  assert.equal(await Deno.readTextFile(other.join("dist/sub/readme.txt")), "hi");

  assert.equal((await store.latest("test", "server"))?.key, record.key);
  assert.equal(await store.latest("test", "client"), undefined);
  assert.equal(await store.get("f".repeat(64)), undefined);
});

Deno.test("a truncated, tampered or misnamed record is a miss and is removed", async () => {
  await using dir = await tempDir();
  const store = new CacheStore(dir.path, TEST_STORE);
  const messages: string[] = [];
  const debugStore = new CacheStore(dir.path, { ...TEST_STORE, debug: (m) => messages.push(m) });

  const truncated = await putEntry(store, 1);
  const file = store.recordPath(truncated.key);
  const text = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, text.slice(0, text.length / 2));
  assert.equal(await debugStore.get(truncated.key), undefined);
  assert.ok(messages.some((m) => m.includes("not valid JSON")));
  await assert.rejects(Deno.stat(file), Deno.errors.NotFound);

  const tampered = await putEntry(store, 2);
  const json = JSON.parse(await Deno.readTextFile(store.recordPath(tampered.key)));
  json.exitCode = 1;
  await Deno.writeTextFile(store.recordPath(tampered.key), JSON.stringify(json));
  assert.equal(await debugStore.get(tampered.key), undefined);
  assert.ok(messages.some((m) => m.includes("checksum mismatch")));

  const moved = await putEntry(store, 3);
  const otherKey = "a".repeat(64);
  await Deno.rename(store.recordPath(moved.key), store.recordPath(otherKey));
  assert.equal(await store.get(otherKey), undefined);

  await Deno.writeTextFile(store.recordPath("b".repeat(64)), "");
  assert.equal(await store.get("b".repeat(64)), undefined);
  assert.deepEqual(await store.entries(), []);
});

Deno.test("restoring from a missing or corrupt blob throws a RigError instead of missing silently", async () => {
  await using dir = await tempDirWith({ "out/a.txt": "artifact" });
  const store = new CacheStore(dir.path, TEST_STORE);
  const record = await putEntry(store, 1, { artifacts: ["out/a.txt"], log: "the log" });
  const blob = store.blobPath(record.artifacts[0]!.sha256);

  await Deno.writeTextFile(blob, "tampered");
  await assert.rejects(store.restore(record), RigError);
  // The corrupt blob was dropped, so the next restore reports it missing.
  await assert.rejects(store.restore(record), (error: RigError) => {
    assert.match(
      error.message,
      /Cannot restore "out\/a.txt" from the cache: blob "[0-9a-f]{12}" is missing/,
    );
    assert.match(error.hint ?? "", /rig cache clean/);
    return true;
  });
  assert.equal(await Deno.readTextFile(dir.join("out/a.txt")), "artifact", "destination untouched");

  await Deno.writeTextFile(store.blobPath(record.log!.sha256), "other log");
  await assert.rejects(store.readLog(record), /is corrupt \(hash mismatch\)/);
});

Deno.test("a corrupt blob's error names the file and the hash mismatch", async () => {
  await using dir = await tempDirWith({ "out/a.txt": "artifact" });
  const store = new CacheStore(dir.path, TEST_STORE);
  const record = await putEntry(store, 1, { artifacts: ["out/a.txt"] });
  await Deno.writeTextFile(store.blobPath(record.artifacts[0]!.sha256), "tampered");
  await assert.rejects(
    store.restore(record),
    /Cannot restore "out\/a.txt" from the cache: blob "[0-9a-f]{12}" is corrupt \(hash mismatch\)/,
  );
});

Deno.test("restoring into an unwritable folder throws a RigError naming the file", async () => {
  // A file where a folder must go fails even as root, which ignores permission bits.
  await using dir = await tempDirWith({ "out/a.txt": "artifact" });
  const store = new CacheStore(dir.path, TEST_STORE);
  const record = await putEntry(store, 1, { artifacts: ["out/a.txt"] });
  await using dest = await tempDirWith({ out: "a file where the folder should be" });
  await assert.rejects(store.restore(record, dest.path), (error: RigError) => {
    assert.ok(error instanceof RigError);
    assert.match(error.message, /Cannot restore "out\/a.txt" from the cache/);
    return true;
  });
});

Deno.test("artifacts outside the project root are refused", async () => {
  await using dir = await tempDir();
  const store = new CacheStore(dir.path, TEST_STORE);
  await assert.rejects(putEntry(store, 1, { artifacts: ["../escape.txt"] }), /must be relative/);
  await assert.rejects(putEntry(store, 1, { artifacts: ["missing.txt"] }), /Cannot cache artifact/);
});

Deno.test("stats count entries, hits, misses and time saved per task kind", async () => {
  await using dir = await tempDir();
  const store = new CacheStore(dir.path, TEST_STORE);
  const a = await putEntry(store, 1);
  await putEntry(store, 2, { task: "lint" });
  await store.get(a.key);
  await store.get(a.key);
  await store.get("c".repeat(64), { task: "test", component: "server" });
  const stats = await new CacheStore(dir.path, TEST_STORE).stats();
  assert.equal(stats.entries, 2);
  assert.equal(stats.hits, 2);
  assert.equal(stats.misses, 1);
  assert.equal(stats.savedMs, 2 * 1001);
  assert.equal(stats.byTask.test?.hits, 2);
  assert.equal(stats.byTask.lint?.entries, 1);
  assert.ok(stats.bytes > 0);
});

Deno.test("prune removes least recently used entries down to a size and keeps entries in use", async () => {
  await using dir = await tempDir();
  const writer = new CacheStore(dir.path, { ...TEST_STORE, maxBytes: 0 });
  const records = await putAgedEntries(writer, dir, 5, 10_000);
  // A later run: entry 0 is used again, so it is the most recent one now.
  const run = new CacheStore(dir.path, TEST_STORE);
  assert.ok(await run.get(records[0]!.key));
  const result = await run.prune({ maxBytes: 25_000 });
  assert.ok(result.bytesAfter <= 25_000 || result.keptEntries === 1);
  const left = new Set((await run.entries()).map((e) => e.key));
  assert.ok(left.has(records[0]!.key), "the entry in use is kept");
  assert.ok(!left.has(records[1]!.key), "the least recently used goes first");
  assert.ok(left.has(records[4]!.key));
  assert.equal(result.removedEntries, 5 - left.size);
  // Everything left still restores: no blob of a kept entry was deleted.
  for (const key of left) await run.restore((await run.read(key))!);

  const nothing = await run.prune({ maxBytes: 0 });
  assert.deepEqual([...(await run.entries()).map((e) => e.key)], [records[0]!.key]);
  assert.equal(nothing.keptEntries, 1);
});

Deno.test("prune by age removes entries unused for longer than the limit", async () => {
  await using dir = await tempDir();
  const writer = new CacheStore(dir.path, TEST_STORE);
  const old = await putEntry(writer, 1);
  const recent = await putEntry(writer, 2);
  const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000);
  await Deno.utime(writer.recordPath(old.key), eightDaysAgo, eightDaysAgo);
  const oneHourAgo = new Date(Date.now() - 3_600_000);
  await Deno.utime(writer.recordPath(recent.key), oneHourAgo, oneHourAgo);
  const run = new CacheStore(dir.path, TEST_STORE);
  const result = await run.prune({ maxAgeMs: parseDuration("7d") });
  assert.equal(result.removedEntries, 1);
  assert.equal(await run.read(old.key), undefined);
  assert.ok(await run.read(recent.key));
});

Deno.test("a put over the size limit prunes older entries automatically", async () => {
  await using dir = await tempDir();
  const first = new CacheStore(dir.path, TEST_STORE);
  const records = await putAgedEntries(first, dir, 3, 50_000);
  const limited = new CacheStore(dir.path, { ...TEST_STORE, maxBytes: 120_000 });
  await dir.write({ "out/new.bin": "n".repeat(50_000) });
  const added = await putEntry(limited, 9, { artifacts: ["out/new.bin"] });
  assert.ok(await limited.size() <= 120_000);
  assert.ok(await limited.read(added.key));
  assert.equal(await limited.read(records[0]!.key), undefined);
});

Deno.test("resolveKey accepts unique prefixes and rejects unknown or ambiguous ones", async () => {
  await using dir = await tempDir();
  const store = new CacheStore(dir.path, TEST_STORE);
  const record = await putEntry(store, 1);
  assert.equal(await store.resolveKey(record.key.slice(0, 8)), record.key);
  await assert.rejects(store.resolveKey("zz"), UsageError);
  await assert.rejects(store.resolveKey("0000000000"), /No cache entry/);
});

Deno.test("parseSize and parseDuration read human units and reject nonsense", () => {
  assert.equal(parseSize("500MB"), 500 * 1024 ** 2);
  assert.equal(parseSize("2G"), 2 * 1024 ** 3);
  assert.equal(parseSize("1.5 GiB"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("1024"), 1024);
  assert.throws(() => parseSize("lots"), UsageError);
  assert.throws(() => parseSize("5XB"), UsageError);
  assert.equal(parseDuration("7d"), 7 * 86_400_000);
  assert.equal(parseDuration("12h"), 12 * 3_600_000);
  assert.equal(parseDuration("1d12h"), 36 * 3_600_000);
  assert.equal(parseDuration("90s"), 90_000);
  assert.throws(() => parseDuration("7"), UsageError);
  assert.throws(() => parseDuration("soon"), UsageError);
});

const CACHE_MODULE = new URL("../lib/task/cache.ts", import.meta.url).href;
const KEY_MODULE = new URL("../lib/task/task_key.ts", import.meta.url).href;
const SIGNING_MODULE = new URL("../lib/task/signing.ts", import.meta.url).href;
/** The same TEST_STORE, for scripts run in other processes. */
const SCRIPT_STORE = `
  import { signerFromKey } from ${JSON.stringify(SIGNING_MODULE)};
  const TEST_STORE = { signer: signerFromKey(new TextEncoder().encode(${
  JSON.stringify(TEST_KEY)
}), "k"), outputRoots: () => ["out/", "dist/"] };
`;

Deno.test("several processes writing the same entries at once leave a valid store", async () => {
  await using dir = await tempDirWith({
    "out/big.bin": "x".repeat(2_000_000),
    "out/small.txt": "s",
  });
  const script = `
    import { CacheStore } from ${JSON.stringify(CACHE_MODULE)};
    import { keyManifest, manifestKey } from ${JSON.stringify(KEY_MODULE)};
    ${SCRIPT_STORE}
    const root = Deno.args[0];
    const store = new CacheStore(root, { ...TEST_STORE, maxBytes: 0 });
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 8; n++) {
        const manifest = await keyManifest({ task: "test", component: "c" + (n % 2), command: ["t"],
          inputs: { ["f" + n]: String(n).repeat(64) } });
        await store.put({ key: await manifestKey(manifest), task: "test", component: "c" + (n % 2),
          exitCode: 0, summary: { n }, durationMs: n, manifest },
          { log: "log " + n, artifacts: ["out/big.bin", "out/small.txt"] });
        await store.get(await manifestKey(manifest));
      }
    }
  `;
  const children = Array.from({ length: 4 }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", script, dir.path],
      stdout: "piped",
      stderr: "piped",
    }).output());
  const outputs = await Promise.all(children);
  for (const output of outputs) {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  }
  const store = new CacheStore(dir.path, TEST_STORE);
  const entries = await store.entries();
  assert.equal(entries.length, 8);
  await using dest = await tempDir();
  for (const entry of entries) {
    const record = await store.read(entry.key);
    assert.ok(record);
    await store.restore(record, dest.path);
    assert.equal(await store.readLog(record), `log ${(record.summary as { n: number }).n}`);
  }
  assert.equal((await Deno.readTextFile(dest.join("out/big.bin"))).length, 2_000_000);
  const stats = await store.stats();
  assert.equal(stats.hits, 4 * 3 * 8);
  // No temp or staging files were left behind.
  const leftovers: string[] = [];
  const walk = async (folder: string) => {
    for await (const entry of Deno.readDir(folder)) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory) await walk(full);
      else if (entry.name.startsWith(".")) leftovers.push(full);
    }
  };
  await walk(store.dir);
  assert.deepEqual(leftovers, []);
});

/** A tiny Turborepo-style remote cache server on 127.0.0.1 (PUT/GET/HEAD /v8/artifacts/:hash). */
function remoteServer(token: string) {
  const artifacts = new Map<string, Uint8Array>();
  const tags = new Map<string, string>();
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      requests.push(`${request.method} ${url.pathname}${url.search}`);
      if (request.headers.get("authorization") !== `Bearer ${token}`) {
        return new Response("unauthorized", { status: 401 });
      }
      const match = url.pathname.match(/^\/v8\/artifacts\/([0-9a-f]+)$/);
      if (!match) return new Response("not found", { status: 404 });
      const key = `${url.searchParams.get("teamId")}/${match[1]}`;
      if (request.method === "PUT") {
        artifacts.set(key, new Uint8Array(await request.arrayBuffer()));
        const tag = request.headers.get("x-artifact-tag");
        if (tag) tags.set(key, tag);
        return Response.json({ urls: [] }, { status: 202 });
      }
      const artifact = artifacts.get(key);
      if (!artifact) return new Response("not found", { status: 404 });
      if (request.method === "HEAD") return new Response(null, { status: 200 });
      const headers: Record<string, string> = { "content-type": "application/octet-stream" };
      if (tags.has(key)) headers["x-artifact-tag"] = tags.get(key)!;
      return new Response(artifact as BodyInit, { headers });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    artifacts,
    tags,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * Opens stores with the remote cache `settings` and the signing key, each sending `token` (none
 * when undefined) as RIG_TOKEN; every store's warnings go to `warnings` (a new list unless given).
 */
function remoteStores(
  settings: { url: string; team?: string; tokenEnv?: string },
  warnings: string[] = [],
) {
  const ui = { debug: () => {}, warn: (text: string) => warnings.push(text) };
  const open = (root: string, token?: string) =>
    openCacheStore(root, {
      env: {
        ...(token === undefined ? {} : { RIG_TOKEN: token }),
        RIG_CACHE_SIGNING_KEY: TEST_KEY,
      },
      remoteCache: settings,
      ui,
    });
  return { warnings, open };
}

Deno.test("the remote cache shares entries between two checkouts through the Turborepo API", async () => {
  await using remote = remoteServer("s3cret");
  await using one = await tempDir();
  await using two = await tempDir();
  await one.write({ "dist/server/app.whl": "wheel" });
  const { warnings, open } = remoteStores({
    url: remote.url,
    team: "team_rig",
    tokenEnv: "RIG_TOKEN",
  });
  const writer = open(one.path, "s3cret");
  const build = { artifacts: ["dist/server/app.whl"], log: "built\n", task: "build" };
  const record = await putEntry(writer, 1, build);
  assert.ok(remote.artifacts.has(`team_rig/${record.key}`));
  assert.ok(remote.requests.includes(`PUT /v8/artifacts/${record.key}?teamId=team_rig`));

  const reader = open(two.path, "s3cret");
  const found = await reader.get(record.key);
  assert.ok(found, "a local miss is served by the remote cache");
  assert.equal(await reader.readLog(found), "built\n");
  await reader.restore(found);
  assert.equal(await Deno.readTextFile(two.join("dist/server/app.whl")), "wheel");
  assert.ok(await new CacheStore(two.path, TEST_STORE).read(record.key), "now stored locally too");
  assert.deepEqual(warnings, []);

  // Putting an entry the server already has skips the upload.
  const puts = remote.requests.filter((r) => r.startsWith("PUT")).length;
  await putEntry(writer, 1, build);
  assert.equal(remote.requests.filter((r) => r.startsWith("PUT")).length, puts);
});

Deno.test("remote cache trouble is one warning and a miss, never a failure", async () => {
  await using remote = remoteServer("right");
  await using dir = await tempDir();
  const { warnings, open } = remoteStores({ url: remote.url, team: "t", tokenEnv: "RIG_TOKEN" });
  const store = open(dir.path, "wrong");
  const record = await putEntry(store, 1);
  assert.equal(await store.get("e".repeat(64)), undefined);
  assert.ok(await store.get(record.key), "the local cache still works");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /Remote cache unavailable.*HTTP 401/);

  // A corrupt artifact on the server is a miss as well.
  await using other = await tempDir();
  remote.artifacts.set(`t/${"d".repeat(64)}`, new TextEncoder().encode("garbage"));
  const reader = open(other.path, "right");
  assert.equal(await reader.get("d".repeat(64)), undefined);
  assert.match(warnings.at(-1)!, /"dddddddddddd" carries no signature \(x-artifact-tag\)/);

  // An unreachable server too.
  const down = remoteStores({ url: `http://127.0.0.1:${freePort()}` }, warnings).open(other.path);
  assert.equal(await down.get("c".repeat(64)), undefined);
  assert.match(warnings.at(-1)!, /Cannot reach the remote cache/);
});

Deno.test("a packed entry round-trips and a tampered blob is refused", async () => {
  const blobs = new Map([["a".repeat(64), new Uint8Array([1, 2, 3])]]);
  await assert.rejects(unpackEntry(await packEntry({ record: {}, blobs })), /corrupt blob/);
  const bytes = new TextEncoder().encode("hello");
  const { createHash } = await import("node:crypto");
  const sha = createHash("sha256").update(bytes).digest("hex");
  const packed = await packEntry({ record: { k: 1 }, blobs: new Map([[sha, bytes]]) });
  const unpacked = await unpackEntry(packed);
  assert.deepEqual(unpacked.record, { k: 1 });
  assert.deepEqual(unpacked.blobs.get(sha), bytes);
});

Deno.test("a large event log is folded into totals without changing the stats", async () => {
  await using dir = await tempDir();
  const store = new CacheStore(dir.path, TEST_STORE);
  await putEntry(store, 1);
  const line = (type: string, i: number) =>
    JSON.stringify({ type, task: i % 2 ? "lint" : "test", key: "k".repeat(64), ms: 10, at: i }) +
    "\n";
  const lines: string[] = [];
  for (let i = 0; i < 12_000; i++) lines.push(line(i % 3 ? "hit" : "miss", i));
  await Deno.writeTextFile(path.join(store.dir, "events.jsonl"), lines.join(""), { append: true });
  const before = await store.stats();
  await new CacheStore(dir.path, TEST_STORE).prune({ maxAgeMs: parseDuration("1d") });
  const size = (await Deno.stat(path.join(store.dir, "events.jsonl"))).size;
  assert.ok(size < 1000, `compacted to ${size} bytes`);
  const after = await store.stats();
  assert.deepEqual(after.byTask, before.byTask);
  assert.equal(after.hits, 8000);
});

Deno.test("a summary with dates and undefined members reads back as a valid record", async () => {
  await using dir = await tempDir();
  const store = new CacheStore(dir.path, TEST_STORE);
  const manifest = await keyManifest(input(7));
  const key = await manifestKey(manifest);
  await store.put({
    key,
    task: "test",
    component: "server",
    exitCode: 0,
    summary: { when: new Date(0), missing: undefined, ratio: 0.5 },
    durationMs: 12.7,
    manifest,
  });
  const record = await store.get(key);
  assert.ok(record);
  assert.deepEqual(record.summary, { when: "1970-01-01T00:00:00.000Z", ratio: 0.5 });
  assert.equal(record.durationMs, 13);
});

Deno.test("the first put makes git ignore the .rig folder", async () => {
  await using dir = await tempDir();
  await git(dir.path, "init", "-q");
  await putEntry(new CacheStore(dir.path, TEST_STORE), 1);
  assert.equal(
    await Deno.readTextFile(dir.join(".rig/.gitignore")),
    "# Written by rig: its caches and records are local.\n*\n",
  );
  assert.equal(await git(dir.path, "status", "--porcelain"), "");
});

Deno.test("writers and a pruner running at once leave only restorable entries", async () => {
  await using dir = await tempDir();
  for (let i = 0; i < 4; i++) await dir.write({ [`out/${i}.txt`]: `content ${i}`.repeat(1000) });
  const writer = `
    import { CacheStore } from ${JSON.stringify(CACHE_MODULE)};
    import { keyManifest, manifestKey } from ${JSON.stringify(KEY_MODULE)};
    ${SCRIPT_STORE}
    const store = new CacheStore(Deno.args[0], { ...TEST_STORE, maxBytes: 0 });
    for (let round = 0; round < 20; round++) {
      for (let n = 0; n < 6; n++) {
        const manifest = await keyManifest({ task: "t", component: "c", command: [],
          inputs: { f: String(n).repeat(64) } });
        await store.put({ key: await manifestKey(manifest), task: "t", component: "c", exitCode: 0,
          durationMs: 1, manifest }, { log: "log " + n, artifacts: ["out/" + (n % 4) + ".txt"] });
      }
    }`;
  const pruner = `
    import { CacheStore } from ${JSON.stringify(CACHE_MODULE)};
    ${SCRIPT_STORE}
    for (let i = 0; i < 30; i++) await new CacheStore(Deno.args[0], TEST_STORE).prune({ maxBytes: 1 });`;
  const start = (code: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code, dir.path],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const outputs = await Promise.all([start(writer), start(writer), start(pruner)]);
  for (const output of outputs) {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  }
  const store = new CacheStore(dir.path, TEST_STORE);
  await using dest = await tempDir();
  for (const entry of await store.entries()) {
    const record = (await store.read(entry.key))!;
    await store.restore(record, dest.path);
    assert.match(await store.readLog(record), /^log \d$/);
  }
});

Deno.test("rig's local state folder ignores itself in git", async () => {
  await using dir = await tempDir();
  await ensureRigDir(dir.path);
  await ensureRigDir(dir.path);
  assert.equal(
    await Deno.readTextFile(dir.join(".rig", ".gitignore")),
    "# Written by rig: its caches and records are local.\n*\n",
  );
});
