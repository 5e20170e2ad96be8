/**
 * Runs a set of long-lived processes (the dev server, a client's watcher) as
 * one unit: each starts once what it depends on is ready (HTTP answer, open
 * port or a log line), every output line is prefixed with the process name,
 * and stopping goes in reverse start order — SIGTERM to the process group,
 * SIGKILL after a grace period — so nothing outlives the supervisor.
 */
import { InterruptedError, RigError } from "../errors.ts";
import { type Child, prefixedSink, type ProcResult, spawn } from "../proc.ts";
import { waitForHttp, waitForPort } from "../net.ts";

/** How the supervisor knows a process is ready for its dependents. */
export type ReadyCheck =
  | { http: string; accept?: (status: number) => boolean }
  | { port: number; host?: string }
  | { log: RegExp }
  | { started: true };

/** One process to supervise. */
export interface ServiceSpec {
  name: string;
  argv: string[];
  cwd?: string;
  /** The complete environment of the process. */
  env: Record<string, string>;
  /** Names of services that must be ready before this one starts. */
  dependsOn?: string[];
  /** Default: ready as soon as it started. */
  ready?: ReadyCheck;
  /** Give up waiting for readiness after this long (default 60s). */
  readyTimeoutMs?: number;
  /** An output line that means start-up failed (e.g. a traceback), even if the process lives on. */
  failOn?: RegExp;
}

/** Options of a supervisor. */
export interface SupervisorOptions {
  /** Receives every output line, already prefixed with `name │ `. */
  output: (line: string, stream: "stdout" | "stderr") => void;
  /** Aborting stops everything (in reverse order). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL for each process (default 5000ms). */
  graceMs?: number;
  /** Called when a service is ready, with the time since its start. */
  onReady?: (name: string, ms: number) => void;
  /** Output lines kept per service for crash reports (default 40). */
  keepLines?: number;
}

/** Why supervision ended. */
export interface SupervisorExit {
  /** `signal`: stopped on request; `exited`: a service ended by itself. */
  reason: "signal" | "exited";
  /** The service that ended by itself. */
  service?: string;
  result?: ProcResult;
  /** Its last output lines. */
  lastLines: string[];
}

/** A service failed to start or become ready; carries its last output lines. */
export class ServiceError extends RigError {
  constructor(
    readonly service: string,
    message: string,
    readonly lastLines: string[],
    hint?: string,
  ) {
    super(message, hint);
  }
}

interface Running {
  spec: ServiceSpec;
  child: Child;
  lines: string[];
  exited?: ProcResult;
  startedAt: number;
  readyMs?: number;
  /** The output line that signalled a failed start. */
  failedAt?: string;
}

/** Starts, watches and stops a group of processes. */
export class Supervisor {
  readonly #specs: ServiceSpec[];
  readonly #options: SupervisorOptions;
  readonly #running: Running[] = [];
  readonly #width: number;
  #stopping: Promise<void> | undefined;
  #endedBySignal = false;
  #firstExit: Promise<Running>;
  #resolveExit!: (running: Running) => void;

  constructor(specs: ServiceSpec[], options: SupervisorOptions) {
    this.#specs = orderByDependencies(specs);
    this.#options = options;
    this.#width = Math.max(0, ...specs.map((s) => s.name.length));
    this.#firstExit = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /** Process ids of the running services (their process group ids too). */
  get pids(): number[] {
    return this.#running.filter((r) => !r.exited).map((r) => r.child.pid);
  }

  /** Milliseconds each service took to become ready. */
  get readyTimes(): Record<string, number> {
    return Object.fromEntries(
      this.#running.filter((r) => r.readyMs !== undefined).map((r) => [r.spec.name, r.readyMs!]),
    );
  }

  /** Starts every service in dependency order; resolves when all are ready. */
  async start(): Promise<void> {
    const ready = new Map<string, Promise<void>>();
    const failures: unknown[] = [];
    for (const spec of this.#specs) {
      const deps = (spec.dependsOn ?? []).map((d) => ready.get(d)).filter((p) => p !== undefined);
      const promise = (async () => {
        await Promise.all(deps);
        this.#throwIfAborted();
        await this.#startOne(spec);
      })();
      promise.catch((error) => failures.push(error));
      ready.set(spec.name, promise);
    }
    try {
      await Promise.all(ready.values());
    } catch (error) {
      await this.stop();
      throw failures.find((f) => !(f instanceof InterruptedError)) ?? error;
    }
  }

  /** Waits until a stop is requested (signal) or a service exits, then stops everything. */
  async wait(): Promise<SupervisorExit> {
    const signal = this.#options.signal;
    const aborted = new Promise<"signal">((resolve) => {
      if (signal?.aborted) resolve("signal");
      signal?.addEventListener("abort", () => resolve("signal"), { once: true });
    });
    const first = await Promise.race([aborted, this.#firstExit]);
    if (first === "signal" || this.#endedBySignal) {
      await this.stop();
      return { reason: "signal", lastLines: [] };
    }
    await this.stop();
    return {
      reason: "exited",
      service: first.spec.name,
      result: first.exited,
      lastLines: [...first.lines],
    };
  }

  /** Stops every service in reverse start order: SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const running of [...this.#running].reverse()) {
        if (!running.exited) await running.child.stop(this.#options.graceMs ?? 5000);
      }
    })();
    return this.#stopping;
  }

  async #startOne(spec: ServiceSpec): Promise<void> {
    let stream: "stdout" | "stderr" = "stdout";
    const prefixed = prefixedSink(
      spec.name,
      (line) => this.#options.output(line, stream),
      this.#width,
    );
    const keep = this.#options.keepLines ?? 40;
    const lines: string[] = [];
    let logMatched: (() => void) | undefined;
    let failed: (() => void) | undefined;
    const child = spawn(spec.argv, {
      cwd: spec.cwd,
      env: spec.env,
      capture: false,
      graceMs: this.#options.graceMs ?? 5000,
      onLine: (line, from) => {
        lines.push(line);
        if (lines.length > keep) lines.shift();
        stream = from;
        prefixed(line, from);
        if (logMatched && "log" in (spec.ready ?? {})) {
          if ((spec.ready as { log: RegExp }).log.test(line)) logMatched();
        }
        if (spec.failOn?.test(line) && running.readyMs === undefined && !running.failedAt) {
          running.failedAt = line;
          // Let the rest of the error (the traceback's last line) arrive first.
          setTimeout(() => failed?.(), 500);
        }
      },
    });
    const running: Running = { spec, child, lines, startedAt: performance.now() };
    this.#running.push(running);
    child.status.then((result) => {
      running.exited = result;
      if (this.#options.signal?.aborted || this.#stopping) this.#endedBySignal = true;
      this.#resolveExit(running);
    });
    const startFailed = new Promise<never>((_, reject) => {
      failed = () =>
        reject(
          new ServiceError(
            spec.name,
            `"${spec.name}" failed to start`,
            [...running.lines],
            `Its last output is shown above; fix the error and run again`,
          ),
        );
    });
    startFailed.catch(() => {});
    await Promise.race([
      this.#waitReady(running, (resolve) => (logMatched = resolve)),
      startFailed,
    ]);
    running.readyMs = performance.now() - running.startedAt;
    this.#options.onReady?.(spec.name, running.readyMs);
  }

  async #waitReady(running: Running, onLog: (resolve: () => void) => void): Promise<void> {
    const { spec } = running;
    const ready = spec.ready ?? { started: true };
    const timeoutMs = spec.readyTimeoutMs ?? 60_000;
    const giveUp = () =>
      running.exited
        ? `"${spec.name}" exited with ${describeExit(running.exited)} before it was ready`
        : undefined;
    const failed = (reason: string) =>
      new ServiceError(
        spec.name,
        `"${spec.name}" did not become ready: ${reason}`,
        [...running.lines],
        `Its last output is shown above; start it alone to debug: ${spec.argv.join(" ")}`,
      );
    try {
      if ("started" in ready) return;
      if ("http" in ready) {
        await waitForHttp(ready.http, {
          timeoutMs,
          signal: this.#options.signal,
          giveUp,
          accept: ready.accept,
        });
      } else if ("port" in ready) {
        await waitForPort(ready.host ?? "127.0.0.1", ready.port, {
          timeoutMs,
          signal: this.#options.signal,
          giveUp,
        });
      } else {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                failed(`no output line matched /${ready.log.source}/ within ${timeoutMs / 1000}s`),
              ),
            timeoutMs,
          );
          const finish = (error?: Error) => {
            clearTimeout(timer);
            this.#options.signal?.removeEventListener("abort", abort);
            if (error) reject(error);
            else resolve();
          };
          const abort = () => finish(new InterruptedError());
          this.#options.signal?.addEventListener("abort", abort, { once: true });
          if (running.lines.some((l) => ready.log.test(l))) finish();
          onLog(() => finish());
          running.child.status.then((result) => {
            finish(failed(`it exited with ${describeExit(result)}`));
          });
        });
      }
    } catch (error) {
      if (error instanceof InterruptedError || error instanceof ServiceError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      if (running.exited) {
        throw new ServiceError(
          spec.name,
          `"${spec.name}" exited with ${describeExit(running.exited)} before it was ready`,
          [...running.lines],
          `Its last output is shown above; start it alone to debug: ${spec.argv.join(" ")}`,
        );
      }
      throw failed(reason);
    }
  }

  #throwIfAborted(): void {
    if (this.#options.signal?.aborted) throw new InterruptedError();
  }
}

/** "exit code 1" or "signal SIGKILL". */
export function describeExit(result: ProcResult): string {
  return result.signal ? `signal ${result.signal}` : `exit code ${result.code}`;
}

/** Services sorted so that each comes after what it depends on (stable otherwise). */
export function orderByDependencies(specs: ServiceSpec[]): ServiceSpec[] {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: ServiceSpec[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (spec: ServiceSpec, trail: string[]) => {
    if (state.get(spec.name) === "done") return;
    if (state.get(spec.name) === "visiting") {
      throw new RigError(
        `Services depend on each other in a cycle: ${[...trail, spec.name].join(" → ")}`,
      );
    }
    state.set(spec.name, "visiting");
    for (const dep of spec.dependsOn ?? []) {
      const found = byName.get(dep);
      if (found) visit(found, [...trail, spec.name]);
    }
    state.set(spec.name, "done");
    out.push(spec);
  };
  for (const spec of specs) visit(spec, []);
  return out;
}
