/**
 * Validation of Python distributions: a wheel's METADATA and RECORD (every
 * hash and size), an sdist's PKG-INFO, pyproject.toml and sources, and a
 * smoke test that installs the wheel into a scratch venv and imports it.
 * A broken artifact raises ValidationError naming the file and the mismatch.
 */
import { exists } from "../fs.ts";
import * as path from "../path.ts";
import { type ArchiveEntry, openArchive, readAll } from "../archive.ts";
import { RigError } from "../errors.ts";
import { run, runChecked } from "../proc.ts";
import { normalizeName } from "./names.ts";
import { venvLayout } from "./venv.ts";

/** An artifact that exists but is wrong (exit code 1: the build failed). */
export class ValidationError extends RigError {}

/** What a distribution must be: its project name and version from pyproject.toml. */
export interface ExpectedDist {
  name: string;
  version: string;
}

/** What validating a wheel found. */
export interface WheelReport {
  file: string;
  name: string;
  version: string;
  /** Top-level importable packages and modules. */
  topLevel: string[];
  /** Number of files whose RECORD hash and size were checked. */
  filesChecked: number;
}

/** What validating an sdist found. */
export interface SdistReport {
  file: string;
  name: string;
  version: string;
  /** The archive's top folder, e.g. `authserver_client-0.1.0`. */
  root: string;
  files: number;
}

/** Parses an RFC 822 style metadata file (METADATA, PKG-INFO) into header → values. */
export function parseMetadata(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break; // The body (long description) follows the first blank line.
    if (/^[ \t]/.test(line) && last) {
      const values = out.get(last)!;
      values[values.length - 1] += "\n" + line.trim();
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    const values = out.get(last) ?? [];
    values.push(line.slice(colon + 1).trim());
    out.set(last, values);
  }
  return out;
}

/** The RECORD form of a SHA-256: `sha256=` + urlsafe base64 without padding. */
export async function recordHash(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return "sha256=" + btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Parses RECORD's CSV lines into path, hash and size (quoted fields allowed). */
export function parseRecord(text: string): { path: string; hash: string; size: string }[] {
  const rows: { path: string; hash: string; size: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const fields: string[] = [];
    let current = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const char = line[i]!;
      if (quoted) {
        if (char === '"' && line[i + 1] === '"') {
          current += '"';
          i++;
        } else if (char === '"') quoted = false;
        else current += char;
      } else if (char === '"') quoted = true;
      else if (char === ",") {
        fields.push(current);
        current = "";
      } else current += char;
    }
    fields.push(current);
    rows.push({ path: fields[0] ?? "", hash: fields[1] ?? "", size: fields[2] ?? "" });
  }
  return rows;
}

async function versionsEqual(a: string, b: string): Promise<boolean> {
  if (a === b) return true;
  try {
    const pep440 = await import("@renovatebot/pep440");
    return pep440.eq(a, b);
  } catch {
    return false;
  }
}

/** The top-level importable names in a wheel's file list (packages and single modules). */
export function wheelTopLevel(names: string[]): string[] {
  const top = new Set<string>();
  for (const name of names) {
    const parts = name.split("/");
    const first = parts[0]!;
    if (first.endsWith(".dist-info") || first.endsWith(".data")) continue;
    if (parts.length === 1) {
      const module = first.match(/^([A-Za-z_]\w*)(?:\.py|\.cpython.*\.so|\.abi3\.so|\.pyd)$/)?.[1];
      if (module) top.add(module);
    } else if (/^[A-Za-z_]\w*$/.test(first) && /\.(py|so|pyd)$/.test(name)) top.add(first);
  }
  return [...top].sort();
}

/** Validates a wheel: it opens, METADATA matches, and every RECORD hash and size matches. */
export async function validateWheel(file: string, expected: ExpectedDist): Promise<WheelReport> {
  const label = path.basename(file);
  const fail = (problem: string, hint?: string): never => {
    throw new ValidationError(`Wheel "${label}" is invalid: ${problem}`, hint ?? REBUILD_HINT);
  };
  let entries: ArchiveEntry[];
  try {
    entries = await openArchive(file);
  } catch (error) {
    return fail((error as Error).message);
  }
  const contents = await readAll(entries).catch((error: Error) => fail(error.message));
  const distInfos = [
    ...new Set(
      [...contents.keys()].map((n) => n.split("/")[0]!).filter((n) => n.endsWith(".dist-info")),
    ),
  ];
  if (distInfos.length !== 1) {
    fail(`expected one ".dist-info" folder, found ${distInfos.length}`);
  }
  const distInfo = distInfos[0]!;
  const text = (name: string) => {
    const bytes = contents.get(`${distInfo}/${name}`);
    if (!bytes) fail(`"${distInfo}/${name}" is missing`);
    return new TextDecoder().decode(bytes);
  };
  const metadata = parseMetadata(text("METADATA"));
  text("WHEEL");
  const name = metadata.get("Name")?.[0] ?? fail(`METADATA has no "Name"`);
  const version = metadata.get("Version")?.[0] ?? fail(`METADATA has no "Version"`);
  if (normalizeName(name) !== normalizeName(expected.name)) {
    fail(`METADATA Name is "${name}" but pyproject.toml says "${expected.name}"`);
  }
  if (!(await versionsEqual(version, expected.version))) {
    fail(`METADATA Version is "${version}" but pyproject.toml says "${expected.version}"`);
  }
  const fileDist = label.split("-")[0] ?? "";
  if (normalizeName(fileDist) !== normalizeName(name)) {
    fail(`the file name names "${fileDist}" but METADATA says "${name}"`);
  }
  const recordPath = `${distInfo}/RECORD`;
  const rows = parseRecord(text("RECORD"));
  const listed = new Set<string>();
  let checked = 0;
  for (const row of rows) {
    listed.add(row.path);
    if (row.path === recordPath) continue;
    const bytes = contents.get(row.path);
    if (!bytes) fail(`RECORD lists "${row.path}", which is not in the wheel`);
    if (!row.hash) fail(`RECORD has no hash for "${row.path}"`);
    const [algorithm] = row.hash.split("=");
    if (algorithm !== "sha256") {
      fail(`RECORD uses "${algorithm}" for "${row.path}"; rig checks sha256 only`);
    }
    const actual = await recordHash(bytes!);
    if (actual !== row.hash) {
      fail(
        `RECORD hash mismatch for "${row.path}": RECORD says "${row.hash}", file is "${actual}"`,
      );
    }
    if (row.size !== String(bytes!.length)) {
      fail(
        `RECORD size mismatch for "${row.path}": RECORD says ${row.size || "nothing"}, file is ${
          bytes!.length
        } bytes`,
      );
    }
    checked++;
  }
  for (const entry of contents.keys()) {
    if (entry === recordPath || /\/RECORD\.(jws|p7s)$/.test(entry)) continue;
    if (!listed.has(entry)) fail(`"${entry}" is in the wheel but not in RECORD`);
  }
  return {
    file,
    name,
    version,
    topLevel: wheelTopLevel([...contents.keys()]),
    filesChecked: checked,
  };
}

/**
 * Validates an sdist: it opens, has one top folder with PKG-INFO (matching
 * Name and Version) and pyproject.toml, and holds every `sources` path
 * (package files relative to their import root, e.g. `authclient/client.py`).
 */
export async function validateSdist(
  file: string,
  expected: ExpectedDist & { sources?: string[] },
): Promise<SdistReport> {
  const label = path.basename(file);
  const fail = (problem: string): never => {
    throw new ValidationError(`Sdist "${label}" is invalid: ${problem}`, REBUILD_HINT);
  };
  let entries: ArchiveEntry[];
  try {
    entries = await openArchive(file);
  } catch (error) {
    return fail((error as Error).message);
  }
  const roots = [...new Set(entries.map((e) => e.name.split("/")[0]!))];
  if (roots.length !== 1) fail(`expected one top folder, found ${roots.length}`);
  const root = roots[0]!;
  const byName = new Map(entries.map((e) => [e.name, e]));
  const pkgInfo = byName.get(`${root}/PKG-INFO`) ?? fail(`"${root}/PKG-INFO" is missing`);
  if (!byName.has(`${root}/pyproject.toml`)) fail(`"${root}/pyproject.toml" is missing`);
  const metadata = parseMetadata(new TextDecoder().decode(await pkgInfo.read()));
  const name = metadata.get("Name")?.[0] ?? fail(`PKG-INFO has no "Name"`);
  const version = metadata.get("Version")?.[0] ?? fail(`PKG-INFO has no "Version"`);
  if (normalizeName(name) !== normalizeName(expected.name)) {
    fail(`PKG-INFO Name is "${name}" but pyproject.toml says "${expected.name}"`);
  }
  if (!(await versionsEqual(version, expected.version))) {
    fail(`PKG-INFO Version is "${version}" but pyproject.toml says "${expected.version}"`);
  }
  const names = entries.map((e) => e.name);
  for (const source of expected.sources ?? []) {
    if (!names.some((n) => n.endsWith(`/${source}`))) {
      fail(`package source "${source}" is missing`);
    }
  }
  return { file, name, version, root, files: entries.length };
}

/** The Python source files of a wheel (what its sdist must also hold). */
export async function wheelSources(file: string): Promise<string[]> {
  const entries = await openArchive(file);
  return entries.map((e) => e.name).filter((n) =>
    n.endsWith(".py") && !n.split("/")[0]!.endsWith(".dist-info") &&
    !n.split("/")[0]!.endsWith(".data")
  );
}

/** Options for installing a wheel into a scratch venv and importing it. */
export interface SmokeTestOptions {
  /** The interpreter that creates the scratch venv. */
  python: string;
  /** The scratch venv folder (created when missing, reused otherwise). */
  venvDir: string;
  /** Modules to import. */
  modules: string[];
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Install with --no-deps only (imports that need dependencies may then fail). */
  noDeps?: boolean;
}

/** What the install check did: the modules imported, or why importing was skipped. */
export interface SmokeTestResult {
  imported: string[];
  skipped?: string;
}

/**
 * Installs a wheel into a scratch venv (`--no-deps`, then its dependencies,
 * from the pip cache when it can) and imports its top-level modules. When the
 * dependencies cannot be installed (no index), the import is skipped and said so.
 */
export async function smokeTestWheel(
  file: string,
  options: SmokeTestOptions,
): Promise<SmokeTestResult> {
  const label = path.basename(file);
  const { python } = venvLayout(options.venvDir);
  const env: Record<string, string> = { ...options.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONPATH;
  const common = { env, signal: options.signal, cwd: path.dirname(options.venvDir) };
  if (!exists(python)) {
    await runChecked([options.python, "-m", "venv", options.venvDir], common);
  }
  const pip = [python, "-m", "pip", "install", "--quiet"];
  const install = await run([...pip, "--no-deps", "--force-reinstall", file], common);
  if (!install.success) {
    throw new ValidationError(
      `Wheel "${label}" does not install: ${lastLine(install.stderr || install.stdout)}`,
      REBUILD_HINT,
    );
  }
  if (!options.noDeps) {
    const deps = await run([...pip, file], common);
    if (!deps.success) {
      // The wheel itself installed; without its dependencies an import proves nothing.
      return {
        imported: [],
        skipped: `its dependencies could not be installed (${
          lastLine(deps.stderr || deps.stdout)
        })`,
      };
    }
  }
  if (options.modules.length === 0) return { imported: [] };
  const imported = await run(
    [python, "-I", "-c", options.modules.map((m) => `import ${m}`).join("; ")],
    common,
  );
  if (!imported.success) {
    throw new ValidationError(
      `Wheel "${label}" installs but does not import: ${
        lastLine(imported.stderr || imported.stdout)
      }`,
      "Check the package layout in pyproject.toml ([tool.setuptools] packages), then rerun: rig build",
    );
  }
  return { imported: options.modules };
}

const REBUILD_HINT = "Delete the file and rebuild: rig build --no-cache";

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "(no output)";
}
