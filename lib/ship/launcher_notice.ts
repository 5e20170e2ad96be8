/**
 * "This project's committed rig is older than the rig running": said once per
 * project and version pair, remembered in the user cache (the project is not
 * written to).
 */
import * as path from "../path.ts";
import { writeJsonAtomic } from "../fs_atomic.ts";

/** The committed tool folder, beside the launchers. */
export const TOOL_DIR = ".rig-tool";

/** The notice to print, or undefined when there is none or it was already said. */
export interface OlderRigNotice {
  message: string;
  hint: string;
}

/** Options for `olderCommittedRigNotice`. */
export interface NoticeOptions {
  /** The running rig's version. */
  version: string;
  /** The version of the launcher that started rig (RIG_LAUNCHER_VERSION), if one did. */
  launcherVersion?: string;
  /** Where the notices already given are remembered (a file in the user cache). */
  stateFile: string;
}

/** Looks for a committed rig above `cwd` older than the running one; says so once. */
export async function olderCommittedRigNotice(
  cwd: string,
  opts: NoticeOptions,
): Promise<OlderRigNotice | undefined> {
  const found = opts.launcherVersion
    ? { root: cwd, version: opts.launcherVersion, what: "committed launcher (./rig)" }
    : findCommitted(cwd);
  if (!found || compareVersions(found.version, opts.version) >= 0) return undefined;
  const key = `${found.root} ${found.version} ${opts.version}`;
  let said: string[] = [];
  try {
    said = JSON.parse(await Deno.readTextFile(opts.stateFile)) as string[];
  } catch {
    // First notice ever, or an unreadable file: start afresh.
  }
  if (said.includes(key)) return undefined;
  await writeJsonAtomic(opts.stateFile, [...said.slice(-99), key]).catch(() => {});
  return {
    message: `This project's ${found.what} is rig ${found.version}, older than the rig ` +
      `running (${opts.version})`,
    hint: `Run: rig self update, then commit rig, rig.cmd and ${TOOL_DIR}/ (said once)`,
  };
}

function findCommitted(cwd: string): { root: string; version: string; what: string } | undefined {
  for (let dir = path.resolve(cwd);; dir = path.dirname(dir)) {
    try {
      const version = Deno.readTextFileSync(path.join(dir, TOOL_DIR, "version")).trim();
      if (version) return { root: dir, version, what: `committed rig (${TOOL_DIR})` };
    } catch {
      // Not here: look further up.
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Compares dotted numeric versions (`0.10.0` > `0.9.1`); a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[-+]/, 1)[0]!.split(".").map((n) => Number(n) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return (a.includes("-") ? -1 : 0) - (b.includes("-") ? -1 : 0);
}
