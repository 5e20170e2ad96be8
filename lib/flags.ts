/**
 * Strict command-line flag parsing with the rules of node's `util.parseArgs`
 * (long and short options, `--name=value`, short groups `-abc`, `-fVALUE`,
 * repeated options, positionals), without importing `node:util`: the first
 * `node:` import of a process wakes Deno's Node layer, about 13 ms of every
 * start-up. tests/flags_test.ts checks it against `parseArgs` case by case.
 */

/** How one option is parsed. */
export interface FlagSpec {
  type: "boolean" | "string";
  short?: string;
  multiple?: boolean;
}

/** What went wrong, for messages that name the option. */
export type FlagProblem =
  | { kind: "unknown"; option: string }
  | { kind: "missing-value"; name: string }
  | { kind: "unexpected-value"; name: string }
  | { kind: "ambiguous-value"; name: string; value: string };

/** A flag the parser refused; `problem` says which and why. */
export class FlagError extends Error {
  constructor(readonly problem: FlagProblem) {
    super(describe(problem));
    this.name = "FlagError";
  }
}

function describe(problem: FlagProblem): string {
  switch (problem.kind) {
    case "unknown":
      return `Unknown option '${problem.option}'`;
    case "missing-value":
      return `Option '--${problem.name} <value>' argument missing`;
    case "unexpected-value":
      return `Option '--${problem.name}' does not take an argument`;
    case "ambiguous-value":
      return `Option '--${problem.name}' argument is ambiguous: "${problem.value}" looks like an ` +
        `option; to pass a value starting with a dash use '--${problem.name}=${problem.value}'`;
  }
}

/** Parsed flags: option values by long name, and the positional arguments in order. */
export interface ParsedFlags {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** Parses `args` against `options`; throws a FlagError for anything not in them. */
export function parseFlagList(args: string[], options: Record<string, FlagSpec>): ParsedFlags {
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) if (spec.short) byShort.set(spec.short, name);
  const values: ParsedFlags["values"] = {};
  const positionals: string[] = [];
  const store = (name: string, value: string | boolean) => {
    if (options[name]!.multiple) {
      const list = values[name];
      values[name] = Array.isArray(list) ? [...list, value] : [value];
    } else values[name] = value;
  };
  const takeValue = (name: string, i: number, shown: string): string => {
    const value = args[i];
    if (value === undefined) throw new FlagError({ kind: "missing-value", name });
    if (value.length > 1 && value[0] === "-") {
      throw new FlagError({ kind: "ambiguous-value", name: shown, value });
    }
    return value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (!spec) throw new FlagError({ kind: "unknown", option: `--${name}` });
      if (spec.type === "boolean") {
        if (eq >= 0) throw new FlagError({ kind: "unexpected-value", name });
        store(name, true);
      } else if (eq >= 0) store(name, arg.slice(eq + 1));
      else store(name, takeValue(name, ++i, name));
      continue;
    }
    if (arg.length > 1 && arg[0] === "-") {
      // A short option, a group of boolean short options, or one with its value attached.
      for (let at = 1; at < arg.length; at++) {
        const letter = arg[at]!;
        const name = byShort.get(letter);
        if (!name) {
          throw new FlagError({ kind: "unknown", option: `-${letter}` });
        }
        if (options[name]!.type === "boolean") {
          store(name, true);
          continue;
        }
        if (at + 1 < arg.length) store(name, arg.slice(at + 1));
        else store(name, takeValue(name, ++i, name));
        break;
      }
      continue;
    }
    positionals.push(arg);
  }
  return { values, positionals };
}
