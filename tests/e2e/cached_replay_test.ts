import assert from "node:assert/strict";
import * as path from "node:path";
import { git, gitRepository, rigInProcess, tempDirWith } from "../helpers.ts";

const hasNode = await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output()
  .then((o) => o.success, () => false);
if (!hasNode) console.log("ignoring the cached replay test: node is not installed");

/** Lets what the last run wrote age past the decision memo's racy window. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 2500));

/** This run's trace marks: in one process the trace keeps the marks of earlier runs too. */
const ownTrace = (stderr: string) => stderr.slice(stderr.lastIndexOf("  imports\n"));

/** The output with durations taken out, to compare two runs of one answer. */
const timeless = (text: string) => text.replace(/\d+(\.\d+)?(ms|s)\b/g, "T");

Deno.test({
  name:
    "a cached rig test is replayed from its decision memo, with the same output and cache events, until an input changes",
  ignore: !hasNode,
  async fn() {
    await using dir = await tempDirWith({
      "rig.toml": '[project]\nname = "fx"\n',
      "libs/calc/package.json": JSON.stringify({
        name: "calc",
        version: "1.0.0",
        main: "index.js",
        scripts: { test: "node --test" },
      }),
      "libs/calc/index.js": "module.exports = (a, b) => a + b;\n",
      "libs/calc/test/calc.test.js": 'const test = require("node:test");\n' +
        'const assert = require("node:assert");\nconst add = require("../index.js");\n' +
        'test("adds", () => assert.equal(add(1, 2), 3));\n',
    });
    await gitRepository(dir.path, { branch: "main" });
    const env = { RIG_TRACE: "1" };
    const test = () => rigInProcess(["test"], { cwd: dir.path, env });
    const first = await test();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /calc\s+1\s+0\s+0.*ran/);
    // Cached runs until everything they read has settled and one of them is remembered.
    let remembered;
    for (let i = 0; i < 4 && !remembered; i++) {
      await settle();
      const run = await test();
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /calc\s+1\s+0\s+0.*cached/);
      if (ownTrace(run.stderr).includes("decision remembered")) remembered = run;
    }
    assert.ok(remembered, "a cached run was remembered");

    const events = path.join(dir.path, ".rig/cache/events.jsonl");
    const hits = () => Deno.readTextFileSync(events).split("\n").filter((l) => l.includes('"hit"'));
    const hitsBefore = hits().length;
    const records = path.join(dir.path, ".rig/cache/tasks");
    const record = path.join(records, [...Deno.readDirSync(records)][0]!.name);
    const usedBefore = Deno.statSync(record).mtime!.getTime();
    const replayed = await test();
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(ownTrace(replayed.stderr), /decision memo replayed/);
    assert.doesNotMatch(ownTrace(replayed.stderr), /command "test" loaded/, "nor even loaded");
    assert.equal(timeless(replayed.stdout), timeless(remembered.stdout));
    const strip = (text: string) => timeless(text.replace(/^trace .*\n/gm, ""));
    assert.equal(strip(replayed.stderr), strip(remembered.stderr));
    // The replay did what the hit did: a hit event, and the record marked used for pruning.
    assert.equal(hits().length, hitsBefore + 1);
    assert.ok(Deno.statSync(record).mtime!.getTime() >= usedBefore);
    assert.equal(await git(dir.path, "status", "--porcelain"), "");

    // An edit is seen: the tests run again, and the new answer is not the remembered one.
    await Deno.writeTextFile(
      path.join(dir.path, "libs/calc/test/calc.test.js"),
      'test("adds zero", () => assert.equal(add(0, 2), 2));\n',
      { append: true },
    );
    const edited = await test();
    assert.equal(edited.code, 0, edited.stderr);
    assert.doesNotMatch(ownTrace(edited.stderr), /decision memo replayed/);
    assert.match(edited.stdout, /calc\s+2\s+0\s+0.*ran/);
  },
});
