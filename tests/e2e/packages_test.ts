/**
 * The registry packages, as users get them: the npm package published to a
 * local verdaccio and installed with `npm i -D` into a fresh project, the
 * wheel uploaded to a local pypiserver and installed with pip into a fresh
 * venv; `rig --version` and `rig info` run from each. Both servers listen on
 * 127.0.0.1 and are stopped in `finally`.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { buildPackages } from "../../scripts/package.ts";
import { DENO_VERSION } from "../../lib/ship/committed.ts";
import { NPM_PACKAGE, PYPI_PACKAGE } from "../../lib/ship/packages.ts";
import { RIG_VERSION } from "../../lib/version.ts";
import { copyReferenceProject, runProgram, tempDir, testWithProcesses } from "../helpers.ts";
import { testToolsDir } from "../servers/common.ts";
import { hasPypiServer, startPypiServer } from "../servers/pypiserver.ts";
import { ensureVerdaccio, startVerdaccio } from "../servers/verdaccio.ts";

const VERDACCIO = await ensureVerdaccio();
const PYPISERVER = await hasPypiServer();
const DENO_WHEEL = [...safeReadDir(path.join(testToolsDir(), "wheels"))]
  .find((name) => name.startsWith(`deno-${DENO_VERSION}-`) && name.endsWith(".whl"));
const NPM_MISSING = VERDACCIO
  ? undefined
  : "verdaccio could not be installed (.ci/run installs it)";
const PYPI_MISSING = !PYPISERVER
  ? "pypiserver and passlib are not installed (.ci/run installs them)"
  : !DENO_WHEEL
  ? `no deno ${DENO_VERSION} wheel in the test tools cache (.ci/run downloads it)`
  : undefined;
if (NPM_MISSING) console.log(`ignored: the npm package test (${NPM_MISSING})`);
if (PYPI_MISSING) console.log(`ignored: the PyPI package test (${PYPI_MISSING})`);

async function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const env = Deno.env.toObject();
  delete env.VIRTUAL_ENV;
  const result = await runProgram(argv, {
    cwd: opts.cwd,
    env: { ...env, npm_config_update_notifier: "false", ...opts.env },
  });
  assert.equal(result.code, 0, `${argv.join(" ")}\n${result.stderr}${result.stdout}`);
  return result;
}

/** `rig info --json` on a copy of the reference project names its three components. */
async function assertInfo(rig: string[], dir: string) {
  const project = await copyReferenceProject(path.join(dir, "authserver"));
  const info = await run([...rig, "-C", project, "--json", "info"]);
  const doc = JSON.parse(info.stdout) as { root: string; components: { name: string }[] };
  assert.equal(doc.root, project);
  assert.deepEqual(doc.components.map((c) => c.name).sort(), [
    "js-client",
    "python-client",
    "server",
  ]);
}

testWithProcesses({
  name: "the npm package published to verdaccio installs with npm i -D and runs rig",
  ignore: NPM_MISSING !== undefined,
  async fn() {
    await using dir = await tempDir("rig-npm-package-");
    const { npm } = await buildPackages(dir.join("dist"));
    // The deno package (and its binary package) come through verdaccio from the npm registry.
    const registry = await startVerdaccio(VERDACCIO!, dir.join("verdaccio"), {
      uplink: "https://registry.npmjs.org/",
    });
    try {
      const npmrc = dir.join("npmrc");
      const host = registry.url.replace(/^https?:/, "");
      await Deno.writeTextFile(
        npmrc,
        `registry=${registry.url}\n${host}:_authToken=${registry.token}\n`,
      );
      const npmEnv = { npm_config_userconfig: npmrc };
      await run(["npm", "publish", npm, "--loglevel=error"], { env: npmEnv });
      const project = dir.join("project");
      await Deno.mkdir(project);
      await Deno.writeTextFile(
        path.join(project, "package.json"),
        JSON.stringify({ name: "fresh", version: "1.0.0", private: true }),
      );
      await run(["npm", "i", "-D", NPM_PACKAGE, "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd: project,
        env: npmEnv,
      });
      const manifest = JSON.parse(await Deno.readTextFile(path.join(project, "package.json")));
      assert.ok(manifest.devDependencies[NPM_PACKAGE], "recorded as a dev dependency");
      const rig = path.join(project, "node_modules", ".bin", "rig");
      assert.equal((await run([rig, "--version"])).stdout, `rig ${RIG_VERSION}\n`);
      await assertInfo([rig], dir.path);
    } finally {
      await registry.stop();
    }
  },
});

testWithProcesses({
  name: "the wheel uploaded to pypiserver installs with pip in a fresh venv and runs rig",
  ignore: PYPI_MISSING !== undefined,
  async fn() {
    await using dir = await tempDir("rig-pypi-package-");
    const { wheel } = await buildPackages(dir.join("dist"));
    const index = await startPypiServer(dir.join("pypiserver"));
    try {
      // The deno wheel it depends on is on the same index, so pip never asks PyPI.
      await Deno.copyFile(
        path.join(testToolsDir(), "wheels", DENO_WHEEL!),
        path.join(index.packagesDir, DENO_WHEEL!),
      );
      await run([
        "python3",
        "-m",
        "twine",
        "upload",
        "--non-interactive",
        "--repository-url",
        index.uploadUrl,
        "-u",
        index.username,
        "-p",
        index.password,
        wheel,
      ]);
      const venv = dir.join("venv");
      await run(["python3", "-m", "venv", venv]);
      await run([
        path.join(venv, "bin", "pip"),
        "install",
        "-q",
        "--disable-pip-version-check",
        "--index-url",
        index.indexUrl,
        PYPI_PACKAGE,
      ]);
      const rig = path.join(venv, "bin", "rig");
      assert.equal((await run([rig, "--version"])).stdout, `rig ${RIG_VERSION}\n`);
      await assertInfo([rig], dir.path);
    } finally {
      await index.stop();
    }
  },
});

function safeReadDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}
