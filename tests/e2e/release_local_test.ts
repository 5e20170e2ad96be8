import assert from "node:assert/strict";
import * as path from "node:path";
import { git, rigInProcess, tempDirWith, testWithProcesses } from "../helpers.ts";

testWithProcesses({
  name: "rig release --no-push --no-publish commits and makes per-component tags locally",
  async fn() {
    await using dir = await tempDirWith({
      "rig.toml":
        `[project]\nname = "tools"\n\n[release]\ntags = "per-component"\nbranch = "trunk"\n`,
      "lib/package.json": JSON.stringify(
        {
          name: "@tools/lib",
          version: "1.4.2",
          main: "index.js",
          files: ["index.js"],
          scripts: { test: "node -e \"require('./index.js')\"" },
        },
        null,
        2,
      ) + "\n",
      "lib/package-lock.json": JSON.stringify(
        {
          name: "@tools/lib",
          version: "1.4.2",
          lockfileVersion: 3,
          requires: true,
          packages: { "": { name: "@tools/lib", version: "1.4.2" } },
        },
        null,
        2,
      ) + "\n",
      "lib/index.js": "module.exports = 42;\n",
      ".gitignore": "node_modules/\ndist/\n",
    }, "rig-release-local-");
    await git(dir.path, "init", "-q", "-b", "trunk");
    await git(dir.path, "config", "user.name", "Release Tester");
    await git(dir.path, "config", "user.email", "release@test.invalid");
    await git(dir.path, "add", "-A");
    await git(dir.path, "commit", "-qm", "feat: the answer");
    await git(dir.path, "commit", "-q", "--allow-empty", "-m", "fix!: the answer is stable");

    const dry = await rigInProcess(["release", "minor", "--no-push", "--no-publish", "--dry-run"], {
      cwd: dir.path,
    });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Would release 1\.5\.0 \(was 1\.4\.2\) as lib-v1\.5\.0/);
    assert.match(dry.stdout, /npm: skipped: --no-publish/);
    assert.doesNotMatch(dry.stdout, /git push/);

    const out = await rigInProcess(["release", "minor", "--no-push", "--no-publish"], {
      cwd: dir.path,
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /Released 1\.5\.0 \(lib-v1\.5\.0\)/);
    assert.equal((await git(dir.path, "tag", "-l")).trim(), "lib-v1.5.0");
    assert.equal(
      (await git(dir.path, "log", "-1", "--format=%s")).trim(),
      "chore(release): v1.5.0",
    );
    assert.equal((await git(dir.path, "status", "--porcelain")).trim(), "");
    const pkg = JSON.parse(await Deno.readTextFile(path.join(dir.path, "lib/package.json")));
    assert.equal(pkg.version, "1.5.0");
    const lock = JSON.parse(await Deno.readTextFile(path.join(dir.path, "lib/package-lock.json")));
    assert.equal(lock.packages[""].version, "1.5.0");
    const changelog = await Deno.readTextFile(path.join(dir.path, "CHANGELOG.md"));
    assert.match(changelog, /### Breaking Changes\n\n- the answer is stable/);
    assert.match(changelog, /### Features\n\n- the answer/);
    const message = await git(dir.path, "tag", "-l", "--format=%(contents)", "lib-v1.5.0");
    assert.match(message, /^Release lib-v1\.5\.0\n\n### Breaking Changes/);

    const again = await rigInProcess(["release", "1.5.0", "--no-push", "--no-publish"], {
      cwd: dir.path,
    });
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /Every selected component is already at 1\.5\.0/);
  },
});
