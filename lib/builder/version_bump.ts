/**
 * One version across the project: finds every place a component states its
 * version (pyproject.toml `[project] version`, package.json, package-lock.json,
 * a package's `__version__`, `FastAPI(version=...)`), plans a bump, and edits
 * the files textually (formatting kept), backing every file up and restoring
 * all of them if any edit fails.
 */
import * as path from "../path.ts";
import { EnvironmentError, RigError, UsageError } from "../errors.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import { findFastApiApp } from "../project/detect.ts";
import { readDirIfPresent, toPosix } from "../fs.ts";
import type { ParseError } from "jsonc-parser";

/** What kind of statement holds a version. */
export type VersionSiteKind =
  | "pyproject"
  | "package.json"
  | "package-lock"
  | "__version__"
  | "fastapi";

/** One place in one file that states a version. */
export interface VersionSite {
  /** Absolute file path. */
  file: string;
  /** The file relative to the project root, with `/` separators. */
  display: string;
  component: string;
  kind: VersionSiteKind;
  /** A short description of the place, e.g. `[project] version`. */
  where: string;
  current: string;
  /** Offsets of the version text (without quotes) in the file. */
  start: number;
  end: number;
}

/** A planned bump: the new version and every edit it makes. */
export interface BumpPlan {
  from: string | undefined;
  to: string;
  sites: VersionSite[];
}

/** How to bump: a release type or an explicit version. */
export type BumpSpec = "major" | "minor" | "patch" | string;

/** Finds every version site of the given components (default: all). */
export async function findVersionSites(
  project: Project,
  components: Component[] = project.components,
): Promise<VersionSite[]> {
  const sites: VersionSite[] = [];
  for (const component of components) {
    if (isNode(component)) {
      sites.push(...await nodeSites(project.root, component));
    } else {
      sites.push(...await pythonSites(project.root, component));
    }
  }
  return sites;
}

/** The version a component declares (its first site), or undefined when it declares none. */
export async function componentVersion(
  project: Project,
  component: Component,
): Promise<string | undefined> {
  return (await findVersionSites(project, [component]))[0]?.current;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The site at `span` (the text between the quotes) of `component`'s `file`. */
function versionSite(
  root: string,
  component: Component,
  at: { file: string; span: JsonSpan; where: string; kind: VersionSiteKind },
): VersionSite {
  return {
    file: at.file,
    display: toPosix(path.relative(root, at.file)),
    component: component.name,
    kind: at.kind,
    where: at.where,
    current: at.span.value,
    start: at.span.start,
    end: at.span.end,
  };
}

async function nodeSites(root: string, component: Component): Promise<VersionSite[]> {
  const sites: VersionSite[] = [];
  const site = (file: string, span: JsonSpan, where: string, kind: VersionSiteKind) =>
    sites.push(versionSite(root, component, { file, span, where, kind }));
  const pkgFile = path.join(component.dir, "package.json");
  const pkg = await readText(pkgFile);
  if (pkg !== undefined) {
    const [span] = await findJsonStrings(pkgFile, pkg, [["version"]]);
    if (span) site(pkgFile, span, `"version"`, "package.json");
  }
  const lockFile = path.join(component.dir, "package-lock.json");
  const lock = await readText(lockFile);
  if (lock !== undefined) {
    const [top, inner] = await findJsonStrings(lockFile, lock, [["version"], [
      "packages",
      "",
      "version",
    ]]);
    if (top) site(lockFile, top, `"version"`, "package-lock");
    if (inner) site(lockFile, inner, `packages[""].version`, "package-lock");
  }
  return sites;
}

async function pythonSites(root: string, component: Component): Promise<VersionSite[]> {
  const sites: VersionSite[] = [];
  const add = (file: string, match: RegExpExecArray, where: string, kind: VersionSiteKind) => {
    const value = match.groups!.v!;
    const start = match.index + match[0].lastIndexOf(value);
    const span = { value, start, end: start + value.length };
    sites.push(versionSite(root, component, { file, span, where, kind }));
  };
  const pyproject = path.join(component.dir, "pyproject.toml");
  const text = await readText(pyproject);
  if (text !== undefined) {
    const section = tomlSection(text, "project");
    if (section) {
      const body = text.slice(section.start, section.end);
      const re = /^[ \t]*version[ \t]*=[ \t]*(["'])(?<v>[^"'\n]*)\1/m;
      const match = re.exec(body);
      if (match) {
        match.index += section.start;
        add(pyproject, match, "[project] version", "pyproject");
      }
    }
  }
  for (const init of await packageInits(component)) {
    const source = await readText(init);
    if (source === undefined) continue;
    const match = /^__version__[ \t]*(?::[ \t]*str[ \t]*)?=[ \t]*(["'])(?<v>[^"'\n]+)\1/m.exec(
      source,
    );
    if (match) add(init, match, "__version__", "__version__");
  }
  if (component.kind === "python-app") {
    for (const file of await appModules(component)) {
      const source = await readText(file);
      if (source === undefined || !/\b(from\s+fastapi\s+import|import\s+fastapi)\b/.test(source)) {
        continue;
      }
      const call = /\bFastAPI\(/g;
      for (let m = call.exec(source); m; m = call.exec(source)) {
        const args = source.slice(m.index, closingParen(source, m.index + 8));
        const version = /\bversion[ \t]*=[ \t]*(["'])(?<v>[^"'\n]+)\1/.exec(args);
        if (version) {
          version.index += m.index;
          add(file, version, "FastAPI(version=...)", "fastapi");
        }
      }
    }
  }
  return sites;
}

/** The app's module first (rig.toml `app` or detection), then every module of its packages. */
async function appModules(component: Component): Promise<string[]> {
  const files: string[] = [];
  const app = component.app ?? await findFastApiApp(component.dir);
  if (app) files.push(path.join(component.dir, ...app.split(":")[0]!.split(".")) + ".py");
  for (const init of await packageInits(component)) {
    for await (const entry of Deno.readDir(path.dirname(init))) {
      if (entry.isFile && entry.name.endsWith(".py")) {
        files.push(path.join(path.dirname(init), entry.name));
      }
    }
  }
  return [...new Set(files)].sort((
    a,
    b,
  ) => (a === files[0] ? -1 : b === files[0] ? 1 : a.localeCompare(b)));
}

/** The `__init__.py` files of a Python component's top-level packages (root or src/ layout). */
async function packageInits(component: Component): Promise<string[]> {
  const out: string[] = [];
  const skip = new Set(["tests", "test", "migrations", "docs", "build", "dist", "node_modules"]);
  for (const base of [component.dir, path.join(component.dir, "src")]) {
    const entries = await readDirIfPresent(base);
    if (!entries) continue;
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (!entry.isDirectory || entry.name.startsWith(".") || skip.has(entry.name)) continue;
      if (!/^[A-Za-z_]\w*$/.test(entry.name)) continue;
      const init = path.join(base, entry.name, "__init__.py");
      try {
        await Deno.stat(init);
        out.push(init);
      } catch {
        // Not a package.
      }
    }
  }
  return out;
}

function closingParen(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const char = text[i];
    if (char === "(") depth++;
    else if (char === ")" && --depth === 0) return i;
  }
  return text.length;
}

/** The span of a TOML table's body (after its header up to the next header). */
function tomlSection(text: string, name: string): { start: number; end: number } | undefined {
  const header = new RegExp(`^[ \\t]*\\[[ \\t]*${name}[ \\t]*\\][ \\t]*(#.*)?$`, "m");
  const match = header.exec(text);
  if (!match) return undefined;
  const start = match.index + match[0].length;
  const next = /^[ \t]*\[/m.exec(text.slice(start));
  return { start, end: next ? start + next.index : text.length };
}

/** A string value's position in JSON text (offsets exclude the quotes). */
interface JsonSpan {
  value: string;
  start: number;
  end: number;
}

/**
 * Finds the string values at the given key paths of a JSON document, in `paths` order, with
 * the offsets of their text between the quotes. npm's jsonc-parser (Microsoft's, behind VS
 * Code's JSON editing) does the parsing; it is loaded only here, when a version is read.
 */
export async function findJsonStrings(
  file: string,
  text: string,
  paths: string[][],
): Promise<(JsonSpan | undefined)[]> {
  const { findNodeAtLocation, parseTree, printParseErrorCode } = await import("jsonc-parser");
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
  const error = errors[0];
  if (error || !tree) {
    const line = text.slice(0, error?.offset ?? 0).split("\n").length;
    throw new EnvironmentError(
      `Cannot read "${path.basename(file)}" line ${line}: ${
        error ? printParseErrorCode(error.error) : "no JSON value"
      }`,
      "Fix the JSON syntax, then rerun the command",
    );
  }
  return paths.map((at) => {
    const node = findNodeAtLocation(tree, at);
    if (node?.type !== "string") return undefined;
    return {
      value: node.value as string,
      start: node.offset + 1,
      end: node.offset + node.length - 1,
    };
  });
}

/** Loads npm's semver (CommonJS, so only when a bump needs it). */
async function loadSemver() {
  return (await import("semver")).default;
}

/** Plans a bump: checks the current versions agree and are semver, and computes the new one. */
export async function planBump(sites: VersionSite[], spec: BumpSpec): Promise<BumpPlan> {
  const semver = await loadSemver();
  if (sites.length === 0) {
    throw new EnvironmentError(
      "No version to bump: no component declares one",
      `Add version = "0.1.0" to a pyproject.toml [project] table or "version" to package.json`,
    );
  }
  const count = (v: string) => sites.filter((s) => s.current === v).length;
  const currents = [...new Set(sites.map((s) => s.current))].sort((a, b) => count(b) - count(a));
  const release = ["major", "minor", "patch"].includes(spec);
  if (!release && !semver.valid(spec)) {
    throw new UsageError(
      `Invalid version "${spec}": expected major, minor, patch or a semver version like 1.2.3`,
      "Example: rig build --bump minor, or rig build --bump 1.0.0",
    );
  }
  if (currents.length > 1 && release) {
    const list = currents.map((v) =>
      `${v} (${
        [...new Set(sites.filter((s) => s.current === v).map((s) => s.display))].join(", ")
      })`
    );
    throw new EnvironmentError(
      `Components disagree on the current version: ${list.join("; ")}`,
      `Set one version explicitly: rig build --bump X.Y.Z --no-build`,
    );
  }
  let to: string;
  const from = currents.length === 1 ? currents[0] : undefined;
  if (release) {
    if (!semver.valid(from!)) {
      throw new EnvironmentError(
        `Cannot bump "${from}": it is not a semver version (MAJOR.MINOR.PATCH)`,
        "Set a version explicitly: rig build --bump 1.0.0 --no-build",
      );
    }
    to = semver.inc(from!, spec as "major" | "minor" | "patch")!;
  } else {
    to = semver.clean(spec) ?? spec;
  }
  return { from, to, sites };
}

/** The new text of every file a plan edits, keyed by absolute path. */
export async function renderBump(plan: BumpPlan): Promise<Map<string, string>> {
  const byFile = new Map<string, VersionSite[]>();
  for (const site of plan.sites) byFile.set(site.file, [...(byFile.get(site.file) ?? []), site]);
  const out = new Map<string, string>();
  for (const [file, sites] of byFile) {
    let text = await Deno.readTextFile(file);
    for (const site of [...sites].sort((a, b) => b.start - a.start)) {
      if (text.slice(site.start, site.end) !== site.current) {
        throw new RigError(
          `"${site.display}" changed while rig was reading it`,
          "Rerun the command",
        );
      }
      text = text.slice(0, site.start) + plan.to + text.slice(site.end);
    }
    out.set(file, text);
  }
  return out;
}

/** Options for applying a bump. */
export interface ApplyBumpOptions {
  /** Where backups of the edited files go while editing (removed on success). */
  backupDir: string;
  /** Test hook: called before each file is written, may throw to simulate a failure. */
  beforeWrite?: (file: string) => void | Promise<void>;
}

/**
 * Writes a plan: backs up every file, writes each atomically, re-reads the
 * sites to verify them, and restores every file when anything fails.
 */
export async function applyBump(
  project: Project,
  plan: BumpPlan,
  options: ApplyBumpOptions,
): Promise<string[]> {
  const updated = await renderBump(plan);
  const originals = new Map<string, Uint8Array>();
  await Deno.mkdir(options.backupDir, { recursive: true });
  for (const file of updated.keys()) {
    const bytes = await Deno.readFile(file);
    originals.set(file, bytes);
    const backup = path.join(options.backupDir, path.relative(project.root, file));
    await Deno.mkdir(path.dirname(backup), { recursive: true });
    await Deno.writeFile(backup, bytes);
  }
  try {
    for (const [file, text] of updated) {
      await options.beforeWrite?.(file);
      await writeFileAtomic(file, text);
    }
    const files = [...new Set(plan.sites.map((s) => s.file))];
    const components = project.components.filter((c) =>
      plan.sites.some((s) => s.component === c.name)
    );
    const after = await findVersionSites(project, components);
    const wrong = after.filter((s) => files.includes(s.file) && s.current !== plan.to);
    if (wrong.length) {
      throw new RigError(
        `Version edit did not take in ${wrong.map((s) => `"${s.display}"`).join(", ")}`,
      );
    }
  } catch (error) {
    for (const [file, bytes] of originals) {
      await writeFileAtomic(file, bytes).catch(() => {});
    }
    throw new RigError(
      `Cannot set version ${plan.to}: ${(error as Error).message}; every file was restored`,
      `Backups are in "${options.backupDir}"; fix the problem and rerun`,
      { cause: error },
    );
  }
  await Deno.remove(options.backupDir, { recursive: true }).catch(() => {});
  return [...updated.keys()];
}
