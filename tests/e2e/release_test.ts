import assert from "node:assert/strict";
import * as path from "node:path";
import { exists } from "../../lib/fs.ts";
import {
  copyReferenceProject,
  git,
  rigInProcess,
  spawnRig,
  tempDir,
  testWithProcesses,
} from "../helpers.ts";
import { startFakeGitHub } from "../servers/github.ts";
import { hasPypiServer, startPypiServer } from "../servers/pypiserver.ts";
import { ensureVerdaccio, startVerdaccio } from "../servers/verdaccio.ts";

const which = (tool: string) =>
  (Deno.env.get("PATH") ?? "").split(":").some((d) => exists(path.join(d, tool)));
const twine = which("twine");
const pypiserver = await hasPypiServer();
const verdaccio = twine && pypiserver ? await ensureVerdaccio() : undefined;
const missing = [
  twine ? "" : "twine (pip install twine)",
  pypiserver ? "" : "pypiserver (pip install pypiserver passlib)",
  verdaccio ? "" : "verdaccio (npm install verdaccio@6)",
].filter(Boolean);
if (missing.length) console.log(`ignoring the rig release e2e test: missing ${missing.join(", ")}`);

const INFO_ROUTER = `"""Build information (added by rig's release tests)."""

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter()


class BuildInfo(BaseModel):
    name: str
    build: str


@router.get("/info", response_model=BuildInfo)
def build_info() -> BuildInfo:
    return BuildInfo(name="authserver", build="1")
`;

const PING = `

@router.get("/ping")
def ping() -> dict[str, str]:
    return {"ping": "pong"}
`;

testWithProcesses({
  name: "rig release publishes, verifies, and rolls back every failure",
  ignore: missing.length > 0,
  async fn(t) {
    await using dir = await tempDir("rig-release-");
    await using pypi = await startPypiServer(dir.join("pypi"));
    await using npm = await startVerdaccio(verdaccio!, dir.join("verdaccio"));
    await using github = startFakeGitHub();
    const root = await copyReferenceProject(dir.join("authserver"));
    const api = github.url.replace(/\/$/, "");
    await Deno.writeTextFile(path.join(root, "server/app/routers/info.py"), INFO_ROUTER);
    const main = path.join(root, "server/app/main.py");
    await Deno.writeTextFile(
      main,
      (await Deno.readTextFile(main))
        .replace("import auth, health, users", "import auth, health, info, users")
        .replace(
          "application.include_router(users.router)",
          "application.include_router(users.router)\n    application.include_router(info.router)",
        ),
    );
    await Deno.writeTextFile(
      path.join(root, "rig.toml"),
      (await Deno.readTextFile(path.join(root, "rig.toml"))) + `
[release.python]
repository_url = "${pypi.uploadUrl}"
index_url = "${pypi.indexUrl}"
username = "${pypi.username}"

[release.npm]
registry = "${npm.url}"

[release.github]
repo = "acme/authserver"
api_url = "${api}"
`,
    );
    const origin = dir.join("origin.git");
    await git(dir.path, "init", "-q", "--bare", "-b", "main", origin);
    await git(root, "init", "-q", "-b", "main");
    await git(root, "config", "user.name", "Release Tester");
    await git(root, "config", "user.email", "release@test.invalid");
    await git(root, "add", "-A");
    await git(root, "commit", "-qm", "feat: the auth server");
    await git(root, "remote", "add", "origin", origin);
    await git(root, "push", "-q", "-u", "origin", "main");
    await git(root, "tag", "-a", "v0.1.0", "-m", "Release v0.1.0");
    await git(root, "push", "-q", "origin", "v0.1.0");
    const env = {
      RIG_PYPI_TOKEN: pypi.password,
      NPM_TOKEN: npm.token,
      GITHUB_TOKEN: github.token,
    };
    const release = (args: string[], extra: Record<string, string> = {}) =>
      rigInProcess(["release", ...args], { cwd: root, env: { ...env, ...extra } });
    const head = async () => (await git(root, "rev-parse", "HEAD")).trim();
    const remoteHead = async () =>
      (await git(root, "ls-remote", origin, "refs/heads/main")).split("\t")[0];
    const tags = async (where: string) =>
      (await git(where, "tag", "-l")).trim().split("\n").filter(Boolean);
    const commitAndPush = async (message: string) => {
      await git(root, "add", "-A");
      await git(root, "commit", "-qm", message);
      await git(root, "push", "-q", "origin", "main");
    };
    const assertNothingLeft = async (version: string, before: string) => {
      assert.deepEqual(await tags(root), ["v0.1.0"], `no local tag v${version}`);
      assert.deepEqual(await tags(origin), ["v0.1.0"], `no remote tag v${version}`);
      assert.equal((await git(root, "status", "--porcelain")).trim(), "");
      const now = await head();
      if (now !== before) {
        // A pushed release commit is reverted, never force-pushed away.
        assert.equal(
          (await git(root, "diff", before, now)).trim(),
          "",
          "reverted to the same tree",
        );
        assert.match(await git(root, "log", "-1", "--format=%s"), /^Revert "chore\(release\): v/);
      }
      assert.equal(await remoteHead(), now);
      assert.equal(github.releases.size, 0, "no GitHub release left");
      assert.ok(!exists(path.join(root, ".rig/release/journal.json")), "journal archived");
    };

    await t.step("preconditions report every problem at once and change nothing", async () => {
      await Deno.writeTextFile(path.join(root, "notes.txt"), "draft\n");
      const out = await release(["patch"], { GITHUB_TOKEN: "" });
      await Deno.remove(path.join(root, "notes.txt"));
      assert.equal(out.code, 3, out.stderr);
      assert.match(out.stderr, /✗ clean work tree: 1 uncommitted file\(s\), e\.g\. "notes\.txt"/);
      assert.match(
        out.stderr,
        /✗ GitHub credentials: GITHUB_TOKEN is not set \(for acme\/authserver\)/,
      );
      assert.match(out.stderr, /✓ tag unused: v0\.1\.1 is free/);
      assert.doesNotMatch(out.stderr, /s3cret|ghp_test/);
      assert.deepEqual(await tags(root), ["v0.1.0"]);
    });

    await t.step(
      "removing a response field refuses a patch release and names the field",
      async () => {
        const router = path.join(root, "server/app/routers/info.py");
        await Deno.writeTextFile(
          router,
          INFO_ROUTER.replace("    build: str\n", "").replace(', build="1"', ""),
        );
        await commitAndPush("refactor: /info no longer reports the build");
        const before = await head();
        const out = await release(["patch"]);
        assert.equal(out.code, 3, out.stderr);
        assert.match(out.stderr, /breaking +GET \/info response 200: field "build" removed/);
        assert.match(
          out.stderr,
          /error: The API of "server" needs a minor release since v0\.1\.0, but 0\.1\.0 → 0\.1\.1 is a patch bump/,
        );
        assert.match(out.stderr, /hint: Run: rig release minor/);
        assert.equal(await head(), before);
        assert.equal((await git(root, "status", "--porcelain")).trim(), "");
        await git(root, "revert", "--no-edit", "HEAD");
        await git(root, "push", "-q", "origin", "main");
      },
    );

    const router = path.join(root, "server/app/routers/info.py");
    await Deno.writeTextFile(router, INFO_ROUTER + PING);
    await commitAndPush("feat(api): GET /ping answers pong");

    await t.step(
      "--dry-run prints every step, edit, command and target and changes nothing",
      async () => {
        const before = await head();
        const out = await release(["minor", "--dry-run"]);
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stdout, /Would release 0\.2\.0 \(was 0\.1\.0\) as v0\.2\.0/);
        assert.match(out.stdout, /clients\/js\/package\.json "version": 0\.1\.0 → 0\.2\.0/);
        assert.match(
          out.stdout,
          /\| ### Features\n +\| \n +\| - \*\*api:\*\* GET \/ping answers pong/,
        );
        assert.match(
          out.stdout,
          /\$ git push --atomic origin HEAD:refs\/heads\/main refs\/tags\/v0\.2\.0/,
        );
        assert.match(out.stdout, new RegExp(`\\$ POST ${api}/repos/acme/authserver/releases`));
        assert.match(out.stdout, new RegExp(`\\$ npm publish .* --registry ${npm.url}`));
        assert.match(
          out.stdout,
          new RegExp(`\\$ twine upload .*--repository-url ${pypi.uploadUrl}`),
        );
        assert.match(out.stderr, /added +path \/ping added/);
        assert.equal(await head(), before);
        assert.equal((await git(root, "status", "--porcelain")).trim(), "");
        assert.ok(!exists(path.join(root, "CHANGELOG.md")));
      },
    );

    await t.step("a rejected push leaves no tag and the branch where it was", async () => {
      const hook = path.join(origin, "hooks", "pre-receive");
      await Deno.writeTextFile(hook, "#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n");
      await Deno.chmod(hook, 0o755);
      const before = await head();
      const out = await release(["minor"]);
      await Deno.remove(hook);
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, /Release failed: Command failed with exit code 1: git push/);
      assert.match(out.stderr, /pushes are frozen/);
      assert.match(out.stderr, /↶ tag v0\.2\.0: undone: deleted local tag v0\.2\.0/);
      assert.match(out.stderr, /Rolled back: nothing of this release remains/);
      assert.equal(await head(), before, "the unpushed release commit is reset");
      await assertNothingLeft("0.2.0", before);
    });

    await t.step("a GitHub 500 deletes the remote tag and reverts the pushed commit", async () => {
      github.fail.set("create", 500);
      const before = await head();
      const out = await release(["minor"]);
      github.fail.clear();
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, /GitHub create release failed with HTTP 500/);
      assert.match(
        out.stderr,
        /deleted remote tag v0\.2\.0; pushed a revert of [0-9a-f]{7} to origin\/main/,
      );
      await assertNothingLeft("0.2.0", before);
    });

    await t.step("an npm auth error deletes the GitHub release and the tags", async () => {
      const before = await head();
      const out = await release(["minor"], { NPM_TOKEN: "not-a-token" });
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, /npm publish of "authserver-client-0\.2\.0\.tgz" to .* failed/);
      assert.match(out.stderr, /deleted GitHub release v0\.2\.0 \(id \d+\) of acme\/authserver/);
      await assertNothingLeft("0.2.0", before);
    });

    await t.step(
      "a refused upload unpublishes the npm version and says PyPI got nothing",
      async () => {
        const before = await head();
        const out = await release(["minor"], { RIG_PYPI_TOKEN: "wrong" });
        assert.equal(out.code, 1, out.stderr);
        assert.match(
          out.stderr,
          /twine could not upload "authserver_client-0\.2\.0-py3-none-any\.whl"/,
        );
        assert.match(out.stderr, /unpublished @authserver\/client@0\.2\.0 from/);
        assert.match(
          out.stderr,
          /not needed: nothing of authserver-client 0\.2\.0 reached the index/,
        );
        const view = await fetch(`${npm.url}@authserver%2fclient`);
        const doc = await view.json();
        assert.ok(view.status === 404 || !doc.versions?.["0.2.0"], "0.2.0 is unpublished");
        await assertNothingLeft("0.2.0", before);
      },
    );

    await t.step(
      "kill -9 mid-publish: the next run or rig doctor finishes the rollback",
      async () => {
        github.hold = "get";
        const before = await head();
        const child = spawnRig(["release", "minor"], { cwd: root, env });
        await github.waitForHeld();
        child.kill("SIGKILL");
        await child.output();
        github.hold = undefined;
        assert.ok(exists(path.join(root, ".rig/release/journal.json")));
        assert.deepEqual(await tags(origin), ["v0.1.0", "v0.2.0"], "the push happened");

        const refused = await release(["minor"]);
        assert.equal(refused.code, 3, refused.stderr);
        assert.match(
          refused.stderr,
          /A release of 0\.2\.0 \(v0\.2\.0\) .* was interrupted after: .*npm publish/,
        );
        assert.match(
          refused.stderr,
          /hint: Run: rig release --rollback --yes {2}\(or finish it: rig release --resume\)/,
        );

        const doctor = await rigInProcess(["doctor"], { cwd: root, env });
        assert.match(doctor.stdout, /release +release 0\.2\.0 was interrupted after:/);
        assert.match(doctor.stdout, /fix: rig release --rollback --yes/);

        const out = await release(["--rollback"]);
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stderr, /unpublished @authserver\/client@0\.2\.0/);
        assert.match(out.stderr, /deleted GitHub release v0\.2\.0/);
        assert.match(
          out.stderr,
          /warning: Published and cannot be undone: authserver_client-0\.2\.0-py3-none-any\.whl, authserver_client-0\.2\.0\.tar\.gz uploaded to/,
        );
        assert.match(out.stderr, /hint: Yank it on the index/);
        assert.deepEqual(await tags(root), ["v0.1.0"]);
        assert.deepEqual(await tags(origin), ["v0.1.0"]);
        assert.equal(github.releases.size, 0);
        assert.equal((await git(root, "diff", before, "HEAD")).trim(), "");
        assert.equal(await remoteHead(), await head());
        const view = await (await fetch(`${npm.url}@authserver%2fclient`)).json();
        assert.ok(!view.versions?.["0.2.0"], "0.2.0 is unpublished");
        // An index keeps what was uploaded (PyPI forever); this test's index is reset so that
        // the next steps can release 0.2.0 again (every build then replays from the cache).
        for (const entry of Deno.readDirSync(pypi.packagesDir)) {
          await Deno.remove(path.join(pypi.packagesDir, entry.name));
        }
      },
    );

    await t.step("Ctrl-C mid-publish rolls back at once and exits 130", async () => {
      github.hold = "create";
      const before = await head();
      const child = spawnRig(["release", "minor"], { cwd: root, env });
      await github.waitForHeld();
      child.kill("SIGINT");
      const out = await child.output();
      github.hold = undefined;
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 130, stderr);
      assert.match(stderr, /error: Interrupted: rolling back the release/);
      assert.match(stderr, /deleted remote tag v0\.2\.0; pushed a revert of/);
      assert.deepEqual(await tags(root), ["v0.1.0"]);
      assert.deepEqual(await tags(origin), ["v0.1.0"]);
      assert.equal((await git(root, "diff", before, "HEAD")).trim(), "");
      assert.equal(await remoteHead(), await head());
      assert.ok(!exists(path.join(root, ".rig/release/journal.json")), "journal archived");
    });
    await t.step(
      "a full release publishes, pushes, creates the GitHub release and verifies",
      async () => {
        const out = await rigInProcess(["--json", "release", "minor"], { cwd: root, env });
        assert.equal(out.code, 0, out.stderr);
        const doc = JSON.parse(out.stdout);
        assert.equal(doc.ok, true);
        assert.deepEqual(doc.version, { from: "0.1.0", to: "0.2.0" });
        const detail = Object.fromEntries(
          doc.steps.map((s: { id: string; detail: string }) => [s.id, s.detail]),
        );
        assert.match(
          detail["pypi:authserver-client"],
          /authserver-client==0\.2\.0 installs from .* and imports authclient/,
        );
        assert.match(
          detail["npm:@authserver/client"],
          /npm view @authserver\/client@0\.2\.0 answers and the tarball installs/,
        );
        assert.match(detail["github:verify"], /v0\.2\.0 with 3 asset\(s\)/);
        assert.deepEqual([...Deno.readDirSync(pypi.packagesDir)].map((e) => e.name).sort(), [
          "authserver_client-0.2.0-py3-none-any.whl",
          "authserver_client-0.2.0.tar.gz",
        ]);
        const released = [...github.releases.values()];
        assert.equal(released.length, 1);
        assert.equal(released[0]!.tag_name, "v0.2.0");
        assert.deepEqual(released[0]!.assets.map((a) => a.name).sort(), [
          "authserver-client-0.2.0.tgz",
          "authserver_client-0.2.0-py3-none-any.whl",
          "authserver_client-0.2.0.tar.gz",
        ]);
        assert.match(released[0]!.body!, /### Features\n\n- \*\*api:\*\* GET \/ping answers pong/);
        assert.deepEqual(await tags(origin), ["v0.1.0", "v0.2.0"]);
        assert.equal(await remoteHead(), await head());
        assert.equal(
          (await git(root, "log", "-1", "--format=%s")).trim(),
          "chore(release): v0.2.0",
        );
        assert.equal((await git(root, "cat-file", "-t", "v0.2.0")).trim(), "tag", "annotated");
        const changelog = await Deno.readTextFile(path.join(root, "CHANGELOG.md"));
        assert.match(changelog, /^# Changelog\n\n## 0\.2\.0 \(\d{4}-\d\d-\d\d\)\n/);
        assert.match(changelog, /### API Changes\n\n- path \/ping added/);
        assert.doesNotMatch(
          changelog,
          /chore\(release\)/,
          "release commits and their reverts stay out",
        );
        assert.equal((await git(root, "status", "--porcelain")).trim(), "");
      },
    );

    await t.step(
      "kill -9 before the GitHub release, then --resume finishes the release",
      async () => {
        github.hold = "create";
        const child = spawnRig(["release", "patch"], { cwd: root, env });
        await github.waitForHeld();
        child.kill("SIGKILL");
        await child.output();
        github.hold = undefined;
        assert.deepEqual(
          await tags(origin),
          ["v0.1.0", "v0.2.0", "v0.2.1"],
          "pushed before the kill",
        );
        const out = await release(["--resume"]);
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stderr, /Resuming the release of 0\.2\.1 \(v0\.2\.1\)/);
        assert.match(out.stderr, /- push main and v0\.2\.1 to origin done before the interruption/);
        assert.match(out.stderr, /Released 0\.2\.1 \(v0\.2\.1\)/);
        const released = [...github.releases.values()].find((r) => r.tag_name === "v0.2.1");
        assert.equal(released?.assets.length, 3);
        assert.ok(
          [...Deno.readDirSync(pypi.packagesDir)].some((e) =>
            e.name === "authserver_client-0.2.1.tar.gz"
          ),
        );
        const view = await (await fetch(`${npm.url}@authserver%2fclient`)).json();
        assert.ok(view.versions["0.2.1"]);
        assert.equal(
          (await git(root, "log", "-1", "--format=%s")).trim(),
          "chore(release): v0.2.1",
        );
        assert.equal(await remoteHead(), await head());
        assert.ok(!exists(path.join(root, ".rig/release/journal.json")), "journal archived");
      },
    );
  },
});
