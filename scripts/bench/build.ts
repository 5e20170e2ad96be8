/**
 * Bench section "build": `rig build --skip-tests` on a fresh copy of the
 * reference project, cold (empty cache) then unchanged (everything restored
 * from the cache), run as a user would (a separate rig process each time).
 */
import * as path from "node:path";
import type { BenchSection } from "./section.ts";
import { copyReferenceProject, git } from "../../tests/helpers.ts";
import { timedRig } from "./timed_rig.ts";

async function rigBuild(root: string): Promise<{ ms: number; statuses: string }> {
  const { ms, doc } = await timedRig<{ components: { name: string; status: string }[] }>(root, [
    "build",
    "--skip-tests",
  ]);
  return { ms, statuses: doc.components.map((c) => `${c.name}=${c.status}`).join(" ") };
}

/** The "build" bench section. */
export const buildSection: BenchSection = {
  name: "build",
  description: "rig build --skip-tests on examples/authserver: cold vs unchanged rebuild",
  async run({ tmp, log }) {
    const root = await copyReferenceProject(path.join(tmp, "authserver"));
    await git(root, "init", "-q");
    await git(root, "add", "-A");
    await git(root, "commit", "-qm", "bench");
    const cold = await rigBuild(root);
    log(`cold build:        ${(cold.ms / 1000).toFixed(1)} s  (${cold.statuses})`);
    const runs: number[] = [];
    let statuses = "";
    for (let i = 0; i < 5; i++) {
      const warm = await rigBuild(root);
      runs.push(warm.ms);
      statuses = warm.statuses;
    }
    runs.sort((a, b) => a - b);
    const median = runs[Math.floor(runs.length / 2)]!;
    log(
      `unchanged rebuild: ${median.toFixed(0)} ms median of ${runs.length} (min ${
        runs[0]!.toFixed(0)
      } ms)  (${statuses})`,
    );
    const ratio = (median / cold.ms) * 100;
    log(`ratio:             ${ratio.toFixed(2)}% of the cold build (target: under 10%)`);
  },
};
