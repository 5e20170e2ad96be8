/**
 * The pieces behind rig's fault handling that need no running project:
 * interrupted-upgrade recovery, cache-write warnings, exact coverage
 * thresholds, per-file node counts and moved-venv detection.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { recoverInterruptedUpgrade } from "../lib/db/alembic.ts";
import { CacheWriteGuard, cacheWriteProblem } from "../lib/task/cache_write.ts";
import { configuredFailUnder, coverageShortfall, coverageTotal } from "../lib/testing/coverage.ts";
import { readNodeFileCounts, splitNodeCounts } from "../lib/testing/node_counts.ts";
import { relocationProblem, scriptInterpreter } from "../lib/python/venv_health.ts";
import { BufferWriter, Ui } from "../lib/ui.ts";
import { tempDir } from "./helpers.ts";

/** A rig that is gone: pid 2^22+1 is beyond Linux's pid_max. */
const GONE_PID = 4194305;

/** Writes the journal a running upgrade of `db` keeps, as the rig with `pid` left it. */
async function writeUpgradeJournal(
  db: string,
  journal: { pid: number; existed: boolean; started?: string },
): Promise<void> {
  const { pid, existed, started = "" } = journal;
  await Deno.writeTextFile(
    `${db}.rig-upgrade.json`,
    JSON.stringify({ pid, phase: "upgrading", existed, sideFiles: [], started }),
  );
}
import { run } from "../lib/proc.ts";
import { EnvironmentError } from "../lib/errors.ts";

Deno.test("an interrupted upgrade's backup is put back byte for byte, and only once", async () => {
  await using dir = await tempDir();
  const db = dir.join("dev.db");
  await Deno.writeFile(db, new Uint8Array([1, 2, 3, 4]));
  await Deno.writeFile(`${db}.rig-backup`, new Uint8Array([9, 9, 9]));
  await Deno.writeTextFile(`${db}-journal`, "hot journal of the broken database");
  await writeUpgradeJournal(db, { pid: GONE_PID, existed: true, started: "2026-01-01T00:00:00Z" });
  const message = await recoverInterruptedUpgrade(db);
  assert.match(
    message!,
    /^Restored "dev\.db" from the backup taken before an upgrade that was interrupted \(rig pid 4194305/,
  );
  assert.deepEqual(await Deno.readFile(db), new Uint8Array([9, 9, 9]));
  for (const leftover of [`${db}.rig-backup`, `${db}-journal`, `${db}.rig-upgrade.json`]) {
    assert.equal(await Deno.stat(leftover).catch(() => null), null, leftover);
  }
  assert.equal(await recoverInterruptedUpgrade(db), undefined);
});

Deno.test("an interrupted upgrade of a new database removes the half-made file", async () => {
  await using dir = await tempDir();
  const db = dir.join("new.db");
  await Deno.writeTextFile(db, "half migrated");
  await writeUpgradeJournal(db, { pid: GONE_PID, existed: false });
  assert.match((await recoverInterruptedUpgrade(db))!, /^Removed "new\.db", partly created/);
  assert.equal(await Deno.stat(db).catch(() => null), null);
});

Deno.test("a backup left without a journal (an older rig) is restored too", async () => {
  await using dir = await tempDir();
  const db = dir.join("dev.db");
  await Deno.writeTextFile(db, "broken");
  await Deno.writeTextFile(`${db}.rig-backup`, "clean");
  assert.match((await recoverInterruptedUpgrade(db))!, /^Restored "dev\.db"/);
  assert.equal(await Deno.readTextFile(db), "clean");
});

Deno.test("an upgrade another live rig is running is left alone", async () => {
  await using dir = await tempDir();
  const db = dir.join("dev.db");
  await Deno.writeTextFile(db, "being migrated");
  await Deno.writeTextFile(`${db}.rig-backup`, "clean");
  // pid 1 is always alive.
  await writeUpgradeJournal(db, { pid: 1, existed: true });
  assert.equal(await recoverInterruptedUpgrade(db), undefined);
  assert.equal(await Deno.readTextFile(db), "being migrated");
  assert.equal(await Deno.readTextFile(`${db}.rig-backup`), "clean");
});

Deno.test("cache write failures become one warning that says why", async () => {
  const stderr = new BufferWriter();
  const ui = new Ui({ stderr, stdout: new BufferWriter() });
  const guard = new CacheWriteGuard(ui, ".rig/cache");
  const full = Object.assign(new Error("No space left on device (os error 28)"), {
    code: "ENOSPC",
  });
  assert.equal(await guard.attempt(() => Promise.reject(full)), false);
  assert.equal(await guard.attempt(() => Promise.reject(full)), false);
  assert.equal(await guard.attempt(() => Promise.resolve()), true);
  assert.equal(
    stderr.text.match(/warning: /g)?.length,
    1,
    stderr.text,
  );
  assert.match(
    stderr.text,
    /warning: Results were not cached: cannot write to "\.rig\/cache" \(the disk is full\)/,
  );
  assert.equal(
    cacheWriteProblem(new Error("Read-only file system (os error 30)")),
    "its file system is read-only",
  );
  assert.equal(cacheWriteProblem(new Deno.errors.NotFound("gone")), "its folder vanished");
});

Deno.test("coverage thresholds are read from coverage.py's config and compared exactly", () => {
  assert.equal(configuredFailUnder({ ".coveragerc": "[report]\nfail_under = 99\n" }), 99);
  assert.equal(configuredFailUnder({ "setup.cfg": "[coverage:report]\nfail_under=97.5\n" }), 97.5);
  assert.equal(
    configuredFailUnder({ "pyproject.toml": "[tool.coverage.report]\nfail_under = 90\n" }),
    90,
  );
  assert.equal(configuredFailUnder({ "setup.cfg": "[flake8]\nfail_under = 3\n" }), undefined);
  assert.equal(coverageTotal('{"totals": {"percent_covered": 98.4615}}'), 98.4615);
  assert.equal(coverageShortfall(98.5, 99), "coverage 98.5% under 99%");
  assert.equal(coverageShortfall(98.96, 99), "coverage 98.96% under 99%");
  assert.equal(coverageShortfall(99, 99), undefined);
  assert.equal(coverageShortfall(50, undefined), undefined);
});

Deno.test("one npm test's counts are split by file between unit and integration", async () => {
  await using dir = await tempDir();
  const file = dir.join("node-tests.jsonl");
  const line = (f: string, status: string) => JSON.stringify({ file: f, status });
  await Deno.writeTextFile(
    file,
    [
      ...Array.from({ length: 19 }, () => line("/p/dist-test/test/client.test.js", "passed")),
      line("/p/dist-test/test/integration.test.js", "passed"),
      line("/p/dist-test/test/integration.test.js", "passed"),
      line("/p/dist-test/test/integration.test.js", "failed"),
    ].join("\n") + "\n",
  );
  const perFile = await readNodeFileCounts(file);
  const split = splitNodeCounts(perFile!, [path.join("test", "integration.test.ts")]);
  assert.deepEqual(split.unit, { passed: 19, failed: 0, skipped: 0, errors: 0 });
  assert.deepEqual(split.integration, { passed: 2, failed: 1, skipped: 0, errors: 0 });
  assert.equal(await readNodeFileCounts(dir.join("absent.jsonl")), undefined);
});

Deno.test("a venv whose scripts run another venv's Python is reported as moved", async () => {
  await using dir = await tempDir();
  const bin = dir.join(".venv", "bin");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(path.join(bin, "python"), "");
  await Deno.writeTextFile(path.join(bin, "pytest"), `#!${path.join(bin, "python")}\nimport x\n`);
  assert.equal(relocationProblem(bin, { home: dir.path }), undefined);
  await Deno.writeTextFile(path.join(bin, "uvicorn"), "#!/old/place/.venv/bin/python\nimport x\n");
  assert.equal(
    relocationProblem(bin, { home: dir.path }),
    `its script "uvicorn" runs "/old/place/.venv/bin/python", outside this environment ` +
      `(the project was moved or copied)`,
  );
  assert.match(relocationProblem(bin, { home: "/no/such/python/home" })!, /pyvenv\.cfg home/);
  assert.equal(
    scriptInterpreter(`#!/bin/sh\n'''exec' "/a b/.venv/bin/python" "$0" "$@"\n' '''\n`),
    "/a b/.venv/bin/python",
  );
  assert.equal(scriptInterpreter("#!/usr/bin/env bash\n"), undefined);
});

Deno.test("a script whose interpreter is gone is an environment error, not a failed test", async () => {
  await using dir = await tempDir();
  const script = dir.join("pytest");
  await Deno.writeTextFile(script, "#!/gone/project/.venv/bin/python\nimport pytest\n");
  await Deno.chmod(script, 0o755);
  const error = await run([script, "-q"], { env: { PATH: "/usr/bin:/bin" } }).catch((e) => e);
  assert.ok(error instanceof EnvironmentError, String(error));
  assert.match(
    error.message,
    /its interpreter "\/gone\/project\/\.venv\/bin\/python" does not exist/,
  );
  assert.match(error.hint!, /rig install/);
});
