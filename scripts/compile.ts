/**
 * Compiles rig into one executable per OS with `deno compile`.
 *
 *   deno task compile                       # every target (downloads each denort runtime)
 *   deno task compile --target x86_64-unknown-linux-gnu
 *   DENORT_BIN=/path/to/denort deno task compile   # offline: the host target with that runtime
 *
 * `deno compile` embeds rig in a copy of the `denort` runtime, which it downloads
 * per target. Where that download is impossible, DENORT_BIN names a runtime on
 * disk; it only fits the host's target, so only that one is built.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { writeSha256Sums } from "../lib/ship/checksums.ts";
import { RIG_VERSION } from "../lib/version.ts";

/** Every target rig ships a binary for. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

const ROOT = path.resolve(import.meta.dirname!, "..");

/** The target triple of the machine running this script. */
export function hostTarget(): string {
  return Deno.build.target;
}

/** The argv of `deno compile` for one target. */
export function compileArgs(target: string, outDir: string): string[] {
  return [
    "compile",
    "-A",
    "--quiet",
    // Started with `new Worker(new URL(...))`, which deno compile cannot see statically.
    "--include",
    path.join(ROOT, "lib", "task", "hash_worker.ts"),
    "--target",
    target,
    "--output",
    path.join(outDir, binaryName(target)),
    path.join(ROOT, "main.ts"),
  ];
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", multiple: true },
      out: { type: "string", default: path.join(ROOT, "dist", "bin") },
    },
  });
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    try {
      if (!Deno.statSync(denort).isFile) throw new Error("not a file");
    } catch {
      console.error(`error: DENORT_BIN is set to "${denort}", which is not a file`);
      console.error(`hint: Point DENORT_BIN at a denort ${Deno.version.deno} runtime, or unset it`);
      return 3;
    }
  }
  const targets = values.target ?? (denort ? [hostTarget()] : TARGETS);
  if (denort && targets.some((t) => t !== hostTarget())) {
    console.error(`error: DENORT_BIN only fits the host target "${hostTarget()}"`);
    console.error("hint: Unset DENORT_BIN to download the runtime of other targets");
    return 2;
  }
  await Deno.mkdir(values.out!, { recursive: true });
  let failed = 0;
  const built: string[] = [];
  for (const target of targets) {
    const started = performance.now();
    const result = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(target, values.out!),
      stdout: "inherit",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    if (result.success) {
      built.push(binaryName(target));
      console.log(`✓ ${target} (${((performance.now() - started) / 1000).toFixed(1)}s)`);
      continue;
    }
    failed++;
    console.error(`✗ ${target}\n${stderr.trim()}`);
    if (/denort|download|dl\.deno\.land|network|dns/i.test(stderr)) {
      console.error(
        `hint: deno compile could not get the denort runtime for ${target}. ` +
          "Without network access, set DENORT_BIN to a denort runtime for this machine.",
      );
    }
  }
  if (built.length) {
    // Every binary of this folder, including ones an earlier run built for other targets.
    const names = [...Deno.readDirSync(values.out!)].map((e) => e.name)
      .filter((name) => /^rig-/.test(name));
    await Deno.writeTextFile(path.join(values.out!, "VERSION"), `${RIG_VERSION}\n`);
    const sums = await writeSha256Sums(values.out!, names);
    console.log(
      `rig ${RIG_VERSION}: ${sums.length} binaries, SHA256SUMS and VERSION in ${values.out}`,
    );
  }
  return failed ? 3 : 0;
}

/** The file name of the binary for `target`. */
export function binaryName(target: string): string {
  return `rig-${target}${target.includes("windows") ? ".exe" : ""}`;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
