/**
 * `deno task bench [SECTION...]`: runs named benchmark sections in sequence
 * and prints their timings. Add a section by writing a module in
 * scripts/bench/ that exports a `BenchSection` (scripts/bench/section.ts) and listing it in `SECTIONS`.
 */
import { buildSection } from "./bench/build.ts";
import { fingerprintSection } from "./bench/fingerprint.ts";
import { installSection } from "./bench/install.ts";
import { peersSection } from "./bench/peers.ts";
import { startupSection } from "./bench/startup.ts";
import { testSection } from "./bench/test.ts";
import type { BenchSection } from "./bench/section.ts";

/** Every benchmark section, run in this order. */
export const SECTIONS: BenchSection[] = [
  fingerprintSection,
  buildSection,
  testSection,
  installSection,
  startupSection,
  peersSection,
];

/** Runs the sections whose names are given (all when none are); returns the exit code. */
export async function runBench(args: string[], sections = SECTIONS): Promise<number> {
  const unknown = args.filter((a) => !sections.some((s) => s.name === a));
  if (unknown.length) {
    console.error(
      `Unknown bench section "${unknown[0]}": choose from ${
        sections.map((s) => s.name).join(", ")
      }`,
    );
    return 2;
  }
  const chosen = args.length ? sections.filter((s) => args.includes(s.name)) : sections;
  for (const section of chosen) {
    console.log(`## ${section.name}: ${section.description}`);
    const tmp = await Deno.makeTempDir({ prefix: `rig-bench-${section.name}-` });
    const started = performance.now();
    try {
      await section.run({ tmp, log: (line) => console.log(`  ${line}`) });
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    console.log(`  (section took ${((performance.now() - started) / 1000).toFixed(1)}s)\n`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await runBench(Deno.args));
