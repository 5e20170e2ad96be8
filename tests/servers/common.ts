/** Shared pieces of the test servers: a started process, readiness, the tool cache. */
import * as path from "node:path";

/** A server a test started; `stop()` ends it (call it in `finally`). */
export interface RunningServer extends AsyncDisposable {
  /** The server's base URL, ending in `/`. */
  url: string;
  stop(): Promise<void>;
}

/** Where test tools installed once (verdaccio) are kept: `<user cache>/rig-test-tools`. */
export function testToolsDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME") ?? "/tmp";
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, ".cache"), "rig-test-tools");
}

/** Polls `url` until it answers (any HTTP status) or `timeoutMs` passes. */
export async function waitUntilServing(
  url: string,
  child: Deno.ChildProcess,
  timeoutMs = 30_000,
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`The server for ${url} exited before it answered`);
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`The server for ${url} did not answer within ${timeoutMs}ms`);
}

/** Stops a child process (SIGTERM, then SIGKILL) and waits for it. */
export async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }, 3000);
  await child.status;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
