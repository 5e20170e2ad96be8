/**
 * rig as one bundled file (`deno task bundle`): built in the test, then the
 * smoke set — help, version, info, install, test, build — run through it on a
 * copy of the reference project, exactly as a user of the bundle would.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { bundleRig, embedWorker, isBundle } from "../../lib/ship/bundle.ts";
import { PACKED_PREFIX } from "../../lib/ship/packed.ts";
import { RIG_VERSION } from "../../lib/version.ts";
import {
  baseEnv,
  copyReferenceProject,
  gitRepository,
  REPO_ROOT,
  rigCommand,
  runProgram,
  tempDir,
  tempDirWith,
  testWithProcesses,
} from "../helpers.ts";

function runBundle(bundle: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return runProgram(rigCommand(args, bundle), { cwd, env: { ...baseEnv(), ...env } });
}

/** Files older than rig's racy window (docs/cache.md), so a run's answer can be remembered. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 2500));

Deno.test("the bundle embeds the hash worker once and refuses a bundle it cannot patch", () => {
  const worker = "self.onmessage = () => {};";
  const patched = embedWorker(
    `x = new Worker(new URL("./hash_worker.ts", import.meta.url).href, {});`,
    worker,
  );
  assert.match(patched, /new Worker\("data:text\/javascript;base64,[A-Za-z0-9+/=]+", \{\}\)/);
  assert.throws(() => embedWorker("no worker here", worker), /starts it 0 times, expected once/);
});

testWithProcesses({
  name: "the bundle alone runs help, info, install, test and build on the reference project",
  async fn(t) {
    await using dir = await tempDir("rig-bundle-");
    // Built away from the source tree: the bundle must need nothing beside it.
    const bundle = dir.join("tool", "rig.js");
    const info = await bundleRig(REPO_ROOT, bundle, { deno: Deno.execPath(), env: baseEnv() });
    assert.equal(info.bytes, (await Deno.stat(bundle)).size);
    assert.ok(isBundle(await Deno.readTextFile(bundle)), "the bundle starts with its header");
    const root = await copyReferenceProject(dir.join("authserver"));
    await gitRepository(root, { branch: "main" });

    await t.step("--version and --help", async () => {
      const version = await runBundle(bundle, ["--version"], root);
      assert.equal(version.stdout, `rig ${RIG_VERSION}\n`);
      const help = await runBundle(bundle, ["test", "--help"], root);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /--server\s+Test the server component/);
    });

    await t.step("info sees the reference project's three components", async () => {
      const out = await runBundle(bundle, ["--json", "info"], root);
      assert.equal(out.code, 0, out.stderr);
      const doc = JSON.parse(out.stdout) as { components: { name: string }[] };
      assert.deepEqual(doc.components.map((c) => c.name).sort(), [
        "js-client",
        "python-client",
        "server",
      ]);
    });

    await t.step("install sets up every component", async () => {
      const out = await runBundle(bundle, ["install"], root);
      assert.equal(out.code, 0, out.stderr);
      assert.ok((await Deno.stat(path.join(root, "clients/js/node_modules"))).isDirectory);
    });

    await t.step("test runs every suite, then replays them from the cache", async () => {
      const first = await runBundle(bundle, ["--json", "test"], root);
      assert.equal(first.code, 0, first.stderr);
      const second = await runBundle(bundle, ["--json", "test"], root);
      const doc = JSON.parse(second.stdout) as { components: { tasks: { cached: boolean }[] }[] };
      assert.ok(doc.components.every((c) => c.tasks.every((x) => x.cached)), second.stdout);
    });

    await t.step("a remembered rig test is answered by the bundle's entry alone", async () => {
      const env = { RIG_TRACE: "1" };
      let trace = "";
      for (let i = 0; i < 4 && !trace.includes("decision memo replayed"); i++) {
        await settle();
        const run = await runBundle(bundle, ["test"], root, env);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /All 5 passed \(5 cached\)/);
        trace = run.stderr;
      }
      assert.match(trace, /decision memo replayed/);
      // Neither rig whole nor the test command was loaded for it.
      assert.doesNotMatch(trace, /unpacked bundle found|bundle unpacked|command "test" loaded/);
    });

    await t.step("rig whole is the last line, unpacked once and again when damaged", async () => {
      const lines = (await Deno.readTextFile(bundle)).trimEnd().split("\n");
      assert.ok(lines.at(-1)!.startsWith(PACKED_PREFIX), "the packed rig is the last line");
      const cache = dir.join("user-cache");
      const env = { RIG_CACHE_DIR: cache, RIG_TRACE: "1" };
      const info = () => runBundle(bundle, ["info"], root, env);
      const first = await info();
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /bundle unpacked/);
      const unpacked = [...Deno.readDirSync(path.join(cache, "bundles"))].map((e) => e.name);
      assert.equal(unpacked.length, 1, unpacked.join(", "));
      assert.match(unpacked[0]!, /^rig-[0-9a-f]{64}\.js$/);
      const again = await info();
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /unpacked bundle found/);
      assert.equal(again.stdout, first.stdout);
      // A copy cut short (a full disk, a crash) is unpacked anew.
      const file = path.join(cache, "bundles", unpacked[0]!);
      const whole = await Deno.readFile(file);
      await Deno.writeFile(file, whole.subarray(0, 1000));
      const repaired = await info();
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.match(repaired.stderr, /bundle unpacked/);
      assert.deepEqual(await Deno.readFile(file), whole);
    });

    await t.step(
      "with a user cache it cannot write, the bundle runs from a temp copy it removes",
      async () => {
        const blocked = dir.join("not-a-folder");
        await Deno.writeTextFile(blocked, "a file where the user cache would be\n");
        const tmp = dir.join("tmp");
        await Deno.mkdir(tmp);
        const out = await runBundle(bundle, ["--json", "info"], root, {
          RIG_CACHE_DIR: path.join(blocked, "rig"),
          TMPDIR: tmp,
        });
        assert.equal(out.code, 0, out.stderr);
        assert.ok(JSON.parse(out.stdout).components, out.stdout);
        assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "the copy is removed");
      },
    );

    await t.step("a bundle whose packed rig is damaged is refused with the fix", async () => {
      const text = await Deno.readTextFile(bundle);
      const at = text.lastIndexOf(PACKED_PREFIX) + PACKED_PREFIX.length + 2000;
      const flipped = text[at] === "A" ? "B" : "A";
      const damaged = dir.join("damaged", "rig.js");
      await Deno.mkdir(path.dirname(damaged), { recursive: true });
      await Deno.writeTextFile(damaged, text.slice(0, at) + flipped + text.slice(at + 1));
      const out = await runBundle(damaged, ["info"], root, { RIG_CACHE_DIR: dir.join("fresh") });
      assert.equal(out.code, 3, out.stderr);
      assert.match(out.stderr, /rig\.js is damaged: the rig packed in it (does not match|cannot)/);
      assert.match(out.stderr, /rig self update/);
      assert.equal(out.stdout, "");
    });

    await t.step("build makes the wheel, sdist and npm tarball", async () => {
      const out = await runBundle(bundle, [
        "build",
        "--skip-tests",
        "--no-docker",
        "--no-install-check",
      ], root);
      assert.equal(out.code, 0, out.stderr);
      for (
        const file of [
          "dist/python-client/authserver_client-0.1.0-py3-none-any.whl",
          "dist/python-client/authserver_client-0.1.0.tar.gz",
          "dist/js-client/authserver-client-0.1.0.tgz",
        ]
      ) assert.ok((await Deno.stat(path.join(root, file))).isFile, file);
    });

    await t.step("env generate writes templates carried inside the bundle", async () => {
      await using bare = await tempDirWith({
        "server/app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
      }, "rig-bundle-env-");
      await bare.write({ "server/requirements.txt": "fastapi\n" });
      const out = await runBundle(bundle, ["-y", "env", "generate"], bare.path);
      assert.equal(out.code, 0, out.stderr);
      assert.match(await Deno.readTextFile(bare.join("config", "base.env.template")), /\S/);
    });
  },
});
