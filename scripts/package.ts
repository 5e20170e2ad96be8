/**
 * `deno task package`: the npm package (dist/rig-cli-<version>.tgz, via npm
 * pack) and the wheel (dist/rig_cli-<version>-py3-none-any.whl), both around
 * a fresh bundle (dist/rig.js).
 */
import * as path from "node:path";
import { bundleRig } from "../lib/ship/bundle.ts";
import { writeNpmPackage, writeWheel } from "../lib/ship/packages.ts";
import { runChecked } from "../lib/proc.ts";
import { RigError } from "../lib/errors.ts";

const ROOT = path.resolve(import.meta.dirname!, "..");

/** Builds both packages into `dist`; returns their paths. */
export async function buildPackages(dist: string): Promise<{ npm: string; wheel: string }> {
  const env = Deno.env.toObject();
  const info = await bundleRig(ROOT, path.join(dist, "rig.js"), { deno: Deno.execPath(), env });
  const bundle = await Deno.readTextFile(info.file);
  const staging = path.join(dist, "npm");
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await writeNpmPackage(staging, bundle);
  const packed = await runChecked(
    ["npm", "pack", "--json", "--pack-destination", dist, "--loglevel=error"],
    { cwd: staging, env },
  );
  const npm = path.join(dist, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  const wheel = await writeWheel(dist, bundle);
  return { npm, wheel };
}

if (import.meta.main) {
  try {
    const { npm, wheel } = await buildPackages(path.join(ROOT, "dist"));
    console.log(`✓ ${path.relative(Deno.cwd(), npm)}\n✓ ${path.relative(Deno.cwd(), wheel)}`);
  } catch (error) {
    if (!(error instanceof RigError)) throw error;
    console.error(`error: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ""}`);
    Deno.exit(error.exitCode);
  }
}
