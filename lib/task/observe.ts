/**
 * What a piece of work read, so that its answer can be remembered with the
 * stat data of those paths (decision_memo.ts).
 *
 * While an observation runs, Deno's file-system functions are wrapped: every
 * path read, stat'ed or listed is noted. Whatever stat data cannot vouch for
 * spoils the observation: a process started, a worker, the network, or a write
 * that was not declared first as a replayable effect (`declareEffect`: a cache
 * record marked used, a line appended to the cache's event log).
 *
 * The wrappers are installed for the observation only and always removed.
 * Worker threads have Deno namespaces of their own: starting one spoils.
 */
import * as path from "../path.ts";

/** A write a remembered answer repeats when it is replayed. */
export type Effect =
  /** Set a cache record's times to now: it was used (the pruning order). */
  | { kind: "touch"; path: string }
  /** Append an event (cache_events.ts) to a cache's log, its `at` the time of the replay. */
  | { kind: "event"; file: string; event: { at: number } };

/** Functions that read a path given as their first argument. */
const READS = [
  "readFile",
  "readFileSync",
  "readTextFile",
  "readTextFileSync",
  "stat",
  "statSync",
  "lstat",
  "lstatSync",
  "readDir",
  "readDirSync",
  "readLink",
  "readLinkSync",
  "realPath",
  "realPathSync",
] as const;

/** Functions that change the path given as their first argument. */
const WRITES = [
  "writeFile",
  "writeFileSync",
  "writeTextFile",
  "writeTextFileSync",
  "mkdir",
  "mkdirSync",
  "remove",
  "removeSync",
  "utime",
  "utimeSync",
  "chmod",
  "chmodSync",
  "chown",
  "chownSync",
  "truncate",
  "truncateSync",
  "create",
  "createSync",
] as const;

/** Functions whose second argument is the path they create; their first is read. */
const COPIES = [
  "copyFile",
  "copyFileSync",
  "link",
  "linkSync",
  "symlink",
  "symlinkSync",
  "rename",
  "renameSync",
] as const;

/** Work whose answer stat data cannot cover. */
const SPOILERS = [
  "makeTempDir",
  "makeTempDirSync",
  "makeTempFile",
  "makeTempFileSync",
  "connect",
  "connectTls",
  "listen",
  "listenTls",
  "listenDatagram",
  "watchFs",
] as const;

/** What one observed piece of work read and did. */
export class Observation {
  /** Absolute paths read, stat'ed or listed. */
  readonly paths = new Set<string>();
  /** Declared writes, in order. */
  readonly effects: Effect[] = [];
  /** The first thing seen that stat data cannot cover, if any. */
  spoiled: string | undefined;
  /** When the observation began (wall clock, ms): later changes are "racy". */
  readonly startedAt = Date.now();
  readonly #declared = new Set<string>();

  /** Notes a path that was read. */
  read(file: string | URL): void {
    this.paths.add(absolute(file));
  }

  /** A write: fine when declared as an effect, else the answer cannot be remembered. */
  wrote(file: string | URL, how: string): void {
    const target = absolute(file);
    if (!this.#declared.has(target)) this.spoil(`${how} ${target}`);
  }

  /** Records the first reason the answer cannot be remembered. */
  spoil(why: string): void {
    this.spoiled ??= why;
  }

  /** Records an effect the work is about to perform and allows its write. */
  declare(effect: Effect): void {
    this.effects.push(effect);
    this.#declared.add(absolute(effect.kind === "touch" ? effect.path : effect.file));
  }

  /** The paths effects wrote to. */
  effectPaths(): Set<string> {
    return new Set(this.#declared);
  }
}

let current: Observation | undefined;

/**
 * Declares a write the running work is about to make as one a replay repeats;
 * outside an observation it does nothing. Call it right before the write.
 */
export function declareEffect(effect: Effect): void {
  current?.declare(effect);
}

/**
 * Marks a file (a cache record) used at `at`, its times being the pruning
 * order, and declares that as an effect a replay repeats. A read-only store
 * still answers: a failure is ignored.
 */
export function touch(file: string, at: Date): void {
  declareEffect({ kind: "touch", path: file });
  try {
    Deno.utimeSync(file, at, at);
  } catch {
    // Only the pruning order.
  }
}

/** Runs `work` while noting what it reads; one observation at a time. */
export async function observe<T>(
  work: () => Promise<T>,
): Promise<{ value: T; observation: Observation }> {
  const observation = new Observation();
  if (current) {
    observation.spoil("an observation is already running");
    return { value: await work(), observation };
  }
  const restore = install(observation);
  current = observation;
  try {
    return { value: await work(), observation };
  } finally {
    current = undefined;
    restore();
  }
}

type AnyFunction = (...args: unknown[]) => unknown;

/** Wraps Deno's functions to report to `o`; returns the function that puts them back. */
function install(o: Observation): () => void {
  const saved: [Record<string, unknown>, string, unknown][] = [];
  const wrap = (
    target: Record<string, unknown>,
    name: string,
    before: (args: unknown[]) => void,
  ) => {
    const original = target[name];
    if (typeof original !== "function") return;
    saved.push([target, name, original]);
    target[name] = function (this: unknown, ...args: unknown[]) {
      before(args);
      return (original as AnyFunction).apply(this, args);
    };
  };
  const deno = Deno as unknown as Record<string, unknown>;
  for (const name of READS) wrap(deno, name, (args) => o.read(args[0] as string));
  for (const name of WRITES) wrap(deno, name, (args) => o.wrote(args[0] as string, name));
  for (const name of COPIES) {
    wrap(deno, name, (args) => {
      o.read(args[0] as string);
      o.wrote(args[1] as string, name);
    });
  }
  for (const name of SPOILERS) wrap(deno, name, () => o.spoil(name));
  for (const name of ["open", "openSync"]) {
    wrap(deno, name, (args) => {
      const options = (args[1] ?? {}) as Deno.OpenOptions;
      const writes = options.write || options.append || options.create || options.truncate ||
        options.createNew;
      if (writes) o.wrote(args[0] as string, name);
      else o.read(args[0] as string);
    });
  }
  const Command = Deno.Command;
  saved.push([deno, "Command", Command]);
  deno.Command = class extends Command {
    constructor(command: string | URL, options?: Deno.CommandOptions) {
      o.spoil(`started ${String(command)}`);
      super(command, options);
    }
  };
  const global = globalThis as unknown as Record<string, unknown>;
  wrap(global, "fetch", () => o.spoil("fetch"));
  const OriginalWorker = globalThis.Worker;
  saved.push([global, "Worker", OriginalWorker]);
  global.Worker = class extends OriginalWorker {
    constructor(specifier: string | URL, options?: WorkerOptions) {
      o.spoil("started a worker");
      super(specifier, options);
    }
  };
  return () => {
    for (const [target, name, original] of saved.reverse()) target[name] = original;
  };
}

function absolute(file: string | URL): string {
  return (file instanceof URL ? path.fromFileUrl(file) : undefined) ?? path.resolve(String(file));
}
