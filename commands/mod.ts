/** The registry of commands; main.ts dispatches through it. */
import type { Command } from "../lib/command.ts";
import { build } from "./build.ts";
import { cache } from "./cache.ts";
import { doctor } from "./doctor.ts";
import { env } from "./env.ts";
import { info } from "./info.ts";
import { install } from "./install.ts";
import { run } from "./run.ts";
import { test } from "./test.ts";

/** Every command rig has, in the order help lists them. */
export const COMMANDS: Command[] = [run, install, test, build, env, info, cache, doctor];
