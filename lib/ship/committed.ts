/**
 * rig committed into a repository: `./rig` (POSIX sh), `rig.cmd` (Windows) and
 * `.rig-tool/` (the bundle, its version, SHA256SUMS, optional per-OS binaries),
 * so a newcomer runs `./rig …` with nothing installed. Written by
 * `rig self install`, replaced by `rig self update`.
 */
import * as path from "../path.ts";
import { EnvironmentError, UsageError } from "../errors.ts";
import { isDir, isFile } from "../fs.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { sha256Hex } from "../hash.ts";
import { RIG_VERSION } from "../version.ts";
import { template } from "../../templates/mod.ts";
import { TOOL_DIR } from "./launcher_notice.ts";
import { formatSha256Sums, parseSha256Sums } from "./checksums.ts";

export { compareVersions, TOOL_DIR } from "./launcher_notice.ts";

/** The Deno that the launchers fetch with npx or uvx: the one rig is tested with. */
export const DENO_VERSION = "2.9.6";
/** The oldest Deno the bundle runs on (it uses node:sqlite, new in 2.2). */
export const DENO_MIN = "2.2.0";

/** The lines `rig self install` keeps in .gitattributes. */
export const GITATTRIBUTES_LINES = [
  "/rig text eol=lf",
  "/rig.cmd text eol=crlf",
  "/.rig-tool/rig.js -diff linguist-generated",
  "/.rig-tool/bin/** binary",
];

/** What to commit. */
export interface CommittedRigOptions {
  /** The text of rig's bundle (see runningBundle). */
  bundle: string;
  /** A folder of compiled binaries `rig-<target>[.exe]` (deno task compile's output) to add. */
  binaries?: string;
  /**
   * `rig --help` as the bundle prints it, without and with colours: the
   * launcher answers it from these files, as it answers --version, without
   * starting Deno.
   */
  help?: { plain: string; color: string };
}

/** What `writeCommittedRig` changed, as paths relative to the project root. */
export interface CommittedRigResult {
  written: string[];
  removed: string[];
  previousVersion?: string;
}

/** Renders the POSIX sh or Windows launcher for this rig. */
export function renderLauncher(kind: "sh" | "cmd"): string {
  const text = template(kind === "sh" ? "launcher.sh" : "launcher.cmd")
    .replaceAll("{{RIG_VERSION}}", RIG_VERSION)
    .replaceAll("{{DENO_VERSION}}", DENO_VERSION)
    .replaceAll("{{DENO_MIN}}", DENO_MIN);
  return kind === "cmd" ? text.replace(/\r?\n/g, "\r\n") : text;
}

/** The version of the rig committed below `root`, if there is one. */
export function committedVersion(root: string): string | undefined {
  try {
    return Deno.readTextFileSync(path.join(root, TOOL_DIR, "version")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes (or replaces) the committed rig below `root`: the bundle, its version,
 * the binaries asked for, SHA256SUMS over all of them, both launchers and the
 * .gitattributes lines. Binaries of an older version are removed, not kept.
 */
export async function writeCommittedRig(
  root: string,
  opts: CommittedRigOptions,
): Promise<CommittedRigResult> {
  const tool = path.join(root, TOOL_DIR);
  const previousVersion = committedVersion(root);
  const written: string[] = [];
  const removed: string[] = [];
  const sums: [string, string][] = [];
  const binaries = opts.binaries ? await readBinaries(opts.binaries) : [];
  const binDir = path.join(tool, "bin");
  for (const entry of isDir(binDir) ? [...Deno.readDirSync(binDir)] : []) {
    if (!binaries.some((b) => b.name === entry.name)) {
      await Deno.remove(path.join(binDir, entry.name), { recursive: true });
      removed.push(`${TOOL_DIR}/bin/${entry.name}`);
    }
  }
  const write = async (relative: string, data: string | Uint8Array, mode?: number) => {
    await writeFileAtomic(path.join(root, relative), data, mode === undefined ? {} : { mode });
    written.push(relative);
  };
  await write(`${TOOL_DIR}/rig.js`, opts.bundle);
  sums.push(["rig.js", await sha256Hex(opts.bundle)]);
  for (const binary of binaries) {
    await write(`${TOOL_DIR}/bin/${binary.name}`, binary.bytes, 0o755);
    sums.push([`bin/${binary.name}`, binary.sha256]);
  }
  await write(`${TOOL_DIR}/version`, `${RIG_VERSION}\n`);
  for (const [name, text] of Object.entries(opts.help ?? {})) {
    const file = name === "plain" ? "help.txt" : "help-color.txt";
    await write(`${TOOL_DIR}/${file}`, text);
    sums.push([file, await sha256Hex(text)]);
  }
  await write(`${TOOL_DIR}/SHA256SUMS`, formatSha256Sums(sums));
  await write("rig", renderLauncher("sh"), 0o755);
  await write("rig.cmd", renderLauncher("cmd"));
  if (await ensureGitattributes(root)) written.push(".gitattributes");
  return { written, removed, ...(previousVersion ? { previousVersion } : {}) };
}

interface Binary {
  name: string;
  bytes: Uint8Array;
  sha256: string;
}

/** The binaries in a compile output folder, checked against its SHA256SUMS when it has one. */
async function readBinaries(dir: string): Promise<Binary[]> {
  if (!isDir(dir)) {
    throw new UsageError(
      `Cannot add binaries from "${dir}": no such folder`,
      "Build them first: deno task compile (they land in dist/bin)",
    );
  }
  const sumsFile = path.join(dir, "SHA256SUMS");
  const listed = isFile(sumsFile)
    ? parseSha256Sums(await Deno.readTextFile(sumsFile))
    : new Map<string, string>();
  const binaries: Binary[] = [];
  for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile || !/^rig-[\w.-]+$/.test(entry.name)) continue;
    const bytes = await Deno.readFile(path.join(dir, entry.name));
    const sha256 = await sha256Hex(bytes);
    const want = listed.get(entry.name);
    if (want && want !== sha256) {
      throw new EnvironmentError(
        `"${path.join(dir, entry.name)}" does not match its checksum in "${sumsFile}"`,
        "Rebuild the binaries: deno task compile",
      );
    }
    binaries.push({ name: entry.name, bytes, sha256 });
  }
  if (!binaries.length) {
    throw new UsageError(
      `No rig binaries (rig-<target>) in "${dir}"`,
      "Build them first: deno task compile",
    );
  }
  return binaries;
}

/** Adds the launcher lines to .gitattributes that it lacks; true when it changed the file. */
async function ensureGitattributes(root: string): Promise<boolean> {
  const file = path.join(root, ".gitattributes");
  const current = isFile(file) ? await Deno.readTextFile(file) : "";
  const present = new Set(current.split(/\r?\n/).map((l) => l.trim()));
  const missing = GITATTRIBUTES_LINES.filter((line) => !present.has(line));
  if (!missing.length) return false;
  const separator = current === "" || current.endsWith("\n") ? "" : "\n";
  const header = present.has("# rig's committed launcher (rig self install)")
    ? []
    : ["# rig's committed launcher (rig self install)"];
  await writeFileAtomic(file, `${current}${separator}${[...header, ...missing].join("\n")}\n`);
  return true;
}
