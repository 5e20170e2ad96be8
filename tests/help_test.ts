/**
 * Help output snapshots: `rig --help` and `rig <command> --help`, run in the
 * reference project (so per-component flags show), compared with one file per
 * command in tests/testdata/help/. A change to help shows up in review as a
 * change to these files. After changing help on purpose, refresh them with:
 *
 *   RIG_UPDATE_HELP=1 deno test -A tests/help_test.ts
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { COMMANDS } from "../commands/mod.ts";
import { REPO_ROOT, rigInProcess } from "./helpers.ts";

const SNAPSHOTS = path.join(REPO_ROOT, "tests", "testdata", "help");
const UPDATE = Deno.env.get("RIG_UPDATE_HELP") === "1";
const PROJECT = path.join(REPO_ROOT, "examples", "authserver");

async function helpOf(args: string[]): Promise<string> {
  const run = await rigInProcess(args, { cwd: PROJECT, env: { COLUMNS: "100" } });
  assert.equal(run.code, 0, run.stderr);
  return run.stdout + run.stderr;
}

async function matchesSnapshot(name: string, text: string): Promise<void> {
  const file = path.join(SNAPSHOTS, `${name}.txt`);
  if (UPDATE) {
    await Deno.mkdir(SNAPSHOTS, { recursive: true });
    await Deno.writeTextFile(file, text);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(file);
  } catch {
    throw new Error(
      `No help snapshot "${file}": run RIG_UPDATE_HELP=1 deno test -A tests/help_test.ts`,
    );
  }
  assert.equal(
    text,
    expected,
    `rig ${name} --help changed; if on purpose: RIG_UPDATE_HELP=1 deno test -A tests/help_test.ts`,
  );
}

Deno.test("rig --help matches its snapshot", async () => {
  await matchesSnapshot("rig", await helpOf(["--help"]));
});

for (const command of COMMANDS) {
  Deno.test(`rig ${command.name} --help matches its snapshot`, async () => {
    await matchesSnapshot(command.name, await helpOf([command.name, "--help"]));
  });
}

Deno.test("every help snapshot belongs to a command", async () => {
  const names = new Set(["rig", ...COMMANDS.map((c) => c.name)]);
  for await (const entry of Deno.readDir(SNAPSHOTS)) {
    assert.ok(names.has(entry.name.replace(/\.txt$/, "")), `stale snapshot ${entry.name}`);
  }
});
