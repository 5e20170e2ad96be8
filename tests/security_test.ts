/**
 * rig under attack: forged cache records (local and through a real
 * turborepo-remote-cache server) that try to write into .git/hooks, over
 * tracked sources, through symlinks and outside the project; and a sweep for
 * planted secrets over everything rig prints and stores.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { canonicalRecordBytes, signerFromKey } from "../lib/task/signing.ts";
import { artifactTag } from "../lib/task/signing.ts";
import { recordChecksum, type TaskRecord } from "../lib/task/cache_record.ts";
import { CacheStore } from "../lib/task/cache.ts";
import { RestoreRejectedError } from "../lib/task/restore_policy.ts";
import { packEntry, unpackEntry } from "../lib/task/remote_cache.ts";
import {
  freePort,
  git,
  gitRepository,
  npmProject,
  rigProcess,
  tempDir,
  testWithProcesses,
  writeFiles,
} from "./helpers.ts";
import { TURBO_BIN, turboServer } from "./turbo_server.ts";

const encoder = new TextEncoder();
const HOOK = "#!/bin/sh\necho pwned > /tmp/rig-pwned\n";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Every file, folder and link below root (except .rig/ and dist/) with its bytes' hash and mode. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const relative = rel ? `${rel}/${entry.name}` : entry.name;
      if (relative === ".rig" || relative === "dist") continue;
      const full = path.join(dir, entry.name);
      const info = await Deno.lstat(full);
      if (info.isSymlink) out[relative] = `link ${await Deno.readLink(full)}`;
      else if (info.isDirectory) {
        out[relative] = `dir ${info.mode! & 0o7777}`;
        await walk(full, relative);
      } else out[relative] = `file ${info.mode! & 0o7777} ${sha256(await Deno.readFile(full))}`;
    }
  };
  await walk(root, "");
  return out;
}

async function exists(file: string): Promise<boolean> {
  return await Deno.lstat(file).then(() => true, () => false);
}

function storeBlob(root: string, bytes: Uint8Array): { sha256: string; size: number } {
  const hash = sha256(bytes);
  const file = path.join(root, ".rig/cache/blobs", hash.slice(0, 2), hash.slice(2));
  Deno.mkdirSync(path.dirname(file), { recursive: true });
  Deno.writeFileSync(file, bytes);
  return { sha256: hash, size: bytes.length };
}

async function latestRecordFile(root: string, component: string): Promise<string> {
  const latest = JSON.parse(
    await Deno.readTextFile(path.join(root, `.rig/cache/latest/build@${component}.json`)),
  );
  return path.join(root, ".rig/cache/tasks", `${latest.key}.json`);
}

/** Rewrites a record as an attacker would: new artifacts, a recomputed checksum, valid JSON. */
async function forge(
  record: TaskRecord,
  extra: TaskRecord["artifacts"],
  signWith: string | undefined,
): Promise<TaskRecord> {
  const { checksum: _c, signature, ...body } = record;
  const forged = { ...body, artifacts: [...record.artifacts, ...extra] };
  const checksum = await recordChecksum(forged);
  const signed = signWith === undefined
    ? signature
    : await signerFromKey(encoder.encode(signWith), "k").sign(canonicalRecordBytes(forged));
  return { ...forged, checksum, signature: signed };
}

function rig(args: string[], cwd: string, env: Record<string, string>) {
  return rigProcess(args, { cwd, env });
}

const LIBS = ["hook", "tracked", "symlink", "absolute", "dotdot", "otherkey", "unsigned"];
const KEY = "security-test-signing-key-0123456789";

testWithProcesses({
  name: "forged local cache records are rejected before any write and the build runs normally",
  async fn() {
    await using dir = await tempDir("rig-security-");
    const root = dir.join("project");
    const outside = dir.join("outside");
    await Deno.mkdir(outside);
    await npmProject(root, LIBS);
    const env = { RIG_CACHE_SIGNING_KEY: KEY };
    const first = await rig(["build", "--skip-tests", "--no-docker"], root, env);
    assert.equal(first.code, 0, first.stderr);

    const payload = storeBlob(root, encoder.encode(HOOK));
    const art = (p: string, mode = 0o644) => ({ path: p, ...payload, mode });
    const plans: Record<string, { extra: TaskRecord["artifacts"]; key: string | undefined }> = {
      // Signed with the right key (an insider, or a stolen key): the restore policy stops these.
      hook: { extra: [art(".git/hooks/pre-commit", 0o755)], key: KEY },
      tracked: { extra: [art("libs/tracked/index.js")], key: KEY },
      symlink: { extra: [art("dist/symlink/via/payload")], key: KEY },
      absolute: { extra: [art(path.join(outside, "absolute-payload"))], key: KEY },
      dotdot: { extra: [art("../outside/dotdot-payload")], key: KEY },
      // Without the key: the signature stops these before their paths are even looked at.
      otherkey: { extra: [art(".git/hooks/post-checkout", 0o755)], key: "another machine's key" },
      unsigned: { extra: [art(".git/hooks/pre-push", 0o755)], key: undefined },
    };
    const keys: Record<string, string> = {};
    for (const [lib, plan] of Object.entries(plans)) {
      const file = await latestRecordFile(root, lib);
      const record = JSON.parse(await Deno.readTextFile(file)) as TaskRecord;
      keys[lib] = record.key;
      await Deno.writeTextFile(file, JSON.stringify(await forge(record, plan.extra, plan.key)));
    }
    // A symlink inside the component's output root, pointing out of the project.
    await Deno.symlink(outside, path.join(root, "dist/symlink/via"));
    const before = await snapshot(root);
    const outsideBefore = await Array.fromAsync(Deno.readDir(outside));

    const second = await rig(["build", "--skip-tests", "--no-docker", "-v"], root, env);
    assert.equal(second.code, 0, second.stderr);
    const warned = (lib: string) => {
      const k = keys[lib]!.slice(0, 12);
      const lines = second.stderr.split("\n").filter((l) => l.includes(`"${k}"`));
      assert.ok(lines.length > 0, `no warning names record ${k} (${lib}):\n${second.stderr}`);
      return lines.join("\n");
    };
    assert.match(
      warned("hook"),
      /warning: .*rejected, nothing restored: ".git\/hooks\/pre-commit" points into .git/,
    );
    assert.match(warned("tracked"), /"libs\/tracked\/index.js" is outside the task's outputs/);
    assert.match(warned("symlink"), /"dist\/symlink\/via" is a symlink/);
    assert.match(warned("absolute"), /is not a relative posix path/);
    assert.match(warned("dotdot"), /"..\/outside\/dotdot-payload" is not a plain path/);
    assert.match(warned("otherkey"), /warning: .*failed signature verification and was ignored/);
    assert.match(warned("unsigned"), /warning: .*failed signature verification and was ignored/);
    // Then a normal run: every component was built, none came from the forged records.
    for (const lib of LIBS) {
      assert.match(second.stdout, new RegExp(`${lib}\\s+dist/${lib}/${lib}-1.0.0.tgz.*built`));
    }
    assert.match(second.stdout, /7 built, 0 from cache/);

    assert.equal(await exists(path.join(root, ".git/hooks/pre-commit")), false);
    assert.equal(await exists(path.join(root, ".git/hooks/post-checkout")), false);
    assert.equal(await exists(path.join(root, ".git/hooks/pre-push")), false);
    assert.equal(await exists(path.join(dir.path, "outside/dotdot-payload")), false);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(outside)), outsideBefore);
    assert.deepEqual(await snapshot(root), before, "the project tree is byte-identical");

    // The rebuilt records are honest: a third build restores exactly their files.
    const third = await rig(["build", "--skip-tests", "--no-docker"], root, env);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /0 built, 7 from cache/);
    assert.match(
      third.stderr,
      /↺ hook restored 1 file\(s\) from cache \([0-9a-f]{12}\): dist\/hook\/hook-1.0.0.tgz/,
    );
    assert.doesNotMatch(third.stderr, /warning: (?!Skipping tests)/);
  },
});

Deno.test("a restore never writes over a git-tracked file, even inside a task's outputs", async () => {
  await using dir = await tempDir("rig-security-");
  await writeFiles(dir.path, { "dist/app/README.txt": "tracked\n", "dist/app/app.whl": "wheel" });
  await git(dir.path, "init", "-q", "-b", "main");
  await git(dir.path, "add", "dist/app/README.txt");
  await git(dir.path, "commit", "-qm", "init");
  const store = new CacheStore(dir.path, { env: { PATH: Deno.env.get("PATH") ?? "" } });
  const manifest = { task: "build", component: "app" } as unknown as TaskRecord["manifest"];
  const record = await store.put(
    { key: "a".repeat(64), task: "build", component: "app", exitCode: 0, durationMs: 1, manifest },
    { artifacts: ["dist/app/README.txt", "dist/app/app.whl"] },
  );
  await Deno.writeTextFile(dir.join("dist/app/app.whl"), "changed");
  await Deno.writeTextFile(dir.join("dist/app/README.txt"), "edited by the user\n");
  const error = await store.restore(record).catch((e) => e);
  assert.ok(error instanceof RestoreRejectedError, String(error));
  assert.match(error.message, /"dist\/app\/README.txt" is tracked by git/);
  // Nothing was written: not even the untracked artifact listed beside it.
  assert.equal(await Deno.readTextFile(dir.join("dist/app/app.whl")), "changed");
  assert.equal(await Deno.readTextFile(dir.join("dist/app/README.txt")), "edited by the user\n");
});

Deno.test("restores keep executable bits only for build outputs and never setuid bits", async () => {
  await using dir = await tempDir("rig-security-");
  await writeFiles(dir.path, { "dist/app/run.sh": "#!/bin/sh\n" });
  await Deno.chmod(dir.join("dist/app/run.sh"), 0o4755);
  const store = new CacheStore(dir.path, {
    outputRoots: () => ["dist/app/"],
    env: { PATH: Deno.env.get("PATH") ?? "" },
  });
  const manifest = { task: "x", component: "app" } as unknown as TaskRecord["manifest"];
  const put = (task: string, key: string) =>
    store.put({ key, task, component: "app", exitCode: 0, durationMs: 1, manifest }, {
      artifacts: ["dist/app/run.sh"],
    });
  const build = await put("build", "b".repeat(64));
  const test = await put("test", "c".repeat(64));
  assert.equal(build.artifacts[0]!.mode, 0o755, "setuid dropped, exec kept for a build");
  assert.equal(test.artifacts[0]!.mode, 0o644, "no exec bits for a test task's output");
  await Deno.remove(dir.join("dist"), { recursive: true });
  await store.restore(build);
  assert.equal((await Deno.stat(dir.join("dist/app/run.sh"))).mode! & 0o7777, 0o755);
});

const TURBO_MISSING = TURBO_BIN === undefined;
if (TURBO_MISSING) {
  console.log("ignoring the remote cache attack test: turborepo-remote-cache is not installed");
}

testWithProcesses({
  name:
    "forged artifacts on a turborepo-remote-cache server are refused, and read-only runs never upload",
  ignore: TURBO_MISSING,
  async fn() {
    await using dir = await tempDir("rig-security-remote-");
    const SHARED = "team-shared-signature-key";
    await using server = (await turboServer(dir.join("storage"), SHARED))!;
    const toml = `remote_cache = { url = "${server.url}", team = "team_rig", ` +
      `token_env = "RIG_TEST_TURBO_TOKEN" }\n`;
    const libs = ["badtag", "goodtag"];
    const checkout = async (name: string) => {
      const root = dir.join(name);
      await npmProject(root, libs, toml);
      return root;
    };
    const envFor = (localKey: string, extra: Record<string, string> = {}) => ({
      RIG_TEST_TURBO_TOKEN: "turbo-token",
      TURBO_REMOTE_CACHE_SIGNATURE_KEY: SHARED,
      RIG_CACHE_SIGNING_KEY: localKey,
      ...extra,
    });

    // One machine builds and uploads signed artifacts; another (another local key) reuses them.
    const a = await checkout("a");
    const built = await rig(["build", "--skip-tests", "--no-docker"], a, envFor("key-a"));
    assert.equal(built.code, 0, built.stderr);
    const keys: Record<string, string> = {};
    for (const lib of libs) {
      keys[lib] = JSON.parse(await Deno.readTextFile(await latestRecordFile(a, lib))).key;
      const stored = await server.get(keys[lib]!);
      assert.equal(stored.status, 200);
      assert.ok(stored.tag, "uploads carry x-artifact-tag");
      const expected = await artifactTag(encoder.encode(SHARED), {
        hash: keys[lib]!,
        teamId: "team_rig",
        body: stored.body,
      });
      assert.equal(stored.tag, expected, "the tag is Turborepo's HMAC over metadata and body");
    }
    const b = await checkout("b");
    const reused = await rig(["build", "--skip-tests", "--no-docker"], b, envFor("key-b"));
    assert.equal(reused.code, 0, reused.stderr);
    assert.match(reused.stdout, /0 built, 2 from cache/);
    assert.doesNotMatch(reused.stderr, /warning: (?!Skipping tests)/);

    // The attacker rewrites both artifacts on the server to drop a git hook.
    const forgedBytes: Record<string, Uint8Array> = {};
    for (const lib of libs) {
      const original = await server.get(keys[lib]!);
      const entry = await unpackEntry(original.body);
      const record = entry.record as TaskRecord;
      const hook = encoder.encode(HOOK);
      entry.blobs.set(sha256(hook), hook);
      const blob = { sha256: sha256(hook), size: hook.length };
      const forged = await forge(record, [
        { path: ".git/hooks/pre-commit", ...blob, mode: 0o755 },
        { path: `libs/${lib}/index.js`, ...blob, mode: 0o644 },
        { path: `dist/${lib}/via/payload`, ...blob, mode: 0o644 },
        { path: path.join(dir.path, "outside", "absolute-payload"), ...blob, mode: 0o644 },
        { path: "../outside/dotdot-payload", ...blob, mode: 0o644 },
      ], "whatever");
      const body = await packEntry({ record: forged, blobs: entry.blobs });
      forgedBytes[lib] = body;
      // badtag keeps the old tag (no key); goodtag is tagged with the shared key (a stolen key).
      const tag = lib === "badtag"
        ? original.tag!
        : await artifactTag(encoder.encode(SHARED), { hash: keys[lib]!, teamId: "team_rig", body });
      await server.put(keys[lib]!, body, tag);
    }

    // An untrusted run (read-only) meets them: both refused, built normally, nothing uploaded.
    const c = await checkout("c");
    await Deno.mkdir(dir.join("outside"));
    await Deno.mkdir(path.join(c, "dist/goodtag"), { recursive: true });
    await Deno.symlink(dir.join("outside"), path.join(c, "dist/goodtag/via"));
    const before = await snapshot(c);
    const attacked = await rig(
      ["build", "--skip-tests", "--no-docker", "-v"],
      c,
      envFor("key-c", { RIG_REMOTE_CACHE_READ_ONLY: "1" }),
    );
    assert.equal(attacked.code, 0, attacked.stderr);
    assert.match(
      attacked.stderr,
      new RegExp(
        `warning: Remote cache artifact "${
          keys.badtag!.slice(0, 12)
        }" failed signature verification`,
      ),
    );
    const goodtag = attacked.stderr.split("\n").find((l) =>
      l.includes(
        `"${keys.goodtag!.slice(0, 12)}" (build of "goodtag") was rejected, nothing restored`,
      )
    );
    assert.ok(goodtag, attacked.stderr);
    for (
      const reason of [
        /".git\/hooks\/pre-commit" points into .git/,
        /"libs\/goodtag\/index.js" is outside the task's outputs/,
        /"dist\/goodtag\/via" is a symlink/,
        /absolute-payload" is not a relative posix path/,
        /"..\/outside\/dotdot-payload" is not a plain path/,
      ]
    ) assert.match(goodtag, reason);
    assert.match(attacked.stdout, /2 built, 0 from cache/);
    assert.equal(await exists(path.join(c, ".git/hooks/pre-commit")), false);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.join("outside"))), []);
    assert.deepEqual(await snapshot(c), before);
    for (const lib of libs) {
      assert.deepEqual(
        (await server.get(keys[lib]!)).body,
        forgedBytes[lib],
        "read-only: no upload",
      );
    }

    // A trusted run replaces the refused artifacts with honest ones.
    const d = await checkout("d");
    const honest = await rig(["build", "--skip-tests", "--no-docker"], d, envFor("key-d"));
    assert.equal(honest.code, 0, honest.stderr);
    const e = await checkout("e");
    const clean = await rig(["build", "--skip-tests", "--no-docker"], e, envFor("key-e"));
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /0 built, 2 from cache/);
    assert.doesNotMatch(clean.stderr, /warning: (?!Skipping tests)/);
  },
});

/** A random secret of letters that are not hex digits, so no hash or number can contain a piece of it. */
function plantedSecret(): string {
  const alphabet = "GHJKLMNPQRSTUVWXYZghjkmnpqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(28));
  return "Pl" + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** Every secret and every 6-character piece of it. */
function needles(secrets: string[]): string[] {
  const out = new Set<string>();
  for (const secret of secrets) {
    out.add(secret);
    for (let i = 0; i + 6 <= secret.length; i++) out.add(secret.slice(i, i + 6));
  }
  return [...out];
}

/** Files below `dirs` (changed since `since`, when given) that contain any needle, via grep -F. */
async function filesContaining(
  dirs: string[],
  patterns: string[],
  since?: string,
): Promise<string[]> {
  const present = [];
  for (const d of dirs) if (await exists(d)) present.push(d);
  if (!present.length) return [];
  await using work = await tempDir("rig-sweep-");
  const patternFile = work.join("patterns");
  await Deno.writeTextFile(patternFile, patterns.join("\n") + "\n");
  const args = since
    ? [
      "find",
      ...present,
      "-type",
      "f",
      "-newer",
      since,
      "-exec",
      "grep",
      "-lFa",
      "-f",
      patternFile,
      "{}",
      "+",
    ]
    : ["grep", "-rlFa", "-f", patternFile, ...present];
  const out = await new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdout: "piped",
    stderr: "null",
  })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

/** `rig run` for a few seconds: until the server answered a request, then Ctrl-C. */
async function runBriefly(root: string, env: Record<string, string>, port: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      path.resolve(import.meta.dirname!, "..", "main.ts"),
      "-C",
      root,
      "run",
      "--port",
      String(port),
    ],
    env: { ...Deno.env.toObject(), NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  try {
    const deadline = Date.now() + 120_000;
    while (!/ready at/.test(text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(text, /ready at/, text);
    const answer = await fetch(`http://127.0.0.1:${port}/health`);
    await answer.body?.cancel();
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    child.kill("SIGINT");
    await child.status;
    await pumps;
  }
  return text;
}

testWithProcesses({
  name: "planted secrets never leave rig: not in any output, .rig/, JUnit XML or the user cache",
  async fn() {
    await using dir = await tempDir("rig-sweep-");
    const marker = dir.join("started");
    await Deno.writeTextFile(marker, "");
    const root = dir.join("authserver");
    const { copyReferenceProject } = await import("./helpers.ts");
    await copyReferenceProject(root);
    const [testKey, devKey, urlPassword, processToken, indexPassword] = Array.from(
      { length: 5 },
      plantedSecret,
    ) as [string, string, string, string, string];
    await writeFiles(root, {
      ".env.test": `SECRET_KEY=${testKey}\nACCESS_TOKEN_EXPIRE_MINUTES=30\n` +
        `NOTIFY_URL=https://bot:${urlPassword}@hooks.example.invalid/notify\n`,
      ".env": `SECRET_KEY=${devKey}\n`,
      // A failing test that prints the environment and lines long enough for pytest to cut.
      "server/tests/test_planted.py": [
        "import os",
        "",
        "",
        "def test_prints_the_environment_and_fails() -> None:",
        "    print(dict(os.environ))",
        '    print("x" * 150 + os.environ["SECRET_KEY"] + "y" * 150)',
        '    print("SECRET=" + os.environ["SECRET_KEY"][:12] + "...")',
        '    assert os.environ["SECRET_KEY"] + "z" * 200 == os.environ["NOTIFY_URL"]',
        "",
      ].join("\n"),
    });
    await gitRepository(root, { branch: "main" });
    const env = {
      SERVICE_API_TOKEN: processToken,
      RIG_CACHE_SIGNING_KEY: KEY,
    };
    const outputs: Record<string, string> = {};
    const record = (name: string, run: { stdout: string; stderr: string }) => {
      outputs[name] = run.stdout + "\n" + run.stderr;
    };
    const junit = dir.join("junit");

    const verbose = await rig(["test", "server", "-v", "--junit", junit], root, env);
    assert.equal(verbose.code, 1, "the planted test fails");
    record("rig test server -v --junit", verbose);
    const json = await rig(["--json", "test", "server", "--no-lint"], root, env);
    assert.equal(json.code, 1);
    JSON.parse(json.stdout);
    record("rig --json test server", json);
    record("rig run", { stdout: await runBriefly(root, env, freePort()), stderr: "" });
    const build = await rig(["build", "server", "--skip-tests", "--no-docker"], root, env);
    record("rig build", build);
    for (const args of [["env", "show", "--env", "test"], ["env", "show"], ["info"], ["doctor"]]) {
      const run = await rig(["--json", ...args], root, env);
      JSON.parse(run.stdout);
      record(`rig --json ${args.join(" ")}`, run);
    }
    const install = await rig(["install", "-v", "rig-planted-missing-pkg", "--server"], root, {
      ...env,
      PIP_INDEX_URL: `http://mirror:${indexPassword}@127.0.0.1:${freePort()}/simple`,
    });
    assert.notEqual(install.code, 0, "the install fails");
    record("rig install -v (failing)", install);

    const secrets = [testKey, devKey, urlPassword, processToken, indexPassword];
    const pieces = needles(secrets);
    for (const [name, text] of Object.entries(outputs)) {
      const found = pieces.filter((p) => text.includes(p));
      assert.deepEqual(found, [], `${name} printed secret pieces:\n${text}`);
    }
    assert.deepEqual(await filesContaining([path.join(root, ".rig"), junit], pieces), []);
    const { userCacheDir } = await import("../lib/cache_paths.ts");
    const userCache = userCacheDir(Deno.env.toObject(), Deno.build.os);
    assert.deepEqual(await filesContaining([userCache], pieces, marker), []);

    // The secrets did reach rig's output, masked: the dump, the cut lines, the JUnit XML.
    const dump = outputs["rig test server -v --junit"]!;
    assert.match(dump, /'SECRET_KEY': '\*\*\*\*'/);
    assert.match(dump, /'NOTIFY_URL': 'https:\/\/bot:\*\*\*\*@hooks.example.invalid\/notify'/);
    assert.match(dump, /SECRET=\*\*\*\*\.\.\./);
    assert.match(dump, /x{150}\*\*\*\*y{150}/);
    const xml = await Deno.readTextFile(path.join(junit, "server.xml"));
    assert.match(xml, /test_prints_the_environment_and_fails/);
    assert.match(xml, /\*\*\*\*/);
    assert.match(outputs["rig install -v (failing)"]!, /rig-planted-missing-pkg/);
    // What is not a secret still prints: the failing test's environment dump shows them.
    assert.match(dump, /'PASSWORD_HASH_ITERATIONS': '1000'/);
    assert.match(dump, /'ACCESS_TOKEN_EXPIRE_MINUTES': '30'/);
    const shown = JSON.parse(outputs["rig --json env show --env test"]!.split("\n\n")[0]!);
    const value = (key: string) =>
      (shown.keys ?? shown).find?.((k: { key: string }) => k.key === key)?.value;
    assert.equal(value("PASSWORD_HASH_ITERATIONS"), "1000");
    assert.equal(value("ACCESS_TOKEN_EXPIRE_MINUTES"), "30");
    assert.equal(value("SECRET_KEY"), "****");
    // The reference project's files are as they were (install backed up and restored).
    assert.equal(await git(root, "status", "--porcelain", "--untracked-files=no"), "");
  },
});

Deno.test("the artifact tag is Turborepo's: base64 HMAC-SHA256 of the hash/team JSON and the body", async () => {
  const { createHmac } = await import("node:crypto");
  const body = encoder.encode("the artifact body as bytes");
  const expected = createHmac("sha256", "my-secret-key-env")
    .update('{"hash":"the-artifact-hash","teamId":"team_someid"}')
    .update(body)
    .digest("base64")
    .replace(/=+$/, "");
  const opts = { hash: "the-artifact-hash", teamId: "team_someid", body };
  const key = encoder.encode("my-secret-key-env");
  assert.equal(await artifactTag(key, opts), expected);
  const { verifyArtifactTag } = await import("../lib/task/signing.ts");
  assert.equal(await verifyArtifactTag(key, expected, opts), true);
  assert.equal(await verifyArtifactTag(key, expected + "=", opts), true, "padded tags verify too");
  assert.equal(await verifyArtifactTag(encoder.encode("other"), expected, opts), false);
  assert.equal(await verifyArtifactTag(key, "bm90IGEgdGFn", opts), false);
});

Deno.test("the signing key file is created once, with mode 0600, outside the project", async () => {
  await using dir = await tempDir("rig-security-");
  const { signerFromEnv } = await import("../lib/task/signing.ts");
  const env = { RIG_CACHE_DIR: dir.join("user-cache") };
  const bytes = encoder.encode("record");
  const signature = await signerFromEnv(env, { os: Deno.build.os }).sign(bytes);
  const file = dir.join("user-cache", "signing-key");
  assert.match(await Deno.readTextFile(file), /^[0-9a-f]{64}\n$/);
  if (Deno.build.os !== "windows") assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  // Another process (a new signer) reads the same key; RIG_CACHE_SIGNING_KEY overrides it.
  assert.equal(await signerFromEnv(env, { os: Deno.build.os }).verify(bytes, signature), true);
  const override = signerFromEnv({ ...env, RIG_CACHE_SIGNING_KEY: "ci key" }, { os: "linux" });
  assert.equal(await override.verify(bytes, signature), false);
});

Deno.test("redaction masks whole secrets, their encodings, URL passwords and cut fragments only", async () => {
  const { Redactor, isSecretValue } = await import("../lib/env/redact.ts");
  const secret = "PlantedSecretQwXzVbNmLk";
  const r = new Redactor([secret]);
  const cases: [string, string][] = [
    [`key=${secret};`, "key=****;"],
    [`SECRET=${secret.slice(0, 10)}...`, "SECRET=****..."],
    [`SECRET=${secret.slice(0, 8)}…`, "SECRET=****…"],
    [`wrapped ${secret.slice(0, 9)}\n${secret.slice(9)} next`, "wrapped ****\n**** next"],
    [`'...${secret.slice(4)}'`, "'...****'"],
    [`b64 ${btoa(secret)} ${btoa(secret).replace(/=+$/, "")}`, "b64 **** ****"],
    ["db postgresql://app:hunter22@db:5432/app", "db postgresql://app:****@db:5432/app"],
    // A piece of a secret in the middle of other text is not a cut fragment: left alone.
    [`total=21000 ${secret.slice(3, 9)}x`, `total=21000 ${secret.slice(3, 9)}x`],
  ];
  for (const [input, expected] of cases) assert.equal(r.redact(input), expected, input);
  const special = "Pl/anted+Secret&QwXz";
  const encoded = new Redactor([special]);
  assert.equal(encoded.redact(`q=${encodeURIComponent(special)}`), "q=****");
  assert.equal(encoded.redact(JSON.stringify({ v: special })), '{"v":"****"}');
  assert.equal(isSecretValue("PASSWORD_HASH_ITERATIONS", "1000"), false);
  assert.equal(isSecretValue("ACCESS_TOKEN_EXPIRE_MINUTES", "30"), false);
  assert.equal(isSecretValue("TOKEN_TTL", "30m"), false);
  assert.equal(isSecretValue("API_KEY_ENABLED", "true"), false);
  assert.equal(isSecretValue("TOKEN_LOG_LEVEL", "INFO"), false);
  assert.equal(isSecretValue("DB_PASSWORD", "postgres"), true, "a strong name masks short words");
  assert.equal(isSecretValue("API_KEY", "sk_live_abcdefghijklmnop"), true);
  assert.equal(isSecretValue("PIN_SECRET", "12345678901234567890"), true, "long digit runs");
  assert.equal(isSecretValue("HOST", "s3cr3t-value"), false);
  assert.equal(isSecretValue("HOST", "s3cr3t-value", { marked: true }), true);
});

Deno.test("a restore into a scratch folder refuses a symlink planted on the way there", async () => {
  await using dir = await tempDir("rig-security-");
  await using elsewhere = await tempDir("rig-security-elsewhere-");
  await writeFiles(dir.path, { "dist/app/app.whl": "wheel" });
  const store = new CacheStore(dir.path, { env: { PATH: Deno.env.get("PATH") ?? "" } });
  const manifest = { task: "build", component: "app" } as unknown as TaskRecord["manifest"];
  const record = await store.put(
    { key: "d".repeat(64), task: "build", component: "app", exitCode: 0, durationMs: 1, manifest },
    { artifacts: ["dist/app/app.whl"] },
  );
  await Deno.mkdir(dir.join(".rig"), { recursive: true });
  await Deno.symlink(elsewhere.path, dir.join(".rig/work"));
  const error = await store.restore(record, dir.join(".rig/work/app/restore")).catch((e) => e);
  assert.ok(error instanceof RestoreRejectedError, String(error));
  assert.match(error.message, /".rig\/work" is not a plain folder/);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(elsewhere.path)), []);
});

Deno.test("a record without a signature (an older rig's, or stripped) is never used", async () => {
  await using dir = await tempDir("rig-security-");
  const warnings: string[] = [];
  const store = new CacheStore(dir.path, { warn: (m) => warnings.push(m) });
  const manifest = { task: "test", component: "app" } as unknown as TaskRecord["manifest"];
  const record = await store.put({
    key: "e".repeat(64),
    task: "test",
    component: "app",
    exitCode: 0,
    durationMs: 1,
    manifest,
  });
  const { signature: _dropped, ...unsigned } = record;
  const stripped = { ...unsigned, checksum: await recordChecksum(unsigned as TaskRecord) };
  await Deno.writeTextFile(store.recordPath(record.key), JSON.stringify(stripped));
  assert.equal(await store.get(record.key), undefined);
  assert.equal(await exists(store.recordPath(record.key)), false);
  // A signed record whose body was changed is a loud warning.
  const again = await store.put({ ...record, manifest, summary: { passed: 1 } });
  await Deno.writeTextFile(
    store.recordPath(again.key),
    JSON.stringify({
      ...again,
      exitCode: 1,
      checksum: await recordChecksum({ ...again, exitCode: 1 }),
    }),
  );
  assert.equal(await store.get(again.key), undefined);
  assert.match(
    warnings.join("\n"),
    /"eeeeeeeeeeee" \(test of "app"\) failed signature verification/,
  );
});
