import assert from "node:assert/strict";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { parseSha256Sums } from "../lib/ship/checksums.ts";
import { RIG_VERSION } from "../lib/version.ts";
import { REPO_ROOT, tempDir } from "./helpers.ts";

const SCRIPT = path.join(REPO_ROOT, "scripts", "compile.ts");
const denort = Deno.env.get("DENORT_BIN");
const runtimeReason = !denort
  ? "DENORT_BIN is not set and deno compile cannot download its runtime here"
  : undefined;

async function compile(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("the compile script refuses a DENORT_BIN that is not a file", async () => {
  const result = await compile([], { DENORT_BIN: "/no/such/denort" });
  assert.equal(result.code, 3);
  assert.match(result.stderr, /DENORT_BIN is set to "\/no\/such\/denort", which is not a file/);
});

Deno.test("the compile script refuses other targets with a host-only DENORT_BIN", async () => {
  await using dir = await tempDir();
  const fake = dir.join("denort");
  await Deno.writeTextFile(fake, "");
  const result = await compile(["--target", "x86_64-pc-windows-msvc"], { DENORT_BIN: fake });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /only fits the host target/);
});

if (runtimeReason) console.log(`skipped: compiling a binary (${runtimeReason})`);

Deno.test({
  name: "the compiled binary runs and reports its version",
  ignore: runtimeReason !== undefined,
  async fn() {
    await using dir = await tempDir();
    const result = await compile(["--out", dir.path], { DENORT_BIN: denort! });
    assert.equal(result.code, 0, result.stderr);
    const binary = (await Array.fromAsync(Deno.readDir(dir.path)))
      .map((e) => e.name).find((name) => name.startsWith("rig-"))!;
    const sums = parseSha256Sums(await Deno.readTextFile(path.join(dir.path, "SHA256SUMS")));
    const bytes = await Deno.readFile(path.join(dir.path, binary));
    assert.equal(sums.get(binary), createHash("sha256").update(bytes).digest("hex"));
    assert.equal(await Deno.readTextFile(path.join(dir.path, "VERSION")), `${RIG_VERSION}\n`);
    const version = await new Deno.Command(path.join(dir.path, binary), { args: ["--version"] })
      .output();
    assert.equal(new TextDecoder().decode(version.stdout), `rig ${RIG_VERSION}\n`);
  },
});
