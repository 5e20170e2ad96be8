#!/usr/bin/env node
// rig {{RIG_VERSION}} from npm: runs the bundled rig (../rig.js) with the Deno
// binary of the "deno" npm package this package depends on.
"use strict";
const childProcess = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

function denoExecutable() {
  const dir = path.dirname(require.resolve("deno/package.json"));
  const exe = path.join(dir, process.platform === "win32" ? "deno.exe" : "deno");
  // The deno package's postinstall puts the binary there; without it (--ignore-scripts)
  // its own installer finds the binary of this platform's @deno/* package.
  return fs.existsSync(exe) ? exe : require(path.join(dir, "install_api.cjs")).runInstall();
}

let deno;
try {
  deno = denoExecutable();
} catch (error) {
  console.error(`error: Cannot find the Deno binary of the "deno" package: ${error.message}`);
  console.error("hint: Reinstall the package (npm install), or install Deno: npm install -g deno");
  process.exit(3);
}
const bundle = path.join(__dirname, "..", "rig.js");
const result = childProcess.spawnSync(
  deno,
  ["run", "-A", "--no-config", "--quiet", bundle, ...process.argv.slice(2)],
  {
    stdio: "inherit",
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", DENO_NO_PACKAGE_JSON: "1" },
  },
);
if (result.error) {
  console.error(`error: Cannot start "${deno}": ${result.error.message}`);
  process.exit(3);
}
if (result.signal) process.kill(process.pid, result.signal);
process.exit(result.status ?? 1);
