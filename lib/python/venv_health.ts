/**
 * Signs that a virtual environment was moved or copied: venvs are not
 * relocatable. Their console scripts (pytest, uvicorn, …) start with an
 * absolute shebang naming the venv's Python at the place it was created, so a
 * copied project silently runs the *original* project's venv, and breaks once
 * that is gone. pyvenv.cfg's `home` names the base interpreter's folder.
 * File reads only (a few hundred bytes a script), no processes.
 */
import * as path from "../path.ts";
import { isDir, readDirSyncIfPresent } from "../fs.ts";

/** The interpreter a script's shebang runs, or undefined when it is not a Python script. */
export function scriptInterpreter(head: string): string | undefined {
  const lines = head.split("\n");
  const first = lines[0]?.trim() ?? "";
  if (!first.startsWith("#!")) return undefined;
  const command = first.slice(2).trim();
  // pip's launcher for long paths or paths with spaces: `#!/bin/sh` + `'''exec' "PY" "$0" "$@"`.
  if (/^\/bin\/sh\b/.test(command)) {
    const exec = lines[1]?.match(/^'''exec' "?([^"]+?)"? "\$0"/)?.[1];
    return exec;
  }
  const program = command.split(/\s+/)[0] ?? "";
  return /python[\d.]*$/.test(path.basename(program)) && path.isAbsolute(program)
    ? program
    : undefined;
}

/**
 * A sentence naming why the venv whose scripts are in `bin` (pyvenv.cfg
 * `home` given) does not belong where it is, or undefined when it looks right.
 */
export function relocationProblem(
  bin: string,
  opts: { home?: string },
): string | undefined {
  const home = opts.home;
  if (home && !isDir(home)) {
    return `its base Python folder "${home}" (pyvenv.cfg home) no longer exists`;
  }
  if (Deno.build.os === "windows") return undefined; // Scripts are .exe launchers there.
  const entries = readDirSyncIfPresent(bin);
  if (!entries) return undefined;
  const own = new Set([bin, realPath(bin)]);
  for (const entry of entries) {
    if (!entry.isFile || entry.name.startsWith("python") || entry.name.startsWith("activate")) {
      continue;
    }
    const head = readHead(path.join(bin, entry.name));
    const interpreter = head === undefined ? undefined : scriptInterpreter(head);
    if (!interpreter) continue;
    const folder = path.dirname(interpreter);
    if (own.has(folder) || own.has(realPath(folder))) continue;
    return `its script "${entry.name}" runs "${interpreter}", outside this environment ` +
      `(the project was moved or copied)`;
  }
  return undefined;
}

function readHead(file: string): string | undefined {
  let handle: Deno.FsFile | undefined;
  try {
    handle = Deno.openSync(file, { read: true });
    const buffer = new Uint8Array(512);
    const n = handle.readSync(buffer) ?? 0;
    return new TextDecoder().decode(buffer.subarray(0, n));
  } catch {
    return undefined;
  } finally {
    handle?.close();
  }
}

function realPath(file: string): string {
  try {
    return Deno.realPathSync(file);
  } catch {
    return file;
  }
}
