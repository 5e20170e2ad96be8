/**
 * rig build through the task engine's remote cache: a real turborepo-remote-cache
 * server on 127.0.0.1, one clone that builds and uploads, and a second clone in
 * another folder (its own empty .rig) that restores the build from the remote
 * without building anything.
 */
import assert from "node:assert/strict";
import { npmProject, rigProcess, tempDir, testWithProcesses } from "../helpers.ts";
import { TURBO_BIN, turboServer } from "../turbo_server.ts";

if (!TURBO_BIN) {
  console.log("ignoring the remote cache build test: turborepo-remote-cache is not installed");
}

/** Two small npm packages sharing a remote cache (npm pack is rig's quickest real build). */
async function checkout(root: string, remote: string): Promise<void> {
  await npmProject(
    root,
    ["alpha", "beta"],
    `remote_cache = { url = "${remote}", team = "team_rig", token_env = "TEST_TURBO_TOKEN" }\n`,
  );
}

testWithProcesses({
  name: "a second clone restores a build from the remote cache instead of building",
  ignore: !TURBO_BIN,
  async fn() {
    await using dir = await tempDir("rig-remote-build-");
    // The team shares the server's token and the artifact signature key (Turborepo's HMAC).
    const SHARED = "team-signature-key";
    await using server = (await turboServer(dir.join("storage"), SHARED))!;
    const env = { TEST_TURBO_TOKEN: "turbo-token", TURBO_REMOTE_CACHE_SIGNATURE_KEY: SHARED };
    const build = ["--json", "build", "--skip-tests", "--no-docker"];

    const first = dir.join("first");
    await checkout(first, server.url);
    const built = await rigProcess(build, { cwd: first, env });
    assert.equal(built.code, 0, built.stderr);
    const statuses = (out: string) =>
      Object.fromEntries(
        (JSON.parse(out).components as { name: string; status: string }[])
          .map((c) => [c.name, c.status]),
      );
    assert.deepEqual(statuses(built.stdout), { alpha: "built", beta: "built" });

    // Another folder, an empty local cache: everything comes from the remote.
    const second = dir.join("second");
    await checkout(second, server.url);
    const restored = await rigProcess(build, { cwd: second, env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(statuses(restored.stdout), { alpha: "cached", beta: "cached" });
    assert.doesNotMatch(restored.stderr, /warning: (?!Skipping tests)/);
    for (const lib of ["alpha", "beta"]) {
      const name = `dist/${lib}/${lib}-1.0.0.tgz`;
      assert.deepEqual(
        await Deno.readFile(dir.join("second", name)),
        await Deno.readFile(dir.join("first", name)),
        `${name} is the first clone's artifact`,
      );
    }
    // The restored entries are now local: the store's own statistics count them.
    const stats = await rigProcess(["--json", "cache", "stats"], { cwd: second, env });
    assert.equal(JSON.parse(stats.stdout).byTask.build.entries, 2, stats.stdout);

    // Without the token the remote refuses: one warning, and the build still succeeds locally.
    const third = dir.join("third");
    await checkout(third, server.url);
    const refused = await rigProcess(build, {
      cwd: third,
      env: { ...env, TEST_TURBO_TOKEN: "wrong" },
    });
    assert.equal(refused.code, 0, refused.stderr);
    assert.deepEqual(statuses(refused.stdout), { alpha: "built", beta: "built" });
    assert.match(refused.stderr, /warning: Remote cache/);
  },
});
