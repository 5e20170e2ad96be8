import assert from "node:assert/strict";
import { openCacheStore } from "../../lib/task/cache_open.ts";
import { fingerprint } from "../../lib/task/fingerprint.ts";
import { listInputs } from "../../lib/task/input_listing.ts";
import { StatCache } from "../../lib/task/stat_cache.ts";
import { keyManifest, manifestKey } from "../../lib/task/task_key.ts";
import {
  baseEnv,
  copyReferenceProject,
  rigInProcess,
  rigProcess,
  scrub,
  tempDir,
  tempDirWith,
} from "../helpers.ts";

/** Caches two runs of `test server` (before and after an edit) and one `lint server`. */
async function populate(root: string): Promise<{ first: string; second: string; lint: string }> {
  const store = openCacheStore(root, { env: baseEnv() });
  const record = async (task: string, env: Record<string, string>) => {
    const files = await listInputs(root, { dirs: ["server"], include: ["rig.toml"] });
    const inputs = await fingerprint(root, files, { statCache: await StatCache.open(root) });
    const manifest = await keyManifest({
      task,
      component: "server",
      command: task === "test" ? ["pytest", "-q"] : ["ruff", "check"],
      inputs,
      tools: { python: "3.11.2" },
      env,
    });
    const key = await manifestKey(manifest);
    await store.put(
      { key, task, component: "server", exitCode: 0, summary: null, durationMs: 2500, manifest },
      {
        log: `${task} log\n2 passed\n`,
        artifacts: task === "test" ? ["server/coverage.json"] : [],
      },
    );
    return key;
  };
  const first = await record("test", { DATABASE_URL: "postgresql://one" });
  await Deno.writeTextFile(`${root}/server/app.py`, "print('changed')\n");
  await Deno.writeTextFile(`${root}/server/new_module.py`, "X = 1\n");
  const second = await record("test", { DATABASE_URL: "postgresql://two" });
  const lint = await record("lint", {});
  // Two lookups: one hit, one miss.
  await store.get(second);
  await store.get("0".repeat(64), { task: "test", component: "server" });
  return { first, second, lint };
}

Deno.test("rig cache stats, show, diff, prune and clean work end to end", async (t) => {
  await using dir = await tempDirWith({
    "rig.toml": '[project]\nname = "demo"\n',
    "server/app.py": "print('hello')\n",
    "server/coverage.json": '{"total": 91}\n',
  });
  const keys = await populate(dir.path);

  await t.step("stats prints entries, hits, misses and time saved per task", async () => {
    const result = await rigInProcess(["cache", "stats"], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    const out = scrub(result.stdout, dir.path);
    assert.match(out, /Cache {5}<TMP>\/\.rig\/cache/);
    assert.match(out, /Entries {3}3 \(/);
    assert.match(out, /Lookups {3}1 hit, 1 miss \(50% hit rate\)/);
    assert.match(out, /Saved {5}2\.5s of task time/);
    assert.match(out, /^test\s+2\s+.*\s1\s+1\s+2\.5s$/m);
    assert.match(out, /^lint\s+1\s+/m);
  });

  await t.step("stats --json --list prints one document with every entry", async () => {
    const result = await rigInProcess(["cache", "stats", "--list", "--json"], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout);
    assert.equal(doc.entries, 3);
    assert.equal(doc.hits, 1);
    assert.equal(doc.misses, 1);
    assert.equal(doc.savedMs, 2500);
    assert.equal(doc.hitRate, 0.5);
    assert.deepEqual(
      doc.list.map((e: { key: string }) => e.key).sort(),
      [keys.first, keys.second, keys.lint].sort(),
    );
  });

  await t.step("show prints an entry by key prefix, with env var names but no values", async () => {
    const result = await rigInProcess(["cache", "show", keys.second.slice(0, 8), "--log"], {
      cwd: dir.path,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Task\s+test server/);
    assert.match(result.stdout, /Env vars\s+DATABASE_URL/);
    assert.match(result.stdout, /Artifacts\s+server\/coverage\.json/);
    assert.match(result.stdout, /2 passed/);
    assert.ok(!result.stdout.includes("postgresql://"));
  });

  await t.step("diff names the changed and added files and env var names", async () => {
    const result = await rigInProcess(
      ["cache", "diff", keys.first.slice(0, 10), keys.second.slice(0, 10)],
      { cwd: dir.path },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Changed: server\/app\.py/);
    assert.match(result.stdout, /Added: server\/new_module\.py/);
    assert.match(result.stdout, /Env vars changed: DATABASE_URL/);
    assert.ok(!result.stdout.includes("postgresql://"));
    const json = await rigInProcess(["--json", "cache", "diff", keys.first, keys.second], {
      cwd: dir.path,
    });
    assert.deepEqual(JSON.parse(json.stdout).filesChanged, ["server/app.py"]);
  });

  await t.step("bad keys and options are usage errors with hints", async () => {
    const unknown = await rigInProcess(["cache", "show", "beefbeef"], { cwd: dir.path });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /No cache entry has a key starting with "beefbeef"/);
    const missing = await rigInProcess(["cache", "diff", keys.first], { cwd: dir.path });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /needs two cache keys/);
    const wrongFlag = await rigInProcess(["cache", "stats", "--max-size", "1G"], {
      cwd: dir.path,
    });
    assert.equal(wrongFlag.code, 2);
    assert.match(wrongFlag.stderr, /"--max-size" only works with "rig cache prune"/);
    const badSize = await rigInProcess(["cache", "prune", "--max-size", "lots"], {
      cwd: dir.path,
    });
    assert.equal(badSize.code, 2);
    assert.match(badSize.stderr, /Cannot read size "lots"/);
  });

  await t.step("an unknown subcommand suggests the closest one and exits 2", async () => {
    const result = await rigInProcess(["cache", "stat"], { cwd: dir.path });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Unknown subcommand "rig cache stat"/);
    assert.match(result.stderr, /Did you mean "rig cache stats"\?/);
    const none = await rigInProcess(["cache"], { cwd: dir.path });
    assert.equal(none.code, 2);
  });

  await t.step("help lists the subcommands with examples", async () => {
    const result = await rigInProcess(["cache", "--help"], { cwd: dir.path });
    assert.equal(result.code, 0);
    for (const sub of ["stats", "prune", "clean", "diff", "show"]) {
      assert.match(result.stdout, new RegExp(`^  ${sub}\\s`, "m"));
    }
    assert.match(result.stdout, /rig cache prune --max-size 500MB/);
  });

  await t.step("prune --max-age keeps recently used entries", async () => {
    const result = await rigInProcess(["cache", "prune", "--max-age", "7d"], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Removed 0 entries .* kept 3 entries/);
  });

  await t.step("prune --max-size removes least recently used entries first", async () => {
    const store = openCacheStore(dir.path, { env: baseEnv() });
    const old = new Date(Date.now() - 86_400_000);
    await Deno.utime(store.recordPath(keys.first), old, old);
    const result = await rigInProcess(["--json", "cache", "prune", "--max-size", "1B"], {
      cwd: dir.path,
    });
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout);
    assert.equal(doc.removedEntries, 3);
    assert.equal(doc.keptEntries, 0);
    assert.equal(doc.maxBytes, 1);
  });

  await t.step("clean asks first, refuses without an answer and deletes with -y", async () => {
    await populate(dir.path);
    const declined = await rigInProcess(["cache", "clean"], { cwd: dir.path, answers: ["n"] });
    assert.equal(declined.code, 1);
    assert.match(declined.stderr, /Delete the project cache/);
    assert.match(declined.stderr, /rig cache clean -y/);
    const accepted = await rigInProcess(["cache", "clean"], { cwd: dir.path, answers: ["y"] });
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, /Deleted 3 entries/);
    await assert.rejects(Deno.stat(dir.join(".rig/cache/tasks")), Deno.errors.NotFound);
    const again = await rigInProcess(["cache", "clean", "-y"], { cwd: dir.path });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already empty/);
  });

  await t.step("a separate rig process reads the same store", async () => {
    await populate(dir.path);
    const result = await rigProcess(["cache", "stats", "--json"], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).entries, 3);
    const cleaned = await rigProcess(["cache", "clean", "-y"], { cwd: dir.path });
    assert.equal(cleaned.code, 0, cleaned.stderr);
  });
});

Deno.test("two copies of the reference project get identical input manifests and keys", async () => {
  await using one = await tempDir();
  await using two = await tempDir();
  await copyReferenceProject(one.path);
  await copyReferenceProject(two.path);
  // Litter that must never count as input.
  await Deno.mkdir(two.join("server/.venv/lib"), { recursive: true });
  await Deno.writeTextFile(two.join("server/.venv/lib/x.py"), "x");
  await Deno.mkdir(two.join("server/app/__pycache__"), { recursive: true });
  await Deno.writeTextFile(two.join("server/app/__pycache__/main.cpython-311.pyc"), "x");
  const manifestOf = async (root: string) => {
    const files = await listInputs(root, { dirs: ["server", "clients"], include: ["rig.toml"] });
    return await fingerprint(root, files, { statCache: await StatCache.open(root) });
  };
  const a = await manifestOf(one.path);
  const b = await manifestOf(two.path);
  assert.ok(Object.keys(a).some((f) => f.startsWith("server/app/")));
  assert.deepEqual(b, a);
  const key = async (inputs: Record<string, string>) =>
    await manifestKey(
      await keyManifest({ task: "test", component: "server", command: ["pytest"], inputs }),
    );
  assert.equal(await key(b), await key(a));
});
