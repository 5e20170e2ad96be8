/**
 * Bench section "install": `rig install` on a fresh copy of the reference
 * project (venvs created, requirements installed through the shared download
 * cache, npm ci), then again with nothing changed (the fast path), each run as
 * a separate rig process the way a user would.
 */
import * as path from "node:path";
import type { BenchSection } from "../bench.ts";

const REPO = path.resolve(import.meta.dirname!, "..", "..");
const MAIN = path.join(REPO, "main.ts");
const SKIP = new Set([
  ".venv",
  "venv",
  "node_modules",
  "dist",
  "__pycache__",
  ".rig",
  "data",
  ".pytest_cache",
  ".mypy_cache",
]);

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

async function rigInstall(root: string): Promise<{ ms: number; summary: string }> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "-C", root, "--json", "install"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) {
    throw new Error(`rig install failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const summary = doc.components.map((c: { name: string; skipped: boolean; installer: string }) =>
    `${c.name}=${c.skipped ? "skipped" : c.installer}`
  ).join(" ");
  return { ms, summary };
}

/** The "install" bench section. */
export const installSection: BenchSection = {
  name: "install",
  description: "rig install on examples/authserver: fresh setup vs no-change second run",
  async run({ tmp, log }) {
    const root = path.join(tmp, "authserver");
    await copy(path.join(REPO, "examples", "authserver"), root);
    const first = await rigInstall(root);
    log(
      `first rig install (fresh venvs, pip, npm ci): ${
        (first.ms / 1000).toFixed(1)
      }s  ${first.summary}`,
    );
    const second = await rigInstall(root);
    log(
      `second rig install (nothing changed):          ${second.ms.toFixed(0)}ms  ${second.summary}`,
    );
    const ratio = second.ms / first.ms;
    log(`ratio second/first: ${(ratio * 100).toFixed(2)}% (target: under 10%)`);
  },
};
