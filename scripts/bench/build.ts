/**
 * Bench section "build": `rig build --skip-tests` on a fresh copy of the
 * reference project, cold (empty cache) then unchanged (everything restored
 * from the cache), run as a user would (a separate rig process each time).
 */
import * as path from "node:path";
import type { BenchSection } from "../bench.ts";

const REPO = path.resolve(import.meta.dirname!, "..", "..");
const MAIN = path.join(REPO, "main.ts");
const SKIP = new Set([".venv", "venv", "node_modules", "dist", "__pycache__", ".rig", "data"]);

async function copy(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (SKIP.has(entry.name) || entry.name.endsWith(".egg-info") || entry.name.startsWith(".env")) {
      continue;
    }
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory) await copy(src, dst);
    else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}

async function git(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=bench", "-c", "user.email=bench@rig.invalid", ...args],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

async function rigBuild(root: string): Promise<{ ms: number; statuses: string }> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "-C", root, "--json", "build", "--skip-tests"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) {
    throw new Error(`rig build failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const statuses = doc.components.map((c: { name: string; status: string }) =>
    `${c.name}=${c.status}`
  ).join(" ");
  return { ms, statuses };
}

/** The "build" bench section. */
export const buildSection: BenchSection = {
  name: "build",
  description: "rig build --skip-tests on examples/authserver: cold vs unchanged rebuild",
  async run({ tmp, log }) {
    const root = path.join(tmp, "authserver");
    await copy(path.join(REPO, "examples", "authserver"), root);
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
