/**
 * The registry of commands; main.ts dispatches through it. Each entry carries
 * what `rig --help` lists, and loads its command module only when that command
 * runs (or shows its own help): `rig --version`, `rig --help` and a typo's
 * suggestion never evaluate lib/ beyond the CLI layer. tests/main_test.ts checks
 * that every entry agrees with the module it loads.
 */
import type { CommandEntry } from "../lib/command.ts";

/** Every command rig has, in the order help lists them. */
export const COMMANDS: CommandEntry[] = [
  {
    name: "run",
    summary: "Start the dev environment: .env, dependencies, database, migrations, server",
    example: "rig run",
    load: async () => (await import("./run.ts")).run,
  },
  {
    name: "install",
    summary: "Set up every component (venvs, pip/uv, npm), or add packages to one",
    example: "rig install",
    load: async () => (await import("./install.ts")).install,
  },
  {
    name: "test",
    summary: "Run tests, coverage and quality checks per component (cached)",
    example: "rig test",
    load: async () => (await import("./test.ts")).test,
  },
  {
    name: "build",
    summary: "Build and validate wheels, sdists, npm tarballs and images into dist/ (cached)",
    example: "rig build",
    load: async () => (await import("./build.ts")).build,
  },
  {
    name: "release",
    summary: "Version, tag, push, publish and verify a release; roll back on any failure",
    example: "rig release patch --dry-run",
    load: async () => (await import("./release.ts")).release,
  },
  {
    name: "env",
    summary: "Generate, check and show .env files from config templates (secrets masked)",
    example: "rig env generate",
    load: async () => (await import("./env.ts")).env,
  },
  {
    name: "info",
    summary: "Show the project's components, their kinds, dependencies and tools",
    example: "rig info",
    load: async () => (await import("./info.ts")).info,
  },
  {
    name: "cache",
    summary: "Inspect and trim the task cache: stats | prune | clean | diff | show",
    example: "rig cache stats",
    load: async () => (await import("./cache.ts")).cache,
  },
  {
    name: "self",
    summary: "Commit rig into this repository (./rig launcher) or update the committed copy",
    example: "rig self install",
    load: async () => (await import("./self.ts")).self,
  },
  {
    name: "doctor",
    summary: "Check tools, versions, venv health and configuration, with the fix for each problem",
    example: "rig doctor",
    load: async () => (await import("./doctor.ts")).doctor,
  },
];
