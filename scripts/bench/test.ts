/**
 * Bench section "test": `rig test` on a fresh git copy of the reference
 * project, run as a user would (a separate rig process each time): a full
 * uncached run (`--force`, after a warm-up that installs), fully cached runs,
 * and `--changed` after one js-client edit.
 */
import * as path from "node:path";
import type { BenchSection } from "./section.ts";
import { copyReferenceProject, git } from "../../tests/helpers.ts";
import { timedRig } from "./timed_rig.ts";

type TestDoc = { components: { name: string; tasks: { task: string; cached: boolean }[] }[] };

async function rigTest(root: string, args: string[]): Promise<{ ms: number; states: string }> {
  const { ms, doc } = await timedRig<TestDoc>(root, ["test", ...args]);
  const states = doc.components.flatMap((c) =>
    c.tasks.map((t) =>
      `${c.name}${t.task === "test" ? "" : ":" + t.task}=${t.cached ? "cached" : "ran"}`
    )
  ).join(" ");
  return { ms, states };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The "test" bench section. */
export const testSection: BenchSection = {
  name: "test",
  description: "rig test on examples/authserver: cached vs uncached, --changed after a js edit",
  async run({ tmp, log }) {
    const root = await copyReferenceProject(path.join(tmp, "authserver"));
    await git(root, "init", "-q", "-b", "main");
    await git(root, "add", "-A");
    await git(root, "commit", "-qm", "bench");
    const warm = await rigTest(root, []);
    log(`first run (installs + tests): ${seconds(warm.ms)}`);
    const full = await rigTest(root, ["--force"]);
    log(`uncached full run (--force):  ${seconds(full.ms)}  (${full.states})`);
    const runs: number[] = [];
    let states = "";
    for (let i = 0; i < 5; i++) {
      const cached = await rigTest(root, []);
      runs.push(cached.ms);
      states = cached.states;
    }
    runs.sort((a, b) => a - b);
    const median = runs[Math.floor(runs.length / 2)]!;
    log(
      `fully cached run:             ${median.toFixed(0)} ms median of ${runs.length} = ${
        (median / full.ms * 100).toFixed(1)
      }% of uncached (target < 5%)  (${states})`,
    );
    const file = path.join(root, "clients", "js", "src", "errors.ts");
    await Deno.writeTextFile(file, (await Deno.readTextFile(file)) + "// bench edit\n");
    const changed = await rigTest(root, ["--changed"]);
    log(
      `--changed after a js edit:    ${seconds(changed.ms)} = ${
        (changed.ms / full.ms * 100).toFixed(1)
      }% of uncached (target < 30%); ${
        (changed.ms / warm.ms * 100).toFixed(1)
      }% of the first run  (${changed.states})`,
    );
  },
};
