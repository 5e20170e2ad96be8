/**
 * Faults, with real processes: rig killed with SIGKILL, two rigs at once,
 * read-only and full caches, interrupted migrations. The first tests drive the
 * mechanisms through a stand-in rig (tests/testdata/fault_rig.ts); the
 * end-to-end ones in tests/e2e/faults_e2e_test.ts use the reference project.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { describeReap, reapOrphans, runDir } from "../lib/proc_registry.ts";
import { processAlive, tempDir } from "./helpers.ts";

const FAULT_RIG = path.join(import.meta.dirname!, "testdata", "fault_rig.ts");

interface FakeRig {
  child: Deno.ChildProcess;
  /** Resolves with the first line matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  output(): string;
}

function startFakeRig(root: string, tmp: string, flags: string[], command: string[]): FakeRig {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", FAULT_RIG, root, tmp, ...flags, "--", ...command],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  let text = "";
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) text += decoder.decode(chunk, { stream: true });
  })();
  return {
    child,
    output: () => text,
    async line(pattern, timeoutMs = 20_000) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        const found = text.split("\n").find((l) => pattern.test(l));
        if (found) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no line matching ${pattern} in:\n${text}`);
    },
  };
}

/** Live processes in the process group `pgid` (Linux /proc). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && processAlive(Number(entry.name))) {
        members.push(Number(entry.name));
      }
    } catch {
      // Gone while we looked.
    }
  }
  return members;
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return performance.now() - started;
}

function killGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

const LINUX = Deno.build.os === "linux";

Deno.test({
  name: "children of a rig killed with SIGKILL stop within seconds on their own",
  ignore: !LINUX,
  async fn() {
    await using dir = await tempDir("rig-faults-");
    const rig = startFakeRig(dir.path, dir.path, [], [
      "sh",
      "-c",
      "sleep 300 & sleep 300 & wait",
    ]);
    const pgid = Number((await rig.line(/^ready /)).split(" ")[1]);
    try {
      await waitUntil("the group's sleeps started", () => groupMembers(pgid).length >= 3, 10_000);
      rig.child.kill("SIGKILL");
      await rig.child.status;
      const took = await waitUntil("the group stopped", () => !groupMembers(pgid).length, 10_000);
      assert.ok(took < 10_000);
    } finally {
      killGroup(pgid);
    }
  },
});

Deno.test({
  name: "the next rig stops what a killed rig left running and removes its temp folders",
  ignore: !LINUX,
  async fn() {
    await using dir = await tempDir("rig-faults-");
    // Unwatched and deaf to SIGTERM: only the reaper can stop it.
    const rig = startFakeRig(dir.path, dir.path, ["--no-watch"], [
      "sh",
      "-c",
      "trap '' TERM; sleep 300 & sleep 300 & wait; wait",
    ]);
    const ready = (await rig.line(/^ready /)).split(" ");
    const pgid = Number(ready[1]);
    const temp = ready[2]!;
    try {
      assert.match(path.basename(temp), new RegExp(`^rig-${rig.child.pid}-test-`));
      const records = [...Deno.readDirSync(runDir(dir.path))].map((e) => e.name);
      assert.equal(records.length, 1);
      rig.child.kill("SIGKILL");
      await rig.child.status;
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(groupMembers(pgid).length >= 1, "the unwatched group outlives its rig");

      const report = await reapOrphans(dir.path, { tmp: dir.path, graceMs: 500 });
      assert.deepEqual(report.rigs, [rig.child.pid]);
      assert.ok(report.stopped >= 2, `stopped ${report.stopped}`);
      assert.deepEqual(report.removed, [temp]);
      assert.match(
        describeReap(report)!,
        new RegExp(
          `^Stopped \\d+ processes and removed 1 temp folder left by rig pid ${rig.child.pid}`,
        ),
      );
      await waitUntil("the group stopped", () => !groupMembers(pgid).length, 5_000);
      assert.equal(await Deno.stat(temp).catch(() => null), null);
      assert.deepEqual([...Deno.readDirSync(runDir(dir.path))], []);
      // A second reap finds nothing and says nothing.
      const again = await reapOrphans(dir.path, { tmp: dir.path });
      assert.equal(describeReap(again), undefined);
    } finally {
      killGroup(pgid);
    }
  },
});

Deno.test({
  name: "a reaper leaves the groups and folders of a rig that still runs alone",
  ignore: !LINUX,
  async fn() {
    await using dir = await tempDir("rig-faults-");
    const rig = startFakeRig(dir.path, dir.path, [], ["sleep", "300"]);
    const ready = (await rig.line(/^ready /)).split(" ");
    const pgid = Number(ready[1]);
    try {
      const report = await reapOrphans(dir.path, { tmp: dir.path });
      assert.equal(report.stopped, 0);
      assert.deepEqual(report.removed, []);
      assert.ok(groupMembers(pgid).length >= 1);
      assert.ok((await Deno.stat(ready[2]!)).isDirectory);
    } finally {
      try {
        rig.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await rig.child.status;
      killGroup(pgid);
      await waitUntil("the group stopped", () => !groupMembers(pgid).length, 10_000);
    }
  },
});

Deno.test({
  name: "a second rig waits for the lock holder, says whom it waits for, then runs",
  ignore: !LINUX,
  async fn() {
    await using dir = await tempDir("rig-faults-");
    const lock = dir.join("install.lock");
    const first = startFakeRig(dir.path, dir.path, ["--lock", lock], ["sleep", "300"]);
    const firstPgid = Number((await first.line(/^ready /)).split(" ")[1]);
    const second = startFakeRig(dir.path, dir.path, ["--lock", lock], ["true"]);
    try {
      const waiting = await second.line(/^waiting for /);
      assert.equal(waiting, `waiting for rig pid ${first.child.pid}: installing server`);
      assert.ok(!second.output().includes("ready"), "the second rig must wait");
      // The holder dies by SIGKILL: the kernel releases its lock.
      first.child.kill("SIGKILL");
      await first.child.status;
      await second.line(/^ready /);
      assert.equal((await second.child.status).code, 0);
    } finally {
      for (const rig of [first, second]) {
        try {
          rig.child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await rig.child.status;
      }
      killGroup(firstPgid);
    }
  },
});
