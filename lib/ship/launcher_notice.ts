/**
 * "This project's committed rig is older than the rig running": said once per
 * project and version pair, remembered in the user cache (the project is not
 * written to).
 */
import * as path from "../path.ts";
import { writeJsonAtomic } from "../fs_atomic.ts";
import { userCacheDir } from "../cache_paths.ts";
import { RIG_VERSION } from "../version.ts";

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

/** The notice options of the running rig, in the environment `env`. */
export function noticeOptions(env: Record<string, string | undefined>): NoticeOptions {
  return {
    version: RIG_VERSION,
    launcherVersion: env.RIG_LAUNCHER_VERSION,
    stateFile: path.join(userCacheDir(env, Deno.build.os), "notices.json"),
  };
}

/** Looks for a committed rig above `cwd` older than the running one; says so once. */
export async function olderCommittedRigNotice(
  cwd: string,
  opts: NoticeOptions,
): Promise<OlderRigNotice | undefined> {
  const pending = pendingNotice(cwd, opts);
  if (!pending) return undefined;
  const { found, key, said } = pending;
  await writeJsonAtomic(opts.stateFile, [...said.slice(-99), key]).catch(() => {});
  return {
    message: `This project's ${found.what} is rig ${found.version}, older than the rig ` +
      `running (${opts.version})`,
    hint: `Run: rig self update, then commit rig, rig.cmd and ${TOOL_DIR}/ (said once)`,
  };
}

/**
 * True when `olderCommittedRigNotice` has something to say (and so a run must
 * take the path that says it); reads, never writes.
 */
export function noticePending(cwd: string, opts: NoticeOptions): boolean {
  return pendingNotice(cwd, opts) !== undefined;
}

function pendingNotice(cwd: string, opts: NoticeOptions) {
  const found = opts.launcherVersion
    ? { root: cwd, version: opts.launcherVersion, what: "committed launcher (./rig)" }
    : findCommitted(cwd);
  if (!found || compareVersions(found.version, opts.version) >= 0) return undefined;
  const key = `${found.root} ${found.version} ${opts.version}`;
  let said: string[] = [];
  try {
    said = JSON.parse(Deno.readTextFileSync(opts.stateFile)) as string[];
  } catch {
    // First notice ever, or an unreadable file: start afresh.
  }
  return Array.isArray(said) && said.includes(key) ? undefined : { found, key, said };
}

/**
 * The committed rig of the project around `cwd`: the nearest folder up to the
 * repository's root (the folder holding `.git`) with `.rig-tool/version`.
 * Folders are listed rather than probed, as a probe of a missing file throws,
 * and an error costs a cached run more than a listing.
 */
function findCommitted(cwd: string): { root: string; version: string; what: string } | undefined {
  for (let dir = path.resolve(cwd);; dir = path.dirname(dir)) {
    let names: Set<string>;
    try {
      names = new Set([...Deno.readDirSync(dir)].map((entry) => entry.name));
    } catch {
      return undefined;
    }
    if (names.has(TOOL_DIR)) {
      try {
        const version = Deno.readTextFileSync(path.join(dir, TOOL_DIR, "version")).trim();
        if (version) return { root: dir, version, what: `committed rig (${TOOL_DIR})` };
      } catch {
        // A tool folder without a version: look further up.
      }
    }
    if (names.has(".git") || path.dirname(dir) === dir) return undefined;
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
