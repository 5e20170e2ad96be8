/**
 * What a command is, what it receives, and how its flags are parsed. Commands
 * are thin: they parse their flags here and call lib/.
 */
import { FlagError, parseFlagList } from "./flags.ts";
import { UsageError } from "./errors.ts";
import type { Ui } from "./ui.ts";
import { RIG_VERSION } from "./version.ts";

/** The flags every command accepts. */
export interface GlobalFlags {
  verbose: boolean;
  quiet: boolean;
  json: boolean;
  noCache: boolean;
  yes: boolean;
}

/** Everything a command may use; nothing else is global. */
export interface Context {
  /** The directory rig was asked to work in (`-C DIR`, else the current directory). */
  cwd: string;
  /** A snapshot of the caller's environment. */
  env: Record<string, string>;
  ui: Ui;
  flags: GlobalFlags;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  /** Asks a yes/no question; true with `-y`, false when nobody can answer. */
  confirm(question: string): Promise<boolean>;
  /** The URL of the module rig runs from: main.ts, a bundle, or a compiled binary's. */
  entry: string;
  /** The commands this rig dispatches through (commands/mod.ts), for pages that list them. */
  commands: CommandEntry[];
  /**
   * Offers the command's answer to the decision memo (lib/task/decision_memo.ts),
   * as the data its registry entry's replayer shows. Set only for commands that have one.
   */
  remember?: (data: unknown) => void;
}

/** One command-line option of a command. */
export interface OptionSpec {
  type: "boolean" | "string";
  short?: string;
  multiple?: boolean;
  /** Shown in help after the flag, e.g. `REF`. */
  value?: string;
  description: string;
  /** Options that cannot be given together with this one (like clap's `conflicts_with`). */
  conflicts?: readonly string[];
  /** The option this one only works with, and the hint shown when it is missing (an example). */
  requires?: { readonly option: string; readonly hint: string };
}

/** A command's option table, keyed by long name. */
export type Options = Record<string, OptionSpec>;

/** A subcommand's name and one-line summary, for help pages. */
export interface SubcommandHelp {
  name: string;
  summary: string;
}

/**
 * What a command's per-project flags are made from: each component's name and folder. The
 * project model satisfies it; this layer needs no more of it.
 */
export interface ComponentList {
  components: readonly { name: string; path: string }[];
}

/** A rig command: its help text and its behaviour. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The usage line(s) after `rig `, e.g. `test [COMPONENT...] [options] [-- ARGS]`. */
  usage: string[];
  /** A paragraph explaining what the command does. */
  description: string;
  options: Options;
  subcommands?: SubcommandHelp[];
  /** Real, runnable examples. */
  examples: string[];
  /** Options that depend on the project (one flag per component), shown in help too. */
  projectOptions?(project: ComponentList): Options;
  /** Runs the command with its own argv (global flags already removed); returns the exit code. */
  run(ctx: Context, argv: string[]): Promise<number>;
}

/**
 * A command as the registry lists it: what `rig --help` shows, and how to load
 * the command's module (only when it runs or shows its own help page).
 */
export interface CommandEntry {
  name: string;
  /** The same one-line summary as the command's own. */
  summary: string;
  /** The command's first example, for the main help page. */
  example: string;
  load(): Promise<Command>;
  /** Loads the function that shows a remembered answer again, for commands that offer one. */
  replayer?(): Promise<Replayer>;
}

/**
 * Shows a remembered answer (`Context.remember`'s data) as the command showed
 * it: `elapsedMs` is this run's time; without it, the remembered time.
 */
export type Replayer = (ui: Ui, data: unknown, elapsedMs?: number) => void;

/** The result of parsing a command's argv. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** Everything after a literal `--`. */
  passthrough: string[];
}

/** Parses argv against an option table; unknown flags become a UsageError with a suggestion. */
export function parseFlags(command: string, options: Options, argv: string[]): ParsedArgs {
  const dashdash = argv.indexOf("--");
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const passthrough = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  try {
    const parsed = parseFlagList(own, options);
    return {
      values: parsed.values as ParsedArgs["values"],
      positionals: parsed.positionals,
      passthrough,
    };
  } catch (error) {
    if (error instanceof FlagError) throw flagError(command, options, own, error);
    throw error;
  }
}

function flagError(
  command: string,
  options: Options,
  argv: string[],
  error: FlagError,
): UsageError {
  const { problem, message } = error;
  const help = `Run: rig ${command} --help`;
  if (problem.kind === "unknown") {
    const unknown = problem.option;
    const names = Object.keys({ ...options, ...GLOBAL_OPTIONS }).map((n) => `--${n}`);
    const guess = suggest(unknown.replace(/=.*$/, ""), names);
    return new UsageError(
      `Unknown option "${unknown}" for "rig ${command}"`,
      guess ? `Did you mean "${guess}"? ${help}` : help,
    );
  }
  if (problem.kind === "missing-value") {
    return new UsageError(`Option "--${problem.name}" needs a value`, help);
  }
  if (problem.kind === "unexpected-value") {
    return new UsageError(`Option "--${problem.name}" does not take a value`, help);
  }
  return new UsageError(
    `${message.replace(/\.$/, "")} (in "rig ${command} ${argv.join(" ")}")`,
    help,
  );
}

/** A command as commands/ write it: its action receives its argv already parsed. */
export interface CommandDefinition extends Omit<Command, "run"> {
  /** Whether it takes positional arguments (subcommands included); refused when not. */
  takesArguments?: boolean;
  /** Runs the command with its parsed flags and arguments; returns the exit code. */
  action(ctx: Context, args: ParsedArgs): Promise<number>;
}

/** A command whose flags include one per component of the project it runs in. */
export interface ProjectCommandDefinition<P extends ComponentList>
  extends Omit<Command, "run" | "projectOptions"> {
  projectOptions(project: ComponentList): Options;
  /** Loads the project the command runs in (lib/project's loadProject; this layer has none). */
  loadProject(cwd: string): Promise<P>;
  /** Whether it takes arguments after `--`; refused when not. */
  takesPassthrough?: boolean;
  /** Runs the command in its project with its parsed flags and arguments; returns the exit code. */
  action(ctx: Context, project: P, args: ParsedArgs): Promise<number>;
}

/** The Command that parses argv against the definition's options, then runs its action. */
export function defineCommand(definition: CommandDefinition): Command {
  const { takesArguments, action, ...command } = definition;
  return {
    ...command,
    async run(ctx, argv) {
      const args = parseFlags(command.name, command.options, argv);
      if (!takesArguments) rejectPositionals(command.name, args);
      rejectMisusedOptions(command.options, args);
      return await action(ctx, args);
    },
  };
}

/**
 * The Command that loads its project, parses argv against the definition's options plus the
 * project's component flags, then runs its action in that project.
 */
export function defineProjectCommand<P extends ComponentList>(
  definition: ProjectCommandDefinition<P>,
): Command {
  const { loadProject, takesPassthrough, action, ...command } = definition;
  return {
    ...command,
    async run(ctx, argv) {
      const project = await loadProject(ctx.cwd);
      const options = { ...command.options, ...command.projectOptions(project) };
      const args = parseFlags(command.name, options, argv);
      if (!takesPassthrough && args.passthrough.length) {
        throw new UsageError(
          `"rig ${command.name}" takes no arguments after "--"`,
          `Run: rig ${command.name} --help`,
        );
      }
      rejectMisusedOptions(options, args);
      return await action(ctx, project, args);
    },
  };
}

/**
 * The subcommand named by a command's first argument, and the arguments after it. A missing
 * or unknown one is a UsageError listing the subcommands or suggesting the closest; `hint`
 * replaces the default hints (an example when missing, the help page when unknown).
 */
export function subcommandOf(
  command: Command,
  args: ParsedArgs,
  hint?: string,
): [string, string[]] {
  const [sub, ...rest] = args.positionals;
  const names = (command.subcommands ?? []).map((s) => s.name);
  const help = `Run: rig ${command.name} --help`;
  if (!sub) {
    throw new UsageError(
      `"rig ${command.name}" needs a subcommand: ${names.join(", ")}`,
      hint ?? `Example: ${command.examples[0]} (run: rig ${command.name} --help)`,
    );
  }
  if (!names.includes(sub)) {
    const guess = suggest(sub, names);
    throw new UsageError(
      `Unknown subcommand "rig ${command.name} ${sub}"`,
      guess ? `Did you mean "rig ${command.name} ${guess}"?` : hint ?? help,
    );
  }
  return [sub, rest];
}

/**
 * Refuses options given against their table's `conflicts` and `requires`: every conflict
 * first, then every missing requirement, each in the table's order.
 */
export function rejectMisusedOptions(options: Options, args: ParsedArgs): void {
  const given = (name: string) => args.values[name] !== undefined && args.values[name] !== false;
  const used = Object.entries(options).filter(([name]) => given(name));
  for (const [name, spec] of used) {
    const other = spec.conflicts?.find(given);
    if (other !== undefined) {
      throw new UsageError(`Options "--${name}" and "--${other}" cannot be used together`);
    }
  }
  for (const [name, { requires }] of used) {
    if (requires && !given(requires.option)) {
      throw new UsageError(
        `Option "--${name}" only works with "--${requires.option}"`,
        requires.hint,
      );
    }
  }
}

/** Refuses positional arguments for a command that takes none. */
export function rejectPositionals(command: string, args: ParsedArgs): void {
  if (args.positionals.length) {
    throw new UsageError(
      `"rig ${command}" takes no arguments, got "${args.positionals[0]}"`,
      `Run: rig ${command} --help`,
    );
  }
}

/** The closest candidate to `input` by edit distance, when it is close enough to be a typo. */
export function suggest(input: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(2, Math.floor(input.length / 3));
  if (best && bestDistance <= limit) return best;
  return candidates.find((c) => c.startsWith(input) || input.startsWith(c));
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** Renders a command's help page. */
export function renderHelp(command: Command, ui: Ui, extraOptions: Options = {}): string {
  const lines: string[] = [];
  lines.push(`${ui.style("bold", `rig ${command.name}`)} — ${command.summary}`, "");
  lines.push(ui.style("bold", "Usage:"));
  for (const usage of command.usage) lines.push(`  rig ${usage}`);
  lines.push("", ...wrap(command.description, 78).map((l) => l), "");
  if (command.subcommands?.length) {
    lines.push(ui.style("bold", "Subcommands:"));
    const width = Math.max(...command.subcommands.map((s) => s.name.length));
    for (const sub of command.subcommands) {
      lines.push(`  ${sub.name.padEnd(width)}  ${sub.summary}`);
    }
    lines.push("");
  }
  const all = { ...command.options, ...extraOptions };
  if (Object.keys(all).length) {
    lines.push(ui.style("bold", "Options:"));
    lines.push(...renderOptions(all));
    lines.push("");
  }
  lines.push(ui.style("bold", "Global options:"));
  lines.push(...renderOptions(GLOBAL_OPTIONS), "");
  lines.push(ui.style("bold", "Examples:"));
  for (const example of command.examples) lines.push(`  ${example}`);
  return lines.join("\n");
}

/** Options every command accepts (handled by main.ts). */
export const GLOBAL_OPTIONS: Options = {
  cwd: {
    type: "string",
    short: "C",
    value: "DIR",
    description: "Run as if rig was started in DIR",
  },
  verbose: {
    type: "boolean",
    short: "v",
    description: "Show more detail, full logs and error causes",
  },
  quiet: { type: "boolean", short: "q", description: "Only print warnings, errors and results" },
  json: { type: "boolean", description: "Print one machine-readable JSON document on stdout" },
  "no-cache": { type: "boolean", description: "Neither read nor write cached results" },
  yes: { type: "boolean", short: "y", description: "Answer yes to confirmation questions" },
  help: { type: "boolean", short: "h", description: "Show help" },
};

/** Global options as listed on the main help page (adds --version). */
export const TOP_LEVEL_OPTIONS: Options = {
  ...GLOBAL_OPTIONS,
  version: { type: "boolean", description: "Print rig's version" },
};

/** Renders an option table as aligned help lines. */
export function renderOptions(options: Options): string[] {
  const left = Object.entries(options).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const value = spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : "";
    return `${short}--${name}${value}`;
  });
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(options).map((spec, i) =>
    `  ${left[i]!.padEnd(width)}  ${spec.description}`
  );
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    out.push(line);
  }
  return out;
}

/** `rig --help`: every command with its summary, the global options and an example each. */
export function renderGlobalHelp(ui: Ui, commands: CommandEntry[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `${
      ui.style("bold", "rig")
    } ${RIG_VERSION} — run, test, install and build a polyglot repository`,
    "",
    ui.style("bold", "Usage:"),
    "  rig [-C DIR] [-v|-q] [--json] [--no-cache] [-y] <command> [args]",
    "",
    ui.style("bold", "Commands:"),
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    ui.style("bold", "Global options:"),
    ...renderOptions(TOP_LEVEL_OPTIONS),
    "",
    ui.style("bold", "Examples:"),
    ...commands.map((c) => `  ${c.example}`),
    "",
    `Run "rig <command> --help" for a command's options and examples.`,
  ].join("\n");
}
