import assert from "node:assert/strict";
import {
  BufferWriter,
  fileWriter,
  formatBytes,
  formatDuration,
  HeldOutput,
  stripAnsi,
  Ui,
} from "../lib/ui.ts";

function makeUi(options: ConstructorParameters<typeof Ui>[0] = {}) {
  const stdout = new BufferWriter();
  const stderr = new BufferWriter();
  return { ui: new Ui({ stdout, stderr, ...options }), stdout, stderr };
}

Deno.test("steps print one plain line each when not on a terminal", () => {
  const { ui, stderr } = makeUi();
  ui.step("install server").done("12 packages");
  ui.step("migrations").skip("up to date");
  ui.step("tests").cached();
  ui.step("build").fail("exit 1");
  const lines = stderr.text.trimEnd().split("\n");
  assert.match(lines[0]!, /^✓ install server 12 packages \(\d+ms\)$/);
  assert.equal(lines[1], "- migrations up to date");
  assert.match(lines[2]!, /^↺ tests \(\d+ms\)$/);
  assert.match(lines[3]!, /^✗ build exit 1 \(\d+ms\)$/);
  assert.ok(!stderr.text.includes("\x1b"), "no escape codes without colour");
});

Deno.test("quiet mode hides notices and steps but not warnings, failures or results", () => {
  const { ui, stdout, stderr } = makeUi({ quiet: true });
  ui.info("hello");
  ui.step("work").done();
  ui.step("broken").fail();
  ui.warn("careful", "do this");
  ui.print("result");
  assert.equal(stdout.text, "result\n");
  assert.doesNotMatch(stderr.text, /hello|✓ work/);
  assert.match(stderr.text, /✗ broken/);
  assert.match(stderr.text, /warning: careful\nhint: do this/);
});

Deno.test("verbose mode shows debug lines", () => {
  const quiet = makeUi();
  quiet.ui.debug("detail");
  assert.equal(quiet.stderr.text, "");
  const verbose = makeUi({ verbose: true });
  verbose.ui.debug("detail");
  assert.equal(verbose.stderr.text, "detail\n");
});

Deno.test("json mode keeps stdout for the one result document", () => {
  const { ui, stdout } = makeUi({ json: true });
  ui.print("human text");
  ui.result({ ok: true });
  assert.deepEqual(JSON.parse(stdout.text), { ok: true });
});

Deno.test("colours are applied only when enabled", () => {
  assert.equal(makeUi().ui.style("red", "x"), "x");
  const coloured = makeUi({ color: true }).ui.style("red", "x");
  assert.equal(coloured, "\x1b[31mx\x1b[39m");
  assert.equal(stripAnsi(coloured), "x");
});

Deno.test("a terminal step draws a spinner with the elapsed time and clears it", async () => {
  const { ui, stderr } = makeUi({ tty: true });
  const step = ui.step("install");
  step.update("pip");
  await new Promise((r) => setTimeout(r, 120));
  step.done();
  ui.close();
  assert.match(stderr.text, /install pip \d+ms/);
  assert.ok(stderr.text.includes("\r\x1b[2K✓ install"), "the spinner line is cleared");
});

Deno.test("tables align columns", () => {
  const { ui } = makeUi();
  assert.equal(ui.table(["A", "BB"], [["xxx", "y"], ["z", "wwww"]]), "A    BB\nxxx  y\nz    wwww");
});

Deno.test("durations and sizes read naturally", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(3200), "3.2s");
  assert.equal(formatDuration(125_000), "2m05s");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(20 * 1024 * 1024), "20.0 MB");
});

Deno.test("a closed output pipe silences rig instead of aborting its cleanup", () => {
  let calls = 0;
  const writer = fileWriter({
    writeSync() {
      calls++;
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  });
  writer.write("first\n");
  writer.write("second\n");
  assert.equal(calls, 1, "nothing is written after the reader went away");
  const failing = fileWriter({
    writeSync() {
      throw new Deno.errors.PermissionDenied("no");
    },
  });
  assert.throws(() => failing.write("x"), Deno.errors.PermissionDenied);
});

Deno.test("held output keeps both streams in order, one chunk per run of a stream, until flushed", () => {
  const held = new HeldOutput();
  const [out, err] = [held.writer("stdout"), held.writer("stderr")];
  out.write("a");
  out.write("b");
  err.write("c");
  out.write("d");
  assert.deepEqual(held.chunks, [["stdout", "ab"], ["stderr", "c"], ["stdout", "d"]]);
  const order: string[] = [];
  const to = (name: string) => ({ write: (text: string) => order.push(`${name}:${text}`) });
  held.flush({ stdout: to("out"), stderr: to("err") });
  assert.deepEqual(order, ["out:ab", "err:c", "out:d"]);
  assert.deepEqual(held.chunks, [], "flushed output is forgotten");
});
