/**
 * The one wrapper around `Deno.Command`. Every child process rig starts goes
 * through `run` (wait for it) or `spawn` (supervise it). Children run in their
 * own process group (`detached`), so stopping one signals its whole tree
 * (uvicorn's reloader and workers, npm and what it runs). Environments are
 * explicit: the caller passes the complete environment.
 */
import { isDir } from "./fs.ts";
import * as path from "./path.ts";
import {
  EnvironmentError,
  InterruptedError,
  MissingToolError,
  ProcessError,
  RigError,
} from "./errors.ts";
import { currentRegistry } from "./proc_registry.ts";
import { executableCandidates, HOST_OS } from "./os.ts";

/** Where a child's output goes. */
export interface OutputSink {
  /** Called for every complete line (without the newline). */
  (line: string, stream: "stdout" | "stderr"): void;
}

/**
 * What every call that may start a tool is given: the complete environment
 * its children run with (nothing is inherited) and the signal that cancels
 * them. Option types of such calls extend it.
 */
export interface SpawnScope {
  env: Record<string, string>;
  /** Aborting stops every process tree the call started. */
  signal?: AbortSignal;
}

/** Options for starting a child process. */
export interface ProcOptions extends SpawnScope {
  cwd?: string;
  /** Kill the process tree after this many milliseconds. */
  timeoutMs?: number;
  /** Text written to the child's stdin, which is then closed. */
  stdin?: string;
  /** Receives each output line as it arrives (streaming). */
  onLine?: OutputSink;
  /** Keep stdout/stderr text in the result (default true). */
  capture?: boolean;
  /** Grace period between SIGTERM and SIGKILL when stopping (default 5000ms). */
  graceMs?: number;
  /** Hint for when the program is missing. */
  missingHint?: string;
  /** Called with the child's pid once it started (e.g. to journal it). */
  onStart?: (pid: number) => void;
  /**
   * Stop the child's group when rig dies, even by SIGKILL (default true; POSIX).
   * Children given `stdin` text are not watched (their stdin is the text).
   */
  watchRig?: boolean;
}

/** How a finished child ended. */
export interface ProcResult {
  argv: string[];
  code: number;
  signal: string | null;
  success: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
}

/** A running child, as returned by `spawn`. */
export interface Child {
  readonly pid: number;
  readonly argv: string[];
  /** Settles when the child exits (never rejects). */
  readonly status: Promise<ProcResult>;
  /** SIGTERM to the whole group, SIGKILL after the grace period; resolves when it exited. */
  stop(graceMs?: number): Promise<ProcResult>;
}

// Spawning and signalling ask the running system; every convention is in lib/os.ts.
const IS_WINDOWS = HOST_OS === "windows";

/**
 * The parent-death watch. The child's group leader is a shell that keeps the
 * read end of a pipe whose write end only rig holds, in a background watcher
 * (`sh -c … rig-watcher`),
 * then `exec`s the real program (same pid, same exit status, stdin /dev/null).
 * When rig dies — however it dies — the kernel closes the write end, the
 * watcher reads EOF and stops its whole process group: SIGTERM, then SIGKILL
 * after 3 seconds. (Asynchronous lists get /dev/null as stdin, hence fd 3.)
 */
const WATCHER =
  "trap '' INT TERM HUP; while read -r _; do :; done; kill -TERM 0; sleep 3; kill -KILL 0";
// The watcher execs a shell of its own, so its command line is "sh -c … rig-watcher" and
// not a copy of the child's (pgrep, ps and tests looking for the child find it once).
const WATCH_SCRIPT = [
  "exec 3<&0",
  `/bin/sh -c "${WATCHER}" rig-watcher <&3 >/dev/null 2>&1 &`,
  'exec "$@" </dev/null 3<&-',
].join("\n");

/** Finds a program on PATH (and PATHEXT on Windows); undefined when absent. */
export function which(program: string, env: Record<string, string>): string | undefined {
  return executableCandidates(program, env).find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    const info = Deno.statSync(file);
    if (!info.isFile) return false;
    return IS_WINDOWS || info.mode === null || (info.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Runs a program to completion. Never throws for a non-zero exit; see `runChecked`. */
export async function run(argv: string[], options: ProcOptions): Promise<ProcResult> {
  return await spawn(argv, options).status;
}

/**
 * Runs a program to completion with its stdout and stderr kept as one text in
 * arrival order (`output`); each line still goes to `onLine` as it arrives.
 */
export async function runCombined(
  argv: string[],
  options: Omit<ProcOptions, "capture">,
): Promise<ProcResult & { output: string }> {
  let output = "";
  const result = await run(argv, {
    ...options,
    capture: false,
    onLine: (line, stream) => {
      output += line + "\n";
      options.onLine?.(line, stream);
    },
  });
  return { ...result, output };
}

/** Runs a program and throws ProcessError (with the output's tail) when it fails. */
export async function runChecked(
  argv: string[],
  options: ProcOptions & { failureHint?: string },
): Promise<ProcResult> {
  const result = await run(argv, options);
  if (result.cancelled) throw new InterruptedError();
  if (result.timedOut) {
    throw new RigError(
      `Command timed out after ${options.timeoutMs}ms: ${argv.join(" ")}`,
      options.failureHint,
    );
  }
  if (!result.success) {
    throw new ProcessError(
      argv,
      result.code,
      tail(result.stderr.trim() ? result.stderr : result.stdout, 40),
      options.failureHint,
    );
  }
  return result;
}

/** Starts a program in its own process group and returns a handle to supervise it. */
export function spawn(argv: string[], options: ProcOptions): Child {
  const [program, ...args] = argv;
  if (!program) throw new RigError("Cannot start an empty command");
  const resolved = which(program, options.env);
  if (!resolved) throw new MissingToolError(path.basename(program), options.missingHint);
  if (!IS_WINDOWS) requireInterpreter(program, resolved);
  const started = performance.now();
  const watched = !IS_WINDOWS && options.stdin === undefined && options.watchRig !== false;
  let process: Deno.ChildProcess;
  try {
    process = new Deno.Command(watched ? "/bin/sh" : resolved, {
      args: watched ? ["-c", WATCH_SCRIPT, "rig-watch", resolved, ...args] : args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: true,
      stdin: options.stdin === undefined && !watched ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      detached: !IS_WINDOWS,
      windowsRawArguments: false,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (options.cwd && !isDir(options.cwd)) {
        throw new RigError(`Cannot run "${program}": folder "${options.cwd}" does not exist`);
      }
      throw new MissingToolError(path.basename(program), options.missingHint);
    }
    throw error;
  }
  const registry = currentRegistry();
  registry?.started(process.pid, argv);
  options.onStart?.(process.pid);
  if (options.stdin !== undefined) {
    const writer = process.stdin.getWriter();
    writer.write(new TextEncoder().encode(options.stdin)).then(() => writer.close()).catch(
      () => {},
    );
  }
  const capture = options.capture ?? true;
  const out = collect(process.stdout, "stdout", capture, options.onLine);
  const err = collect(process.stderr, "stderr", capture, options.onLine);
  let timedOut = false;
  let cancelled = false;
  let exited = false;
  const graceMs = options.graceMs ?? 5000;

  const killTree = (signal: Deno.Signal) => {
    if (exited) return;
    try {
      if (IS_WINDOWS) {
        new Deno.Command("taskkill", { args: ["/T", "/F", "/PID", String(process.pid)] })
          .outputSync();
      } else {
        Deno.kill(-process.pid, signal);
      }
    } catch {
      // Already gone.
    }
  };
  let stopping: Promise<ProcResult> | undefined;
  const stop = (grace = graceMs): Promise<ProcResult> => {
    if (!stopping) {
      killTree("SIGTERM");
      const force = setTimeout(() => killTree("SIGKILL"), grace);
      stopping = status.finally(() => clearTimeout(force));
    }
    return stopping;
  };

  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const status = (async (): Promise<ProcResult> => {
    const exit = await process.status;
    exited = true;
    // The leader is gone; make sure no member of its group outlives it (a
    // grandchild holding our pipes open would otherwise hang the reads).
    try {
      if (!IS_WINDOWS) Deno.kill(-process.pid, "SIGKILL");
    } catch {
      // No group left.
    }
    registry?.exited(process.pid);
    if (watched) process.stdin.close().catch(() => {});
    const [stdout, stderr] = await Promise.all([out, err]);
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    return {
      argv,
      code: exit.code,
      signal: exit.signal,
      success: exit.success && !timedOut && !cancelled,
      stdout,
      stderr,
      durationMs: performance.now() - started,
      timedOut,
      cancelled,
    };
  })();

  return { pid: process.pid, argv, status, stop };
}

/**
 * A script whose `#!` interpreter is gone (a venv script of a moved or deleted
 * project) would fail as "exec: not found", looking like a failure of the work.
 */
function requireInterpreter(program: string, resolved: string): void {
  let head = "";
  let handle: Deno.FsFile | undefined;
  try {
    handle = Deno.openSync(resolved, { read: true });
    const buffer = new Uint8Array(256);
    head = new TextDecoder().decode(buffer.subarray(0, handle.readSync(buffer) ?? 0));
  } catch {
    return;
  } finally {
    handle?.close();
  }
  if (!head.startsWith("#!")) return;
  const interpreter = head.slice(2).split("\n")[0]!.trim().split(/\s+/)[0] ?? "";
  if (!interpreter.startsWith("/") || isExecutable(interpreter)) return;
  throw new EnvironmentError(
    `Cannot run "${path.basename(program)}": its interpreter "${interpreter}" does not exist`,
    interpreter.includes("/bin/python")
      ? "Its virtual environment was moved or copied; recreate it with: rig install"
      : `Reinstall "${path.basename(program)}"`,
  );
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  name: "stdout" | "stderr",
  capture: boolean,
  onLine?: OutputSink,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let pending = "";
  try {
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      if (capture) text += piece;
      if (onLine) {
        pending += piece;
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          onLine(pending.slice(0, newline).replace(/\r$/, ""), name);
          pending = pending.slice(newline + 1);
        }
      }
    }
  } catch {
    // The stream ends with an error when the process is killed; what we have is kept.
  }
  const rest = decoder.decode();
  if (capture) text += rest;
  pending += rest;
  if (onLine && pending) onLine(pending, name);
  return text;
}

/** The last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}

/** An output sink that writes each line with a `name │` prefix. */
export function prefixedSink(
  name: string,
  write: (line: string) => void,
  width = name.length,
): OutputSink {
  const prefix = `${name.padEnd(width)} │ `;
  return (line) => write(prefix + line);
}
