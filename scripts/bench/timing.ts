/**
 * Wall-clock timing of whole processes for the start-up and peers sections:
 * every case runs `runs` times, interleaved (case A, B, C, A, B, C, …) so a
 * busy moment on a shared machine hurts all cases alike; medians are reported.
 */

/** One program invocation to time. */
export interface TimedCase {
  label: string;
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** The timings of one case. */
export interface CaseTiming {
  label: string;
  median: number;
  min: number;
  runs: number[];
  /** stderr of every timed run (for RIG_TRACE marks). */
  stderrs: string[];
}

/** The environment benchmarks give programs: the caller's, without an active venv, no colour. */
export function benchEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.VIRTUAL_ENV;
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Runs one invocation; throws with its stderr when it fails. */
export async function timeOnce(c: TimedCase): Promise<{ ms: number; stderr: string }> {
  const [program, ...args] = c.argv;
  const started = performance.now();
  const out = await new Deno.Command(program!, {
    args,
    cwd: c.cwd,
    env: c.env ?? benchEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${c.argv.join(" ")} failed (exit ${out.code}):\n${stderr}`);
  return { ms, stderr };
}

/**
 * Waits out rig's racy windows (docs/cache.md): rig does not trust what
 * changed just before a run, so right after a bench wrote files rig decides in
 * full and rewrites its own memos (the git listing, then the decision). Waits,
 * runs `warmUp` so those are written, and waits again: after this, cached runs
 * are timed as a user's repeated runs see them.
 */
export async function settle(warmUp: TimedCase[] = []): Promise<void> {
  const wait = () => new Promise((resolve) => setTimeout(resolve, 2500));
  await wait();
  if (!warmUp.length) return;
  for (const c of warmUp) await timeOnce(c);
  await wait();
}

/** Times every case `runs` times, interleaved, after one untimed warm-up run each. */
export async function timeCases(cases: TimedCase[], runs = 10): Promise<CaseTiming[]> {
  for (const c of cases) await timeOnce(c);
  const results = cases.map((c) => ({
    label: c.label,
    runs: [] as number[],
    stderrs: [] as string[],
  }));
  for (let i = 0; i < runs; i++) {
    for (const [index, c] of cases.entries()) {
      const { ms, stderr } = await timeOnce(c);
      results[index]!.runs.push(ms);
      results[index]!.stderrs.push(stderr);
    }
  }
  return results.map((r) => {
    const sorted = [...r.runs].sort((a, b) => a - b);
    return { ...r, median: median(sorted), min: sorted[0]! };
  });
}

/** The median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "12.3 ms" */
export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

/** Parses RIG_TRACE=1 output into its marks: label and ms since start. */
export function traceMarks(stderr: string): { label: string; at: number }[] {
  return [...stderr.matchAll(/^trace\s+([\d.]+) ms\s+\+\s*[\d.]+\s+(.*)$/gm)].map((m) => ({
    label: m[2]!,
    at: Number(m[1]),
  }));
}

/**
 * The median time of each RIG_TRACE mark over several runs, with the median
 * step from the previous mark, as printable lines.
 */
export function traceBreakdown(stderrs: string[]): string[] {
  const all = stderrs.map(traceMarks).filter((m) => m.length);
  if (!all.length) return ["(no RIG_TRACE marks)"];
  // The runs that took the most common path (a first run may remember what the others replay).
  const pathOf = (run: { label: string }[]) => run.map((m) => m.label).join("\n");
  const counts = new Map<string, number>();
  for (const run of all) counts.set(pathOf(run), (counts.get(pathOf(run)) ?? 0) + 1);
  const common = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const runs = all.filter((run) => pathOf(run) === common);
  const labels = runs[0]!.map((m) => m.label);
  let previous = 0;
  return labels.map((label, i) => {
    const at = median(runs.map((r) => r[i]?.at ?? NaN).filter((v) => !Number.isNaN(v)));
    const line = `${at.toFixed(1).padStart(6)} ms  +${
      (at - previous).toFixed(1).padStart(5)
    }  ${label}`;
    previous = at;
    return line;
  });
}
