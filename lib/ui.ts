/**
 * All terminal output goes through here. Human output goes to stderr (progress,
 * notices) or stdout (results); with `--json` stdout carries only the result
 * document. On a TTY a step shows a live spinner with its elapsed time; elsewhere
 * (CI logs) each step prints one plain line when it ends.
 *
 * Everything written through a Ui passes its redactions first (`addRedaction`:
 * the secret masks of the environments rig loaded, lib/env/redact.ts), so no
 * line rig prints carries a secret; files rig writes use `ui.redact` too.
 */

/** Something text can be written to synchronously. */
export interface Writer {
  write(text: string): void;
}

/** How a Ui behaves. */
export interface UiOptions {
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
  /** Use ANSI colours (default: stderr is a TTY and NO_COLOR is unset). */
  color?: boolean;
  /** Draw live progress (default: stderr is a TTY). */
  tty?: boolean;
  stdout?: Writer;
  stderr?: Writer;
}

const encoder = new TextEncoder();

/**
 * A Writer over a Deno file such as Deno.stdout. When the reader goes away
 * (`rig test | head`), later output is dropped instead of thrown: rig must still
 * finish its cleanup (stop servers, drop test databases) after nobody listens.
 */
export function fileWriter(file: { writeSync(p: Uint8Array): number }): Writer {
  let closed = false;
  return {
    write(text) {
      if (closed) return;
      const bytes = encoder.encode(text);
      let offset = 0;
      try {
        while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
      } catch (error) {
        if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
        closed = true;
      }
    },
  };
}

/** A Writer that keeps what is written, for tests. */
export class BufferWriter implements Writer {
  text = "";
  write(text: string): void {
    this.text += text;
  }
}

/**
 * Writers that hold what is written to either stream, in order, until
 * `flush`: output shown whole or not at all (a remembered answer that fails
 * halfway is answered again in full), in one write per run of one stream.
 */
export class HeldOutput {
  #chunks: [Stream, string][] = [];

  /** The writer of one stream. */
  writer(stream: Stream): Writer {
    return {
      write: (text) => {
        const last = this.#chunks.at(-1);
        if (last && last[0] === stream) last[1] += text;
        else this.#chunks.push([stream, text]);
      },
    };
  }

  /** What is held: each run of writes to one stream as one chunk, in order. */
  get chunks(): [Stream, string][] {
    return this.#chunks.map(([stream, text]) => [stream, text]);
  }

  /** Writes everything held, in order, and forgets it. */
  flush(to: Record<Stream, Writer>): void {
    for (const [stream, text] of this.#chunks) to[stream].write(text);
    this.#chunks = [];
  }
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;

/** The name of an ANSI style this Ui can apply. */
export type Style = keyof typeof CODES;

/** One of the two streams a Ui writes to. */
export type Stream = "stdout" | "stderr";

/** How a step ended. */
export type StepOutcome = "done" | "skipped" | "failed" | "cached";

/** A unit of visible progress: started by `ui.step`, ended exactly once. */
export interface Step {
  readonly name: string;
  /** Update the detail shown beside the step name while it runs. */
  update(detail: string): void;
  done(detail?: string): void;
  skip(reason: string): void;
  cached(detail?: string): void;
  fail(detail?: string): void;
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Formats a duration in milliseconds the way every rig message does: 850ms, 3.2s, 2m05s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

/** Formats a byte count: 512 B, 1.5 KB, 20.0 MB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The one place that writes to the terminal. */
export class Ui {
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly color: boolean;
  readonly tty: boolean;
  readonly stdout: Writer;
  readonly stderr: Writer;
  #active = new Map<Step, { started: number; detail: string }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #frame = 0;
  #drawn = false;
  #redactions: ((text: string) => string)[] = [];
  #taps: ((stream: Stream, text: string) => void)[] = [];

  constructor(options: UiOptions = {}) {
    this.verbose = options.verbose ?? false;
    this.quiet = options.quiet ?? false;
    this.json = options.json ?? false;
    this.tty = options.tty ?? false;
    this.color = options.color ?? false;
    const redacting = (stream: Stream, writer: Writer): Writer => ({
      write: (text) => {
        const shown = this.redact(text);
        for (const tap of this.#taps) tap(stream, shown);
        writer.write(shown);
      },
    });
    this.stdout = redacting("stdout", options.stdout ?? fileWriter(Deno.stdout));
    this.stderr = redacting("stderr", options.stderr ?? fileWriter(Deno.stderr));
  }

  /** A Ui like this one (options and redactions) writing to other writers. */
  sibling(stdout: Writer, stderr: Writer): Ui {
    const { verbose, quiet, json, color, tty } = this;
    const ui = new Ui({ verbose, quiet, json, color, tty, stdout, stderr });
    for (const redact of this.#redactions) ui.addRedaction(redact);
    return ui;
  }

  /** Calls `tap` with everything written from now on (as shown); returns the function that stops it. */
  tap(tap: (stream: Stream, text: string) => void): () => void {
    this.#taps.push(tap);
    return () => {
      this.#taps = this.#taps.filter((t) => t !== tap);
    };
  }

  /** Adds a mask every later line (and `redact`) passes through, e.g. an environment's secrets. */
  addRedaction(redact: (text: string) => string): void {
    if (!this.#redactions.includes(redact)) this.#redactions.push(redact);
  }

  /** Drops every redaction: only for output the user asked to see in clear (`env show --reveal`). */
  clearRedactions(): void {
    this.#redactions = [];
  }

  /** Text with every registered redaction applied: use it for files rig writes. */
  redact(text: string): string {
    let out = text;
    for (const redact of this.#redactions) out = redact(out);
    return out;
  }

  /** Applies a style when colours are on. */
  style(style: Style, text: string): string {
    if (!this.color) return text;
    const [open, close] = CODES[style];
    return `\x1b[${open}m${text}\x1b[${close}m`;
  }

  /** A result line on stdout (suppressed with --json, which prints the document instead). */
  print(text = ""): void {
    if (this.json) return;
    this.#clear();
    this.stdout.write(text + "\n");
    this.#draw();
  }

  /** A notice on stderr (suppressed with --quiet). */
  info(text: string): void {
    if (this.quiet) return;
    this.#err(text);
  }

  /** Detail on stderr shown only with --verbose. */
  debug(text: string): void {
    if (this.verbose) this.#err(this.style("dim", text));
  }

  /** A warning on stderr (shown even with --quiet). */
  warn(text: string, hint?: string): void {
    this.#err(`${this.style("yellow", "warning:")} ${text}`);
    if (hint) this.#err(`${this.style("dim", "hint:")} ${hint}`);
  }

  /** An error with its hint on stderr; used by main.ts. */
  error(text: string, hint?: string): void {
    this.#err(`${this.style("red", "error:")} ${text}`);
    if (hint) this.#err(`${this.style("cyan", "hint:")} ${hint}`);
  }

  /** Success line on stderr. */
  success(text: string): void {
    if (this.quiet) return;
    this.#err(`${this.style("green", "✓")} ${text}`);
  }

  /** Writes the machine-readable result document (only with --json). */
  result(document: unknown): void {
    if (!this.json) return;
    this.stdout.write(JSON.stringify(document, null, 2) + "\n");
  }

  /** Starts a step: a spinner on a TTY, one line when it ends elsewhere. */
  step(name: string): Step {
    const started = performance.now();
    let ended = false;
    const step: Step = {
      name,
      update: (detail) => {
        const state = this.#active.get(step);
        if (state) state.detail = detail;
        if (!this.tty) this.debug(`  ${name}: ${detail}`);
      },
      done: (detail) => end("done", detail),
      skip: (reason) => end("skipped", reason),
      cached: (detail) => end("cached", detail),
      fail: (detail) => end("failed", detail),
    };
    const end = (outcome: StepOutcome, detail?: string) => {
      if (ended) return;
      ended = true;
      this.#active.delete(step);
      if (this.#active.size === 0) this.#stopTimer();
      const elapsed = formatDuration(performance.now() - started);
      const mark = {
        done: this.style("green", "✓"),
        cached: this.style("cyan", "↺"),
        skipped: this.style("dim", "-"),
        failed: this.style("red", "✗"),
      }[outcome];
      const extra = detail ? ` ${this.style("dim", detail)}` : "";
      const line = outcome === "skipped"
        ? `${mark} ${name}${extra}`
        : `${mark} ${name}${extra} ${this.style("dim", `(${elapsed})`)}`;
      if (outcome === "failed") this.#err(line);
      else this.info(line);
    };
    this.#active.set(step, { started, detail: "" });
    if (this.tty && !this.quiet) this.#startTimer();
    else this.debug(`› ${name}`);
    return step;
  }

  /** Runs `work` as a step; the step fails when it throws. */
  async task<T>(name: string, work: (step: Step) => Promise<T>): Promise<T> {
    const step = this.step(name);
    try {
      const value = await work(step);
      step.done();
      return value;
    } catch (error) {
      step.fail();
      throw error;
    }
  }

  /** Renders rows as an aligned table (no colours inside cells). */
  table(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) =>
      Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? "")))
    );
    const render = (cells: string[]) =>
      cells.map((c, i) => c + " ".repeat((widths[i] ?? 0) - visibleLength(c))).join("  ").trimEnd();
    return [this.style("bold", render(header)), ...rows.map(render)].join("\n");
  }

  /** Stops any live progress drawing (call before exiting). */
  close(): void {
    this.#stopTimer();
  }

  #err(text: string): void {
    this.#clear();
    this.stderr.write(text + "\n");
    this.#draw();
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.#frame = (this.#frame + 1) % SPINNER.length;
      this.#clear();
      this.#draw();
    }, 80);
    Deno.unrefTimer(this.#timer as unknown as number);
    this.#draw();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clear();
  }

  #clear(): void {
    if (!this.#drawn) return;
    this.stderr.write("\r\x1b[2K");
    this.#drawn = false;
  }

  #draw(): void {
    if (this.#timer === undefined || this.#active.size === 0) return;
    const now = performance.now();
    const parts = [...this.#active].map(([step, state]) =>
      `${step.name}${state.detail ? ` ${state.detail}` : ""} ${formatDuration(now - state.started)}`
    );
    const columns = consoleColumns();
    let line = `${this.style("cyan", SPINNER[this.#frame] ?? "")} ${parts.join(" · ")}`;
    if (visibleLength(line) > columns - 1) line = line.slice(0, columns - 2) + "…";
    this.stderr.write(line);
    this.#drawn = true;
  }
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The printed width of text, ignoring ANSI colour codes. */
export function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}

/** Removes ANSI colour codes. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, "");
}
