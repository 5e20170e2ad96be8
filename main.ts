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
  type GlobalFlags,
  type Options,
  renderGlobalHelp,
  renderHelp,
  suggest,
} from "./lib/command.ts";
import { RigError, UsageError } from "./lib/errors.ts";
import { fileWriter, type Ui, type Writer } from "./lib/ui.ts";
import {
  defaultFlags,
  parseGlobal,
  safeIsTerminal,
  tempRoot,
  uiFor,
  withoutDenoNodeShim,
} from "./lib/invocation.ts";
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
  /** The caller already asked for a remembered answer and found none (the bundle's entry). */
  askedMemo: boolean;
}

/** Runs rig with `args` and returns the exit code. */
export async function main(args: string[], io: Partial<MainIo> = {}): Promise<number> {
  mark("imports");
  const env = withoutDenoNodeShim(io.env ?? Deno.env.toObject());
  const terminal = {
    stdout: io.stdout,
    stderr: io.stderr,
    tty: io.tty ?? safeIsTerminal(Deno.stderr),
    env,
  };
  let flags: GlobalFlags = defaultFlags();
  let ui = uiFor(terminal, flags);
  try {
    const parsed = parseGlobal(args);
    flags = parsed.flags;
    ui = uiFor(terminal, flags);
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
    const { findRoot, requireProjectFolder } = await import("./lib/project/root.ts");
    requireProjectFolder(cwd);
    // Secrets of the caller's environment (tokens, keys) never appear in rig's output.
    ui.addRedaction((await import("./lib/env/redact.ts")).environmentMasker(env));
    const root = findRoot(cwd);
    const question = { root, args, cwd, env, flags, ui, entry: io.entry ?? import.meta.url };
    // A command whose answer can be remembered (lib/task/decision_memo.ts) replays it
    // while nothing it read has changed, without loading the command at all.
    const replayer = entry.replayer;
    const answers = replayer ? await import("./lib/answer.ts") : undefined;
    const remembering = answers?.memoAllowed(question) ?? false;
    if (answers && remembering && !io.askedMemo) {
      const code = await answers.rememberedAnswer(question, replayer!, performance.now());
      if (code !== undefined) return code;
    }
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
      entry: question.entry,
      commands: COMMANDS,
    };
    // Children never outlive rig: reap what a rig that died here left running,
    // then record what this one starts (see lib/proc_registry.ts).
    // Loaded here, not at the top: --version and --help never need it.
    const { describeReap, ProcRegistry, reapOrphans } = await import("./lib/proc_registry.ts");
    const tmp = tempRoot(env);
    const reaped = describeReap(await reapOrphans(root, { tmp }));
    if (reaped) ui.warn(reaped);
    const registry = new ProcRegistry(root, tmp, args);
    if (entry.name !== "self") await noticeOlderCommittedRig(cwd, env, ui);
    mark("redaction, process registry, notices");
    try {
      const memo = answers && remembering ? await answers.memoFor(question) : undefined;
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
  const { noticeOptions, olderCommittedRigNotice } = await import("./lib/ship/launcher_notice.ts");
  const notice = await olderCommittedRigNotice(cwd, noticeOptions(env));
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

if (import.meta.main) {
  Deno.exit(
    await main(Deno.args, { stdout: fileWriter(Deno.stdout), stderr: fileWriter(Deno.stderr) }),
  );
}
