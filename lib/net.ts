/**
 * Small network helpers for starting servers: find a free port, tell whether a
 * port is taken, and wait until an HTTP endpoint or a TCP port answers.
 */
import { InterruptedError, RigError } from "./errors.ts";

/** Returns a TCP port that is free on `hostname` right now (default 127.0.0.1). */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** True when something already listens on `hostname:port` (or the port cannot be bound). */
export async function isPortInUse(port: number, hostname = "127.0.0.1"): Promise<boolean> {
  if (await canConnect(hostname, port, 500)) return true;
  try {
    const listener = Deno.listen({ hostname, port });
    listener.close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return true;
    if (error instanceof Deno.errors.PermissionDenied) return true;
    throw error;
  }
}

/** The first free port after `port` (up to 100 tries), for "use --port N instead" hints. */
export async function nextFreePort(port: number, hostname = "127.0.0.1"): Promise<number> {
  for (let candidate = port + 1; candidate < Math.min(port + 100, 65536); candidate++) {
    if (!(await isPortInUse(candidate, hostname))) return candidate;
  }
  return freePort(hostname);
}

/** True when a TCP connection to `hostname:port` succeeds within `timeoutMs`. */
export async function canConnect(
  hostname: string,
  port: number,
  timeoutMs = 2000,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const attempt = Deno.connect({ hostname, port }).then((conn) => conn, () => undefined);
  try {
    const outcome = await Promise.race([attempt, timeout]);
    if (outcome === "timeout") {
      attempt.then((conn) => conn?.close());
      return false;
    }
    outcome?.close();
    return outcome !== undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** Options for the wait helpers. */
export interface WaitOptions {
  /** Give up after this long (default 30s). */
  timeoutMs?: number;
  /** Pause between attempts (default 100ms). */
  intervalMs?: number;
  /** Aborting stops waiting with an InterruptedError. */
  signal?: AbortSignal;
  /** Checked between attempts: a reason to stop waiting (e.g. the process exited). */
  giveUp?: () => string | undefined;
  /** Which HTTP statuses count as ready (default: 200–399). */
  accept?: (status: number) => boolean;
}

/** Waits until `url` answers with an accepted status; returns that status. */
export async function waitForHttp(url: string, options: WaitOptions = {}): Promise<number> {
  const accept = options.accept ?? ((status) => status >= 200 && status < 400);
  let last = "no answer yet";
  return await poll(`"${url}"`, options, async () => {
    try {
      const response = await fetch(url, {
        signal: AbortSignal.timeout(2000),
        redirect: "manual",
      });
      await response.body?.cancel();
      if (accept(response.status)) return response.status;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    }
    return undefined;
  }, () => last);
}

/** Waits until a TCP connection to `hostname:port` succeeds. */
export async function waitForPort(
  hostname: string,
  port: number,
  options: WaitOptions = {},
): Promise<void> {
  await poll(
    `${hostname}:${port}`,
    options,
    async () => (await canConnect(hostname, port, 1000)) ? true : undefined,
    () => "connection refused",
  );
}

async function poll<T>(
  what: string,
  options: WaitOptions,
  attempt: () => Promise<T | undefined>,
  lastProblem: () => string,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const interval = options.intervalMs ?? 100;
  const deadline = performance.now() + timeoutMs;
  while (true) {
    if (options.signal?.aborted) throw new InterruptedError();
    const reason = options.giveUp?.();
    if (reason) throw new RigError(`Stopped waiting for ${what}: ${reason}`);
    const value = await attempt();
    if (value !== undefined) return value;
    if (performance.now() >= deadline) {
      throw new RigError(
        `${what} did not answer within ${Math.round(timeoutMs / 1000)}s (${lastProblem()})`,
      );
    }
    await sleep(interval, options.signal);
  }
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
