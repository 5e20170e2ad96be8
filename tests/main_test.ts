import assert from "node:assert/strict";
import { main, report } from "../main.ts";
import { withoutDenoNodeShim } from "../lib/invocation.ts";
import { COMMANDS } from "../commands/mod.ts";
import { EnvironmentError, ProcessError, RigError, UsageError } from "../lib/errors.ts";
import { BufferWriter, Ui } from "../lib/ui.ts";
import { rigInProcess, tempDirWith } from "./helpers.ts";

Deno.test("rig --help lists every command with an example", async () => {
  const result = await rigInProcess(["--help"]);
  assert.equal(result.code, 0);
  for (const command of COMMANDS) {
    assert.match(
      result.stdout,
      new RegExp(`^  ${command.name}\\s+${escape(command.summary)}`, "m"),
    );
  }
  assert.match(result.stdout, /Examples:/);
  assert.match(result.stdout, /--version/);
});

Deno.test("rig with no command prints help and exits 2", async () => {
  const result = await rigInProcess([]);
  assert.equal(result.code, 2);
  assert.match(result.stdout, /Commands:/);
});

Deno.test("every registry entry agrees with the command module it loads", async () => {
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.equal(command.name, entry.name);
    assert.equal(command.summary, entry.summary, `${entry.name}: summary`);
    assert.equal(command.examples[0], entry.example, `${entry.name}: first example`);
  }
});

Deno.test("every command has a help page with a usage line and runnable examples", async () => {
  for (const entry of COMMANDS) {
    const command = await entry.load();
    for (const args of [[command.name, "--help"], ["--help", command.name], [command.name, "-h"]]) {
      const result = await rigInProcess(args);
      assert.equal(result.code, 0, `${args.join(" ")} exits 0`);
      assert.match(result.stdout, new RegExp(`rig ${command.name} — `));
      assert.match(result.stdout, /Usage:\n {2}rig /);
      assert.match(result.stdout, /Examples:\n {2}rig /);
    }
    assert.ok(command.examples.length > 0, `${command.name} has examples`);
    for (const example of command.examples) assert.match(example, /^(\w+=\S+ )*rig /);
  }
});

Deno.test("rig --version prints the version", async () => {
  const result = await rigInProcess(["--version"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^rig \d+\.\d+\.\d+\n$/);
});

Deno.test("an unknown command suggests the closest one and exits 2", async () => {
  const result = await rigInProcess(["inf"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /error: Unknown command "inf"/);
  assert.match(result.stderr, /hint: Did you mean "rig info"\?/);
});

Deno.test("an unknown global flag suggests the closest one and exits 2", async () => {
  const result = await rigInProcess(["--verbos", "info"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Unknown option "--verbos"/);
  assert.match(result.stderr, /Did you mean "--verbose"\?/);
});

Deno.test("an unknown command flag suggests a command or global flag and exits 2", async () => {
  const result = await rigInProcess(["info", "--jsno"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Unknown option "--jsno" for "rig info"/);
  assert.match(result.stderr, /Did you mean "--json"\?/);
});

Deno.test("global flags work after the command too", async () => {
  await using dir = await tempDirWith({ "web/package.json": "{}" });
  const result = await rigInProcess(["info", "--json", "-C", dir.path]);
  assert.equal(result.code, 0, result.stderr);
  const doc = JSON.parse(result.stdout);
  assert.equal(doc.components[0].name, "web");
});

Deno.test("-C pointing at a missing folder is an environment error", async () => {
  const result = await rigInProcess(["-C", "/definitely/not/here", "info"]);
  assert.equal(result.code, 3);
  assert.match(result.stderr, /error: Cannot use "\/definitely\/not\/here" as the project folder/);
  assert.match(result.stderr, /hint: /);
});

Deno.test("-C pointing at a missing folder stops every command before it writes anything", async () => {
  await using dir = await tempDirWith({ "a-file": "" });
  for (const where of [dir.join("missing", "deeper"), dir.join("a-file")]) {
    for (const args of [["test"], ["build"], ["env", "show"], ["cache", "stats"]]) {
      const result = await rigInProcess(["-C", where, ...args]);
      assert.equal(result.code, 3, `${args.join(" ")} in ${where}: ${result.stderr}`);
      assert.match(result.stderr, /Cannot use ".*" as the project folder/);
    }
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["a-file"], "nothing made");
});

Deno.test("-C without a folder is a usage error", async () => {
  const result = await rigInProcess(["info", "-C"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Option "-C" needs a folder/);
});

Deno.test("--verbose and --quiet together are refused", async () => {
  const result = await rigInProcess(["-v", "-q", "info"]);
  assert.equal(result.code, 2);
});

Deno.test("errors map to their exit codes and print their hint without a stack", () => {
  const cases: [unknown, number][] = [
    [new RigError("work failed"), 1],
    [new UsageError("bad usage", "Run: rig --help"), 2],
    [new EnvironmentError("no python", "Install Python"), 3],
    [new ProcessError(["pytest"], 4, "boom"), 1],
  ];
  for (const [error, code] of cases) {
    const stderr = new BufferWriter();
    const ui = new Ui({ stdout: new BufferWriter(), stderr });
    assert.equal(report(error, ui, { verbose: false, json: false }), code);
    assert.match(stderr.text, /^error: /);
    assert.doesNotMatch(stderr.text, /\n\s+at /, "no stack trace for expected errors");
  }
});

Deno.test("--verbose adds the stack and the cause chain to expected errors", () => {
  const stderr = new BufferWriter();
  const ui = new Ui({ stdout: new BufferWriter(), stderr });
  const error = new EnvironmentError("outer", "fix it", { cause: new Error("inner reason") });
  assert.equal(report(error, ui, { verbose: true, json: false }), 3);
  assert.match(stderr.text, /hint: fix it/);
  assert.match(stderr.text, /caused by: Error: inner reason/);
});

Deno.test("an unexpected error is reported as a bug with its stack and exit 1", () => {
  const stderr = new BufferWriter();
  const ui = new Ui({ stdout: new BufferWriter(), stderr });
  assert.equal(report(new TypeError("oops"), ui, { verbose: false, json: false }), 1);
  assert.match(stderr.text, /this is a bug in rig/);
  assert.match(stderr.text, /TypeError: oops\n\s+at /);
});

Deno.test("--json errors print a machine-readable document on stdout", async () => {
  const result = await rigInProcess(["--json", "-C", "/definitely/not/here", "info"]);
  assert.equal(result.code, 3);
  const doc = JSON.parse(result.stdout);
  assert.equal(doc.ok, false);
  assert.equal(doc.error.exitCode, 3);
});

Deno.test("main runs the command with the -C folder and the given environment", async () => {
  await using dir = await tempDirWith({ "clients/js/package.json": "{}" });
  const stdout = new BufferWriter();
  const code = await main(["-C", dir.path, "--json", "info"], {
    stdout,
    stderr: new BufferWriter(),
    env: { PATH: "" },
    tty: false,
  });
  assert.equal(code, 0);
  const doc = JSON.parse(stdout.text);
  assert.equal(doc.root, dir.path);
  assert.equal(doc.tools.node, null, "no tools on an empty PATH");
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("Deno's own node shim is taken off PATH so a missing Node.js is reported", () => {
  const env = { PATH: "/root/.cache/deno/node_compat_bin:/usr/bin", HOME: "/root" };
  assert.deepEqual(withoutDenoNodeShim(env), { PATH: "/usr/bin", HOME: "/root" });
  const plain = { PATH: "/usr/bin" };
  assert.equal(withoutDenoNodeShim(plain), plain);
});

Deno.test("a command's help lists the flags its project gives it, one per component", async () => {
  await using dir = await tempDirWith({
    "clients/js/package.json": "{}",
    "server/requirements.txt": "fastapi\n",
  });
  for (const command of ["test", "build", "install"]) {
    const result = await rigInProcess(["-C", dir.path, command, "--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ {6}--js-client +\w+ .*\(clients\/js\)$/m, command);
    assert.match(result.stdout, /^ {6}--server +\w+ .*\(server\)$/m, command);
  }
});
