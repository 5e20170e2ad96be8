/**
 * Which package manager a Python component uses, read from the project's own
 * files: uv (`uv.lock`, `[tool.uv]`, a uv workspace), Poetry (`poetry.lock`,
 * `[tool.poetry]`) or pip (requirements*.txt, pyproject extras, PEP 735
 * groups). Also the rig-managed tool environment that provides uv or Poetry
 * when they are not on PATH.
 */
import * as path from "../path.ts";
import { parsePyproject, readPyprojectText, tomlTable } from "./pyproject.ts";
import { isDir, isFile } from "../fs.ts";
import { EnvironmentError, ProcessError } from "../errors.ts";
import { lockFile, withLock } from "../lock.ts";
import { run, runChecked, which } from "../proc.ts";
import type { Ui } from "../ui.ts";

/** The program that manages a Python component's dependencies. */
export type PythonManager = "uv" | "poetry" | "pip";

/** A uv workspace: its root folder and its members' folders (absolute). */
export interface UvWorkspace {
  root: string;
  members: string[];
}

/** How a Python component's dependencies are managed. */
export interface ManagerInfo {
  manager: PythonManager;
  /** Where the manager runs: the component, or the uv workspace root for members. */
  projectDir: string;
  /** uv.lock / poetry.lock (absolute), when there is one. */
  lockFile?: string;
  /** Set when the component belongs to a uv workspace (the root or a member). */
  workspace?: UvWorkspace;
  /** Files whose content decides what gets installed (pyproject files, lock, pins). */
  inputs: string[];
  /** PEP 735 `[dependency-groups]` of the component. */
  groups: string[];
  /** Whether the pyproject declares any dependencies at all (any table, any manager). */
  declaresDependencies: boolean;
}

/** Parsed pyproject.toml of a folder (undefined when absent; ConfigError when malformed). */
export function readPyprojectData(dir: string, root?: string): Record<string, unknown> | undefined {
  // One command asks for the same few files many times (workspace, manager, fingerprint):
  // reading is cheap, parsing is not, so the parse is kept while the text is the same.
  const read = readPyprojectText(dir, root);
  if (!read) return undefined;
  const { file, text } = read;
  const hit = parsedPyprojects.get(file);
  if (hit?.text === text) return hit.data;
  const data = parsePyproject(text, read.display);
  parsedPyprojects.set(file, { text, data });
  return data;
}

const parsedPyprojects = new Map<string, { text: string; data: Record<string, unknown> }>();

/** The uv workspace `dir` belongs to, searching `dir` and its parents up to `root`. */
export function findUvWorkspace(dir: string, root: string): UvWorkspace | undefined {
  let current = path.resolve(dir);
  const top = path.resolve(root);
  while (true) {
    const data = readPyprojectData(current, root);
    const workspace = tomlTable(data, "tool", "uv", "workspace");
    if (workspace) {
      const members = expandMembers(current, workspace);
      const hasProject = !!tomlTable(data, "project");
      const all = hasProject ? [current, ...members] : members;
      if (all.includes(path.resolve(dir))) return { root: current, members: all };
      return undefined;
    }
    if (current === top || path.dirname(current) === current) return undefined;
    current = path.dirname(current);
  }
}

/** Expands `[tool.uv.workspace] members` globs (and `exclude`) to folders with a pyproject.toml. */
export function expandMembers(root: string, workspace: Record<string, unknown>): string[] {
  const globs = (key: string) =>
    Array.isArray(workspace[key]) ? (workspace[key] as unknown[]).map(String) : [];
  const excluded = new Set(globs("exclude").flatMap((g) => expandGlob(root, g)));
  const out = globs("members").flatMap((g) => expandGlob(root, g))
    .filter((d) => !excluded.has(d) && isFile(path.join(d, "pyproject.toml")));
  return [...new Set(out)].sort();
}

function expandGlob(root: string, glob: string): string[] {
  let dirs = [root];
  for (const part of glob.split("/").filter((p) => p && p !== ".")) {
    if (!/[*?[]/.test(part)) {
      dirs = dirs.map((d) => path.join(d, part)).filter(isDir);
      continue;
    }
    const re = new RegExp(
      "^" + part.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".") +
        "$",
    );
    dirs = dirs.flatMap((d) => {
      try {
        return [...Deno.readDirSync(d)].filter((e) => e.isDirectory && re.test(e.name))
          .map((e) => path.join(d, e.name));
      } catch {
        return [];
      }
    });
  }
  return dirs.map((d) => path.resolve(d));
}

/** Works out the manager of the Python component in `dir` (project root `root`). */
export function detectManager(dir: string, root: string): ManagerInfo {
  const data = readPyprojectData(dir, root);
  const pyproject = path.join(dir, "pyproject.toml");
  const groups = Object.keys(tomlTable(data, "dependency-groups") ?? {});
  const inputs = new Set<string>();
  if (data) inputs.add(pyproject);
  for (const folder of root !== dir ? [dir, root] : [dir]) {
    const pin = path.join(folder, ".python-version");
    if (isFile(pin)) inputs.add(pin);
  }
  const declaresDependencies = declares(data);
  const workspace = findUvWorkspace(dir, root);
  if (workspace) {
    const lock = path.join(workspace.root, "uv.lock");
    inputs.add(path.join(workspace.root, "pyproject.toml"));
    for (const member of workspace.members) inputs.add(path.join(member, "pyproject.toml"));
    inputs.add(lock);
    const pin = path.join(workspace.root, ".python-version");
    if (isFile(pin)) inputs.add(pin);
    return {
      manager: "uv",
      projectDir: workspace.root,
      lockFile: lock,
      workspace,
      inputs: [...inputs].sort(),
      groups,
      declaresDependencies: true,
    };
  }
  const uvLock = path.join(dir, "uv.lock");
  const poetryLock = path.join(dir, "poetry.lock");
  const backend = String(tomlTable(data, "build-system")?.["build-backend"] ?? "");
  const manager: PythonManager = isFile(uvLock)
    ? "uv"
    : isFile(poetryLock)
    ? "poetry"
    : tomlTable(data, "tool", "uv")
    ? "uv"
    : tomlTable(data, "tool", "poetry") || backend.startsWith("poetry")
    ? "poetry"
    : "pip";
  const lock = manager === "uv" ? uvLock : manager === "poetry" ? poetryLock : undefined;
  if (lock) inputs.add(lock);
  return {
    manager,
    projectDir: dir,
    lockFile: lock,
    inputs: [...inputs].sort(),
    groups,
    declaresDependencies,
  };
}

/** Whether a parsed pyproject declares dependencies in any table rig knows. */
function declares(data: Record<string, unknown> | undefined): boolean {
  if (!data) return false;
  const project = tomlTable(data, "project");
  const nonEmpty = (v: unknown) =>
    Array.isArray(v) ? v.length > 0 : !!v && typeof v === "object" && Object.keys(v).length > 0;
  if (nonEmpty(project?.dependencies) || nonEmpty(project?.["optional-dependencies"])) return true;
  if (nonEmpty(data["dependency-groups"])) return true;
  const poetry = tomlTable(data, "tool", "poetry");
  if (poetry) {
    const deps = Object.keys(tomlTable(poetry, "dependencies") ?? {}).filter((k) => k !== "python");
    if (deps.length || nonEmpty(poetry["dev-dependencies"]) || nonEmpty(poetry.group)) return true;
  }
  return nonEmpty(tomlTable(data, "tool", "uv")?.["dev-dependencies"]);
}

/** The folders of every uv workspace member in the project that `dir`'s member depends on. */
export function workspaceSources(dir: string, root: string): string[] {
  const workspace = findUvWorkspace(dir, root);
  if (!workspace) return [];
  const data = readPyprojectData(dir, root);
  const sources = tomlTable(data, "tool", "uv", "sources") ?? {};
  const names = Object.entries(sources)
    .filter(([, v]) => !!v && typeof v === "object" && (v as { workspace?: unknown }).workspace)
    .map(([k]) => normalize(k));
  if (!names.length) return [];
  return workspace.members.filter((member) => {
    const name = String(tomlTable(readPyprojectData(member, root), "project")?.name ?? "");
    return names.includes(normalize(name));
  });
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

// ---------------------------------------------------------------------------
// The rig-managed tool environment (uv, Poetry)

/** Version ranges rig installs when a tool is missing (shared by every project). */
export const MANAGED_TOOLS: Record<"uv" | "poetry", string> = {
  uv: "uv>=0.5,<1",
  poetry: "poetry>=2,<3",
};

/** Options of `ensureTool`. */
export interface ToolOptions {
  env: Record<string, string>;
  ui: Ui;
  /** The user cache folder (the tool env lives in `<cacheDir>/tools/<tool>`). */
  cacheDir: string;
  /** The file that needs the tool, for messages (`uv.lock`). */
  neededFor: string;
  signal?: AbortSignal;
}

/** Where rig keeps its own copy of a tool: `<cache>/tools/<tool>/bin/<tool>`. */
export function managedToolBin(cacheDir: string, tool: "uv" | "poetry"): string {
  const windows = Deno.build.os === "windows";
  return path.join(
    cacheDir,
    "tools",
    tool,
    windows ? "Scripts" : "bin",
    windows ? `${tool}.exe` : tool,
  );
}

/** The tool on PATH, else rig's managed copy, else undefined (never installs). */
export function findTool(
  tool: "uv" | "poetry",
  opts: { env: Record<string, string>; cacheDir: string },
): string | undefined {
  const override = opts.env[`RIG_${tool.toUpperCase()}`];
  if (override) return override;
  const found = which(tool, opts.env);
  if (found) return found;
  const managed = managedToolBin(opts.cacheDir, tool);
  return isFile(managed) ? managed : undefined;
}

/**
 * The tool to run: on PATH, or rig's managed copy; installs that copy from the
 * package index (pip) when there is none, saying so in one line.
 */
export async function ensureTool(tool: "uv" | "poetry", opts: ToolOptions): Promise<string> {
  const found = findTool(tool, opts);
  if (found) return found;
  const dir = path.dirname(path.dirname(managedToolBin(opts.cacheDir, tool)));
  return await withLock(
    lockFile(path.join(opts.cacheDir, "tools"), tool),
    { what: `installing ${tool}`, signal: opts.signal, onWait: (m) => opts.ui.info(m) },
    async () => {
      const again = findTool(tool, opts);
      if (again) return again;
      opts.ui.info(
        `${tool} is not on PATH (${opts.neededFor} needs it): installing "${
          MANAGED_TOOLS[tool]
        }" into ${dir}`,
      );
      const env: Record<string, string> = {
        ...opts.env,
        PIP_DISABLE_PIP_VERSION_CHECK: "1",
        PIP_NO_INPUT: "1",
      };
      delete env.VIRTUAL_ENV;
      delete env.PYTHONHOME;
      const python = opts.env.RIG_PYTHON || (Deno.build.os === "windows" ? "python" : "python3");
      try {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        await runChecked([python, "-m", "venv", dir], { env, signal: opts.signal });
        const venvPython = path.join(
          dir,
          Deno.build.os === "windows" ? "Scripts/python.exe" : "bin/python",
        );
        await runChecked(
          [venvPython, "-m", "pip", "install", "--quiet", "--timeout", "15", MANAGED_TOOLS[tool]],
          { env, signal: opts.signal, timeoutMs: 600_000 },
        );
      } catch (error) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        const why = error instanceof ProcessError
          ? error.output.trim().split("\n").filter(Boolean).pop() ?? `exit code ${error.code}`
          : (error as Error).message.split("\n")[0];
        throw new EnvironmentError(
          `${opts.neededFor} needs ${tool}, which is not on PATH, and installing it failed: ${why}`,
          `Install ${tool} (pip install "${MANAGED_TOOLS[tool]}"${
            tool === "uv" ? ", or see https://docs.astral.sh/uv/getting-started/installation/" : ""
          }), then run: rig install`,
        );
      }
      const bin = managedToolBin(opts.cacheDir, tool);
      const check = await run([bin, "--version"], { env: opts.env, timeoutMs: 30_000 });
      if (!check.success) {
        throw new EnvironmentError(
          `The ${tool} rig installed into ${dir} does not run: ${check.stderr.trim()}`,
          `Remove ${dir} and run rig install again, or install ${tool} yourself`,
        );
      }
      return bin;
    },
  );
}
