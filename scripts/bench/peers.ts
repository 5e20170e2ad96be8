/**
 * Bench section "peers": Turborepo, installed from npm into the same git copy
 * of examples/authserver (committed files only; node_modules, .turbo and .rig
 * git-ignored), with a turbo.json wiring the three components' test commands.
 * Timed in one run, interleaved: Turborepo's cached re-run vs rig's cached
 * `rig test` (five tasks and their checks), both `--version`s, and what 10,000
 * more committed files add to each cached run.
 */
import * as path from "node:path";
import type { BenchSection } from "./section.ts";
import { bundleRig } from "../../lib/ship/bundle.ts";
import { writeCommittedRig } from "../../lib/ship/committed.ts";
import { COMMANDS } from "../../commands/mod.ts";
import { launcherHelp } from "../../commands/self.ts";
import { addCommittedFiles, cachedReferenceProject, MAIN, rigArgv } from "./reference.ts";
import { benchEnv, ms, settle, timeCases, type TimedCase, timeOnce } from "./timing.ts";

const RUNS = 10;

/** The three test commands Turborepo runs, one per component, as root scripts. */
const TURBO_TASKS: Record<string, { dir: string; command: string }> = {
  "test:server": { dir: "server", command: "cd server && .venv/bin/python -m pytest -q" },
  "test:python-client": {
    dir: "clients/python",
    command: "cd clients/python && .venv/bin/python -m pytest -q",
  },
  "test:js-client": { dir: "clients/js", command: "cd clients/js && npm test" },
};

/** Writes package.json (turbo as a dev dependency) and turbo.json, then installs turbo. */
async function prepareTurbo(root: string): Promise<void> {
  const manifest = {
    name: "authserver-bench",
    private: true,
    packageManager: "npm@10.0.0",
    scripts: Object.fromEntries(Object.entries(TURBO_TASKS).map(([n, t]) => [n, t.command])),
    devDependencies: { turbo: "^2" },
  };
  await Deno.writeTextFile(path.join(root, "package.json"), JSON.stringify(manifest, null, 2));
  // $TURBO_DEFAULT$ is the git-tracked files (explicit globs would take in ignored ones such
  // as .venv): each task keeps its component's folder by excluding the other components'.
  const dirs = Object.values(TURBO_TASKS).map((t) => t.dir);
  const tasks = Object.fromEntries(
    Object.entries(TURBO_TASKS).map(([name, t]) => [name, {
      inputs: ["$TURBO_DEFAULT$", ...dirs.filter((d) => d !== t.dir).map((d) => `!${d}/**`)],
      outputs: [],
    }]),
  );
  await Deno.writeTextFile(
    path.join(root, "turbo.json"),
    JSON.stringify({ $schema: "https://turborepo.com/schema.json", tasks }, null, 2),
  );
  await Deno.writeTextFile(
    path.join(root, ".gitignore"),
    `${await Deno.readTextFile(path.join(root, ".gitignore")).catch(() => "")}\n.turbo/\n`,
  );
  await timeOnce({
    label: "npm install turbo",
    argv: ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
    cwd: root,
    env: benchEnv(),
  });
}

/** turbo's native binary (node_modules/.bin/turbo is a node script that starts it). */
function turboBinary(root: string): string {
  const scope = path.join(root, "node_modules", "@turbo");
  for (const entry of safeReadDir(scope)) {
    const bin = path.join(scope, entry, "bin", "turbo");
    try {
      if (Deno.statSync(bin).isFile) return bin;
    } catch {
      // Not this platform's package.
    }
  }
  return path.join(root, "node_modules", ".bin", "turbo");
}

function safeReadDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

function turboEnv(): Record<string, string> {
  return benchEnv({
    TURBO_TELEMETRY_DISABLED: "1",
    TURBO_NO_UPDATE_NOTIFIER: "1",
    DO_NOT_TRACK: "1",
  });
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** The "peers" bench section. */
export const peersSection: BenchSection = {
  name: "peers",
  description:
    "Turborepo vs rig on one git copy of examples/authserver: cached run, --version, +10,000 files",
  async run({ tmp, log }) {
    const root = await cachedReferenceProject(path.join(tmp, "authserver"), {
      prepare: prepareTurbo,
    });
    const bundle = path.join(tmp, "rig.js");
    await bundleRig(path.dirname(MAIN), bundle, { deno: Deno.execPath(), env: benchEnv() });
    // The committed launcher (rig self install) in a folder of its own, as a project ships rig.
    const home = path.join(tmp, "launcher");
    await writeCommittedRig(home, {
      bundle: await Deno.readTextFile(bundle),
      help: launcherHelp(COMMANDS),
    });
    const launcher = path.join(home, "rig");
    const turbo = turboBinary(root);
    const env = turboEnv();
    const turboRun = [turbo, "run", ...Object.keys(TURBO_TASKS)];
    const version = await timeOnce({ label: "turbo", argv: [turbo, "--version"], env });
    log(`turbo ${(await turboVersion(turbo, env)) ?? "?"} (${ms(version.ms)} for its first start)`);
    await timeOnce({ label: "turbo warm-up", argv: turboRun, cwd: root, env });

    const cachedCases = (): TimedCase[] => [
      { label: "Turborepo cached run (3 tasks)", argv: turboRun, cwd: root, env },
      { label: "rig test cached (main.ts)", argv: rigArgv(MAIN, ["-C", root, "test"]) },
      { label: "rig test cached (bundle)", argv: rigArgv(bundle, ["-C", root, "test"]) },
      {
        label: "rig test cached (bundle, RIG_NO_MEMO=1)",
        argv: rigArgv(bundle, ["-C", root, "test"]),
        env: benchEnv({ RIG_NO_MEMO: "1" }),
      },
      { label: "rig test cached (./rig launcher)", argv: [launcher, "-C", root, "test"] },
    ];
    // Turborepo needs no settling; rig's memos are written once what they read has settled.
    await settle(cachedCases().slice(1));
    const timings = await timeCases([
      ...cachedCases(),
      { label: "turbo --version", argv: [turbo, "--version"], env },
      { label: "rig --version (main.ts)", argv: rigArgv(MAIN, ["--version"]) },
      { label: "rig --version (bundle)", argv: rigArgv(bundle, ["--version"]) },
      { label: "rig --version (./rig launcher)", argv: [launcher, "--version"] },
      { label: "turbo --help", argv: [turbo, "--help"], env },
      { label: "rig --help (./rig launcher)", argv: [launcher, "--help"] },
    ], RUNS);
    const width = Math.max(...timings.map((t) => t.label.length));
    log(`medians of ${RUNS} interleaved runs (min in brackets):`);
    for (const t of timings) {
      log(`  ${t.label.padEnd(width)}  ${ms(t.median).padStart(9)}  (${ms(t.min)})`);
    }
    const median = (label: string) => timings.find((t) => t.label === label)!.median;
    const turboCached = median("Turborepo cached run (3 tasks)");
    const cached = (how: string) => ratio(median(`rig test cached (${how})`), turboCached);
    log(
      `cached: rig/Turborepo = ${cached("main.ts")} (main.ts), ${cached("bundle")} (bundle), ` +
        `${cached("./rig launcher")} (./rig launcher), ${
          cached("bundle, RIG_NO_MEMO=1")
        } (bundle, whole decision); goal ≤ 1.5×`,
    );
    const turboVersionRun = median("turbo --version");
    const rigVersion = (how: string) => median(`rig --version (${how})`);
    log(
      `--version: rig/turbo = ${ratio(rigVersion("main.ts"), turboVersionRun)} (main.ts), ${
        ratio(rigVersion("bundle"), turboVersionRun)
      } (bundle), ${ratio(rigVersion("./rig launcher"), turboVersionRun)} (./rig launcher, ${
        ms(rigVersion("./rig launcher"))
      }); goal rig ≤ 15 ms`,
    );
    log(
      `--help: ./rig launcher ${ms(median("rig --help (./rig launcher)"))}, turbo ${
        ms(median("turbo --help"))
      }; goal rig ≤ 20 ms`,
    );

    await addCommittedFiles(root, 10_000);
    await timeOnce({ label: "rig after +10,000", argv: rigArgv(MAIN, ["-C", root, "test"]) });
    await timeOnce({ label: "turbo after +10,000", argv: turboRun, cwd: root, env });
    await settle(cachedCases().slice(1));
    const more = await timeCases(cachedCases(), RUNS);
    log(`with 10,000 more committed files (medians of ${RUNS}):`);
    for (const [i, t] of more.entries()) {
      const before = timings[i]!.median;
      log(
        `  ${t.label.padEnd(width)}  ${ms(t.median).padStart(9)}  (+${ms(t.median - before)})`,
      );
    }
    const turboIncrement = more[0]!.median - turboCached;
    const rigIncrement = more[2]!.median - median("rig test cached (bundle)");
    log(
      `+10,000 files: rig adds ${ms(rigIncrement)} (bundle), Turborepo ${ms(turboIncrement)}; ` +
        `goal: no worse than Turborepo's`,
    );
  },
};

async function turboVersion(
  turbo: string,
  env: Record<string, string>,
): Promise<string | undefined> {
  const out = await new Deno.Command(turbo, {
    args: ["--version"],
    env,
    clearEnv: true,
    stdout: "piped",
  })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
}
