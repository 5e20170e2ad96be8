import assert from "node:assert/strict";
import { freePort, isPortInUse, nextFreePort, waitForHttp } from "../lib/net.ts";
import {
  orderByDependencies,
  ServiceError,
  type ServiceSpec,
  Supervisor,
} from "../lib/run/supervisor.ts";
import { baseEnv, groupMembers, processAlive, type TempDir, tempDir } from "./helpers.ts";

// A tiny service: prints, waits DELAY seconds, then serves /health on PORT (when
// given), optionally starts a grandchild, ignores SIGTERM with IGNORE_TERM, and
// exits with CRASH_AFTER's code after that many seconds.
const SERVICE_PY = `
import http.server, os, signal, subprocess, sys, threading, time
name = os.environ["NAME"]
print(f"starting {name}", flush=True)
if os.environ.get("GRANDCHILD"):
    child = subprocess.Popen(["sleep", "300"])
    print(f"grandchild {child.pid}", flush=True)
def on_term(*_):
    print(f"stopping {name}", flush=True)
    if os.environ.get("IGNORE_TERM"):
        return
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
if os.environ.get("FAIL_LINE"):
    print("Traceback (most recent call last):", flush=True)
    print("ImportError: cannot import name 'nope'", flush=True)
time.sleep(float(os.environ.get("DELAY", "0")))
if os.environ.get("CRASH_AFTER"):
    time.sleep(float(os.environ["CRASH_AFTER"]))
    print(f"{name} crashed: boom", flush=True)
    sys.exit(3)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
port = os.environ.get("PORT")
if port:
    server = http.server.HTTPServer(("127.0.0.1", int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"{name} ready", flush=True)
while True:
    time.sleep(0.1)
`;

async function fixture(): Promise<TempDir> {
  const dir = await tempDir();
  await dir.write({ "service.py": SERVICE_PY });
  return dir;
}

function service(
  dir: TempDir,
  name: string,
  extra: Record<string, string>,
  more: Partial<ServiceSpec> = {},
): ServiceSpec {
  return {
    name,
    argv: ["python3", "-u", dir.join("service.py")],
    env: { ...baseEnv(), NAME: name, ...extra },
    ...more,
  };
}

Deno.test("supervisor starts services in dependency order and stops them in reverse", async () => {
  await using dir = await fixture();
  const apiPort = freePort();
  const lines: string[] = [];
  const controller = new AbortController();
  const supervisor = new Supervisor([
    service(dir, "web", {}, { dependsOn: ["api"], ready: { log: /web ready/ } }),
    service(dir, "api", { PORT: String(apiPort), DELAY: "0.5", GRANDCHILD: "1" }, {
      ready: { http: `http://127.0.0.1:${apiPort}/health` },
    }),
    service(dir, "db", {}, { ready: { port: apiPort } }),
  ], { output: (line) => lines.push(line), signal: controller.signal, graceMs: 2000 });
  try {
    await supervisor.start();
    assert.deepEqual(Object.keys(supervisor.readyTimes).sort(), ["api", "db", "web"]);
    const apiReady = lines.indexOf("api │ api ready");
    const webStart = lines.indexOf("web │ starting web");
    assert.ok(apiReady >= 0 && webStart > apiReady, lines.join("\n"));
    assert.ok(supervisor.readyTimes.api! >= 500);
    const grandchild = Number(lines.find((l) => l.includes("grandchild"))!.split(" ").pop());
    const pids = supervisor.pids;
    assert.equal(pids.length, 3);
    assert.ok(processAlive(grandchild));

    controller.abort();
    const exit = await supervisor.wait();
    assert.equal(exit.reason, "signal");
    const stops = lines.filter((l) => l.includes("stopping")).map((l) => l.split(" ").pop());
    assert.deepEqual(stops, ["web", "db", "api"]);
    for (const pid of [...pids, grandchild]) {
      assert.equal(processAlive(pid), false, `pid ${pid} alive`);
    }
    // The group's last SIGKILL is sent as its leader exits; the kernel ends the members a moment
    // later, so give it that moment (never more than 2 s) before asserting none is left.
    for (const pid of pids) {
      const deadline = Date.now() + 2000;
      while (groupMembers(pid).length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(groupMembers(pid), []);
    }
  } finally {
    await supervisor.stop();
  }
});

Deno.test("supervisor kills a service that ignores SIGTERM after the grace period", async () => {
  await using dir = await fixture();
  const controller = new AbortController();
  const supervisor = new Supervisor(
    [service(dir, "stubborn", { IGNORE_TERM: "1" }, { ready: { log: /stubborn ready/ } })],
    { output: () => {}, signal: controller.signal, graceMs: 300 },
  );
  await supervisor.start();
  const [pid] = supervisor.pids;
  const started = performance.now();
  controller.abort();
  await supervisor.wait();
  const took = performance.now() - started;
  assert.ok(took >= 250 && took < 3000, `stopping took ${took}ms`);
  assert.equal(processAlive(pid!), false);
});

Deno.test("supervisor reports a crashed service with its last lines and stops the others", async () => {
  await using dir = await fixture();
  const supervisor = new Supervisor([
    service(dir, "steady", {}, { ready: { log: /steady ready/ } }),
    service(dir, "flaky", { CRASH_AFTER: "0.3" }, { ready: { log: /starting/ } }),
  ], { output: () => {}, graceMs: 1000 });
  await supervisor.start();
  const pids = supervisor.pids;
  const exit = await supervisor.wait();
  assert.equal(exit.reason, "exited");
  assert.equal(exit.service, "flaky");
  assert.equal(exit.result?.code, 3);
  assert.ok(exit.lastLines.includes("flaky crashed: boom"), exit.lastLines.join("\n"));
  for (const pid of pids) assert.equal(processAlive(pid), false);
});

Deno.test("supervisor fails start when a service exits before it is ready", async () => {
  await using dir = await fixture();
  const port = freePort();
  const supervisor = new Supervisor([
    service(dir, "early", {}, { ready: { log: /early ready/ } }),
    service(dir, "broken", { CRASH_AFTER: "0" }, {
      ready: { http: `http://127.0.0.1:${port}/health` },
    }),
    service(dir, "late", {}, { dependsOn: ["broken"] }),
  ], { output: () => {}, graceMs: 1000 });
  await assert.rejects(() => supervisor.start(), (error: unknown) => {
    assert.ok(error instanceof ServiceError);
    assert.equal(error.service, "broken");
    assert.match(error.message, /"broken" exited with exit code 3 before it was ready/);
    assert.ok(error.lastLines.includes("broken crashed: boom"));
    return true;
  });
  assert.deepEqual(supervisor.pids, []);
});

Deno.test("supervisor fails start on a failure line although the process lives on", async () => {
  await using dir = await fixture();
  const port = freePort();
  const supervisor = new Supervisor([
    service(dir, "reloader", { FAIL_LINE: "1" }, {
      ready: { http: `http://127.0.0.1:${port}/health` },
      failOn: /^Traceback/,
    }),
  ], { output: () => {}, graceMs: 1000 });
  const started = performance.now();
  await assert.rejects(() => supervisor.start(), (error: unknown) => {
    assert.ok(error instanceof ServiceError);
    assert.match(error.message, /"reloader" failed to start/);
    assert.ok(error.lastLines.includes("ImportError: cannot import name 'nope'"));
    return true;
  });
  assert.ok(performance.now() - started < 5000);
  assert.deepEqual(supervisor.pids, []);
});

Deno.test("orderByDependencies puts dependencies first and rejects cycles", () => {
  const spec = (name: string, dependsOn: string[] = []) => ({
    name,
    argv: ["x"],
    env: {},
    dependsOn,
  });
  assert.deepEqual(
    orderByDependencies([spec("c", ["b"]), spec("b", ["a"]), spec("a")]).map((s) => s.name),
    ["a", "b", "c"],
  );
  assert.throws(
    () => orderByDependencies([spec("a", ["b"]), spec("b", ["a"])]),
    /cycle: a → b → a/,
  );
});

Deno.test("net helpers find free ports, see busy ones and wait for HTTP", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new Response(new URL(request.url).pathname === "/health" ? "ok" : "no", {
        status: new URL(request.url).pathname === "/health" ? 200 : 404,
      }),
  );
  try {
    const port = server.addr.port;
    assert.equal(await isPortInUse(port), true);
    assert.equal(await isPortInUse(freePort()), false);
    assert.notEqual(await nextFreePort(port), port);
    assert.equal(await waitForHttp(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 }), 200);
    await assert.rejects(
      () => waitForHttp(`http://127.0.0.1:${port}/missing`, { timeoutMs: 300 }),
      /did not answer within 0s \(HTTP 404\)/,
    );
  } finally {
    await server.shutdown();
  }
});
