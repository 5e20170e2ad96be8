/**
 * Python virtual environments of components: finding an existing one, checking
 * that it still works (interpreter, version, pip, platform), choosing an
 * interpreter and (re)creating it.
 *
 * `$VIRTUAL_ENV` policy: an activated environment is used when it lives inside
 * the component's folder (the user activated that component's own venv). One
 * that lives elsewhere is ignored unless `RIG_USE_VIRTUAL_ENV=1` is set, since
 * sharing one environment between the server and the clients would mix their
 * dependencies.
 */
import { isDir, isFile } from "../fs.ts";
import * as path from "../path.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { run, runChecked, which } from "../proc.ts";
import { relocationProblem } from "./venv_health.ts";
import type { Ui } from "../ui.ts";
import { projectTable, readPyproject } from "./pyproject.ts";
import { normalizeName } from "./names.ts";
import {
  HOST_OS,
  type Os,
  pathApi,
  prependPath,
  pythonInHome,
  pythonLauncher,
  pythonPlatform,
} from "../os.ts";

const IS_WINDOWS = HOST_OS === "windows";

/**
 * What venv code reads of a component: its name and folder, and rig.toml's `python`, `venv`
 * and `system-site-packages`. The project's Component has these fields; this layer needs no more.
 */
export interface VenvOwner {
  name: string;
  /** Absolute folder of the component. */
  dir: string;
  /** rig.toml `python`: a version specifier or an interpreter command. */
  python?: string;
  /** rig.toml `venv`: the venv folder, relative to `dir`. */
  venv?: string;
  systemSitePackages?: boolean;
}

/** A component's virtual environment. */
export interface Venv {
  /** Absolute folder of the environment. */
  dir: string;
  /** Absolute path of the environment's interpreter. */
  python: string;
  /** Absolute scripts folder (`bin/`, or `Scripts\` on Windows). */
  bin: string;
  /** True when this call created (or recreated) it. */
  created: boolean;
  /** Why it was (re)created, e.g. `its interpreter "/usr/bin/python3.10" no longer exists`. */
  reason?: string;
  /** The broken venv it replaces, kept beside it until `settleReplacement` (with `keepOld`). */
  replaced?: string;
}

/** Options for venv operations. */
export interface VenvOptions {
  env: Record<string, string>;
  ui: Ui;
  signal?: AbortSignal;
}

/** The result of checking a venv. */
export interface VenvHealth {
  ok: boolean;
  /** What is wrong, as a phrase: `its interpreter "…" no longer exists`. */
  problem?: string;
  /** The interpreter's version, when it ran. */
  version?: string;
}

/** What an interpreter said about itself. */
export interface PythonProbe {
  executable: string;
  version: string;
  platform: string;
  pip: boolean;
}

/** A Python version requirement and where it comes from. */
export interface PythonRequirement {
  specifier: string;
  source: string;
}

/** The venv layout (scripts folder and interpreter) of a folder on `os` (default: this one). */
export function venvLayout(dir: string, os: Os = HOST_OS): Venv {
  const api = pathApi(os);
  const bin = api.join(dir, os === "windows" ? "Scripts" : "bin");
  return {
    dir,
    bin,
    python: api.join(bin, os === "windows" ? "python.exe" : "python"),
    created: false,
  };
}

/** Absolute path of a console script (pytest, alembic, uvicorn) in a venv. */
export function venvBin(venv: Venv, tool: string, os: Os = HOST_OS): string {
  const windows = os === "windows" && !/\.(exe|cmd|bat)$/i.test(tool);
  return pathApi(os).join(venv.bin, windows ? `${tool}.exe` : tool);
}

/** An environment with the venv activated: its bin first on PATH, VIRTUAL_ENV set, no PYTHONHOME. */
export function venvEnv(
  venv: Venv,
  baseEnv: Record<string, string>,
  os: Os = HOST_OS,
): Record<string, string> {
  const env = prependPath(baseEnv, venv.bin, os);
  delete env.PYTHONHOME;
  env.VIRTUAL_ENV = venv.dir;
  return env;
}

/** The candidate venv folders of a component, in the order they are preferred. */
export function venvCandidates(component: VenvOwner, env: Record<string, string>): string[] {
  const out: string[] = [];
  const active = env.VIRTUAL_ENV;
  if (active) {
    const resolved = path.resolve(component.dir, active);
    if (isInside(resolved, component.dir) || env.RIG_USE_VIRTUAL_ENV === "1") out.push(resolved);
  }
  if (component.venv) out.push(path.resolve(component.dir, component.venv));
  else for (const name of [".venv", "venv", "env"]) out.push(path.join(component.dir, name));
  return [...new Set(out)];
}

/** The component's existing venv (a folder with pyvenv.cfg), without checking its health. */
export function findVenv(
  component: VenvOwner,
  opts: { env: Record<string, string> },
): Venv | undefined {
  for (const dir of venvCandidates(component, opts.env)) {
    if (isFile(path.join(dir, "pyvenv.cfg"))) return venvLayout(dir);
  }
  return undefined;
}

/** Where a new venv for the component goes (rig.toml `venv`, else `.venv`). */
export function defaultVenvDir(component: VenvOwner): string {
  return path.resolve(component.dir, component.venv ?? ".venv");
}

/** Reads pyvenv.cfg into a key/value map (empty when missing). */
export function readPyvenvCfg(dir: string): Record<string, string> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path.join(dir, "pyvenv.cfg"));
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The interpreter a venv points at, for messages (symlink target or pyvenv.cfg home). */
export function baseInterpreter(venv: Venv): string {
  try {
    const target = Deno.readLinkSync(venv.python);
    return path.resolve(path.dirname(venv.python), target);
  } catch {
    const home = readPyvenvCfg(venv.dir).home;
    return home ? pythonInHome(home) : venv.python;
  }
}

/** Cheap check without running Python: pyvenv.cfg, layout and interpreter file exist. */
export function quickCheckVenv(venv: Venv): VenvHealth {
  if (!isFile(path.join(venv.dir, "pyvenv.cfg"))) {
    return { ok: false, problem: "it has no pyvenv.cfg (not a virtual environment)" };
  }
  if (!isDir(venv.bin)) {
    const other = path.join(venv.dir, IS_WINDOWS ? "bin" : "Scripts");
    if (isDir(other)) {
      return { ok: false, problem: "it was created on another operating system" };
    }
    return { ok: false, problem: `its "${path.basename(venv.bin)}" folder is missing` };
  }
  if (!isFile(venv.python)) {
    return { ok: false, problem: `its interpreter "${baseInterpreter(venv)}" no longer exists` };
  }
  const moved = relocationProblem(venv.bin, { home: readPyvenvCfg(venv.dir).home });
  if (moved) return { ok: false, problem: moved };
  return { ok: true };
}

const PROBE = "import sys, json, importlib.util; print(json.dumps({'executable': sys.executable, " +
  "'version': '%d.%d.%d' % sys.version_info[:3], 'platform': sys.platform, " +
  "'pip': importlib.util.find_spec('pip') is not None}))";

/** Runs an interpreter (argv, e.g. ["py", "-3.12"]) and asks for its version; undefined if it fails. */
export async function probePython(
  argv: string[],
  opts: { env: Record<string, string>; signal?: AbortSignal },
): Promise<PythonProbe | undefined> {
  try {
    const env = { ...opts.env };
    delete env.PYTHONHOME;
    delete env.PYTHONPATH;
    const result = await run([...argv, "-c", PROBE], {
      env,
      signal: opts.signal,
      timeoutMs: 20_000,
    });
    if (!result.success) return undefined;
    const line = result.stdout.trim().split("\n").pop() ?? "";
    return JSON.parse(line) as PythonProbe;
  } catch {
    return undefined;
  }
}

/** The Python version requirements of a component: rig.toml, requires-python, .python-version. */
export function pythonRequirements(component: VenvOwner, root?: string): PythonRequirement[] {
  const out: PythonRequirement[] = [];
  if (component.python && !looksLikeCommand(component.python)) {
    out.push({ specifier: toSpecifier(component.python), source: `rig.toml "python"` });
  }
  const requires = requiresPython(component.dir);
  if (requires) out.push({ specifier: requires, source: "pyproject.toml requires-python" });
  const pinned = pythonVersionFile(component.dir, root);
  if (pinned) {
    out.push({ specifier: toSpecifier(pinned.version), source: `"${pinned.file}"` });
  }
  return out;
}

/** `[project] requires-python` from the component's pyproject.toml, if any. */
export function requiresPython(dir: string): string | undefined {
  const value = projectTable(readPyproject(dir))?.["requires-python"];
  return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

/** The version in `.python-version` (component folder, then project root). */
export function pythonVersionFile(
  dir: string,
  root?: string,
): { version: string; file: string } | undefined {
  for (const folder of root && root !== dir ? [dir, root] : [dir]) {
    const file = path.join(folder, ".python-version");
    try {
      const first = Deno.readTextFileSync(file).split(/\r?\n/).map((l) => l.trim())
        .find((l) => l && !l.startsWith("#"));
      const version = first?.match(/(\d+\.\d+(?:\.\d+)?)/)?.[1];
      if (version) return { version, file: path.basename(folder) + "/.python-version" };
    } catch {
      // No file here.
    }
  }
  return undefined;
}

/** Turns `3.11` into `==3.11.*` and `3.11.7` into `==3.11.7`; specifiers stay as they are. */
export function toSpecifier(text: string): string {
  const t = text.trim();
  if (/^\d+\.\d+$/.test(t)) return `==${t}.*`;
  if (/^\d+(\.\d+){2,}$/.test(t)) return `==${t}`;
  return t;
}

/** The requirements a version fails, as messages (empty when it satisfies all). */
export async function unmetRequirements(
  version: string,
  requirements: PythonRequirement[],
): Promise<PythonRequirement[]> {
  if (requirements.length === 0) return [];
  const { satisfies, validRange } = await import("@renovatebot/pep440");
  return requirements.filter((r) => validRange(r.specifier) && !satisfies(version, r.specifier));
}

/** Checks a venv thoroughly: layout, interpreter runs, version, pip, platform. */
export async function checkVenv(
  venv: Venv,
  component: VenvOwner,
  opts: { env: Record<string, string>; signal?: AbortSignal; root?: string; requirePip?: boolean },
): Promise<VenvHealth> {
  const quick = quickCheckVenv(venv);
  if (!quick.ok) return quick;
  const probe = await probePython([venv.python], opts);
  if (!probe) {
    return { ok: false, problem: `its interpreter "${baseInterpreter(venv)}" does not run` };
  }
  if (probe.platform !== pythonPlatform()) {
    return {
      ok: false,
      version: probe.version,
      problem: `it was created for platform "${probe.platform}"`,
    };
  }
  const unmet = await unmetRequirements(probe.version, pythonRequirements(component, opts.root));
  if (unmet.length) {
    const first = unmet[0]!;
    return {
      ok: false,
      version: probe.version,
      problem:
        `its Python ${probe.version} does not satisfy "${first.specifier}" (${first.source})`,
    };
  }
  // uv creates environments without pip; only pip-managed ones need it.
  if (!probe.pip && opts.requirePip !== false) {
    return { ok: false, version: probe.version, problem: "pip is missing from it" };
  }
  return { ok: true, version: probe.version };
}

/** One interpreter candidate: how to start it and why it is tried. */
interface Candidate {
  argv: string[];
  source: string;
}

/** Interpreter candidates in order: rig.toml, RIG_PYTHON, .python-version, newest python3.X on PATH. */
export function interpreterCandidates(
  component: VenvOwner,
  opts: { env: Record<string, string>; root?: string },
): Candidate[] {
  const out: Candidate[] = [];
  const env = opts.env;
  const versioned = (version: string, source: string) => {
    const [major, minor] = version.split(".");
    if (!major || !minor) return;
    out.push(
      IS_WINDOWS
        ? { argv: ["py", `-${major}.${minor}`], source }
        : { argv: [`python${major}.${minor}`], source },
    );
  };
  if (component.python) {
    if (looksLikeCommand(component.python)) {
      out.push({ argv: [component.python], source: `rig.toml "python"` });
    } else {
      const version = component.python.match(/^(?:==)?\s*(\d+\.\d+)/)?.[1];
      if (version) versioned(version, `rig.toml "python"`);
    }
  }
  if (env.RIG_PYTHON) out.push({ argv: [env.RIG_PYTHON], source: "RIG_PYTHON" });
  const pinned = pythonVersionFile(component.dir, opts.root);
  if (pinned) versioned(pinned.version, pinned.file);
  for (const version of pathPythonVersions(env)) versioned(version, "PATH");
  out.push({ argv: [IS_WINDOWS ? "python" : "python3"], source: "PATH" });
  const seen = new Set<string>();
  return out.filter((c) => {
    const key = c.argv.join(" ");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The `3.X` versions of `python3.X` programs on PATH, newest first (Windows: 3.14 … 3.8). */
export function pathPythonVersions(env: Record<string, string>): string[] {
  if (IS_WINDOWS) {
    return Array.from({ length: 7 }, (_, i) => `3.${14 - i}`).filter(() => which("py", env));
  }
  const found = new Set<number>();
  for (const dir of (env.PATH ?? "").split(":").filter(Boolean)) {
    try {
      for (const entry of Deno.readDirSync(dir)) {
        const m = entry.name.match(/^python3\.(\d+)$/);
        if (m) found.add(Number(m[1]));
      }
    } catch {
      // Unreadable PATH entry.
    }
  }
  return [...found].sort((a, b) => b - a).map((n) => `3.${n}`);
}

/** Picks the interpreter for a new venv: the first candidate that runs and satisfies the requirements. */
export async function chooseInterpreter(
  component: VenvOwner,
  opts: VenvOptions & { root?: string },
): Promise<{ argv: string[]; probe: PythonProbe; source: string }> {
  const requirements = pythonRequirements(component, opts.root);
  const tried: string[] = [];
  for (const candidate of interpreterCandidates(component, opts)) {
    if (!which(candidate.argv[0]!, opts.env)) continue;
    const probe = await probePython(candidate.argv, opts);
    if (!probe) {
      tried.push(`${candidate.argv.join(" ")} (does not run)`);
      continue;
    }
    const unmet = await unmetRequirements(probe.version, requirements);
    if (unmet.length) {
      tried.push(`${candidate.argv.join(" ")} ${probe.version}`);
      continue;
    }
    return { argv: [probe.executable], probe, source: candidate.source };
  }
  const wanted = requirements.map((r) => `${r.specifier} (${r.source})`).join(", ");
  throw new EnvironmentError(
    `No Python interpreter for component "${component.name}"${wanted ? ` matches ${wanted}` : ""}${
      tried.length ? `; tried: ${tried.join(", ")}` : ""
    }`,
    "Install a matching Python (https://www.python.org/downloads/) or set RIG_PYTHON to one",
  );
}

/** Creates a venv in `dir` with the chosen interpreter. */
export async function createVenv(
  component: VenvOwner,
  dir: string,
  opts: VenvOptions & {
    root?: string;
    reason?: string;
    systemSitePackages?: boolean;
    /** An interpreter already chosen (see replaceVenv). */
    interpreter?: Awaited<ReturnType<typeof chooseInterpreter>>;
  },
): Promise<Venv> {
  const interpreter = opts.interpreter ?? await chooseInterpreter(component, opts);
  const systemSite = opts.systemSitePackages ?? component.systemSitePackages ??
    opts.env.RIG_SYSTEM_SITE_PACKAGES === "1";
  const env = { ...opts.env };
  delete env.PYTHONHOME;
  delete env.VIRTUAL_ENV;
  const args = [
    ...interpreter.argv,
    "-m",
    "venv",
    ...(systemSite ? ["--system-site-packages"] : []),
    dir,
  ];
  opts.ui.debug(`Creating ${dir} with Python ${interpreter.probe.version} (${interpreter.source})`);
  await runChecked(args, {
    env,
    signal: opts.signal,
    failureHint: "On Debian/Ubuntu install the venv module: apt-get install python3-venv",
  });
  const venv = { ...venvLayout(dir), created: true, reason: opts.reason };
  if (!isFile(venv.python)) {
    throw new RigError(`Created "${dir}" but it has no interpreter at "${venv.python}"`);
  }
  return venv;
}

/** Removes a venv folder (refuses anything that is not one). */
export async function removeVenv(dir: string): Promise<void> {
  if (!isFile(path.join(dir, "pyvenv.cfg"))) {
    throw new RigError(`Refusing to remove "${dir}": it is not a virtual environment`);
  }
  await Deno.remove(dir, { recursive: true });
}

/** The site-packages folder of a venv, when it has one. */
export function sitePackages(venv: Venv): string | undefined {
  if (IS_WINDOWS) {
    const dir = path.join(venv.dir, "Lib", "site-packages");
    return isDir(dir) ? dir : undefined;
  }
  for (const lib of ["lib", "lib64"]) {
    try {
      for (const entry of Deno.readDirSync(path.join(venv.dir, lib))) {
        if (entry.name.startsWith("python")) {
          const dir = path.join(venv.dir, lib, entry.name, "site-packages");
          if (isDir(dir)) return dir;
        }
      }
    } catch {
      // No such folder.
    }
  }
  return undefined;
}

/** Installed distributions (normalized name → version) read from *.dist-info folder names. */
export function installedDistributions(venv: Venv): Record<string, string> {
  const site = sitePackages(venv);
  const out: Record<string, string> = {};
  if (!site) return out;
  for (const entry of Deno.readDirSync(site)) {
    const m = entry.name.match(/^(.+?)-([^-]+)\.dist-info$/);
    if (m) out[normalizeName(m[1]!)] = m[2]!;
  }
  return out;
}

function looksLikeCommand(value: string): boolean {
  return /[\\/]/.test(value) || /^(python|py\b|pypy)/i.test(value);
}

/** `to` relative to `from` with `/` separators, or `to` itself when outside it. */
export function relative(from: string, to: string): string {
  const rel = path.relative(from, to);
  return (rel && !rel.startsWith("..") ? rel : to).split(path.sep).join("/");
}

/** True when `child` is `parent` or inside it. */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The Python launcher: `RIG_PYTHON`, else `python3` (`python` on Windows). */
export function defaultPython(env: Record<string, string>, os: Os = HOST_OS): string {
  return env.RIG_PYTHON || pythonLauncher(os);
}
