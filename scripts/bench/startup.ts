/**
 * Bench section "startup": where the time of `rig --version`, `rig --help`
 * and a fully cached `rig test` goes. Deno's own floor (`deno --version`, an
 * empty script) beside rig from source (main.ts) and as the bundle (with and
 * without V8's code cache), the RIG_TRACE=1 marks of a cached run (entry,
 * imports, the decision memo's replay), the same with the memo off
 * (RIG_NO_MEMO=1: command loaded, project model, keys, done), and the
 * committed launcher's overhead over running the bundle directly.
 */
import * as path from "node:path";
import type { BenchSection } from "./section.ts";
import { bundleRig } from "../../lib/ship/bundle.ts";
import { writeCommittedRig } from "../../lib/ship/committed.ts";
import { COMMANDS } from "../../commands/mod.ts";
import { launcherHelp } from "../../commands/self.ts";
import { cachedReferenceProject, MAIN, rigArgv } from "./reference.ts";
import { benchEnv, ms, settle, timeCases, type TimedCase, traceBreakdown } from "./timing.ts";

const RUNS = 10;

/** The "startup" bench section. */
export const startupSection: BenchSection = {
  name: "startup",
  description:
    "rig --version, --help and a cached rig test: main.ts vs bundle, and where time goes",
  async run({ tmp, log }) {
    const bundle = path.join(tmp, "rig.js");
    const info = await bundleRig(path.dirname(MAIN), bundle, {
      deno: Deno.execPath(),
      env: benchEnv(),
    });
    log(`bundle: ${(info.bytes / 1024).toFixed(0)} KB`);
    const empty = path.join(tmp, "empty.js");
    await Deno.writeTextFile(empty, "");
    const root = await cachedReferenceProject(path.join(tmp, "authserver"));
    const noCodeCache = ["--no-code-cache"];
    const cases: TimedCase[] = [
      { label: "deno --version", argv: [Deno.execPath(), "--version"] },
      { label: "deno run (empty file)", argv: rigArgv(empty, []) },
      { label: "rig --version (main.ts)", argv: rigArgv(MAIN, ["--version"]) },
      { label: "rig --version (bundle)", argv: rigArgv(bundle, ["--version"]) },
      {
        label: "rig --version (bundle, no code cache)",
        argv: rigArgv(bundle, ["--version"], noCodeCache),
      },
      { label: "rig --help (main.ts)", argv: rigArgv(MAIN, ["--help"]) },
      { label: "rig --help (bundle)", argv: rigArgv(bundle, ["--help"]) },
      { label: "cached rig test (main.ts)", argv: rigArgv(MAIN, ["-C", root, "test"]) },
      { label: "cached rig test (bundle)", argv: rigArgv(bundle, ["-C", root, "test"]) },
      {
        label: "cached rig test (bundle, no code cache)",
        argv: rigArgv(bundle, ["-C", root, "test"], noCodeCache),
      },
      {
        label: "cached rig test (bundle, RIG_NO_MEMO=1)",
        argv: rigArgv(bundle, ["-C", root, "test"]),
        env: benchEnv({ RIG_NO_MEMO: "1" }),
      },
    ];
    await settle(cases.filter((c) => c.label.startsWith("cached rig test")));
    const timings = await timeCases(cases, RUNS);
    const width = Math.max(...timings.map((t) => t.label.length));
    log(`medians of ${RUNS} interleaved runs (min in brackets):`);
    for (const t of timings) {
      log(`  ${t.label.padEnd(width)}  ${ms(t.median).padStart(9)}  (${ms(t.min)})`);
    }
    const env = benchEnv({ RIG_TRACE: "1" });
    // The committed launcher (rig self install) in a folder of its own (so the project's
    // files stay as committed), against the bundle it runs.
    const home = path.join(tmp, "launcher");
    await writeCommittedRig(home, {
      bundle: await Deno.readTextFile(bundle),
      help: launcherHelp(COMMANDS),
    });
    // As on a real machine, the committed copy is older than the runs that use it.
    await settle();
    const launcherRig = path.join(home, "rig");
    const committed = path.join(home, ".rig-tool", "rig.js");
    const launcher = await timeCases([
      { label: "./rig --help (launcher)", argv: [launcherRig, "--help"] },
      { label: "deno run .rig-tool/rig.js --help", argv: rigArgv(committed, ["--help"]) },
      { label: "./rig test (launcher, cached)", argv: [launcherRig, "-C", root, "test"] },
      { label: "deno run .rig-tool/rig.js test", argv: rigArgv(committed, ["-C", root, "test"]) },
      { label: "./rig --version (launcher)", argv: [launcherRig, "--version"] },
    ], RUNS);
    for (const t of launcher) {
      log(`  ${t.label.padEnd(width)}  ${ms(t.median).padStart(9)}  (${ms(t.min)})`);
    }
    const [help, , test, testDirect, version] = launcher.map((t) => t.median) as number[];
    log(
      `launcher overhead over running the bundle directly: ${ms(test! - testDirect!)} ` +
        `(cached test); goal ≤ 5 ms. ./rig --help (${ms(help!)}; goal ≤ 20 ms) and --version ` +
        `(${ms(version!)}; goal ≤ 15 ms) answer from the launcher itself, without starting Deno`,
    );
    const traced = await timeCases([
      { label: "main.ts", argv: rigArgv(MAIN, ["-C", root, "test"]), env },
      { label: "bundle", argv: rigArgv(bundle, ["-C", root, "test"]), env },
      {
        label: "bundle, RIG_NO_MEMO=1: the whole decision",
        argv: rigArgv(bundle, ["-C", root, "test"]),
        env: benchEnv({ RIG_TRACE: "1", RIG_NO_MEMO: "1" }),
      },
    ], RUNS);
    for (const t of traced) {
      log(`where a cached rig test's time goes (${t.label}, RIG_TRACE=1, median of ${RUNS}):`);
      for (const line of traceBreakdown(t.stderrs)) log(`  ${line}`);
      log(`  ${ms(t.median).padStart(9)}  whole process, as the shell sees it`);
    }
  },
};
