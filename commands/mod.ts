/**
 * The registry of commands; main.ts dispatches through it. Each entry carries
 * what `rig --help` lists, and loads its command module only when that command
 * runs (or shows its own help): `rig --version`, `rig --help` and a typo's
 * suggestion never evaluate lib/ beyond the CLI layer. Every module is named by
 * a literal dynamic import, so bundles still carry it. tests/main_test.ts checks
 * that every entry agrees with the module it loads. An entry with a replayer
 * (commands/replayers.ts) shows a remembered answer (lib/task/decision_memo.ts) without loading its command.
 */
import type { Command, CommandEntry } from "../lib/command.ts";
import { REPLAYERS } from "./replayers.ts";

/** Each command's one-line summary, the same as its module's, in the order help lists them. */
const SUMMARIES = {
  run: "Start the dev environment: .env, dependencies, database, migrations, server",
  install: "Set up every component (venvs, pip/uv, npm), or add packages to one",
  test: "Run tests, coverage and quality checks per component (cached)",
  build: "Build and validate wheels, sdists, npm tarballs and images into dist/ (cached)",
  release: "Version, tag, push, publish and verify a release; roll back on any failure",
  env: "Generate, check and show .env files from config templates (secrets masked)",
  info: "Show the project's components, their kinds, dependencies and tools",
  cache: "Inspect and trim the task cache: stats | prune | clean | diff | show",
  self: "Commit rig into this repository (./rig launcher) or update the committed copy",
  doctor: "Check tools, versions, venv health and configuration, with the fix for each problem",
};

/** A registry entry: `load` imports the command's module, which exports the command by its name. */
function entry<N extends keyof typeof SUMMARIES>(
  name: N,
  example: string,
  load: () => Promise<Record<N, Command>>,
): CommandEntry {
  const replayer = REPLAYERS[name];
  return {
    name,
    summary: SUMMARIES[name],
    example,
    load: async () => (await load())[name],
    ...(replayer ? { replayer } : {}),
  };
}

/** Every command rig has, in the order help lists them, each with its first example. */
export const COMMANDS: CommandEntry[] = [
  entry("run", "rig run", () => import("./run.ts")),
  entry("install", "rig install", () => import("./install.ts")),
  entry("test", "rig test", () => import("./test.ts")),
  entry("build", "rig build", () => import("./build.ts")),
  entry("release", "rig release patch --dry-run", () => import("./release.ts")),
  entry("env", "rig env generate", () => import("./env.ts")),
  entry("info", "rig info", () => import("./info.ts")),
  entry("cache", "rig cache stats", () => import("./cache.ts")),
  entry("self", "rig self install", () => import("./self.ts")),
  entry("doctor", "rig doctor", () => import("./doctor.ts")),
];
