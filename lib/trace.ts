/**
 * Start-up timestamps: where the time of one rig run goes (`RIG_TRACE=1`).
 * main.ts imports this module first, so "entry" is taken before any other of
 * rig's modules is evaluated; the times are milliseconds since Deno started.
 */

/**
 * One list per process: the bundle's entry (bundle_main.ts) and the
 * rig it unpacks are two module graphs, each with a copy of this module.
 */
const shared = globalThis as unknown as Record<symbol, { label: string; at: number }[]>;
const marks = shared[Symbol.for("rig.trace.marks")] ??= [{ label: "entry", at: performance.now() }];

/** Records that rig reached `label` now. Cheap enough to leave in the hot path. */
export function mark(label: string): void {
  marks.push({ label, at: performance.now() });
}

/** The marks so far: one line each, with the time since start and since the previous mark. */
export function renderTrace(): string {
  let previous = 0;
  return marks.map(({ label, at }) => {
    const line = `trace ${at.toFixed(1).padStart(7)} ms  +${
      (at - previous).toFixed(1).padStart(6)
    }  ${label}`;
    previous = at;
    return line;
  }).join("\n");
}

/** The marks as data (label → ms since start), for the start-up benchmark. */
export function traceMarks(): { label: string; at: number }[] {
  return marks.map((m) => ({ ...m }));
}
