/**
 * Detection: which folders are components (pyproject.toml, requirements*.txt,
 * alembic.ini, FastAPI imports, package.json), their names and the
 * dependencies rig infers between them.
 */
import { compareNames, exists, readDirSyncIfPresent } from "../fs.ts";
import * as path from "../path.ts";
import { ConfigError } from "../errors.ts";
import { type Component, type ComponentKind, isNode, makeComponent } from "./project.ts";
import { nodeKind } from "../node/app.ts";
import { detectApiClient } from "../node/api_client.ts";

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

/** Detects components below `root` from their marker files. */
export async function detectComponents(root: string): Promise<Component[]> {
  const found: Component[] = [];
  await walk(root, 0, found, root);
  // The root is a component when nothing else is, or when it holds a Python project of its
  // own next to subfolder components (a backend package beside frontend/).
  if (found.length === 0 || isPythonProjectRoot(root)) {
    const component = await detectComponent(root, root, found.map((c) => c.dir));
    if (component) found.push(component);
  }
  nameComponents(found);
  return found.sort((a, b) => compareNames(a.path, b.path));
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

async function detectComponent(
  root: string,
  dir: string,
  skip: string[] = [],
): Promise<Component | undefined> {
  const kind = await detectKind(dir, skip);
  if (!kind) return undefined;
  const component = makeComponent(root, dir, kind);
  if (kind === "python-app") component.app = await findFastApiApp(dir, skip);
  return component;
}

/**
 * Whether a folder holds a Python project of its own: a pyproject.toml with
 * `[project]` or `[tool.poetry]`, setup.py, or requirements.txt — not a pyproject
 * that only configures tools or a virtual uv workspace root.
 */
export function isPythonProjectRoot(dir: string): boolean {
  const has = (name: string) => exists(path.join(dir, name));
  if (has("setup.py") || has("requirements.txt")) return true;
  try {
    const text = Deno.readTextFileSync(path.join(dir, "pyproject.toml"));
    return /^\s*\[(project|tool\.poetry)\]\s*$/m.test(text);
  } catch {
    return false;
  }
}

/** The kind of component a folder holds, or undefined when it holds none. */
export async function detectKind(
  dir: string,
  skip: string[] = [],
): Promise<ComponentKind | undefined> {
  const has = (name: string) => exists(path.join(dir, name));
  if (has("package.json")) return nodeKind(dir);
  const requirements = has("requirements.txt") || has("requirements-dev.txt");
  const python = has("pyproject.toml") || has("setup.py") || has("setup.cfg") || requirements;
  if (!python && !has("alembic.ini")) return undefined;
  if (has("alembic.ini") || (await findFastApiApp(dir, skip))) return "python-app";
  return "python-lib";
}

/** Finds the FastAPI application in a folder's Python sources, as `module.path:variable`. */
export function findFastApiApp(dir: string, skip: string[] = []): Promise<string | undefined> {
  // Detection asks twice per folder (its kind, then its app): scan once per process.
  const key = `${path.resolve(dir)}\0${skip.map((d) => path.resolve(d)).sort().join("\0")}`;
  let found = appScans.get(key);
  if (!found) appScans.set(key, found = scanFastApiApp(dir, skip));
  return found;
}

const appScans = new Map<string, Promise<string | undefined>>();

async function scanFastApiApp(dir: string, skip: string[]): Promise<string | undefined> {
  const skipped = new Set(skip.map((d) => path.resolve(d)));
  const candidates: string[] = [];
  const scan = async (folder: string, depth: number) => {
    if (depth > 2) return;
    // Only Python files and folders that may hold the app are kept (and sorted): a folder of
    // 10,000 data files costs one listing, not 10,000 joins and a sort.
    const entries = readDirSyncIfPresent(folder)?.filter((entry) =>
      entry.isFile
        ? entry.name.endsWith(".py")
        : entry.isDirectory && !SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".") &&
          entry.name !== "tests" && entry.name !== "migrations"
    ).sort((a, b) => compareNames(a.name, b.name));
    for (const entry of entries ?? []) {
      const full = path.join(folder, entry.name);
      if (entry.isFile) candidates.push(full);
      else if (!skipped.has(path.resolve(full))) await scan(full, depth + 1);
    }
  };
  await scan(dir, 0);
  const sources = await Promise.all(
    candidates.map(async (file) => ({ file, text: await Deno.readTextFile(file).catch(() => "") })),
  );
  const usesFastApi = sources.filter(({ text }) =>
    /\b(from\s+fastapi\s+import|import\s+fastapi)\b/.test(text)
  );
  // A src layout imports as the package below src/.
  const moduleName = (file: string) =>
    path.relative(dir, file).replace(/\.py$/, "").split(path.sep).join(".").replace(
      /\.__init__$/,
      "",
    ).replace(/^src\./, "");
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

/**
 * Clients depend on the project's API server (its OpenAPI contract): those
 * under clients/, and node components that generate a client from the API,
 * wherever they live.
 */
export function inferDependencies(components: Component[]): void {
  const apps = components.filter((c) => c.kind === "python-app");
  if (apps.length !== 1) return;
  const server = apps[0]!;
  for (const c of components) {
    if (c === server || c.config.depends_on !== undefined) continue;
    const generated = isNode(c) ? detectApiClient(c.dir) : undefined;
    if (generated) {
      c.dependsOn = [server.name];
      c.dependencyReasons = { [server.name]: generated.reason };
    } else if (/(^|\/)clients?\//.test(c.path) || c.name.endsWith("-client")) {
      c.dependsOn = [server.name];
      c.dependencyReasons = { [server.name]: "a client of the API (it lives under clients/)" };
    }
  }
}

export function validateGraph(components: Component[], file?: string): void {
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
