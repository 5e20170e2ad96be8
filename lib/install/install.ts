/**
 * `rig install` orchestration: set up every component (venv + pip/uv, npm),
 * skip the work when nothing changed (fingerprint + installed versions recorded
 * under `.rig/install/<component>.json`), in parallel where safe.
 */
import { isFile, posixRelative } from "../fs.ts";
import * as path from "node:path";
import { ensureRigDir, userCacheDir as sharedUserCacheDir } from "../cache_paths.ts";
import { writeJsonAtomic } from "../fs_atomic.ts";
import { sha256File, sha256Hex } from "../hash.ts";
import { type Component, type Project } from "../project/project.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import type { Ui } from "../ui.ts";
import { lockFile, withLock } from "../lock.ts";
import {
  findVenv,
  installedDistributions,
  pythonRequirements,
  quickCheckVenv,
  readPyvenvCfg,
  type Venv,
} from "../python/venv.ts";
import { ensureVenv, settleReplacement } from "../python/venv_ensure.ts";
import { chooseInstaller, type Installer, installWithFallback } from "../python/pip.ts";
import {
  detectToolchain,
  installFrozen,
  installInputs,
  installMarker,
  type ManagerName,
  type Toolchain,
} from "../node/managers.ts";
import { requirementIncludes } from "../python/requirements.ts";
import { finishInterrupted } from "./install_journal.ts";
import { detectManager } from "../python/managers.ts";
import { installManaged } from "./python_managed.ts";
import { hasDevExtra, projectTable, readPyproject } from "../python/pyproject.ts";

/** Bumped when the state file's meaning changes (old states then count as stale). */
const STATE_VERSION = 1;

/** Options of install operations. */
export interface InstallOptions {
  env: Record<string, string>;
  ui: Ui;
  signal?: AbortSignal;
  /** Install even when nothing changed. */
  force?: boolean;
}

/** What happened to one component. */
export interface InstallResult {
  name: string;
  /** True when nothing changed and no work was done. */
  skipped: boolean;
  durationMs: number;
  /** pip, uv, poetry, or the node manager: npm, pnpm, yarn, bun (absent when skipped). */
  installer?: Installer | "poetry" | ManagerName;
  /** Why the work was done (first install, which input changed, venv recreated…). */
  reason?: string;
  /** The venv, for Python components. */
  venv?: Venv;
}

/** What `.rig/install/<component>.json` records after a successful install. */
export interface InstallState {
  version: number;
  component: string;
  fingerprint: string;
  /** Per-input hashes, to say which one changed. */
  inputs: Record<string, string>;
  installer: string;
  installedAt: string;
  durationMs: number;
  /** Python: distribution name → version read from site-packages. */
  packages?: Record<string, string>;
  /** Node: hash of node_modules/.package-lock.json (null when npm wrote none). */
  nodeModules?: string | null;
}

/** Whether a component is a Python one. */
export function isPython(component: Component): boolean {
  return component.kind === "python-app" || component.kind === "python-lib";
}

/** The state file of a component. */
export function stateFile(root: string, component: string): string {
  return path.join(root, ".rig", "install", `${component}.json`);
}

/** The user-level download cache folder (see lib/cache_paths.ts); pip uses `pip/`, uv `uv/`, npm `npm/` below it. */
export function userCacheDir(env: Record<string, string>): string {
  return sharedUserCacheDir(env, Deno.build.os);
}

/** How a Python component is installed: requirement files and/or the project itself. */
export interface PythonPlan {
  /** Requirement files passed with `-r` (absolute). */
  requirementFiles: string[];
  /** `.[dev]`, `.` or undefined when the component is not a package. */
  editable?: string;
  /** PEP 735 dependency groups installed with `--group` (pip 25.1+, uv). */
  groups: string[];
  /** Every file whose content decides the result (includes, pyproject, setup files). */
  inputs: string[];
}

/** Works out what to install for a Python component. */
export function pythonPlan(component: Component, root?: string): PythonPlan {
  const dir = component.dir;
  const display = (file: string) => posixRelative(root ?? path.dirname(dir), file);
  const requirementFiles = ["requirements.txt", "requirements-dev.txt"]
    .map((f) => path.join(dir, f))
    .filter(isFile);
  const inputs = new Set<string>();
  for (const file of requirementFiles) {
    inputs.add(file);
    for (const included of requirementIncludes(file, { display })) inputs.add(included);
  }
  let editable: string | undefined;
  const data = readPyproject(dir, { root });
  if (projectTable(data)) {
    editable = hasDevExtra(data) ? ".[dev]" : ".";
  } else if (isFile(path.join(dir, "setup.py")) && requirementFiles.length === 0) {
    editable = ".";
  }
  for (const f of ["pyproject.toml", "setup.cfg", "setup.py"]) {
    if (isFile(path.join(dir, f))) inputs.add(path.join(dir, f));
  }
  const groups = dependencyGroups(component, root).filter((g) => g === "dev");
  return { requirementFiles, editable, groups, inputs: [...inputs].sort() };
}

function dependencyGroups(component: Component, root?: string): string[] {
  try {
    return detectManager(component.dir, root ?? path.dirname(component.dir)).groups;
  } catch {
    return [];
  }
}

/** The pip/uv arguments that install a plan (run in the component folder). */
export function planArgs(plan: PythonPlan): string[] {
  const args: string[] = [];
  for (const file of plan.requirementFiles) args.push("-r", path.basename(file));
  if (plan.editable) args.push("-e", plan.editable);
  for (const group of plan.groups) args.push("--group", group);
  return args;
}

/** Fingerprint of a component's install inputs (files + interpreter + venv identity). */
export async function fingerprint(
  component: Component,
  opts: { root: string; venv?: Venv; env: Record<string, string> },
): Promise<{ hash: string; inputs: Record<string, string> }> {
  const inputs: Record<string, string> = {};
  const rel = (file: string) => posixRelative(opts.root, file);
  if (isPython(component)) {
    const info = detectManager(component.dir, opts.root);
    if (info.manager === "pip") {
      const plan = pythonPlan(component, opts.root);
      for (const file of plan.inputs) inputs[rel(file)] = await hashInput(file);
      inputs["(plan)"] = planArgs(plan).join(" ");
    } else {
      // The lock, every pyproject it covers and the Python pins.
      for (const file of info.inputs) inputs[rel(file)] = await hashIfExists(file) ?? "-";
      inputs["(plan)"] = `${info.manager} ${rel(info.projectDir) || "."}`;
    }
    // The venv was checked against these when installed (as rig doctor checks it);
    // a changed requirement makes the install stale, and the install then enforces it.
    const wanted = pythonRequirements(component, opts.root);
    if (wanted.length) inputs["(python)"] = wanted.map((r) => r.specifier).join("; ");
    if (opts.venv) {
      const cfg = readPyvenvCfg(opts.venv.dir);
      inputs["(interpreter)"] = `${cfg.home ?? ""} ${cfg.version ?? cfg.version_info ?? ""}`;
      inputs["(venv)"] = await hashInput(path.join(opts.venv.dir, "pyvenv.cfg"));
    }
  } else {
    const tc = detectToolchain(component.dir, opts.root);
    for (const file of installInputs(component.dir, tc)) inputs[rel(file)] = await hashInput(file);
    inputs["(install)"] = `${tc.manager} in ${rel(tc.installDir) || "."}`;
  }
  const sorted = Object.keys(inputs).sort().map((k) => `${k}\0${inputs[k]}`).join("\n");
  return { hash: await sha256Hex(`rig-install-v${STATE_VERSION}\n${sorted}`), inputs };
}

/** Reads a component's install state (undefined when absent or unreadable). */
export function readState(root: string, component: string): InstallState | undefined {
  try {
    const state = JSON.parse(Deno.readTextFileSync(stateFile(root, component))) as InstallState;
    return state.version === STATE_VERSION ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Removes a component's install state so the next install does the work. */
export async function clearState(root: string, component: string): Promise<void> {
  await Deno.remove(stateFile(root, component)).catch(() => {});
}

/** Why a component needs installing, or undefined when it is up to date (fast: no processes). */
export async function staleReason(
  project: Project,
  component: Component,
  opts: { env: Record<string, string> },
): Promise<string | undefined> {
  const state = readState(project.root, component.name);
  if (!state) return "not installed by rig yet";
  let venv: Venv | undefined;
  if (isPython(component)) {
    venv = findVenv(component, opts);
    if (!venv) return "no virtual environment";
    const quick = quickCheckVenv(venv);
    if (!quick.ok) return `the virtual environment is broken: ${quick.problem}`;
  }
  const now = await fingerprint(component, { root: project.root, venv, env: opts.env });
  if (now.hash !== state.fingerprint) return describeChange(state.inputs, now.inputs);
  if (venv) {
    const installed = installedDistributions(venv);
    const changed = diffPackages(state.packages ?? {}, installed);
    if (changed) return `the environment changed since the last install (${changed})`;
  } else {
    const hidden = await nodeModulesHash(detectToolchain(component.dir, project.root));
    if (hidden !== (state.nodeModules ?? null)) {
      return hidden === null
        ? "node_modules is missing"
        : "node_modules changed since the last install";
    }
  }
  return undefined;
}

function describeChange(before: Record<string, string>, after: Record<string, string>): string {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...names].filter((n) => before[n] !== after[n]).sort();
  const first = changed[0];
  if (!first) return "inputs changed";
  const label = first === "(venv)" || first === "(interpreter)"
    ? "the virtual environment was recreated"
    : first === "(plan)"
    ? "the install plan changed"
    : first === "(python)"
    ? "the Python requirement changed"
    : `"${first}" changed`;
  return changed.length > 1 ? `${label} (and ${changed.length - 1} more)` : label;
}

/** A short description of how two package maps differ, or undefined when equal. */
export function diffPackages(
  recorded: Record<string, string>,
  installed: Record<string, string>,
): string | undefined {
  const out: string[] = [];
  for (const [name, version] of Object.entries(recorded)) {
    if (!(name in installed)) out.push(`${name} removed`);
    else if (installed[name] !== version) out.push(`${name} ${version} → ${installed[name]}`);
  }
  for (const name of Object.keys(installed)) {
    if (!(name in recorded)) out.push(`${name} added`);
  }
  if (!out.length) return undefined;
  return out.length > 3 ? `${out.slice(0, 3).join(", ")}, …` : out.join(", ");
}

/**
 * Makes sure every given component is installed; the no-change fast path only
 * reads files. Components install in parallel (at most 2 at a time).
 */
export async function ensureInstalled(
  project: Project,
  components: Component[],
  opts: InstallOptions,
): Promise<InstallResult[]> {
  await finishInterrupted(project.root, opts);
  installsInFlight.clear();
  const limit = Math.max(1, Math.min(2, navigator.hardwareConcurrency ?? 2));
  const results: InstallResult[] = new Array(components.length);
  const errors: unknown[] = [];
  // Members of one uv workspace share one environment and one sync: one worker runs them in turn.
  const units = new Map<string, number[]>();
  components.forEach((component, index) => {
    const unit = installUnit(project, component);
    units.set(unit, [...(units.get(unit) ?? []), index]);
  });
  const queue = [...units.values()];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      let installedWith: string | undefined;
      for (const index of queue[next++]!) {
        const component = components[index]!;
        try {
          results[index] = await installComponent(project, component, { ...opts, installedWith });
          if (!results[index]!.skipped) installedWith ??= component.name;
        } catch (error) {
          errors.push(error);
          if (opts.signal?.aborted) return;
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
  if (errors.length) throw errors[0];
  return results;
}

/** What installs together: a uv workspace's members share one unit; others are their own. */
function installUnit(project: Project, component: Component): string {
  if (!isPython(component)) return `component:${component.name}`;
  try {
    const info = detectManager(component.dir, project.root);
    return info.workspace ? `uv:${info.workspace.root}` : `component:${component.name}`;
  } catch {
    return `component:${component.name}`;
  }
}

/** Installs one component unless it is up to date (or `force`). */
export async function installComponent(
  project: Project,
  component: Component,
  opts: InstallOptions & { installedWith?: string },
): Promise<InstallResult> {
  const started = performance.now();
  const quick = opts.force ? "forced" : await staleReason(project, component, opts);
  if (!quick && opts.installedWith) {
    opts.ui.step(`install ${component.name}`).done(`installed with ${opts.installedWith}`);
    return { name: component.name, skipped: false, durationMs: performance.now() - started };
  }
  if (!quick) {
    const step = opts.ui.step(`install ${component.name}`);
    step.skip("up to date");
    return { name: component.name, skipped: true, durationMs: performance.now() - started };
  }
  // Two rigs installing into one venv (or node_modules) at once break both: the second waits,
  // then finds the work done.
  const unit = installUnit(project, component);
  const lockName = unit.startsWith("uv:") ? "install-uv-workspace" : `install-${component.name}`;
  return await withLock(lockFile(project.root, lockName), {
    what: `installing ${component.name}`,
    signal: opts.signal,
    onWait: (message) => opts.ui.info(message),
  }, async () => {
    const reason = opts.force ? "forced" : await staleReason(project, component, opts);
    if (!reason) {
      opts.ui.step(`install ${component.name}`).skip("up to date");
      return { name: component.name, skipped: true, durationMs: performance.now() - started };
    }
    return await installStale(project, component, { ...opts, reason, started });
  });
}

async function installStale(
  project: Project,
  component: Component,
  opts: InstallOptions & { reason: string; started: number },
): Promise<InstallResult> {
  const { reason, started } = opts;
  const step = opts.ui.step(`install ${component.name}`);
  try {
    const result = isPython(component)
      ? await installPython(project, component, { ...opts, reason, step })
      : await installNode(project, component, { ...opts, reason, step });
    step.done(`${result.installer}${result.reason ? `: ${result.reason}` : ""}`);
    return { ...result, durationMs: performance.now() - started };
  } catch (error) {
    step.fail();
    throw error;
  }
}

interface StepOptions extends InstallOptions {
  reason: string;
  step: { update(detail: string): void };
}

async function installPython(
  project: Project,
  component: Component,
  opts: StepOptions,
): Promise<InstallResult> {
  const started = performance.now();
  const info = detectManager(component.dir, project.root);
  if (info.manager !== "pip") {
    const venv = await installManaged(project, component, info, {
      ...opts,
      cacheDir: userCacheDir(opts.env),
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
    });
    const members = info.workspace
      ? project.components.filter((c) =>
        isPython(c) && info.workspace!.members.includes(path.resolve(c.dir))
      )
      : [component];
    for (const member of members.length ? members : [component]) {
      await recordPython(project, member, venv, {
        env: opts.env,
        installer: info.manager,
        started,
      });
    }
    const reason = members.length > 1
      ? `${opts.reason}; one sync for ${members.map((m) => m.name).join(", ")}`
      : opts.reason;
    return {
      name: component.name,
      skipped: false,
      durationMs: 0,
      installer: info.manager,
      reason,
      venv,
    };
  }
  const empty = emptyPlanError(project, component);
  if (empty) throw empty;
  opts.step.update("checking the virtual environment");
  // A broken venv being replaced waits beside the new one until the install worked.
  const venv = await ensureVenv(component, { ...opts, root: project.root, keepOld: true });
  try {
    const result = await installIntoVenv(project, component, venv, { ...opts, info, started });
    await settleReplacement(venv, true);
    return result;
  } catch (error) {
    await settleReplacement(venv, false);
    throw error;
  }
}

async function installIntoVenv(
  project: Project,
  component: Component,
  venv: Venv,
  opts: StepOptions & { info: ReturnType<typeof detectManager>; started: number },
): Promise<InstallResult> {
  const { started } = opts;
  const reason = venv.created
    ? `created ${path.relative(component.dir, venv.dir)} (${venv.reason})`
    : opts.reason;
  const plan = pythonPlan(component, project.root);
  let installer = chooseInstaller(opts.env);
  const args = planArgs(plan);
  if (plan.groups.length && installer === "pip") await ensurePipForGroups(venv, opts);
  if (args.length) {
    opts.step.update(`${installer} install ${args.join(" ")}`);
    installer = await installWithFallback(venv, args, {
      env: opts.env,
      installer,
      cacheDir: userCacheDir(opts.env),
      cwd: component.dir,
      signal: opts.signal,
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
      warn: (text) =>
        opts.ui.warn(`${component.name}: ${text}`, "Set RIG_INSTALLER=pip to skip uv"),
    });
  }
  await recordPython(project, component, venv, { env: opts.env, installer, started });
  return { name: component.name, skipped: false, durationMs: 0, installer, reason, venv };
}

/**
 * A pip-managed component whose pyproject declares dependencies but for which the plan
 * installs nothing: an error (shared with rig doctor), never "installed".
 */
export function emptyPlanError(
  project: Project,
  component: Component,
): EnvironmentError | undefined {
  const info = detectManager(component.dir, project.root);
  if (info.manager !== "pip" || !info.declaresDependencies) return undefined;
  if (planArgs(pythonPlan(component, project.root)).length) return undefined;
  return new EnvironmentError(
    `Component "${component.name}" declares dependencies in ${component.path}/pyproject.toml, but rig found nothing to install for it`,
    "Add a [project] table with the dependencies (or a requirements.txt, or a uv.lock / poetry.lock), then run: rig install",
  );
}

/** pip reads PEP 735 groups (`--group`) from version 25.1 on: upgrade rig's venv when older. */
async function ensurePipForGroups(venv: Venv, opts: StepOptions): Promise<void> {
  const { run } = await import("../proc.ts");
  const out = await run([venv.python, "-m", "pip", "--version"], { env: opts.env });
  const [major, minor] = (out.stdout.match(/pip (\d+)\.(\d+)/) ?? []).slice(1).map(Number);
  if (major !== undefined && (major > 25 || (major === 25 && (minor ?? 0) >= 1))) return;
  opts.step.update("pip install --upgrade pip>=25.1 (for [dependency-groups])");
  const { pipInstall } = await import("../python/pip.ts");
  await pipInstall(venv, ["--upgrade", "pip>=25.1"], {
    env: opts.env,
    installer: "pip",
    cacheDir: userCacheDir(opts.env),
    signal: opts.signal,
  });
}

/** Records a successful Python install (fingerprint + installed versions). */
export async function recordPython(
  project: Project,
  component: Component,
  venv: Venv,
  opts: { env: Record<string, string>; installer: string; started: number },
): Promise<void> {
  const print = await fingerprint(component, { root: project.root, venv, env: opts.env });
  const state: InstallState = {
    version: STATE_VERSION,
    component: component.name,
    fingerprint: print.hash,
    inputs: print.inputs,
    installer: opts.installer,
    installedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - opts.started),
    packages: installedDistributions(venv),
  };
  await ensureRigDir(project.root);
  await writeJsonAtomic(stateFile(project.root, component.name), state);
}

async function installNode(
  project: Project,
  component: Component,
  opts: StepOptions,
): Promise<InstallResult> {
  const started = performance.now();
  if (!isFile(path.join(component.dir, "package.json"))) {
    throw new RigError(
      `Component "${component.name}" has no package.json`,
      `Add ${component.path}/package.json or fix its kind in rig.toml`,
    );
  }
  const tc = detectToolchain(component.dir, project.root);
  const where = path.relative(project.root, tc.installDir).split(path.sep).join("/") || ".";
  opts.step.update(`${tc.manager} install${tc.workspace ? ` (workspace root ${where})` : ""}`);
  // Workspace members share one install at the root: the first one runs it, the rest wait.
  const key = `${tc.manager}:${tc.installDir}`;
  let pending = installsInFlight.get(key);
  if (!pending) {
    pending = installFrozen(tc, {
      env: opts.env,
      cacheDir: userCacheDir(opts.env),
      signal: opts.signal,
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
      root: project.root,
      component: component.name,
    }).then(() => {});
    installsInFlight.set(key, pending);
    // A failed install is retried by the next member; a finished one serves them all.
    pending.catch(() => installsInFlight.delete(key));
  }
  await pending;
  await recordNode(project, component, { env: opts.env, started });
  return {
    name: component.name,
    skipped: false,
    durationMs: 0,
    installer: tc.manager,
    reason: tc.workspace ? `${opts.reason}; installed at the workspace root ${where}` : opts.reason,
  };
}

/** Records a successful npm install. */
export async function recordNode(
  project: Project,
  component: Component,
  opts: { env: Record<string, string>; started: number },
): Promise<void> {
  const print = await fingerprint(component, { root: project.root, env: opts.env });
  const tc = detectToolchain(component.dir, project.root);
  const state: InstallState = {
    version: STATE_VERSION,
    component: component.name,
    fingerprint: print.hash,
    inputs: print.inputs,
    installer: tc.manager,
    installedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - opts.started),
    nodeModules: await nodeModulesHash(tc),
  };
  await ensureRigDir(project.root);
  await writeJsonAtomic(stateFile(project.root, component.name), state);
}

/** Installs of workspace roots during one `ensureInstalled`, so members install a root once. */
const installsInFlight = new Map<string, Promise<void>>();

/** What a manager wrote into node_modules (its marker file's hash); null when absent. */
export async function nodeModulesHash(tc: Toolchain): Promise<string | null> {
  const marker = installMarker(tc);
  if (marker) return await hashIfExists(marker);
  try {
    const names = [...Deno.readDirSync(path.join(tc.installDir, "node_modules"))].map((e) =>
      e.name
    );
    return await sha256Hex(names.sort().join("\n"));
  } catch {
    return null;
  }
}

/**
 * SHA-256 of an install input. Manifests and lock files are small: Web Crypto over the
 * bytes spares the no-change path the cost of loading node:crypto (sha256File streams).
 */
async function hashInput(file: string): Promise<string> {
  const info = await Deno.stat(file);
  if (info.size > 8 * 1024 * 1024) return await sha256File(file);
  return await sha256Hex(await Deno.readFile(file));
}

async function hashIfExists(file: string): Promise<string | null> {
  try {
    return await hashInput(file);
  } catch {
    return null;
  }
}
