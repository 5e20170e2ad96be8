/**
 * rig's entry point: parse the global flags, dispatch to a command, and turn
 * its result or error into output and an exit code. Nothing else exits.
 */
// First import: its evaluation is the "entry" mark of RIG_TRACE=1.
import { mark, renderTrace } from "./lib/trace.ts";
import * as path from "./lib/path.ts";
import { COMMANDS } from "./commands/mod.ts";
import {
  type Command,
  type CommandEntry,
  type Context,
  GLOBAL_OPTIONS,
  type GlobalFlags,
  type Options,
  renderGlobalHelp,
  renderHelp,
  suggest,
} from "./lib/command.ts";
import { RigError, UsageError } from "./lib/errors.ts";
import { fileWriter, Ui, type Writer } from "./lib/ui.ts";
import { RIG_VERSION } from "./lib/version.ts";

/** The outside world main() talks to; tests pass their own. */
export interface MainIo {
  stdout: Writer;
  stderr: Writer;
  env: Record<string, string>;
  cwd: string;
  /** Draw live progress (stderr is a terminal). */
  tty: boolean;
  /** Someone can answer questions on stdin. */
  interactive: boolean;
  /** Reads one line of input (for confirmations). */
  readLine: () => Promise<string | null>;
  signal?: AbortSignal;
  /** The module rig runs from (default: this one; a bundle's or a binary's when it is one). */
  entry: string;
}

/** Runs rig with `args` and returns the exit code. */
export async function main(args: string[], io: Partial<MainIo> = {}): Promise<number> {
  mark("imports");
  const env = withoutDenoNodeShim(io.env ?? Deno.env.toObject());
  const tty = io.tty ?? safeIsTerminal(Deno.stderr);
  const color = tty && !("NO_COLOR" in env) && env.TERM !== "dumb";
  let flags: GlobalFlags = {
    verbose: false,
    quiet: false,
    json: false,
    noCache: false,
    yes: false,
  };
  let ui = new Ui({ stdout: io.stdout, stderr: io.stderr, color, tty });
  try {
    const parsed = parseGlobal(args);
    flags = parsed.flags;
    ui = new Ui({
      stdout: io.stdout,
      stderr: io.stderr,
      color,
      tty: tty && !flags.json,
      verbose: flags.verbose,
      quiet: flags.quiet || flags.json,
      json: flags.json,
    });
    if (parsed.version) {
      ui.stdout.write(`rig ${RIG_VERSION}\n`);
      return 0;
    }
    if (!parsed.command) {
      ui.stdout.write(renderGlobalHelp(ui, COMMANDS) + "\n");
      return parsed.help ? 0 : 2;
    }
    const entry = findCommand(parsed.command);
    const cwd = path.resolve(io.cwd ?? Deno.cwd(), parsed.cwd ?? ".");
    if (parsed.help) {
      const command = await entry.load();
      ui.stdout.write(renderHelp(command, ui, await projectOptions(command, cwd)) + "\n");
      return 0;
    }
    // Secrets of the caller's environment (tokens, keys) never appear in rig's output.
    const { createMasker, environmentSecrets } = await import("./lib/env/redact.ts");
    ui.addRedaction(createMasker(environmentSecrets(env)));
    const controller = new AbortController();
    io.signal?.addEventListener("abort", () => controller.abort(), { once: true });
    const stopSignals = io.signal ? () => {} : listenForSignals(controller);
    const ctx: Context = {
      cwd,
      env,
      ui,
      flags,
      signal: controller.signal,
      confirm: (question) =>
        confirm(question, flags.yes, io.interactive ?? safeIsTerminal(Deno.stdin), ui, io.readLine),
      entry: io.entry ?? import.meta.url,
      commands: COMMANDS,
    };
    // Children never outlive rig: reap what a rig that died here left running,
    // then record what this one starts (see lib/proc_registry.ts).
    const { findRoot } = await import("./lib/project/root.ts");
    // Loaded here, not at the top: --version and --help never need it.
    const { describeReap, ProcRegistry, reapOrphans } = await import("./lib/proc_registry.ts");
    const root = findRoot(cwd);
    const tmp = tempRoot(env);
    const reaped = describeReap(await reapOrphans(root, { tmp }));
    if (reaped) ui.warn(reaped);
    const registry = new ProcRegistry(root, tmp, args);
    if (entry.name !== "self") await noticeOlderCommittedRig(cwd, env, ui);
    mark("redaction, process registry, notices");
    try {
      // A command whose answer can be remembered (lib/task/decision_memo.ts) replays it
      // while nothing it read has changed, without loading the command at all.
      const replayer = entry.replayer;
      const memo = replayer && !flags.noCache && !env.RIG_NO_MEMO
        ? await (await import("./lib/task/decision_memo.ts")).DecisionMemo.of({
          root,
          args,
          cwd,
          env,
          mode: {
            tty: ui.tty,
            color: ui.color,
            json: ui.json,
            verbose: ui.verbose,
            quiet: ui.quiet,
          },
          entry: ctx.entry,
        })
        : undefined;
      if (memo) {
        const code = await memo.replay(ui, replayer!, performance.now());
        if (code !== undefined) return code;
      }
      const command = await entry.load();
      mark(`command "${command.name}" loaded`);
      return await registry.run(() =>
        memo
          ? memo.record(ui, replayer!, (remember) => command.run({ ...ctx, remember }, parsed.rest))
          : command.run(ctx, parsed.rest)
      );
    } finally {
      registry.close();
      stopSignals();
    }
  } catch (error) {
    return report(error, ui, flags);
  } finally {
    ui.close();
    if (env.RIG_TRACE) {
      mark("done");
      ui.stderr.write(`${renderTrace()}\n`);
    }
  }
}

interface GlobalParse {
  flags: GlobalFlags;
  cwd?: string;
  help: boolean;
  version: boolean;
  command?: string;
  rest: string[];
}

/** Takes the global flags from anywhere before `--`; the first other word is the command. */
function parseGlobal(args: string[]): GlobalParse {
  const flags: GlobalFlags = {
    verbose: false,
    quiet: false,
    json: false,
    noCache: false,
    yes: false,
  };
  const result: GlobalParse = { flags, help: false, version: false, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      result.rest.push(...args.slice(i));
      break;
    }
    const [name, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    switch (name) {
      case "-C":
      case "--cwd": {
        const value = inline ?? args[++i];
        if (value === undefined || value === "") {
          throw new UsageError(
            `Option "${name}" needs a folder`,
            "Example: rig -C examples/authserver info",
          );
        }
        result.cwd = value;
        continue;
      }
      case "-v":
      case "--verbose":
        flags.verbose = true;
        continue;
      case "-q":
      case "--quiet":
        flags.quiet = true;
        continue;
      case "--json":
        flags.json = true;
        continue;
      case "--no-cache":
        flags.noCache = true;
        continue;
      case "-y":
      case "--yes":
        flags.yes = true;
        continue;
      case "-h":
      case "--help":
        result.help = true;
        continue;
      case "--version":
        if (!result.command) {
          result.version = true;
          continue;
        }
    }
    if (!result.command && !arg.startsWith("-")) {
      result.command = arg;
    } else if (!result.command) {
      const guess = suggest(name, [...globalFlagNames(), "--version"]);
      throw new UsageError(
        `Unknown option "${arg}"`,
        guess ? `Did you mean "${guess}"? Run: rig --help` : "Run: rig --help",
      );
    } else {
      result.rest.push(arg);
    }
  }
  if (flags.verbose && flags.quiet) {
    throw new UsageError(`Options "--verbose" and "--quiet" cannot be used together`);
  }
  return result;
}

function globalFlagNames(): string[] {
  return Object.entries(GLOBAL_OPTIONS).flatMap((
    [n, s],
  ) => [`--${n}`, ...(s.short ? [`-${s.short}`] : [])]);
}

function findCommand(name: string): CommandEntry {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  const guess = suggest(name, COMMANDS.map((c) => c.name));
  throw new UsageError(
    `Unknown command "${name}"`,
    guess ? `Did you mean "rig ${guess}"? Run: rig --help` : "Run: rig --help",
  );
}

/** A command's per-project flags for its help page; none outside a project. */
async function projectOptions(command: Command, cwd: string): Promise<Options> {
  if (!command.projectOptions) return {};
  try {
    // Only help pages need the project model here; a static import would load it for --version.
    const { loadProject } = await import("./lib/project/load_project.ts");
    return command.projectOptions(await loadProject(cwd));
  } catch {
    return {};
  }
}

/** Warns once when the project's committed rig (./rig, .rig-tool) is older than this one. */
async function noticeOlderCommittedRig(cwd: string, env: Record<string, string>, ui: Ui) {
  const { olderCommittedRigNotice } = await import("./lib/ship/launcher_notice.ts");
  const { userCacheDir } = await import("./lib/cache_paths.ts");
  const notice = await olderCommittedRigNotice(cwd, {
    version: RIG_VERSION,
    launcherVersion: env.RIG_LAUNCHER_VERSION,
    stateFile: path.join(userCacheDir(env, Deno.build.os), "notices.json"),
  });
  if (notice) ui.warn(notice.message, notice.hint);
}

/** Prints an error and returns its exit code; the only place errors become output. */
export function report(
  error: unknown,
  ui: Ui,
  flags: Pick<GlobalFlags, "verbose" | "json">,
): number {
  if (error instanceof RigError) {
    ui.error(error.message, error.hint);
    if (flags.verbose) {
      ui.stderr.write(`${error.stack ?? ""}\n`);
      let cause = error.cause;
      while (cause) {
        ui.stderr.write(`caused by: ${cause instanceof Error ? cause.stack : String(cause)}\n`);
        cause = cause instanceof Error ? cause.cause : undefined;
      }
    }
    if (flags.json) {
      ui.result({
        ok: false,
        error: { message: error.message, hint: error.hint ?? null, exitCode: error.exitCode },
      });
    }
    return error.exitCode;
  }
  const stack = error instanceof Error ? error.stack ?? error.message : String(error);
  ui.error(`Unexpected error (this is a bug in rig, please report it):\n${stack}`);
  if (flags.json) ui.result({ ok: false, error: { message: String(error), exitCode: 1 } });
  return 1;
}

async function confirm(
  question: string,
  yes: boolean,
  interactive: boolean,
  ui: Ui,
  readLine?: () => Promise<string | null>,
): Promise<boolean> {
  if (yes) return true;
  if (!interactive) {
    ui.warn(`${question} — no answer possible without a terminal`, "Pass -y to answer yes");
    return false;
  }
  ui.stderr.write(`${question} [y/N] `);
  const answer = await (readLine ?? readStdinLine)();
  return /^y(es)?$/i.test((answer ?? "").trim());
}

async function readStdinLine(): Promise<string | null> {
  const buffer = new Uint8Array(1024);
  let text = "";
  while (!text.includes("\n")) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) return text || null;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text.split("\n")[0]!;
}

/** Turns Ctrl-C, SIGTERM and a closed terminal into an abort of the running command. */
function listenForSignals(controller: AbortController): () => void {
  if (Deno.build.os === "windows") {
    const onInt = () => controller.abort();
    Deno.addSignalListener("SIGINT", onInt);
    return () => Deno.removeSignalListener("SIGINT", onInt);
  }
  // Children run in their own process groups, so a closed terminal (SIGHUP)
  // reaches only rig: it must stop them like Ctrl-C does.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = () => controller.abort();
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  };
}

/**
 * Deno puts a `node` of its own (…/deno/node_compat_bin) on PATH when none is
 * installed. rig must see the machine as it is: a project's Node.js tools need
 * the real node, so that entry is removed.
 */
export function withoutDenoNodeShim(env: Record<string, string>): Record<string, string> {
  const key = Object.keys(env).find((k) => k.toUpperCase() === "PATH");
  if (!key) return env;
  const separator = Deno.build.os === "windows" ? ";" : ":";
  const entries = env[key]!.split(separator);
  const kept = entries.filter((entry) => !/[\\/]node_compat_bin[\\/]?$/.test(entry));
  return kept.length === entries.length ? env : { ...env, [key]: kept.join(separator) };
}

/** The system temp folder as the environment names it (where rig's temp folders go). */
function tempRoot(env: Record<string, string>): string {
  if (Deno.build.os === "windows") return env.TEMP || env.TMP || "C:\\Windows\\Temp";
  return env.TMPDIR || "/tmp";
}

function safeIsTerminal(file: { isTerminal(): boolean }): boolean {
  try {
    return file.isTerminal();
  } catch {
    return false;
  }
}

if (import.meta.main) {
  Deno.exit(
    await main(Deno.args, { stdout: fileWriter(Deno.stdout), stderr: fileWriter(Deno.stderr) }),
  );
}
