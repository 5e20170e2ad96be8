/**
 * A store's hit and miss log (`events.jsonl`): one small appended line per
 * hit, miss or put, folded into per-task totals once it passes 1 MB.
 */
import * as path from "../path.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { declareEffect } from "./observe.ts";

/** One line of the log. */
export interface CacheEvent {
  /** `summary` lines stand for many older hits and misses (see `compact`). */
  type: "hit" | "miss" | "put" | "summary";
  hits?: number;
  misses?: number;
  remote?: boolean;
  task?: string;
  component?: string;
  key: string;
  ms?: number;
  at: number;
}

/** The event log is folded into per-task totals when it grows past this. */
const EVENTS_COMPACT_BYTES = 1024 * 1024;

/** Per-task hits, misses and the milliseconds hits saved. */
export function tallyEvents(
  events: CacheEvent[],
): Map<string, { hits: number; misses: number; ms: number }> {
  const totals = new Map<string, { hits: number; misses: number; ms: number }>();
  for (const event of events) {
    if (event.type === "put") continue;
    const task = event.task ?? "unknown";
    const sum = totals.get(task) ?? { hits: 0, misses: 0, ms: 0 };
    if (event.type === "summary") {
      sum.hits += event.hits ?? 0;
      sum.misses += event.misses ?? 0;
      sum.ms += event.ms ?? 0;
    } else if (event.type === "hit") {
      sum.hits++;
      sum.ms += event.ms ?? 0;
    } else sum.misses++;
    totals.set(task, sum);
  }
  return totals;
}

/** The event log of one store. */
export class CacheEventLog {
  readonly #now: () => number;
  readonly #debug: (message: string) => void;

  constructor(
    readonly file: string,
    opts: { now: () => number; debug: (message: string) => void },
  ) {
    this.#now = opts.now;
    this.#debug = opts.debug;
  }

  /** Appends events in one write; failures are only debug lines (the log is statistics). */
  append(...events: CacheEvent[]): void {
    // One small O_APPEND write: concurrent processes do not interleave lines.
    // Synchronous: a cache hit appends a line per task, and awaiting each costs more.
    if (!events.length) return;
    const lines = events.map((event) => JSON.stringify(event) + "\n").join("");
    for (const event of events) declareEffect({ kind: "event", file: this.file, event });
    try {
      try {
        Deno.writeTextFileSync(this.file, lines, { append: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        Deno.mkdirSync(path.dirname(this.file), { recursive: true });
        Deno.writeTextFileSync(this.file, lines, { append: true });
      }
    } catch (error) {
      this.#debug(
        `Cannot record cache ${events.map((e) => e.type).join(", ")}: ${(error as Error).message}`,
      );
    }
  }

  /** Folds the event log into one summary line per task once it passes 1 MB. */
  async compact(): Promise<void> {
    const info = await Deno.stat(this.file).catch(() => undefined);
    if (!info || info.size < EVENTS_COMPACT_BYTES) return;
    const at = this.#now();
    const text = [...tallyEvents(await this.read())].map(([task, sum]) =>
      JSON.stringify({ type: "summary", task, key: "", ...sum, at }) + "\n"
    ).join("");
    await writeFileAtomic(this.file, text);
  }

  /** Every event still in the log (torn lines skipped). */
  async read(): Promise<CacheEvent[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.file);
    } catch {
      return [];
    }
    const out: CacheEvent[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const event = JSON.parse(line);
        if (event && typeof event.type === "string") out.push(event);
      } catch {
        // A torn line from a crash: skip it.
      }
    }
    return out;
  }
}
