/**
 * Detects the tools rig drives (python, pip, uv, node, npm, git, docker) and
 * their versions, without failing when one is missing.
 */
import { run, which } from "./proc.ts";

/** A tool as found on this machine. */
export interface ToolInfo {
  name: string;
  /** Absolute path, when found. */
  path?: string;
  /** The version number, when it could be read. */
  version?: string;
}

const VERSION_ARGS: Record<string, string[]> = {
  python3: ["--version"],
  python: ["--version"],
  pip: ["--version"],
  uv: ["--version"],
  node: ["--version"],
  npm: ["--version"],
  git: ["--version"],
  docker: ["--version"],
  psql: ["--version"],
};

/** Finds a tool and reads its version (`undefined` version when it does not answer). */
export async function detectTool(name: string, env: Record<string, string>): Promise<ToolInfo> {
  const found = which(name, env);
  if (!found) return { name };
  try {
    const result = await run([found, ...(VERSION_ARGS[name] ?? ["--version"])], {
      env,
      timeoutMs: 10_000,
    });
    const text = `${result.stdout}\n${result.stderr}`;
    return { name, path: found, version: text.match(/(\d+\.\d+(?:\.\d+)?[\w.+-]*)/)?.[1] };
  } catch {
    return { name, path: found };
  }
}

/** Detects several tools concurrently. */
export async function detectTools(
  names: string[],
  env: Record<string, string>,
): Promise<ToolInfo[]> {
  return await Promise.all(names.map((n) => detectTool(n, env)));
}

/** The Python launcher name on this OS (`python3`, or `python` on Windows). */
export function defaultPython(env: Record<string, string>): string {
  if (env.RIG_PYTHON) return env.RIG_PYTHON;
  return Deno.build.os === "windows" ? "python" : "python3";
}
