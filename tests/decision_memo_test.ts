import assert from "node:assert/strict";
import * as path from "node:path";
import { DecisionMemo, textTemplate } from "../lib/task/decision_memo.ts";
import { decisionIdentity, memoAllowed, type Question, rememberedAnswer } from "../lib/answer.ts";
import { noticeOptions, olderCommittedRigNotice } from "../lib/ship/launcher_notice.ts";
import { declareEffect, observe } from "../lib/task/observe.ts";
import { CacheEventLog } from "../lib/task/cache_events.ts";
import { signerFromKey } from "../lib/task/signing.ts";
import type { Replayer } from "../lib/command.ts";
import { BufferWriter, formatDuration, type Stream, Ui } from "../lib/ui.ts";
import { tempDirWith } from "./helpers.ts";

const PAST = new Date(Date.now() - 3_600_000);

/**
 * Fixtures made at once and left to settle: an answer is trusted only once
 * what it read is older than the racy window (ctimes cannot be set back).
 */
const pool = await Promise.all(Array.from({ length: 24 }, async () => {
  const dir = await tempDirWith({
    "a.txt": "alpha\n",
    "pkg/one.txt": "1\n",
    ".rig/cache/tasks/record.json": "{}",
    ".rig/cache/events.jsonl": "",
    // A repository with an older committed rig: a notice the first run says.
    ".git/HEAD": "ref: refs/heads/main\n",
    ".rig-tool/version": "0.0.1\n",
  });
  // As in a project rig has run in: its folder exists before the run.
  Deno.mkdirSync(path.join(dir.path, ".rig/cache/decisions"), { recursive: true });
  Deno.utimeSync(dir.path, PAST, PAST);
  return dir;
}));
await new Promise((resolve) => setTimeout(resolve, 3000));
// Fixtures no test took are removed with the rest.
globalThis.addEventListener("unload", () => {
  for (const dir of pool) Deno.removeSync(dir.path, { recursive: true });
});

/** A settled fixture of its own for one test. */
function fixture() {
  const dir = pool.pop();
  if (!dir) throw new Error("the fixture pool is empty: make it larger");
  return dir;
}

/** Shows the remembered data as the work below printed it. */
const replayer = () =>
  Promise.resolve<Replayer>((ui, data, elapsedMs) => {
    const { text, ms } = data as { text: string; ms: number };
    ui.print(`${text} in ${Math.round(elapsedMs ?? ms)}ms`);
  });

/** The key the memos of these tests are signed with. */
const KEY = "a signing key for the decision memo tests";

function memoOf(root: string, env: Record<string, string> = { A: "1" }) {
  return DecisionMemo.of({
    root,
    args: ["test"],
    cwd: root,
    env: { RIG_CACHE_SIGNING_KEY: KEY, ...env },
    mode: { tty: false },
    entry: "file:///nonexistent/rig.js",
  });
}

/** A decision: reads `a.txt`, lists `pkg/`, looks for `maybe.txt`; prints and offers its answer. */
function decide(root: string, extra?: () => void) {
  return (remember: (data: unknown) => void, ui: Ui) => {
    const text = Deno.readTextFileSync(path.join(root, "a.txt")).trim();
    const listed = [...Deno.readDirSync(path.join(root, "pkg"))].length;
    let maybe = "absent";
    try {
      Deno.statSync(path.join(root, "maybe.txt"));
      maybe = "present";
    } catch {
      // Absent is an answer too.
    }
    extra?.();
    const answer = `${text}, ${listed} in pkg, maybe ${maybe}`;
    ui.print(`${answer} in 12ms`);
    remember({ text: answer, ms: 12 });
    return Promise.resolve(3);
  };
}

async function record(root: string, work = decide(root), env?: Record<string, string>) {
  const out = new BufferWriter();
  const ui = new Ui({ stdout: out });
  const memo = await memoOf(root, env);
  const code = await memo.record(ui, replayer, (remember) => work(remember, ui));
  return { code, out: out.text, memo };
}

async function replay(root: string, env?: Record<string, string>) {
  const out = new BufferWriter();
  const code = await (await memoOf(root, env)).replay(
    new Ui({ stdout: out }),
    replayer,
    performance.now(),
  );
  return { code, out: out.text };
}

Deno.test("an answer is replayed with its exit code, without the work, while nothing it read changed", async () => {
  await using dir = fixture();
  const first = await record(dir.path);
  assert.equal(first.code, 3);
  assert.equal(first.out, "alpha, 1 in pkg, maybe absent in 12ms\n");
  const again = await replay(dir.path);
  assert.equal(again.code, 3);
  assert.match(again.out, /^alpha, 1 in pkg, maybe absent in \d+ms\n$/);
  // The replay rewrote the memo; it still answers.
  assert.equal((await replay(dir.path)).code, 3);
});

Deno.test("an edit (even one that keeps size and mtime), a file added to a listed folder or a missing file appearing is not replayed", async () => {
  const changes: [string, (root: string) => void][] = [
    ["same size and mtime", (root) => {
      const file = path.join(root, "a.txt");
      const { atime, mtime } = Deno.statSync(file);
      Deno.writeTextFileSync(file, "omega\n");
      Deno.utimeSync(file, atime!, mtime!);
      assert.equal(Deno.statSync(file).mtime!.getTime(), mtime!.getTime());
    }],
    ["a file added to pkg/", (root) => Deno.writeTextFileSync(path.join(root, "pkg/two.txt"), "")],
    ["maybe.txt appears", (root) => Deno.writeTextFileSync(path.join(root, "maybe.txt"), "")],
    ["a.txt replaced", (root) => {
      const file = path.join(root, "a.txt");
      Deno.writeTextFileSync(`${file}.new`, "alpha\n");
      Deno.renameSync(`${file}.new`, file);
    }],
  ];
  for (const [what, change] of changes) {
    await using dir = fixture();
    await record(dir.path);
    assert.equal((await replay(dir.path)).code, 3, `replayed before: ${what}`);
    change(dir.path);
    assert.equal((await replay(dir.path)).code, undefined, `not replayed after: ${what}`);
  }
});

Deno.test("another environment is another question: its answer is not replayed for the first", async () => {
  await using dir = fixture();
  await record(dir.path, decide(dir.path), { A: "1" });
  assert.equal((await replay(dir.path, { A: "1" })).code, 3);
  assert.equal((await replay(dir.path, { A: "2" })).code, undefined);
});

Deno.test("work that starts a process, uses the network or writes an undeclared file is not remembered", async () => {
  const spoilers: [string, () => void][] = [
    ["a process", () => new Deno.Command("true").outputSync()],
    ["a write", () => Deno.writeTextFileSync(path.join(Deno.makeTempDirSync(), "x"), "")],
    ["the network", () => void fetch("http://127.0.0.1:9/").catch(() => {})],
  ];
  for (const [what, spoil] of spoilers) {
    await using dir = fixture();
    const { code, memo } = await record(dir.path, decide(dir.path, spoil));
    assert.equal(code, 3, what);
    assert.throws(() => Deno.statSync(memo.file), Deno.errors.NotFound, `no memo after ${what}`);
  }
});

Deno.test("an answer that depends on a file changed just before the run is not remembered (git's racy rule)", async () => {
  await using dir = fixture();
  Deno.writeTextFileSync(path.join(dir.path, "a.txt"), "alpha\n");
  const { memo } = await record(dir.path);
  assert.throws(() => Deno.statSync(memo.file), Deno.errors.NotFound);
});

Deno.test("an answer whose replay would print something else is not remembered", async () => {
  await using dir = fixture();
  const { memo } = await record(dir.path, (remember, ui) => {
    ui.print("something else");
    remember({ text: "alpha", ms: 12 });
    return Promise.resolve(0);
  });
  assert.throws(() => Deno.statSync(memo.file), Deno.errors.NotFound);
});

Deno.test("a replay repeats the declared effects: the record is marked used and a hit is logged at the replay's time", async () => {
  await using dir = fixture();
  const recordFile = path.join(dir.path, ".rig/cache/tasks/record.json");
  const events = path.join(dir.path, ".rig/cache/events.jsonl");
  const log = new CacheEventLog(events, { now: () => 1000, debug: () => {} });
  const work = decide(dir.path, () => {
    Deno.readTextFileSync(recordFile);
    declareEffect({ kind: "touch", path: recordFile });
    Deno.utimeSync(recordFile, new Date(), new Date());
    log.append({ type: "hit", key: "k", task: "test", at: 1000 });
  });
  await record(dir.path, work);
  const before = Date.now();
  assert.equal((await replay(dir.path)).code, 3);
  assert.ok(Deno.statSync(recordFile).mtime!.getTime() >= before - 1000);
  const lines = Deno.readTextFileSync(events).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[1].key, "k");
  assert.ok(lines[1].at >= before);
  // Its own effects do not spoil the memo: the next run replays too.
  assert.equal((await replay(dir.path)).code, 3);
  // A record written anew (a new file, as every store write is) or deleted is a change.
  Deno.writeTextFileSync(`${recordFile}.tmp`, "{}");
  Deno.renameSync(`${recordFile}.tmp`, recordFile);
  assert.equal((await replay(dir.path)).code, undefined);
  await record(dir.path, work);
  assert.equal((await replay(dir.path)).code, 3);
  Deno.removeSync(recordFile);
  assert.equal((await replay(dir.path)).code, undefined);
});

Deno.test("an observation notes every path read, stat'ed or listed, and puts Deno's functions back, also when the work throws", async () => {
  await using dir = fixture();
  const readTextFileSync = Deno.readTextFileSync;
  const Command = Deno.Command;
  const { observation } = await observe(async () => {
    Deno.readTextFileSync(path.join(dir.path, "a.txt"));
    await Deno.readDir(path.join(dir.path, "pkg"))[Symbol.asyncIterator]().next();
    await Deno.stat(path.join(dir.path, "missing")).catch(() => {});
  });
  assert.deepEqual(
    [...observation.paths].sort(),
    ["a.txt", "missing", "pkg"].map((f) => path.join(dir.path, f)),
  );
  assert.equal(observation.spoiled, undefined);
  await assert.rejects(observe(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(Deno.readTextFileSync, readTextFileSync);
  assert.equal(Deno.Command, Command);
});

/** Rewrites a memo as someone with the signing key could: `change` edits its content. */
async function rewrite(file: string, change: (memo: Record<string, unknown>) => void, key = KEY) {
  const stored = JSON.parse(Deno.readTextFileSync(file));
  const memo = JSON.parse(stored.memo);
  change(memo);
  const text = JSON.stringify(memo);
  const signature = await signerFromKey(new TextEncoder().encode(key), "test").sign(
    new TextEncoder().encode(text),
  );
  Deno.writeTextFileSync(file, JSON.stringify({ signature, memo: text }));
}

Deno.test("a memo is signed: one written without this user's key, or edited, is not replayed", async () => {
  await using dir = fixture();
  const { memo } = await record(dir.path);
  assert.equal((await replay(dir.path)).code, 3);
  await rewrite(memo.file, (m) => m.exitCode = 0, "another key");
  assert.equal((await replay(dir.path)).code, undefined);
  const stored = JSON.parse(Deno.readTextFileSync(memo.file));
  stored.memo = stored.memo.replace('"exitCode":0', '"exitCode":1');
  Deno.writeTextFileSync(memo.file, JSON.stringify(stored));
  assert.equal((await replay(dir.path)).code, undefined);
});

Deno.test("a signed memo whose effects would write outside the project's cache records and event log is refused", async () => {
  await using dir = fixture();
  const { memo } = await record(dir.path);
  const outside = path.join(dir.path, "a.txt");
  await rewrite(memo.file, (m) => m.effects = [{ kind: "touch", path: outside }]);
  assert.equal((await replay(dir.path)).code, undefined);
  await rewrite(memo.file, (m) => {
    m.effects = [{ kind: "event", file: path.join(dir.path, ".git/hooks/pre-commit"), event: {} }];
  });
  assert.equal((await replay(dir.path)).code, undefined);
  // The same memo with its effects where a hit writes is replayed: the refusals were the paths.
  await rewrite(memo.file, (m) => m.effects = []);
  assert.equal((await replay(dir.path)).code, 3);
});

Deno.test("a corrupt or foreign memo file is ignored: the command answers in full", async () => {
  await using dir = fixture();
  const { memo } = await record(dir.path);
  for (const text of ["{not json", JSON.stringify({ version: 1, key: "other" }), "null"]) {
    Deno.writeTextFileSync(memo.file, text);
    assert.equal((await replay(dir.path)).code, undefined, text);
  }
});

/** Shows its time as every rig report does (formatDuration), so its text can be kept. */
const timedReplayer = () =>
  Promise.resolve<Replayer>((ui, data, elapsedMs) => {
    const { text, ms } = data as { text: string; ms: number };
    ui.print(`${text} in ${formatDuration(elapsedMs ?? ms)}`);
    ui.warn("a note on stderr");
  });

Deno.test("an answer that shows only its time as it varies is kept as text and replayed without its replayer", async () => {
  await using dir = fixture();
  const out = new BufferWriter();
  const err = new BufferWriter();
  const ui = new Ui({ stdout: out, stderr: err });
  const memo = await memoOf(dir.path);
  await memo.record(ui, timedReplayer, (remember) => {
    Deno.readTextFileSync(path.join(dir.path, "a.txt"));
    ui.print("alpha in 12ms");
    ui.warn("a note on stderr");
    remember({ text: "alpha", ms: 12 });
    return Promise.resolve(0);
  });
  const again = { out: new BufferWriter(), err: new BufferWriter() };
  const unused = () => Promise.reject(new Error("the replayer was loaded"));
  const code = await (await memoOf(dir.path)).replay(
    new Ui({ stdout: again.out, stderr: again.err }),
    unused,
    performance.now(),
  );
  assert.equal(code, 0);
  assert.match(again.out.text, /^alpha in \d+ms\n$/);
  assert.equal(again.err.text, err.text);
});

Deno.test("a replay's text template is made only when the two probe runs differ in their time alone", () => {
  const at = (ms: number, extra = ""): { ms: number; chunks: [Stream, string][] } => ({
    ms,
    chunks: [["stderr", "✓ cached\n"], ["stdout", `All passed in ${formatDuration(ms)}${extra}\n`]],
  });
  assert.deepEqual(textTemplate([at(987654321), at(876543219)]), [
    ["stderr", "✓ cached\n"],
    ["stdout", "All passed in ", "\n"],
  ]);
  assert.equal(textTemplate([at(987654321, " 1"), at(876543219, " 2")]), undefined);
  const twice = (ms: number) => ({
    ms,
    chunks: [["stdout", `${formatDuration(ms)} and ${formatDuration(ms)}\n`]] as [Stream, string][],
  });
  assert.equal(textTemplate([twice(987654321), twice(876543219)]), undefined);
  // Output aligned to the time's width varies in more than the time.
  const padded = (ms: number) => ({
    ms,
    chunks: [["stdout", `took ${formatDuration(ms).padEnd(10)}|\n`]] as [Stream, string][],
  });
  assert.equal(textTemplate([padded(987654321), padded(7654321)]), undefined);
});

Deno.test("a remembered answer is asked for only when nothing must happen first: no run record to reap, no notice pending, memos not turned off", async () => {
  await using dir = fixture();
  await using cache = await tempDirWith({});
  const env = { RIG_CACHE_SIGNING_KEY: KEY, RIG_CACHE_DIR: cache.path };
  const question = (extra: Partial<Question> = {}): Question => ({
    root: dir.path,
    args: ["test"],
    cwd: dir.path,
    env,
    flags: { verbose: false, quiet: false, json: false, noCache: false, yes: false },
    ui: new Ui({ stdout: new BufferWriter() }),
    entry: "file:///nonexistent/rig.js",
    ...extra,
  });
  const recorded = question();
  await (await DecisionMemo.of(decisionIdentity(recorded))).record(
    recorded.ui,
    replayer,
    (remember) => decide(dir.path)(remember, recorded.ui),
  );
  const ask = (q = question()) => rememberedAnswer(q, replayer, performance.now());
  // The project's committed rig (.rig-tool/version) is older: its notice is said first.
  assert.equal(await ask(), undefined, "a notice is pending");
  assert.ok(await olderCommittedRigNotice(dir.path, noticeOptions(env)), "said once");
  assert.equal(await ask(), 3, "once said, answered");

  const runRecord = path.join(dir.path, ".rig/run/123-1.json");
  Deno.mkdirSync(path.dirname(runRecord), { recursive: true });
  Deno.writeTextFileSync(runRecord, "{}");
  assert.equal(await ask(), undefined, "a run record is left to reap");
  Deno.removeSync(runRecord);
  assert.equal(await ask(), 3);

  const flags = { ...question().flags, noCache: true };
  assert.equal(await ask(question({ flags })), undefined, "--no-cache");
  assert.equal(memoAllowed({ flags: question().flags, env: { RIG_NO_MEMO: "1" } }), false);
  assert.equal(await ask(question({ env: { ...env, RIG_NO_MEMO: "1" } })), undefined);
});
