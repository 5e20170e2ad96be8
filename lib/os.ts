/**
 * Operating-system conventions as functions of an `os` parameter (default:
 * this machine), so Windows and macOS behaviour is unit-tested on Linux — the
 * way lib/cache_paths.ts does it. Code that must ask the running system (to
 * spawn or signal a process) uses `HOST_OS` at that boundary only.
 */
import * as path from "./path.ts";

/** An operating system as `Deno.build.os` names it. */
export type Os = typeof Deno.build.os;

/** The OS rig runs on: the default of every `os` parameter. */
export const HOST_OS: Os = Deno.build.os;

/** The path functions of an OS (`path.win32` on Windows, `path.posix` elsewhere). */
export function pathApi(os: Os = HOST_OS): typeof path.posix {
  return os === "windows" ? path.win32 : path.posix;
}

/** The separator of PATH-like lists: `;` on Windows, `:` elsewhere. */
export function pathListSeparator(os: Os = HOST_OS): string {
  return os === "windows" ? ";" : ":";
}

/** The name of the PATH variable in an environment (Windows matches it case-insensitively). */
export function pathKey(env: Record<string, string>, os: Os = HOST_OS): string {
  if (os !== "windows") return "PATH";
  return Object.keys(env).find((k) => k.toUpperCase() === "PATH") ?? "PATH";
}

/** `dir` put first on the environment's PATH. */
export function prependPath(
  env: Record<string, string>,
  dir: string,
  os: Os = HOST_OS,
): Record<string, string> {
  const key = pathKey(env, os);
  const out = { ...env };
  out[key] = env[key] ? `${dir}${pathListSeparator(os)}${env[key]}` : dir;
  return out;
}

/** A node package binary's file name in `node_modules/.bin` (`tsc.cmd` on Windows). */
export function nodeBinName(tool: string, os: Os = HOST_OS): string {
  return os === "windows" ? `${tool}.cmd` : tool;
}

/** The interpreter file in a Python installation's folder (`python.exe`, else `python3`). */
export function pythonInHome(home: string, os: Os = HOST_OS): string {
  return pathApi(os).join(home, os === "windows" ? "python.exe" : "python3");
}

/** The Python launcher on PATH: `python` on Windows, `python3` elsewhere. */
export function pythonLauncher(os: Os = HOST_OS): string {
  return os === "windows" ? "python" : "python3";
}

/** Python's `sys.platform` for an OS. */
export function pythonPlatform(os: Os = HOST_OS): string {
  return ({ windows: "win32", darwin: "darwin" } as Record<string, string>)[os] ?? os;
}

/** Whether files carry POSIX permission bits (chmod means something). */
export function hasFileModes(os: Os = HOST_OS): boolean {
  return os !== "windows";
}

/**
 * The files `which` tries for a program: the program itself when it names a
 * path, else each PATH folder, with each PATHEXT extension on Windows.
 */
export function executableCandidates(
  program: string,
  env: Record<string, string>,
  os: Os = HOST_OS,
): string[] {
  const api = pathApi(os);
  const extensions = os === "windows"
    ? ["", ...(env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").map((e) => e.toLowerCase())]
    : [""];
  if (program.includes("/") || (os === "windows" && program.includes("\\"))) {
    return [program, ...extensions.slice(1).map((e) => program + e)];
  }
  const dirs = (env[pathKey(env, os)] ?? env.PATH ?? env.Path ?? "").split(pathListSeparator(os))
    .filter(Boolean);
  return dirs.flatMap((dir) => extensions.map((ext) => api.join(dir, program + ext)));
}
