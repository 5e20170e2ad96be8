/** Runs rig as a user would (a separate process, --json) and times it, for bench sections. */
import * as path from "node:path";

const MAIN = path.resolve(import.meta.dirname!, "..", "..", "main.ts");

/** How long one rig invocation took and the JSON document it printed. */
export interface TimedRun<T> {
  ms: number;
  doc: T;
}

/** Runs `rig -C root --json ARGS…`; throws with rig's stderr when it fails. */
export async function timedRig<T>(root: string, args: string[]): Promise<TimedRun<T>> {
  const env = Deno.env.toObject();
  delete env.VIRTUAL_ENV;
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "-C", root, "--json", ...args],
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  if (!out.success) {
    throw new Error(`rig ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return { ms, doc: JSON.parse(new TextDecoder().decode(out.stdout)) as T };
}
