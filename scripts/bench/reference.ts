/**
 * A git copy of the reference project with every `rig test` task cached,
 * shared by the start-up and peers sections: committed files only, caches
 * git-ignored, as a fresh clone would be.
 */
import * as path from "node:path";
import { copyReferenceProject, git } from "../../tests/helpers.ts";
import { benchEnv, timeOnce } from "./timing.ts";

/** The source checkout's main.ts, which the sections time against the bundle. */
export const MAIN = path.resolve(import.meta.dirname!, "..", "..", "main.ts");

/** How to run rig from `entry` (main.ts or a bundle) with the given arguments. */
export function rigArgv(entry: string, args: string[], denoFlags: string[] = []): string[] {
  const config = entry.endsWith(".js") ? ["--no-config"] : [];
  return [Deno.execPath(), "run", "-A", "--quiet", ...config, ...denoFlags, entry, ...args];
}

/** Options for `cachedReferenceProject`. */
export interface ReferenceOptions {
  /** Writes more files into the copy before it is committed. */
  prepare?: (root: string) => Promise<void>;
}

/** Copies examples/authserver to `dest`, commits it, and runs `rig test` once so all is cached. */
export async function cachedReferenceProject(
  dest: string,
  opts: ReferenceOptions = {},
): Promise<string> {
  const root = await copyReferenceProject(dest);
  await opts.prepare?.(root);
  await git(root, "init", "-q", "-b", "main");
  await git(root, "add", "-A");
  await git(root, "commit", "-qm", "bench");
  await timeOnce({ label: "warm-up", argv: rigArgv(MAIN, ["-C", root, "test"]), env: benchEnv() });
  return root;
}

/**
 * Adds `count` committed data files to the server (inputs of its tasks that no
 * linter reads, so the one uncached run they cause stays short) and commits them.
 */
export async function addCommittedFiles(root: string, count: number): Promise<void> {
  const dir = path.join(root, "server", "assets");
  await Deno.mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    await Deno.writeTextFile(path.join(dir, `data_${i}.txt`), `value ${i}\n`);
  }
  await git(root, "add", "-A");
  await git(root, "commit", "-qm", `bench: ${count} more files`);
}
