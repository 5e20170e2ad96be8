import assert from "node:assert/strict";
import { MissingToolError, ProcessError } from "../lib/errors.ts";
import { prefixedSink, run, runChecked, spawn, which } from "../lib/proc.ts";
import { processAlive, tempDir } from "./helpers.ts";

const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };

async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("condition not met in time");
}

Deno.test("run captures stdout, stderr and the exit code", async () => {
  const result = await run(["sh", "-c", "echo out; echo err >&2; exit 3"], { env });
  assert.equal(result.code, 3);
  assert.equal(result.success, false);
  assert.equal(result.stdout, "out\n");
  assert.equal(result.stderr, "err\n");
});

Deno.test("children get exactly the environment they are given", async () => {
  const result = await run(["sh", "-c", 'echo "$A|$HOME"'], { env: { ...env, A: "1" } });
  assert.equal(result.stdout, "1|\n");
});

Deno.test("stdin text reaches the child", async () => {
  const result = await run(["cat"], { env, stdin: "hello" });
  assert.equal(result.stdout, "hello");
});

Deno.test("streamed output arrives line by line with a component prefix", async () => {
  const lines: string[] = [];
  await run(["sh", "-c", "printf 'a\\nb\\r\\nc'"], {
    env,
    onLine: prefixedSink("server", (l) => lines.push(l), 8),
  });
  assert.deepEqual(lines, ["server   │ a", "server   │ b", "server   │ c"]);
});

Deno.test("a missing executable is an environment error naming the tool and its install", async () => {
  const error = await run(["python9-nope", "--version"], { env }).catch((e) => e);
  assert.ok(error instanceof MissingToolError);
  assert.equal(error.exitCode, 3);
  assert.equal(error.message, `Cannot find "python9-nope" on PATH`);
  const python = await run(["python3"], { env: { PATH: "" } }).catch((e) => e);
  assert.match(python.hint, /Install Python 3\.9\+/);
});

Deno.test("runChecked throws a ProcessError with the output's tail", async () => {
  const error = await runChecked(["sh", "-c", "echo broken >&2; exit 7"], {
    env,
    failureHint: "Run it by hand",
  }).catch((e) => e);
  assert.ok(error instanceof ProcessError);
  assert.equal(error.code, 7);
  assert.match(error.message, /exit code 7: sh -c/);
  assert.match(error.message, /broken/);
  assert.equal(error.hint, "Run it by hand");
});

Deno.test("a timeout stops the process tree", async () => {
  const started = performance.now();
  const result = await run(["sh", "-c", "sleep 30 & wait"], { env, timeoutMs: 300, graceMs: 500 });
  assert.equal(result.timedOut, true);
  assert.equal(result.success, false);
  assert.ok(performance.now() - started < 5000);
});

Deno.test("cancellation kills grandchildren too", async () => {
  await using dir = await tempDir();
  const pidFile = dir.join("grandchild.pid");
  const controller = new AbortController();
  const child = spawn(["sh", "-c", `sleep 60 & echo $! > '${pidFile}'; wait`], {
    env,
    signal: controller.signal,
  });
  await waitFor(async () => (await Deno.readTextFile(pidFile).catch(() => "")).trim() !== "");
  const grandchild = Number((await Deno.readTextFile(pidFile)).trim());
  assert.ok(processAlive(grandchild));
  controller.abort();
  const result = await child.status;
  assert.equal(result.cancelled, true);
  await waitFor(() => !processAlive(grandchild));
});

Deno.test("stop sends SIGTERM, then SIGKILL after the grace period", async () => {
  const child = spawn(["sh", "-c", "trap '' TERM; echo ready; sleep 30 & wait; sleep 30"], {
    env,
    graceMs: 300,
  });
  await new Promise((r) => setTimeout(r, 200));
  const started = performance.now();
  const result = await child.stop();
  assert.equal(result.signal, "SIGKILL");
  assert.ok(performance.now() - started < 3000);
});

Deno.test("which finds programs on PATH and returns undefined otherwise", () => {
  assert.ok(which("sh", env)?.endsWith("/sh"));
  assert.equal(which("sh", { PATH: "" }), undefined);
  assert.equal(which("definitely-not-a-program", env), undefined);
});
