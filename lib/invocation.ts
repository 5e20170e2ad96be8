/**
 * What one command line asks before any command loads: the global flags, the
 * output mode they make, and the environment as rig sees it. Shared by main.ts
 * and the bundle's entry (bundle_main.ts), which answers a
 * remembered question without loading the rest of rig.
 */
import { GLOBAL_OPTIONS, type GlobalFlags, suggest } from "./command.ts";
import { UsageError } from "./errors.ts";
import { Ui, type Writer } from "./ui.ts";

/** The global flags when none is given. */
export function defaultFlags(): GlobalFlags {
  return { verbose: false, quiet: false, json: false, noCache: false, yes: false };
}

/** Where output goes and whether it is a terminal. */
export interface Terminal {
  stdout?: Writer;
  stderr?: Writer;
  /** stderr is a terminal: draw live progress. */
  tty: boolean;
  /** The environment (NO_COLOR, TERM=dumb turn colours off). */
  env: Record<string, string>;
}

/** The Ui a command line's flags ask for (--json: results only on stdout, no progress). */
export function uiFor(terminal: Terminal, flags: GlobalFlags): Ui {
  const color = terminal.tty && !("NO_COLOR" in terminal.env) && terminal.env.TERM !== "dumb";
  return new Ui({
    stdout: terminal.stdout,
    stderr: terminal.stderr,
    color,
    tty: terminal.tty && !flags.json,
    verbose: flags.verbose,
    quiet: flags.quiet || flags.json,
    json: flags.json,
  });
}

/** What the global flags of one command line say. */
export interface GlobalParse {
  flags: GlobalFlags;
  cwd?: string;
  help: boolean;
  version: boolean;
  command?: string;
  rest: string[];
}

/** Takes the global flags from anywhere before `--`; the first other word is the command. */
export function parseGlobal(args: string[]): GlobalParse {
  const flags = defaultFlags();
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
export function tempRoot(env: Record<string, string>): string {
  if (Deno.build.os === "windows") return env.TEMP || env.TMP || "C:\\Windows\\Temp";
  return env.TMPDIR || "/tmp";
}

/** Whether a file is a terminal; false when Deno cannot tell (a closed descriptor). */
export function safeIsTerminal(file: { isTerminal(): boolean }): boolean {
  try {
    return file.isTerminal();
  } catch {
    return false;
  }
}
