/**
 * Installing Python components whose dependencies a lock manages: uv
 * (`uv sync --locked`, once for a whole workspace) and Poetry (`poetry install`
 * from poetry.lock). Also the blockers `rig install` would hit, shared with
 * `rig doctor` so both say the same thing.
 */
import * as path from "../path.ts";
import { EnvironmentError, ProcessError, RigError } from "../errors.ts";
import type { Component, Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { detectManager, ensureTool, findTool, type ManagerInfo } from "../python/managers.ts";
import { checkUvLock, uvSync } from "../python/uv.ts";
import { checkPoetryLock, poetryInstall } from "../python/poetry.ts";
import {
  chooseInterpreter,
  pythonRequirements,
  quickCheckVenv,
  removeVenv,
  type Venv,
  venvEnv,
  venvLayout,
} from "../python/venv.ts";
import { ensureVenv } from "../python/venv_ensure.ts";
import { run } from "../proc.ts";
import { isFile, posixRelative } from "../fs.ts";

/** The manager of a Python component (uv, Poetry or pip), from its files. */
export function managerOf(project: Project, component: Component): ManagerInfo {
  return detectManager(component.dir, project.root);
}

/** The folder of the environment a managed component installs into. */
export function managedVenvDir(component: Component, info: ManagerInfo): string {
  if (component.venv) return path.resolve(component.dir, component.venv);
  return path.join(info.manager === "uv" ? info.projectDir : component.dir, ".venv");
}

/** Options of a managed install. */
export interface ManagedOptions {
  env: Record<string, string>;
  ui: Ui;
  cacheDir: string;
  signal?: AbortSignal;
  step: { update(detail: string): void };
  onLine?: (line: string) => void;
}

/** How uv says that no interpreter satisfies the project. */
const NO_INTERPRETER =
  /No interpreter found|No (?:download|Python) found for|not satisfy the project's Python requirement/i;

/** The `uv python install X.Y` a uv project needs when no interpreter fits. */
function uvPythonHint(component: Component, root: string): string {
  const wanted = pythonRequirements(component, root)[0]?.specifier ?? "";
  const version = wanted.match(/(\d+\.\d+)/)?.[1] ?? "3.12";
  return `Run: uv python install ${version} (or install a matching Python and set RIG_PYTHON)`;
}

/** An interpreter for a new uv environment: rig's choice, else one uv manages, else the hint. */
async function uvInterpreter(
  component: Component,
  root: string,
  uv: string,
  opts: ManagedOptions,
): Promise<string | undefined> {
  // uv reads .python-version and requires-python itself; rig picks only when told to.
  if (!component.python && !opts.env.RIG_PYTHON) return undefined;
  try {
    return (await chooseInterpreter(component, { ...opts, root })).argv[0]!;
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    const wanted = pythonRequirements(component, root)[0]?.specifier;
    if (wanted) {
      const found = await run([uv, "python", "find", "--no-python-downloads", wanted], {
        cwd: component.dir,
        env: opts.env,
        timeoutMs: 30_000,
      });
      if (found.success && found.stdout.trim()) return found.stdout.trim().split("\n").pop()!;
    }
    throw new EnvironmentError(error.message, uvPythonHint(component, root));
  }
}

/** What a uv or Poetry install would stop at, or undefined (the check `rig doctor` shares). */
export async function managedBlocker(
  project: Project,
  component: Component,
  opts: { env: Record<string, string>; cacheDir: string; signal?: AbortSignal; install?: boolean },
): Promise<EnvironmentError | undefined> {
  const info = managerOf(project, component);
  if (info.manager === "uv") {
    const uv = findTool("uv", opts);
    return await checkUvLock(info, project.root, { uv, env: opts.env, signal: opts.signal });
  }
  if (info.manager === "poetry") {
    if (!isFile(info.lockFile!)) {
      return await checkPoetryLock(info, project.root, {
        poetry: "poetry",
        env: opts.env,
      });
    }
    const poetry = findTool("poetry", opts);
    if (!poetry) return undefined; // rig installs Poetry first; its lock check runs then.
    return await checkPoetryLock(info, project.root, {
      poetry,
      env: opts.env,
      signal: opts.signal,
    });
  }
  // pip-managed components: install.ts's emptyPlanError (doctor asks it too).
  return undefined;
}

/** Installs a uv or Poetry component (for a uv workspace: every member at once). */
export async function installManaged(
  project: Project,
  component: Component,
  info: ManagerInfo,
  opts: ManagedOptions,
): Promise<Venv> {
  const shownLock = posixRelative(project.root, info.lockFile!);
  if (info.manager === "uv") {
    const uv = await ensureTool("uv", { ...opts, neededFor: `"${shownLock}"` });
    opts.step.update("checking uv.lock");
    const stale = await checkUvLock(info, project.root, { uv, env: opts.env, signal: opts.signal });
    if (stale) throw stale;
    const dir = managedVenvDir(component, info);
    let python: string | undefined;
    const existing = venvLayout(dir);
    if (isFile(path.join(dir, "pyvenv.cfg"))) {
      const quick = quickCheckVenv(existing);
      if (!quick.ok) {
        opts.ui.warn(`Recreating ${path.relative(project.root, dir)}: ${quick.problem}`);
        await removeVenv(dir);
      }
    }
    const fresh = !isFile(path.join(dir, "pyvenv.cfg"));
    if (fresh) python = await uvInterpreter(component, project.root, uv, opts);
    opts.step.update(`uv sync --locked${info.workspace ? " --all-packages" : ""}`);
    try {
      await uvSync(info, project.root, {
        uv,
        env: opts.env,
        venvDir: dir,
        python,
        cacheDir: opts.cacheDir,
        signal: opts.signal,
        onLine: opts.onLine,
      });
    } catch (error) {
      if (error instanceof ProcessError && NO_INTERPRETER.test(error.output)) {
        const wanted = pythonRequirements(component, project.root)
          .map((r) => `${r.specifier} (${r.source})`).join(", ");
        throw new EnvironmentError(
          `No Python interpreter for component "${component.name}"${
            wanted ? ` matches ${wanted}` : ""
          }: ${error.output.trim().split("\n").find((l) => NO_INTERPRETER.test(l))?.trim()}`,
          uvPythonHint(component, project.root),
        );
      }
      throw error;
    }
    return { ...venvLayout(dir), created: fresh, reason: fresh ? "uv sync" : undefined };
  }
  if (info.manager === "poetry") {
    const poetry = await ensureTool("poetry", { ...opts, neededFor: `"${shownLock}"` });
    opts.step.update("checking poetry.lock");
    const stale = await checkPoetryLock(info, project.root, {
      poetry,
      env: opts.env,
      cacheDir: opts.cacheDir,
      signal: opts.signal,
    });
    if (stale) throw stale;
    opts.step.update("checking the virtual environment");
    const venv = await ensureVenv(component, { ...opts, root: project.root });
    opts.step.update("poetry install");
    await poetryInstall(info, project.root, {
      poetry,
      env: venvEnv(venv, opts.env),
      cacheDir: opts.cacheDir,
      signal: opts.signal,
      onLine: opts.onLine,
    });
    return venv;
  }
  throw new RigError(`Component "${component.name}" is not managed by uv or Poetry`);
}
