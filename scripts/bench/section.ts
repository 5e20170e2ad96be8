/** The shape of a benchmark section (scripts/bench.ts runs them). */

/** What a section gets: a scratch folder (removed afterwards) and a way to print. */
export interface BenchContext {
  /** A fresh temp folder for this section; deleted when the section ends. */
  tmp: string;
  /** Prints one result line, indented under the section's title. */
  log(line: string): void;
}

/** One named benchmark. */
export interface BenchSection {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void>;
}
