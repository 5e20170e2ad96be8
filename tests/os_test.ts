/** Windows and macOS conventions, tested on any machine: the OS is a parameter. */
import assert from "node:assert/strict";
import {
  executableCandidates,
  nodeBinName,
  pathKey,
  pathListSeparator,
  prependPath,
  pythonInHome,
  pythonLauncher,
  pythonPlatform,
} from "../lib/os.ts";
import { defaultPython, venvBin, venvEnv, venvLayout } from "../lib/python/venv.ts";
import { gitFallbackPath } from "../lib/git.ts";

Deno.test("a Windows venv keeps its interpreter and scripts in Scripts\\ with .exe names", () => {
  const venv = venvLayout("C:\\work\\server\\.venv", "windows");
  assert.equal(venv.bin, "C:\\work\\server\\.venv\\Scripts");
  assert.equal(venv.python, "C:\\work\\server\\.venv\\Scripts\\python.exe");
  assert.equal(venvBin(venv, "pytest", "windows"), "C:\\work\\server\\.venv\\Scripts\\pytest.exe");
  assert.equal(venvBin(venv, "tool.cmd", "windows"), "C:\\work\\server\\.venv\\Scripts\\tool.cmd");
});

Deno.test("macOS and Linux venvs keep them in bin/ without extensions", () => {
  for (const os of ["darwin", "linux"] as const) {
    const venv = venvLayout("/work/server/.venv", os);
    assert.equal(venv.python, "/work/server/.venv/bin/python");
    assert.equal(venvBin(venv, "pytest", os), "/work/server/.venv/bin/pytest");
  }
});

Deno.test("activating a venv puts its scripts first on PATH, matching Windows' Path spelling", () => {
  const win = venvEnv(
    venvLayout("C:\\v", "windows"),
    { Path: "C:\\Windows", PYTHONHOME: "x" },
    "windows",
  );
  assert.equal(win.Path, "C:\\v\\Scripts;C:\\Windows");
  assert.equal(win.PATH, undefined);
  assert.equal(win.PYTHONHOME, undefined);
  assert.equal(win.VIRTUAL_ENV, "C:\\v");
  const mac = venvEnv(venvLayout("/v", "darwin"), { PATH: "/usr/bin" }, "darwin");
  assert.equal(mac.PATH, "/v/bin:/usr/bin");
  assert.deepEqual(prependPath({}, "/x", "linux"), { PATH: "/x" });
});

Deno.test("PATH lists, node binaries, interpreters and sys.platform follow the OS", () => {
  assert.equal(pathListSeparator("windows"), ";");
  assert.equal(pathListSeparator("darwin"), ":");
  assert.equal(pathKey({ Path: "x" }, "windows"), "Path");
  assert.equal(pathKey({ Path: "x" }, "linux"), "PATH");
  assert.equal(nodeBinName("tsc", "windows"), "tsc.cmd");
  assert.equal(nodeBinName("tsc", "darwin"), "tsc");
  assert.equal(pythonInHome("C:\\Python311", "windows"), "C:\\Python311\\python.exe");
  assert.equal(pythonInHome("/usr/bin", "linux"), "/usr/bin/python3");
  assert.equal(pythonLauncher("windows"), "python");
  assert.equal(pythonLauncher("darwin"), "python3");
  assert.equal(defaultPython({}, "windows"), "python");
  assert.equal(
    defaultPython({ RIG_PYTHON: "/opt/py/bin/python3.12" }, "windows"),
    "/opt/py/bin/python3.12",
  );
  assert.equal(pythonPlatform("windows"), "win32");
  assert.equal(pythonPlatform("darwin"), "darwin");
  assert.equal(pythonPlatform("linux"), "linux");
});

Deno.test("which tries PATHEXT extensions in every PATH folder on Windows, the bare name elsewhere", () => {
  const env = { Path: "C:\\bin;C:\\tools", PATHEXT: ".EXE;.CMD" };
  assert.deepEqual(executableCandidates("npm", env, "windows"), [
    "C:\\bin\\npm",
    "C:\\bin\\npm.exe",
    "C:\\bin\\npm.cmd",
    "C:\\tools\\npm",
    "C:\\tools\\npm.exe",
    "C:\\tools\\npm.cmd",
  ]);
  assert.deepEqual(executableCandidates("C:\\py\\python", env, "windows"), [
    "C:\\py\\python",
    "C:\\py\\python.exe",
    "C:\\py\\python.cmd",
  ]);
  assert.deepEqual(executableCandidates("npm", { PATH: "/usr/local/bin:/usr/bin" }, "darwin"), [
    "/usr/local/bin/npm",
    "/usr/bin/npm",
  ]);
  assert.deepEqual(executableCandidates("./rig", { PATH: "/usr/bin" }, "linux"), ["./rig"]);
});

Deno.test("git gets a usable PATH of its own on Windows and elsewhere", () => {
  assert.match(gitFallbackPath("windows"), /^C:\\Program Files\\Git\\cmd;/);
  assert.match(gitFallbackPath("darwin"), /\/opt\/homebrew\/bin/);
});
