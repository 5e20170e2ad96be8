/**
 * The uv part of bench section "install": on fresh copies of examples/fullstack
 * (a uv workspace), rig's first `rig install` against a plain
 * `uv sync --locked --all-packages` (same warm download cache, same
 * interpreter), then rig's no-change second run against its first.
 */
import * as path from "node:path";
import { copyReferenceProject, python3Executable } from "../../tests/helpers.ts";
import { userCacheDir } from "../../lib/cache_paths.ts";
import { timedRig } from "./timed_rig.ts";

async function uvSync(root: string, cacheDir: string): Promise<number> {
  const env = Deno.env.toObject();
  delete env.VIRTUAL_ENV;
  const python = await python3Executable();
  const started = performance.now();
  const out = await new Deno.Command("uv", {
    args: ["sync", "--locked", "--all-packages", "--python", python],
    cwd: root,
    env: { ...env, UV_CACHE_DIR: cacheDir, UV_PYTHON_DOWNLOADS: "never" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) throw new Error(`uv sync failed:\n${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

/** Logs the uv fixture's ratios (second/first rig install, rig first/plain uv sync). */
export async function benchUvInstall(tmp: string, log: (line: string) => void): Promise<void> {
  const cacheDir = path.join(userCacheDir(Deno.env.toObject(), Deno.build.os), "uv");
  // Warm the shared download cache so both sides measure installing, not downloading.
  await uvSync(await copyReferenceProject(path.join(tmp, "warm"), "fullstack"), cacheDir);
  const plainRoot = await copyReferenceProject(path.join(tmp, "plain"), "fullstack");
  const rigRoot = await copyReferenceProject(path.join(tmp, "rig"), "fullstack");
  const plain = await uvSync(plainRoot, cacheDir);
  // The uv members only: the fixture's frontend/ (npm) is not part of what uv sync does.
  const members = ["install", "--backend", "--notes-core"];
  const first = await timedRig<unknown>(rigRoot, members);
  const second = await timedRig<unknown>(rigRoot, members);
  log(`uv fixture (examples/fullstack, a uv workspace):`);
  log(`  plain uv sync --locked --all-packages: ${(plain / 1000).toFixed(2)}s`);
  log(`  first rig install --backend --notes-core: ${(first.ms / 1000).toFixed(2)}s`);
  log(`  second (nothing changed):                 ${second.ms.toFixed(0)}ms`);
  log(`  ratio second/first: ${(second.ms / first.ms * 100).toFixed(2)}% (target: under 5%)`);
  log(`  ratio rig first/plain uv sync: ${(first.ms / plain).toFixed(2)} (target: under 1.1)`);
}
