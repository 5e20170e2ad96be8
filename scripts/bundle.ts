/**
 * `deno task bundle [--out FILE]`: rig as one JavaScript file (default
 * dist/rig.js), runnable with `deno run -A --no-config dist/rig.js …`.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { bundleRig } from "../lib/ship/bundle.ts";
import { RigError } from "../lib/errors.ts";

const ROOT = path.resolve(import.meta.dirname!, "..");

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: "string", default: path.join(ROOT, "dist", "rig.js") } },
  });
  const started = performance.now();
  try {
    const info = await bundleRig(ROOT, path.resolve(values.out!), {
      deno: Deno.execPath(),
      env: Deno.env.toObject(),
    });
    const kb = (info.bytes / 1024).toFixed(0);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `✓ ${path.relative(Deno.cwd(), info.file)} ${kb} KB sha256 ${info.sha256} (${seconds}s)`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof RigError)) throw error;
    console.error(`error: ${error.message}`);
    if (error.hint) console.error(`hint: ${error.hint}`);
    return error.exitCode;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
