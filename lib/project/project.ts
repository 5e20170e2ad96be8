/**
 * The project model: where the project root is, which components it has (and of
 * what kind), how they depend on each other, and what rig.toml overrides.
 */
import { exists, isDir } from "../fs.ts";
import * as path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError, EnvironmentError } from "../errors.ts";
import { compileRules, isPathIgnored } from "../ignore.ts";

/** The kinds of component rig knows how to run, test, install and build. */
export type ComponentKind = "python-app" | "python-lib" | "node-lib";

/** All component kinds, for validation and help. */
export const COMPONENT_KINDS: readonly ComponentKind[] = ["python-app", "python-lib", "node-lib"];

/** How rig knows a started component is ready. */
export interface Readiness {
  /** An HTTP path that answers 2xx when ready, e.g. `/health`. */
  http?: string;
  /** A TCP port that accepts connections when ready. */
  port?: number;
  /** A regular expression matched against output lines. */
  log?: string;
}

/** One component of the project: a folder with a kind. */
export interface Component {
  name: string;
  kind: ComponentKind;
  /** Folder relative to the project root, with `/` separators (`.` for the root). */
  path: string;
  /** Absolute folder. */
  dir: string;
  /** Names of the components this one depends on (the server's API contract for clients). */
  dependsOn: string[];
  /** Extra input globs relative to the component folder; default is the whole folder. */
  inputs: string[];
  /** Environment variables the component's tasks may read (passed through, hashed into keys). */
  env: string[];
  /** Command overrides from rig.toml, as argv arrays. */
  commands: { test?: string[]; dev?: string[]; build?: string[]; lint?: string[] };
  /** For python-app: the ASGI app, e.g. `app.main:app`. */
  app?: string;
  /** Python requirement for the venv interpreter (rig.toml `python`). */
  python?: string;
  /** Virtual environment folder relative to the component (rig.toml `venv`). */
  venv?: string;
  /** Create venvs with --system-site-packages. */
  systemSitePackages?: boolean;
  /** Minimum coverage percentage for `rig test`. */
  failUnder?: number;
  /** Readiness of the component's dev process in `rig run`. */
  ready?: Readiness;
  /** True when the component came from rig.toml rather than detection. */
  declared: boolean;
  /** The component's rig.toml table as written (part of cache keys). */
  config: Record<string, unknown>;
}

/** A loaded project. */
export interface Project {
  root: string;
  /** The rig.toml file, when there is one. */
  configFile?: string;
  /** The `[project]` table of rig.toml. */
  settings: ProjectSettings;
  components: Component[];
}

/** Project-wide settings from rig.toml's `[project]` table. */
export interface ProjectSettings {
  name: string;
  /** Folder of environment templates, relative to the root (default `config`). */
  configDir: string;
  /** Remote cache settings (Turborepo API). */
  remoteCache?: { url: string; team?: string; tokenEnv?: string };
  /** Environment variables every task may read. */
  env: string[];
}

const SKIP_DIRS = new Set([
  "node_modules",
  ".git",
  ".hg",
  ".svn",
  ".venv",
  "venv",
  "env",
  ".env",
  "dist",
  "build",
  ".rig",
  "__pycache__",
  ".mypy_cache",
  ".pytest_cache",
  ".tox",
  ".nox",
  "site-packages",
  "coverage",
  "htmlcov",
  ".idea",
  ".vscode",
]);

const MAX_DEPTH = 3;

/** Finds the project root: the nearest folder with rig.toml, else the git root, else `start`. */
export function findRoot(start: string): string {
  const absolute = path.resolve(start);
  let gitRoot: string | undefined;
  for (let dir = absolute;; dir = path.dirname(dir)) {
    if (exists(path.join(dir, "rig.toml"))) return dir;
    if (!gitRoot && exists(path.join(dir, ".git"))) gitRoot = dir;
    if (path.dirname(dir) === dir) break;
  }
  return gitRoot ?? absolute;
}

/** Loads the project that contains `start`: root, rig.toml and components. */
export async function loadProject(start: string): Promise<Project> {
  if (!isDir(start)) {
    throw new EnvironmentError(
      `Cannot use "${start}" as the project folder: it does not exist`,
      "Pass an existing folder with -C DIR",
    );
  }
  const root = findRoot(start);
  const configFile = path.join(root, "rig.toml");
  const config = exists(configFile) ? await readConfig(configFile) : undefined;
  const detected = await detectComponents(root);
  const components = config ? applyConfig(detected, config, root) : detected;
  inferDependencies(components);
  validateGraph(components, config?.file);
  return {
    root,
    configFile: config ? configFile : undefined,
    settings: config?.settings ?? { name: path.basename(root), configDir: "config", env: [] },
    components,
  };
}

/** Detects components below `root` from their marker files. */
export async function detectComponents(root: string): Promise<Component[]> {
  const found: Component[] = [];
  await walk(root, 0, found, root);
  if (found.length === 0) {
    const component = await detectComponent(root, root);
    if (component) found.push(component);
  }
  nameComponents(found);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

async function walk(root: string, depth: number, found: Component[], dir: string): Promise<void> {
  if (depth >= MAX_DEPTH) return;
  const children: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory && !SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".")) {
      children.push(path.join(dir, entry.name));
    }
  }
  children.sort();
  for (const child of children) {
    const component = await detectComponent(root, child);
    if (component) found.push(component);
    else await walk(root, depth + 1, found, child);
  }
}

async function detectComponent(root: string, dir: string): Promise<Component | undefined> {
  const kind = await detectKind(dir);
  if (!kind) return undefined;
  const component = makeComponent(root, dir, kind);
  if (kind === "python-app") component.app = await findFastApiApp(dir);
  return component;
}

/** The kind of component a folder holds, or undefined when it holds none. */
export async function detectKind(dir: string): Promise<ComponentKind | undefined> {
  const has = (name: string) => exists(path.join(dir, name));
  if (has("package.json")) return "node-lib";
  const requirements = has("requirements.txt") || has("requirements-dev.txt");
  const python = has("pyproject.toml") || has("setup.py") || has("setup.cfg") || requirements;
  if (!python && !has("alembic.ini")) return undefined;
  if (has("alembic.ini") || (await findFastApiApp(dir))) return "python-app";
  return "python-lib";
}

/** Finds the FastAPI application in a folder's Python sources, as `module.path:variable`. */
export async function findFastApiApp(dir: string): Promise<string | undefined> {
  const candidates: string[] = [];
  const scan = async (folder: string, depth: number) => {
    if (depth > 2) return;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(folder)].sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isFile && entry.name.endsWith(".py")) candidates.push(full);
      else if (
        entry.isDirectory && !SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".") &&
        entry.name !== "tests" && entry.name !== "migrations"
      ) await scan(full, depth + 1);
    }
  };
  await scan(dir, 0);
  const sources = await Promise.all(
    candidates.map(async (file) => ({ file, text: await Deno.readTextFile(file).catch(() => "") })),
  );
  const usesFastApi = sources.filter(({ text }) =>
    /\b(from\s+fastapi\s+import|import\s+fastapi)\b/.test(text)
  );
  const moduleName = (file: string) =>
    path.relative(dir, file).replace(/\.py$/, "").split(path.sep).join(".").replace(
      /\.__init__$/,
      "",
    );
  // A module-level `app = FastAPI(...)` wins; else an app built by a factory
  // (`app = create_app()`) in a module that imports FastAPI.
  for (
    const pattern of [
      /^(\w+)\s*(?::[^=\n]*)?=\s*(?:fastapi\.)?FastAPI\(/m,
      /^(app|application|api)\s*(?::[^=\n]*)?=\s*\w[\w.]*\(/m,
    ]
  ) {
    for (const { file, text } of usesFastApi) {
      const match = text.match(pattern);
      if (match) return `${moduleName(file)}:${match[1]}`;
    }
  }
  return undefined;
}

function makeComponent(root: string, dir: string, kind: ComponentKind): Component {
  return {
    name: "",
    kind,
    path: toPosix(path.relative(root, dir)) || ".",
    dir,
    dependsOn: [],
    inputs: [],
    env: [],
    commands: {},
    declared: false,
    config: {},
  };
}

/** Names components from their folders: `server`, `clients/js` → `js-client`. */
function nameComponents(components: Component[]): void {
  const base = (c: Component) => {
    const parts = c.path === "." ? [path.basename(c.dir)] : c.path.split("/");
    const last = parts[parts.length - 1]!;
    const parent = parts[parts.length - 2];
    if (parent && /^clients?$/.test(parent)) return `${last}-client`;
    return last;
  };
  const counts = new Map<string, number>();
  for (const c of components) counts.set(base(c), (counts.get(base(c)) ?? 0) + 1);
  for (const c of components) {
    const name = base(c);
    c.name = slug(counts.get(name)! > 1 ? c.path.replaceAll("/", "-") : name);
  }
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "root";
}

/** Clients depend on the project's API server (its OpenAPI contract). */
function inferDependencies(components: Component[]): void {
  const apps = components.filter((c) => c.kind === "python-app");
  if (apps.length !== 1) return;
  const server = apps[0]!;
  for (const c of components) {
    if (c === server || c.config.depends_on !== undefined) continue;
    if (/(^|\/)clients?\//.test(c.path) || c.name.endsWith("-client")) c.dependsOn = [server.name];
  }
}

function validateGraph(components: Component[], file?: string): void {
  const byName = new Map(components.map((c) => [c.name, c]));
  for (const c of components) {
    for (const dep of c.dependsOn) {
      if (!byName.has(dep)) {
        throw new ConfigError(
          file ?? "rig.toml",
          undefined,
          `component "${c.name}" depends on "${dep}", which does not exist`,
          `Known components: ${[...byName.keys()].join(", ")}`,
        );
      }
    }
  }
  const state = new Map<string, "visiting" | "done">();
  const visit = (c: Component, trail: string[]) => {
    if (state.get(c.name) === "done") return;
    if (state.get(c.name) === "visiting") {
      throw new ConfigError(
        file ?? "rig.toml",
        undefined,
        `components depend on each other in a cycle: ${[...trail, c.name].join(" → ")}`,
        "Remove one of the depends_on entries",
      );
    }
    state.set(c.name, "visiting");
    for (const dep of c.dependsOn) visit(byName.get(dep)!, [...trail, c.name]);
    state.set(c.name, "done");
  };
  for (const c of components) visit(c, []);
}

/** Components in dependency order (dependencies first). */
export function topoOrder(components: Component[]): Component[] {
  const byName = new Map(components.map((c) => [c.name, c]));
  const out: Component[] = [];
  const seen = new Set<string>();
  const visit = (c: Component) => {
    if (seen.has(c.name)) return;
    seen.add(c.name);
    for (const dep of c.dependsOn) {
      const d = byName.get(dep);
      if (d) visit(d);
    }
    out.push(c);
  };
  components.forEach(visit);
  return out;
}

/** The components that depend on `name`, directly or transitively. */
export function dependents(components: Component[], name: string): Component[] {
  const out = new Set<string>();
  let frontier = [name];
  while (frontier.length) {
    const next: string[] = [];
    for (const c of components) {
      if (!out.has(c.name) && c.dependsOn.some((d) => frontier.includes(d))) {
        out.add(c.name);
        next.push(c.name);
      }
    }
    frontier = next;
  }
  return components.filter((c) => out.has(c.name));
}

// ---------------------------------------------------------------------------
// rig.toml

interface LoadedConfig {
  file: string;
  settings: ProjectSettings;
  components: Map<string, { table: Record<string, unknown>; line?: number }>;
  locate(section: string, key?: string): number | undefined;
}

const COMPONENT_KEYS: Record<
  string,
  "string" | "string[]" | "command" | "bool" | "number" | "ready"
> = {
  path: "string",
  kind: "string",
  depends_on: "string[]",
  inputs: "string[]",
  env: "string[]",
  test: "command",
  dev: "command",
  build: "command",
  lint: "command",
  app: "string",
  python: "string",
  venv: "string",
  system_site_packages: "bool",
  fail_under: "number",
  ready: "ready",
};

const PROJECT_KEYS = new Set(["name", "config_dir", "env", "remote_cache"]);

/** Reads and validates rig.toml; errors name the file, line and key. */
export async function readConfig(file: string): Promise<LoadedConfig> {
  const text = await Deno.readTextFile(file);
  const display = path.basename(file);
  let data: Record<string, unknown>;
  try {
    data = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        display,
        error.line,
        `invalid TOML: ${reason}`,
        "Fix the syntax (https://toml.io) or remove the file to use detection only",
      );
    }
    throw error;
  }
  const lines = text.split(/\r?\n/);
  const locate = (section: string, key?: string): number | undefined => {
    const header = new RegExp(`^\\s*\\[\\s*${escape(section)}\\s*\\]`);
    let start = lines.findIndex((l) => header.test(l));
    if (start < 0) {
      // Dotted keys or inline tables: look for the key anywhere.
      start = 0;
      if (!key) return undefined;
    }
    if (!key) return start + 1;
    const keyLine = new RegExp(`^\\s*("?)${escape(key)}\\1\\s*=`);
    for (let i = start + (lines[start]?.trim().startsWith("[") ? 1 : 0); i < lines.length; i++) {
      if (i > start && /^\s*\[/.test(lines[i]!)) break;
      if (keyLine.test(lines[i]!)) return i + 1;
    }
    return start + 1;
  };
  const fail = (
    section: string,
    key: string | undefined,
    problem: string,
    hint?: string,
  ): never => {
    throw new ConfigError(display, locate(section, key), problem, hint);
  };

  for (const key of Object.keys(data)) {
    if (key !== "project" && key !== "components") {
      fail(
        key,
        undefined,
        `unknown table "${key}"`,
        `rig.toml has [project] and [components.NAME] tables`,
      );
    }
  }
  const project = (data.project ?? {}) as Record<string, unknown>;
  if (typeof project !== "object" || Array.isArray(project)) {
    fail("project", undefined, `"project" must be a table`);
  }
  for (const key of Object.keys(project)) {
    if (!PROJECT_KEYS.has(key)) {
      fail(
        "project",
        key,
        `unknown key "project.${key}"`,
        `Known keys: ${[...PROJECT_KEYS].join(", ")}`,
      );
    }
  }
  const str = (
    section: string,
    table: Record<string, unknown>,
    key: string,
  ): string | undefined => {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") fail(section, key, `"${section}.${key}" must be a string`);
    return v as string;
  };
  const strList = (section: string, table: Record<string, unknown>, key: string): string[] => {
    const v = table[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      fail(
        section,
        key,
        `"${section}.${key}" must be a list of strings`,
        `Example: ${key} = ["a", "b"]`,
      );
    }
    return v as string[];
  };
  let remoteCache: ProjectSettings["remoteCache"];
  if (project.remote_cache !== undefined) {
    const rc = project.remote_cache as Record<string, unknown>;
    if (typeof rc !== "object" || Array.isArray(rc) || typeof rc.url !== "string") {
      fail("project", "remote_cache", `"project.remote_cache" must be a table with a "url"`);
    }
    remoteCache = {
      url: rc.url as string,
      team: str("project.remote_cache", rc, "team"),
      tokenEnv: str("project.remote_cache", rc, "token_env"),
    };
  }
  const settings: ProjectSettings = {
    name: str("project", project, "name") ?? path.basename(path.dirname(path.resolve(file))),
    configDir: str("project", project, "config_dir") ?? "config",
    env: strList("project", project, "env"),
    remoteCache,
  };

  const componentsTable = (data.components ?? {}) as Record<string, unknown>;
  const components = new Map<string, { table: Record<string, unknown>; line?: number }>();
  for (const [name, raw] of Object.entries(componentsTable)) {
    const section = `components.${name}`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      fail(section, undefined, `"${section}" must be a table`);
    }
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
      fail(
        section,
        undefined,
        `component name "${name}" may only use letters, digits, "-" and "_"`,
      );
    }
    const table = raw as Record<string, unknown>;
    for (const [key, value] of Object.entries(table)) {
      const type = COMPONENT_KEYS[key];
      if (!type) {
        fail(
          section,
          key,
          `unknown key "${section}.${key}"`,
          `Known keys: ${Object.keys(COMPONENT_KEYS).join(", ")}`,
        );
      }
      const bad = (expected: string) =>
        fail(section, key, `"${section}.${key}" must be ${expected}`);
      if (type === "string" && typeof value !== "string") bad("a string");
      if (type === "bool" && typeof value !== "boolean") bad("true or false");
      if (type === "number" && typeof value !== "number") bad("a number");
      if (
        type === "string[]" && (!Array.isArray(value) || value.some((x) => typeof x !== "string"))
      ) {
        bad("a list of strings");
      }
      if (
        type === "command" && typeof value !== "string" &&
        (!Array.isArray(value) || value.some((x) => typeof x !== "string"))
      ) bad(`a command string or a list of arguments`);
      if (
        type === "ready" && !isReadiness(value)
      ) {
        bad(`a table such as { http = "/health" }, { port = 8000 } or { log = "ready" }`);
      }
    }
    if (table.kind !== undefined && !COMPONENT_KINDS.includes(table.kind as ComponentKind)) {
      fail(
        section,
        "kind",
        `unknown kind "${table.kind}"`,
        `Use one of: ${COMPONENT_KINDS.join(", ")}`,
      );
    }
    components.set(name, { table, line: locate(section) });
  }
  return { file: display, settings, components, locate };
}

function applyConfig(detected: Component[], config: LoadedConfig, root: string): Component[] {
  const result = [...detected];
  for (const [name, { table }] of config.components) {
    const section = `components.${name}`;
    const wantedPath = typeof table.path === "string"
      ? toPosix(path.normalize(table.path))
      : undefined;
    let component = wantedPath !== undefined
      ? result.find((c) => c.path === wantedPath)
      : result.find((c) => c.name === name);
    if (!component) {
      if (wantedPath === undefined) {
        throw new ConfigError(
          config.file,
          config.locate(section),
          `component "${name}" was not detected and has no "path"`,
          `Add path = "folder" to [${section}], or use one of the detected names: ${
            detected.map((c) => c.name).join(", ") || "(none)"
          }`,
        );
      }
      const dir = path.resolve(root, wantedPath);
      if (!isDir(dir)) {
        throw new ConfigError(
          config.file,
          config.locate(section, "path"),
          `folder "${wantedPath}" of component "${name}" does not exist`,
          "Fix the path (relative to the folder of rig.toml)",
        );
      }
      if (table.kind === undefined) {
        throw new ConfigError(
          config.file,
          config.locate(section),
          `cannot tell the kind of component "${name}" in "${wantedPath}"`,
          `Add kind = "${COMPONENT_KINDS.join('" | "')}"`,
        );
      }
      component = makeComponent(root, dir, table.kind as ComponentKind);
      component.declared = true;
      result.push(component);
    }
    component.name = name;
    component.config = table;
    if (table.kind) component.kind = table.kind as ComponentKind;
    const list = (v: unknown) => (v as string[] | undefined) ?? [];
    if (table.depends_on !== undefined) component.dependsOn = list(table.depends_on);
    if (table.inputs !== undefined) component.inputs = list(table.inputs);
    if (table.env !== undefined) component.env = list(table.env);
    for (const key of ["test", "dev", "build", "lint"] as const) {
      const value = table[key];
      if (value !== undefined) component.commands[key] = toArgv(value as string | string[]);
    }
    if (table.app !== undefined) component.app = table.app as string;
    if (table.python !== undefined) component.python = table.python as string;
    if (table.venv !== undefined) component.venv = table.venv as string;
    if (table.system_site_packages !== undefined) {
      component.systemSitePackages = table.system_site_packages as boolean;
    }
    if (table.fail_under !== undefined) component.failUnder = table.fail_under as number;
    if (table.ready !== undefined) component.ready = { ...(table.ready as Readiness) };
  }
  const names = new Map<string, number>();
  for (const c of result) names.set(c.name, (names.get(c.name) ?? 0) + 1);
  for (const [name, count] of names) {
    if (count > 1) {
      throw new ConfigError(
        config.file,
        config.locate(`components.${name}`),
        `two components are named "${name}"`,
        "Give each component its own name in rig.toml",
      );
    }
  }
  return result.sort((a, b) => a.path.localeCompare(b.path));
}

/** Splits a command string into argv (double and single quotes group words). */
export function toArgv(command: string | string[]): string[] {
  if (Array.isArray(command)) return command;
  const out: string[] = [];
  let current = "";
  let quote: string | undefined;
  let started = false;
  for (const char of command) {
    if (quote) {
      if (char === quote) quote = undefined;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      started = true;
    } else if (/\s/.test(char)) {
      if (started || current) out.push(current);
      current = "";
      started = false;
    } else {
      current += char;
    }
  }
  if (started || current) out.push(current);
  return out;
}

/** The innermost component whose folder holds `file` (posix, relative to the root). */
export function owningComponent(components: Component[], file: string): Component | undefined {
  let best: Component | undefined;
  for (const c of components) {
    const inside = c.path === "." || file === c.path || file.startsWith(c.path + "/");
    if (inside && (!best || c.path.length > best.path.length)) best = c;
  }
  return best;
}

/** rig.toml `inputs` of a component as gitignore-style globs relative to the project root. */
export function extraInputGlobs(component: Component): string[] {
  return component.inputs.map((glob) => path.posix.join(component.path, glob));
}

/** True when `file` (posix, relative to the root) is one of the component's rig.toml `inputs`. */
export function isExtraInput(component: Component, file: string): boolean {
  if (!component.inputs.length) return false;
  return isPathIgnored([compileRules(extraInputGlobs(component))], file);
}

/** Whether a file is an input of a component: inside its folder (and no nested one) or declared. */
export function isComponentInput(
  components: Component[],
  component: Component,
  file: string,
): boolean {
  return owningComponent(components, file) === component || isExtraInput(component, file);
}

/** Finds a component by name, with a suggestion when there is none. */
export function getComponent(project: Project, name: string): Component {
  const found = project.components.find((c) => c.name === name);
  if (found) return found;
  const names = project.components.map((c) => c.name);
  throw new EnvironmentError(
    `No component named "${name}"`,
    names.length
      ? `Components: ${names.join(", ")} (see: rig info)`
      : "This project has no components",
  );
}

function isReadiness(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length > 0 &&
    entries.every(([k, v]) =>
      (k === "http" && typeof v === "string" && v.startsWith("/")) ||
      (k === "port" && Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536) ||
      (k === "log" && typeof v === "string")
    );
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Converts a relative path to `/` separators. */
export function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}
