/**
 * The committed launcher (`rig self install`): ./rig run with PATH holding
 * deno, only node and npx, only uv, or nothing; a tampered bundle, sums or
 * binary refused with exit 3; `rig self update`; the "older committed rig"
 * notice said once.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { DENO_VERSION, GITATTRIBUTES_LINES, renderLauncher } from "../../lib/ship/committed.ts";
import { RIG_VERSION } from "../../lib/version.ts";
import {
  git,
  rigInProcess,
  runProgram,
  type TempDir,
  tempDir,
  tempDirWith,
  testWithProcesses,
} from "../helpers.ts";
import { testToolsDir } from "../servers/common.ts";

/** Where .ci/run keeps the deno wheel from PyPI. */
const WHEELS = path.join(testToolsDir(), "wheels");
const HOST_TARGET: Record<string, string> = {
  "linux-x86_64": "x86_64-unknown-linux-gnu",
  "linux-aarch64": "aarch64-unknown-linux-gnu",
};

/** Finds a program on the real PATH (for building restricted PATHs). */
function which(program: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const file = path.join(dir, program);
    try {
      if (Deno.statSync(file).isFile) return Deno.realPathSync(file);
    } catch {
      // Not in this folder.
    }
  }
  return undefined;
}

const NODE = which("node");
const NPX = which("npx");
const NPX_MISSING = !NODE || !NPX ? "node or npx is not installed" : undefined;
const UVX = which("uvx") ? resolveUvx() : undefined;
const PYTHON = pythonExecutable();
const UV_MISSING = !UVX
  ? "uv is not installed (.ci/run installs it)"
  : !safeReadDir(WHEELS).some((name) => name.startsWith(`deno-${DENO_VERSION}-`))
  ? `no deno ${DENO_VERSION} wheel in ${WHEELS} (.ci/run downloads it)`
  : undefined;
if (NPX_MISSING) console.log(`ignored: the launcher through npx (${NPX_MISSING})`);
if (UV_MISSING) console.log(`ignored: the launcher through uvx (${UV_MISSING})`);

/** A folder of symlinks to the given programs: a PATH that holds exactly those. */
async function pathWith(dir: TempDir, name: string, programs: Record<string, string>) {
  const bin = dir.join("paths", name);
  await Deno.mkdir(bin, { recursive: true });
  // What the launcher itself uses besides shell builtins.
  const basics = ["sha256sum", "uname", "mkdir", "cat"];
  for (const tool of basics) await Deno.symlink(which(tool)!, path.join(bin, tool));
  for (const [program, target] of Object.entries(programs)) {
    await Deno.symlink(target, path.join(bin, program));
  }
  return bin;
}

function launch(root: string, args: string[], env: Record<string, string>) {
  return runProgram([path.join(root, "rig"), ...args], {
    cwd: root,
    env: { HOME: Deno.env.get("HOME") ?? "/tmp", ...env },
  });
}

/** A project with the committed rig, made the way a user would: rig self install. */
async function projectWithCommittedRig(dir: TempDir, extra: string[] = []) {
  const root = dir.join("project");
  await Deno.mkdir(root);
  await Deno.writeTextFile(path.join(root, ".gitattributes"), "*.png binary");
  await git(root, "init", "-q");
  const out = await rigInProcess(["self", "install", ...extra], { cwd: root });
  assert.equal(out.code, 0, out.stderr);
  return root;
}

Deno.test("the launchers name this rig and the pinned Deno; rig.cmd has Windows line ends", () => {
  const sh = renderLauncher("sh");
  assert.match(sh, /^#!\/bin\/sh\n/);
  assert.match(sh, new RegExp(`RIG_VERSION=${RIG_VERSION.replaceAll(".", "\\.")}\n`));
  assert.match(sh, new RegExp(`DENO_VERSION=${DENO_VERSION.replaceAll(".", "\\.")}\n`));
  assert.doesNotMatch(sh, /\{\{|\r/);
  const cmd = renderLauncher("cmd");
  assert.ok(cmd.split("\n").slice(0, -1).every((line) => line.endsWith("\r")), "CRLF");
  for (
    const fallback of ["where deno", `npx --yes deno@${DENO_VERSION}`, `uvx deno@${DENO_VERSION}`]
  ) {
    assert.ok(cmd.includes(fallback), fallback);
  }
});

testWithProcesses({
  name: "the committed launcher runs rig with deno, npx or uvx and refuses what fails its checksum",
  async fn(t) {
    await using dir = await tempDir("rig-launcher-");
    const root = await projectWithCommittedRig(dir);

    await t.step(
      "rig self install writes the launchers, the tool folder and .gitattributes",
      async () => {
        for (
          const file of [
            "rig",
            "rig.cmd",
            ".rig-tool/rig.js",
            ".rig-tool/version",
            ".rig-tool/SHA256SUMS",
          ]
        ) {
          assert.ok((await Deno.stat(path.join(root, file))).isFile, file);
        }
        assert.equal((await Deno.stat(path.join(root, "rig"))).mode! & 0o111, 0o111);
        assert.equal(
          await Deno.readTextFile(path.join(root, ".rig-tool/version")),
          `${RIG_VERSION}\n`,
        );
        const attributes = await Deno.readTextFile(path.join(root, ".gitattributes"));
        assert.ok(attributes.startsWith("*.png binary\n"), "the existing line is kept");
        for (const line of GITATTRIBUTES_LINES) assert.ok(attributes.includes(`${line}\n`), line);
        const again = await rigInProcess(["self", "install"], { cwd: root });
        assert.equal(again.code, 0, again.stderr);
        assert.equal(await Deno.readTextFile(path.join(root, ".gitattributes")), attributes);
      },
    );

    await t.step("with deno on PATH", async () => {
      const bin = await pathWith(dir, "deno", { deno: Deno.execPath() });
      const out = await launch(root, ["--json", "info"], { PATH: bin });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(JSON.parse(out.stdout).root, root);
      assert.equal(out.stderr, "");
      // The second run trusts the remembered checks, and still runs the same rig.
      const again = await launch(root, ["--version"], { PATH: bin });
      assert.equal(again.stdout, `rig ${RIG_VERSION}\n`);
      const help = await launch(root, ["--help"], { PATH: bin });
      assert.match(help.stdout, /^rig \S+ — run, test, install and build/);
    });

    await t.step(
      "./rig --help and --version answer without Deno, as the bundle would",
      async () => {
        const bin = await pathWith(dir, "no-deno", {});
        const help = await launch(root, ["--help"], { PATH: bin });
        assert.equal(help.code, 0, help.stderr);
        assert.equal(help.stdout, (await rigInProcess(["--help"], { cwd: root })).stdout);
        const coloured = await Deno.readTextFile(path.join(root, ".rig-tool/help-color.txt"));
        // deno-lint-ignore no-control-regex
        assert.equal(coloured.replace(/\x1b\[\d+m/g, ""), help.stdout);
        assert.notEqual(coloured, help.stdout, "the coloured page has its styles");
        const version = await launch(root, ["--version"], { PATH: bin });
        assert.equal(version.stdout, `rig ${RIG_VERSION}\n`);
        // Anything else needs Deno, which this PATH lacks.
        assert.notEqual((await launch(root, ["info"], { PATH: bin })).code, 0);
      },
    );

    await t.step("a tampered bundle or SHA256SUMS is refused with exit 3", async () => {
      const bin = await pathWith(dir, "deno-tamper", { deno: Deno.execPath() });
      const bundle = path.join(root, ".rig-tool/rig.js");
      const original = await Deno.readTextFile(bundle);
      await Deno.writeTextFile(bundle, original + "\nconsole.log('injected');\n");
      const out = await launch(root, ["info"], { PATH: bin });
      assert.equal(out.code, 3);
      assert.match(out.stderr, /error: "\.rig-tool\/rig\.js" does not match its checksum/);
      assert.match(out.stderr, /hint: Restore the committed copy/);
      await Deno.writeTextFile(bundle, original);
      const sums = path.join(root, ".rig-tool/SHA256SUMS");
      const listed = await Deno.readTextFile(sums);
      await Deno.writeTextFile(sums, listed.replace(/^[0-9a-f]/, (c) => (c === "0" ? "1" : "0")));
      assert.equal((await launch(root, ["info"], { PATH: bin })).code, 3);
      await Deno.writeTextFile(sums, listed);
      assert.equal((await launch(root, ["info"], { PATH: bin })).code, 0);
    });

    await t.step({
      name: "with only node and npx on PATH, through npx deno@pinned",
      ignore: NPX_MISSING !== undefined,
      fn: async () => {
        const bin = await pathWith(dir, "npx", { node: NODE!, npx: NPX!, npm: which("npm")! });
        const out = await launch(root, ["--json", "info"], {
          PATH: bin,
          npm_config_prefer_offline: "true",
          npm_config_update_notifier: "false",
        });
        assert.equal(out.code, 0, out.stderr);
        assert.equal(JSON.parse(out.stdout).root, root);
      },
    });

    await t.step({
      name: "with only uv on PATH, through uvx deno@pinned",
      ignore: UV_MISSING !== undefined,
      fn: async () => {
        const bin = await pathWith(dir, "uv", {
          uvx: UVX!,
          uv: path.join(path.dirname(UVX!), "uv"),
        });
        const out = await launch(root, ["--json", "info"], {
          PATH: bin,
          // The deno wheel comes from the local folder, never from the network.
          UV_NO_INDEX: "1",
          UV_OFFLINE: "1",
          UV_FIND_LINKS: WHEELS,
          UV_CACHE_DIR: dir.join("uv-cache"),
          // uv would download a Python of its own; offline it is given the machine's.
          UV_PYTHON: PYTHON!,
        });
        assert.equal(out.code, 0, out.stderr);
        assert.equal(JSON.parse(out.stdout).root, root);
      },
    });

    await t.step(
      "with nothing on PATH, one message naming the three ways to get Deno",
      async () => {
        const bin = await pathWith(dir, "nothing", {});
        const out = await launch(root, ["info"], { PATH: bin });
        assert.equal(out.code, 3);
        assert.match(
          out.stderr,
          /^error: rig needs Deno \S+ or newer to run, and found no way to get it\n/,
        );
        assert.match(out.stderr, /Deno \(https:\/\/deno\.com, or: npm install -g deno\)/);
        assert.match(out.stderr, /Node\.js \(rig then runs "npx deno@/);
        assert.match(out.stderr, /uv \(rig then runs "uvx deno@/);
      },
    );
  },
});

testWithProcesses({
  name: "the launcher prefers this OS's committed binary after checking its checksum",
  ignore: !HOST_TARGET[`${Deno.build.os}-${Deno.build.arch}`],
  async fn() {
    await using dir = await tempDir("rig-launcher-bin-");
    // deno compile cannot run here (no denort runtime), so the compiled rig is
    // stood in for by a program that says it was chosen.
    const binaries = dir.join("binaries");
    const target = HOST_TARGET[`${Deno.build.os}-${Deno.build.arch}`]!;
    await Deno.mkdir(binaries);
    await Deno.writeTextFile(
      path.join(binaries, `rig-${target}`),
      '#!/bin/sh\necho "binary: $*"\n',
      {
        mode: 0o755,
      },
    );
    const root = await projectWithCommittedRig(dir, ["--binaries", binaries]);
    const sums = await Deno.readTextFile(path.join(root, ".rig-tool/SHA256SUMS"));
    assert.match(sums, new RegExp(`^[0-9a-f]{64}  bin/rig-${target}$`, "m"));
    const bin = await pathWith(dir, "plain", {});
    const out = await launch(root, ["info", "--json"], { PATH: bin });
    assert.equal(out.stdout, "binary: info --json\n");
    await Deno.writeTextFile(
      path.join(root, ".rig-tool/bin", `rig-${target}`),
      "#!/bin/sh\necho evil\n",
    );
    const tampered = await launch(root, ["info"], { PATH: bin });
    assert.equal(tampered.code, 3);
    assert.match(
      tampered.stderr,
      new RegExp(`"\\.rig-tool/bin/rig-${target}" does not match its checksum`),
    );
    assert.equal(tampered.stdout, "");

    // rig self update without --binaries drops binaries of the older version.
    await Deno.writeTextFile(path.join(root, ".rig-tool/version"), "0.0.1\n");
    const update = await rigInProcess(["--json", "self", "update"], { cwd: root });
    assert.equal(update.code, 0, update.stderr);
    const doc = JSON.parse(update.stdout);
    assert.equal(doc.previousVersion, "0.0.1");
    assert.deepEqual(doc.removed, [`.rig-tool/bin/rig-${target}`]);
    assert.equal(await Deno.readTextFile(path.join(root, ".rig-tool/version")), `${RIG_VERSION}\n`);
  },
});

Deno.test("rig self update needs a committed rig, and rig self needs a known subcommand", async () => {
  await using dir = await tempDir();
  const update = await rigInProcess(["self", "update"], { cwd: dir.path });
  assert.equal(update.code, 2);
  assert.match(update.stderr, /No committed rig in ".*" \(no \.rig-tool\/version\)/);
  assert.match(update.stderr, /hint: Commit one first: rig self install/);
  const typo = await rigInProcess(["self", "instal"], { cwd: dir.path });
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /Did you mean "rig self install"\?/);
});

Deno.test("a committed rig older than the running one is reported once", async () => {
  await using dir = await tempDirWith({ ".rig-tool/version": "0.0.1\n", "sub/.keep": "" });
  const env = { RIG_CACHE_DIR: dir.join("cache") };
  const first = await rigInProcess(["info"], { cwd: dir.join("sub"), env });
  assert.match(
    first.stderr,
    new RegExp(
      `warning: This project's committed rig \\(\\.rig-tool\\) is rig 0\\.0\\.1, older than the rig running \\(${
        RIG_VERSION.replaceAll(".", "\\.")
      }\\)`,
    ),
  );
  assert.match(first.stderr, /Run: rig self update/);
  const second = await rigInProcess(["info"], { cwd: dir.join("sub"), env });
  assert.doesNotMatch(second.stderr, /older than the rig running/);
  const launcher = await rigInProcess(["info"], {
    cwd: dir.path,
    env: { ...env, RIG_LAUNCHER_VERSION: "0.0.2" },
  });
  assert.match(launcher.stderr, /committed launcher \(\.\/rig\) is rig 0\.0\.2/);
});

/** What `python3 -c code` prints (trimmed), or undefined when it fails. */
function python3Prints(code: string): string | undefined {
  const out = new Deno.Command("python3", {
    args: ["-c", code],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
}

function pythonExecutable(): string | undefined {
  return python3Prints("import sys; print(sys.executable)");
}

function resolveUvx(): string | undefined {
  // pyenv's shim needs pyenv on PATH; the real program sits beside the Python that installed it.
  const file = python3Prints(
    "import uv, os; print(os.path.join(os.path.dirname(uv.find_uv_bin()), 'uvx'))",
  );
  try {
    return file !== undefined && Deno.statSync(file).isFile ? file : undefined;
  } catch {
    return undefined;
  }
}

function safeReadDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}
