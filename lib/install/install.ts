/**
 * `rig install` orchestration: set up every component (venv + pip/uv, npm),
 * skip the work when nothing changed (fingerprint + installed versions recorded
 * under `.rig/install/<component>.json`), in parallel where safe.
 */
import { isFile } from "../fs.ts";
import * as path from "node:path";
import { ensureRigDir, userCacheDir as sharedUserCacheDir } from "../cache_paths.ts";
import { writeFileAtomic, writeJsonAtomic } from "../fs_atomic.ts";
import { sha256File, sha256Hex } from "../hash.ts";
import { type Component, type Project } from "../project/project.ts";
import { ConfigError, InterruptedError, RigError, UsageError } from "../errors.ts";
import type { Ui } from "../ui.ts";
import {
  defaultVenvDir,
  ensureVenv,
  findVenv,
  installedDistributions,
  normalizeName,
  quickCheckVenv,
  readPyvenvCfg,
  type Venv,
  venvLayout,
} from "../python/venv.ts";
import {
  chooseInstaller,
  installArgv,
  type Installer,
  installWithFallback,
  pipCheck,
} from "../python/pip.ts";
import { hiddenLockfile, npm, npmInputs, setupArgs } from "../node/npm.ts";
import {
  appendLine,
  appendTomlItem,
  findTomlArray,
  formatRequirement,
  parseRequirement,
  parseRequirements,
  replaceSpecifier,
  replaceTomlItem,
  type Requirement,
  requirementIncludes,
  requirementsOf,
  RequirementSyntaxError,
  specifiersDisjoint,
  type TomlArrayItem,
} from "../python/requirements.ts";
import {
  beginJournal,
  endJournal,
  finishInterrupted,
  noteChild,
  readJournal,
  rollback,
} from "./install_journal.ts";

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
  /** pip, uv or npm (absent when skipped). */
  installer?: Installer | "npm";
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
  /** Every file whose content decides the result (includes, pyproject, setup files). */
  inputs: string[];
}

/** Works out what to install for a Python component. */
export function pythonPlan(component: Component, root?: string): PythonPlan {
  const dir = component.dir;
  const display = (file: string) =>
    path.relative(root ?? path.dirname(dir), file).split(path.sep).join("/");
  const requirementFiles = ["requirements.txt", "requirements-dev.txt"]
    .map((f) => path.join(dir, f))
    .filter(isFile);
  const inputs = new Set<string>();
  for (const file of requirementFiles) {
    inputs.add(file);
    for (const included of requirementIncludes(file, { display })) inputs.add(included);
  }
  let editable: string | undefined;
  const pyproject = path.join(dir, "pyproject.toml");
  const project = isFile(pyproject) ? projectTable(Deno.readTextFileSync(pyproject)) : undefined;
  if (project) {
    editable = project.hasDevExtra ? ".[dev]" : ".";
  } else if (isFile(path.join(dir, "setup.py")) && requirementFiles.length === 0) {
    editable = ".";
  }
  if (editable) {
    for (const f of ["pyproject.toml", "setup.cfg", "setup.py"]) {
      if (isFile(path.join(dir, f))) inputs.add(path.join(dir, f));
    }
  }
  return { requirementFiles, editable, inputs: [...inputs].sort() };
}

/** Whether pyproject.toml text has a `[project]` table, and a `dev` extra. */
function projectTable(text: string): { hasDevExtra: boolean } | undefined {
  if (!/^\s*\[project\]\s*$/m.test(text)) return undefined;
  const extras = text.match(
    /^\s*\[project\.optional-dependencies\]\s*$([\s\S]*?)(?=^\s*\[|$(?![\s\S]))/m,
  );
  const inline = /^\s*optional-dependencies\s*=\s*\{[^}]*\bdev\s*=/m.test(text);
  return { hasDevExtra: inline || !!extras && /^\s*"?dev"?\s*=/m.test(extras[1] ?? "") };
}

/** The pip/uv arguments that install a plan (run in the component folder). */
export function planArgs(plan: PythonPlan): string[] {
  const args: string[] = [];
  for (const file of plan.requirementFiles) args.push("-r", path.basename(file));
  if (plan.editable) args.push("-e", plan.editable);
  return args;
}

/** Fingerprint of a component's install inputs (files + interpreter + venv identity). */
export async function fingerprint(
  component: Component,
  opts: { root: string; venv?: Venv; env: Record<string, string> },
): Promise<{ hash: string; inputs: Record<string, string> }> {
  const inputs: Record<string, string> = {};
  const rel = (file: string) => path.relative(opts.root, file).split(path.sep).join("/");
  if (isPython(component)) {
    const plan = pythonPlan(component, opts.root);
    for (const file of plan.inputs) inputs[rel(file)] = await sha256File(file);
    inputs["(plan)"] = planArgs(plan).join(" ");
    if (opts.venv) {
      const cfg = readPyvenvCfg(opts.venv.dir);
      inputs["(interpreter)"] = `${cfg.home ?? ""} ${cfg.version ?? cfg.version_info ?? ""}`;
      inputs["(venv)"] = await sha256File(path.join(opts.venv.dir, "pyvenv.cfg"));
    }
  } else {
    for (const file of npmInputs(component.dir)) inputs[rel(file)] = await sha256File(file);
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
    const hidden = await hashIfExists(hiddenLockfile(component.dir));
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
  const limit = Math.max(1, Math.min(2, navigator.hardwareConcurrency ?? 2));
  const results: InstallResult[] = new Array(components.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < components.length) {
      const index = next++;
      const component = components[index]!;
      try {
        results[index] = await installComponent(project, component, opts);
      } catch (error) {
        errors.push(error);
        if (opts.signal?.aborted) return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, components.length) }, worker));
  if (errors.length) throw errors[0];
  return results;
}

/** Installs one component unless it is up to date (or `force`). */
export async function installComponent(
  project: Project,
  component: Component,
  opts: InstallOptions,
): Promise<InstallResult> {
  const started = performance.now();
  const reason = opts.force ? "forced" : await staleReason(project, component, opts);
  if (!reason) {
    const step = opts.ui.step(`install ${component.name}`);
    step.skip("up to date");
    return { name: component.name, skipped: true, durationMs: performance.now() - started };
  }
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
  opts.step.update("checking the virtual environment");
  const venv = await ensureVenv(component, { ...opts, root: project.root });
  const reason = venv.created
    ? `created ${path.relative(component.dir, venv.dir)} (${venv.reason})`
    : opts.reason;
  const plan = pythonPlan(component, project.root);
  let installer = chooseInstaller(opts.env);
  const args = planArgs(plan);
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
  const args = setupArgs(component.dir);
  opts.step.update(`npm ${args[0]}`);
  await npm(component.dir, args, {
    env: opts.env,
    cacheDir: userCacheDir(opts.env),
    signal: opts.signal,
    onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
  });
  await recordNode(project, component, { env: opts.env, started });
  return {
    name: component.name,
    skipped: false,
    durationMs: 0,
    installer: "npm",
    reason: opts.reason,
  };
}

/** Records a successful npm install. */
export async function recordNode(
  project: Project,
  component: Component,
  opts: { env: Record<string, string>; started: number },
): Promise<void> {
  const print = await fingerprint(component, { root: project.root, env: opts.env });
  const state: InstallState = {
    version: STATE_VERSION,
    component: component.name,
    fingerprint: print.hash,
    inputs: print.inputs,
    installer: "npm",
    installedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - opts.started),
    nodeModules: await hashIfExists(hiddenLockfile(component.dir)),
  };
  await ensureRigDir(project.root);
  await writeJsonAtomic(stateFile(project.root, component.name), state);
}

async function hashIfExists(file: string): Promise<string | null> {
  try {
    return await sha256File(file);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// rig install PKG...: add packages to one component and record them

/** Names that go to requirements-dev.txt / the dev extra without `--dev`. */
const DEV_TOOL = /^(pytest.*|black|flake8.*|ruff|mypy|coverage|isort|pre-commit|types-.+)$/;

/** Whether a package is a development tool (pytest*, black, ruff, mypy, types-*, …). */
export function isDevTool(name: string): boolean {
  return DEV_TOOL.test(normalizeName(name));
}

/** Options of `addPackages`. */
export interface AddOptions extends InstallOptions {
  /** Record as development dependencies (`--dev`); `false` forces production (`--prod`). */
  dev?: boolean;
  dryRun?: boolean;
}

/** One edit of a file. */
export interface FileChange {
  /** Path relative to the project root, `/` separators. */
  file: string;
  /** 1-based line (absent for a new line at the end or a pyproject array). */
  line?: number;
  before?: string;
  after: string;
}

/** What `addPackages` did (or would do with dryRun). */
export interface AddResult {
  component: string;
  dryRun: boolean;
  /** The pip/uv/npm command line. */
  command: string[];
  changes: FileChange[];
  /** Installed versions of the requested packages (after the install). */
  installed: Record<string, string>;
  durationMs: number;
}

interface PlannedPackage {
  requirement: Requirement;
  dev: boolean;
  /** Existing entry to update, if the package is already required. */
  existing?: { file: string; requirement: Requirement; item?: TomlArrayItem };
  /** Write `name>=installed` after the install (no user specifier). */
  pin: boolean;
}

/** Adds packages to a component: checks conflicts, installs, records them; rolls back on failure. */
export async function addPackages(
  project: Project,
  component: Component,
  packages: string[],
  opts: AddOptions,
): Promise<AddResult> {
  await finishInterrupted(project.root, opts);
  if (isPython(component)) return await addPython(project, component, packages, opts);
  return await addNode(project, component, packages, opts);
}

/** Where a Python component records its dependencies. */
type DependencyFiles =
  | { mode: "requirements"; prod: string; dev: string }
  | { mode: "pyproject"; file: string };

function dependencyFiles(component: Component): DependencyFiles {
  const pyproject = path.join(component.dir, "pyproject.toml");
  const prod = path.join(component.dir, "requirements.txt");
  const dev = path.join(component.dir, "requirements-dev.txt");
  if (!isFile(prod) && !isFile(dev) && isFile(pyproject)) {
    const text = Deno.readTextFileSync(pyproject);
    if (/^\s*\[project\]\s*$/m.test(text)) return { mode: "pyproject", file: pyproject };
  }
  return { mode: "requirements", prod, dev };
}

interface ExistingEntry {
  file: string;
  requirement: Requirement;
  item?: TomlArrayItem;
}

function readExisting(files: DependencyFiles, rel: (file: string) => string): ExistingEntry[] {
  const out: ExistingEntry[] = [];
  if (files.mode === "requirements") {
    for (const file of [files.prod, files.dev]) {
      if (!isFile(file)) continue;
      const entries = parseRequirements(Deno.readTextFileSync(file), rel(file));
      for (const requirement of requirementsOf(entries)) out.push({ file, requirement });
    }
    return out;
  }
  const text = Deno.readTextFileSync(files.file);
  for (
    const [table, key] of [["project", "dependencies"], ["project.optional-dependencies", "dev"]]
  ) {
    const array = findTomlArray(text, table!, key!);
    for (const item of array?.items ?? []) {
      try {
        out.push({ file: files.file, requirement: parseRequirement(item.value), item });
      } catch (error) {
        if (error instanceof RequirementSyntaxError) {
          const line = text.slice(0, item.start).split("\n").length;
          throw new ConfigError(
            rel(files.file),
            line,
            error.message,
            "Fix the dependency, then run: rig install",
          );
        }
        throw error;
      }
    }
  }
  return out;
}

async function addPython(
  project: Project,
  component: Component,
  packages: string[],
  opts: AddOptions,
): Promise<AddResult> {
  const started = performance.now();
  const rel = (file: string) => path.relative(project.root, file).split(path.sep).join("/");
  const requested = packages.map((text) => {
    let requirement: Requirement;
    try {
      requirement = parseRequirement(text);
    } catch (error) {
      throw new UsageError(
        `Cannot read "${text}" as a package requirement: ${(error as Error).message}`,
        'Examples: rig install httpx, rig install "httpx>=0.27", rig install "uvicorn[standard]"',
      );
    }
    if (!requirement.name) {
      throw new UsageError(
        `"${text}" has no package name`,
        `Write it as NAME @ URL, e.g. rig install "mypkg @ ${text}"`,
      );
    }
    return requirement;
  });
  const files = dependencyFiles(component);
  const existing = readExisting(files, rel);
  refuseHashPinned(files, existing, rel);
  const planned: PlannedPackage[] = [];
  for (const requirement of requested) {
    const same = existing.filter((e) => e.requirement.key === requirement.key);
    for (const entry of same) {
      if (requirement.url || entry.requirement.url) continue;
      if (await specifiersDisjoint(entry.requirement.specifier, requirement.specifier)) {
        const where = `${rel(entry.file)}:${entry.requirement.line || lineOf(entry)}`;
        throw new RigError(
          `Cannot add "${
            formatRequirement(requirement)
          }": ${where} already requires "${entry.requirement.text.trim()}", and no version satisfies both`,
          `Ask for a version that fits (rig install "${requirement.name}${entry.requirement.specifier}"), ` +
            `or edit ${where} first`,
        );
      }
    }
    const dev = opts.dev ?? isDevTool(requirement.name!);
    const first = same[0];
    planned.push({
      requirement,
      dev,
      existing: first,
      pin: !requirement.specifier && !requirement.url && !first,
    });
  }

  const installer = chooseInstaller(opts.env);
  const venvForCommand = findVenv(component, opts) ?? {
    ...venvLayout(defaultVenvDir(component)),
  };
  const installArgs = [
    ...planArgs(pythonPlan(component, project.root)),
    ...planned.map((p) =>
      formatRequirement({
        ...p.requirement,
        specifier: p.requirement.specifier || p.existing?.requirement.specifier || "",
      })
    ),
  ];
  const command = installArgv(venvForCommand, installArgs, installer);
  const touched = files.mode === "requirements" ? [files.prod, files.dev] : [files.file];

  if (opts.dryRun) {
    const preview = editFiles(files, planned, {}, rel);
    return {
      component: component.name,
      dryRun: true,
      command,
      changes: preview.changes,
      installed: {},
      durationMs: performance.now() - started,
    };
  }

  const step = opts.ui.step(
    `install ${planned.map((p) => p.requirement.name).join(" ")} into ${component.name}`,
  );
  let journalStarted = false;
  try {
    step.update("checking the virtual environment");
    const venv = await ensureVenv(component, { ...opts, root: project.root });
    const before = installedDistributions(venv);
    const journal = await beginJournal(project.root, {
      component: component.name,
      kind: "python",
      action: `${installer} install ${
        planned.map((p) => formatRequirement(p.requirement)).join(" ")
      }`,
      files: touched,
      venvDir: venv.dir,
      before,
      installer,
    });
    journalStarted = true;
    step.update(`${installer} install`);
    const used = await installWithFallback(venv, installArgs, {
      warn: (text) => opts.ui.warn(text, "Set RIG_INSTALLER=pip to skip uv"),
      env: opts.env,
      installer,
      cacheDir: userCacheDir(opts.env),
      cwd: component.dir,
      signal: opts.signal,
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
      onStart: (pid) => void noteChild(project.root, journal, pid).catch(() => {}),
    });
    await noteChild(project.root, journal, undefined);
    const after = installedDistributions(venv);
    const installed: Record<string, string> = {};
    for (const p of planned) {
      const version = after[p.requirement.key!];
      if (version) installed[p.requirement.name!] = version;
    }
    const edited = editFiles(files, planned, installed, rel);
    for (const [file, text] of Object.entries(edited.texts)) await writeFileAtomic(file, text);
    step.update("pip check");
    const problems = await pipCheck(venv, {
      env: opts.env,
      installer,
      cacheDir: userCacheDir(opts.env),
      signal: opts.signal,
    });
    if (opts.signal?.aborted) throw new InterruptedError();
    if (problems.length) {
      throw new RigError(
        `"pip check" found broken requirements after installing:\n${problems.join("\n")}`,
        "Ask for versions that fit together, then run rig install again",
      );
    }
    await recordPython(project, component, venv, { env: opts.env, installer: used, started });
    await endJournal(project.root);
    step.done(
      Object.entries(installed).map(([n, v]) => `${n} ${v}`).join(", "),
    );
    return {
      component: component.name,
      dryRun: false,
      command,
      changes: edited.changes,
      installed,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    step.fail();
    if (journalStarted) await rollBackAfter(project, error, opts);
    throw error;
  }
}

async function rollBackAfter(
  project: Project,
  error: unknown,
  opts: InstallOptions,
): Promise<void> {
  const journal = readJournal(project.root);
  if (!journal) return;
  const what = error instanceof InterruptedError ? "Interrupted" : "Install failed";
  opts.ui.warn(`${what}; rolling back ${journal.component}`);
  try {
    const notes = await rollback(project.root, journal, { env: opts.env, ui: opts.ui });
    opts.ui.info(`Rolled back: ${notes.length ? notes.join("; ") : "nothing had changed"}`);
  } catch (rollbackError) {
    opts.ui.warn(
      `Rollback did not finish: ${(rollbackError as Error).message.split("\n")[0]}`,
      "Run rig install again to finish it (the journal is kept in .rig/install/journal.json)",
    );
  }
}

/** pip's hash-checking mode would reject an added line without hashes: refuse before touching anything. */
function refuseHashPinned(
  files: DependencyFiles,
  existing: ExistingEntry[],
  rel: (file: string) => string,
): void {
  if (files.mode !== "requirements") return;
  const hashed = existing.find((e) => e.requirement.options.some((o) => o.startsWith("--hash")));
  const forced = [files.prod, files.dev].find((file) =>
    isFile(file) &&
    parseRequirements(Deno.readTextFileSync(file), rel(file)).some((e) =>
      e.kind === "option" && e.option === "--require-hashes"
    )
  );
  if (!hashed && !forced) return;
  const where = hashed ? `${rel(hashed.file)}:${hashed.requirement.line}` : rel(forced!);
  throw new RigError(
    `Cannot add packages to "${
      where.split(":")[0]
    }": it pins hashes (${where}), and pip would reject a line without them`,
    "Regenerate the file with its hashes (e.g. pip-compile --generate-hashes), then run: rig install",
  );
}

function lineOf(entry: ExistingEntry): number | undefined {
  if (!entry.item) return undefined;
  const text = Deno.readTextFileSync(entry.file);
  return text.slice(0, entry.item.start).split("\n").length;
}

/** Computes the new file texts for the planned packages (pure; used by dry runs too). */
function editFiles(
  files: DependencyFiles,
  planned: PlannedPackage[],
  installed: Record<string, string>,
  rel: (file: string) => string,
): { texts: Record<string, string>; changes: FileChange[] } {
  const texts: Record<string, string> = {};
  const changes: FileChange[] = [];
  const read = (file: string) => texts[file] ?? (isFile(file) ? Deno.readTextFileSync(file) : "");
  const wanted = (p: PlannedPackage) => {
    if (p.requirement.specifier || p.requirement.url) return formatRequirement(p.requirement);
    const version = installed[p.requirement.name!];
    return formatRequirement({
      ...p.requirement,
      specifier: `>=${version ?? "<installed version>"}`,
    });
  };
  for (const p of planned) {
    const existing = p.existing;
    if (existing && !p.requirement.specifier && !p.requirement.url) continue; // Already required.
    if (files.mode === "requirements") {
      if (existing) {
        const text = read(existing.file);
        const before = text.split("\n")[existing.requirement.line - 1] ?? "";
        let updated: string;
        if (existing.requirement.url || p.requirement.url) {
          const lines = text.split("\n");
          lines[existing.requirement.line - 1] = wanted(p);
          updated = lines.join("\n");
        } else {
          updated = replaceSpecifier(text, existing.requirement, p.requirement.specifier);
        }
        const after = updated.split("\n")[existing.requirement.line - 1] ?? "";
        if (after === before) continue;
        texts[existing.file] = updated;
        changes.push({ file: rel(existing.file), line: existing.requirement.line, before, after });
        continue;
      }
      const target = p.dev ? files.dev : files.prod;
      let text = read(target);
      if (!text && p.dev && target === files.dev && isFile(files.prod)) {
        text = "-r requirements.txt\n";
      }
      const line = wanted(p);
      texts[target] = appendLine(text, line);
      changes.push({
        file: rel(target),
        line: texts[target]!.replace(/\r?\n$/, "").split("\n").length,
        after: line,
      });
      continue;
    }
    // pyproject.toml
    const text = read(files.file);
    const line = wanted(p);
    if (existing?.item) {
      const updated = replaceTomlItem(text, existing.item, line);
      texts[files.file] = updated;
      changes.push({ file: rel(files.file), before: existing.item.value, after: line });
      continue;
    }
    const [table, key] = p.dev
      ? ["project.optional-dependencies", "dev"]
      : ["project", "dependencies"];
    const array = findTomlArray(text, table, key);
    if (!array) {
      throw new RigError(
        `Cannot find "${key} = [...]" in [${table}] of ${rel(files.file)}`,
        `Add ${key} = ["${line}"] under [${table}] by hand, then run: rig install`,
      );
    }
    texts[files.file] = appendTomlItem(text, array, line);
    changes.push({ file: rel(files.file), after: `${table}.${key} += "${line}"` });
  }
  return { texts, changes };
}

async function addNode(
  project: Project,
  component: Component,
  packages: string[],
  opts: AddOptions,
): Promise<AddResult> {
  const started = performance.now();
  const dev = opts.dev === true;
  const args = ["install", ...(dev ? ["--save-dev"] : []), "--no-fund", "--no-audit", ...packages];
  const command = ["npm", ...args];
  const manifest = path.join(component.dir, "package.json");
  const lock = path.join(component.dir, "package-lock.json");
  const rel = (file: string) => path.relative(project.root, file).split(path.sep).join("/");
  if (opts.dryRun) {
    return {
      component: component.name,
      dryRun: true,
      command,
      changes: [
        {
          file: rel(manifest),
          after: `${dev ? "devDependencies" : "dependencies"} += ${packages.join(", ")}`,
        },
        { file: rel(lock), after: "updated by npm" },
      ],
      installed: {},
      durationMs: performance.now() - started,
    };
  }
  const step = opts.ui.step(`install ${packages.join(" ")} into ${component.name}`);
  const before = Deno.readTextFileSync(manifest);
  const journal = await beginJournal(project.root, {
    component: component.name,
    kind: "node",
    action: command.join(" "),
    files: [manifest, lock],
    dir: component.dir,
  });
  try {
    step.update("npm install");
    await npm(component.dir, args, {
      env: opts.env,
      cacheDir: userCacheDir(opts.env),
      signal: opts.signal,
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
      onStart: (pid) => void noteChild(project.root, journal, pid).catch(() => {}),
    });
    await recordNode(project, component, { env: opts.env, started });
    await endJournal(project.root);
    const installed = nodeVersions(component.dir, packages);
    step.done(Object.entries(installed).map(([n, v]) => `${n} ${v}`).join(", "));
    const after = Deno.readTextFileSync(manifest);
    return {
      component: component.name,
      dryRun: false,
      command,
      changes: before === after ? [] : [{ file: rel(manifest), after: "dependencies updated" }],
      installed,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    step.fail();
    await rollBackAfter(project, error, opts);
    throw error;
  }
}

function nodeVersions(dir: string, packages: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of packages) {
    const name = spec.startsWith("@") ? "@" + spec.slice(1).split("@")[0] : spec.split("@")[0]!;
    try {
      const pkg = JSON.parse(
        Deno.readTextFileSync(path.join(dir, "node_modules", name, "package.json")),
      ) as { version?: string };
      if (pkg.version) out[name] = pkg.version;
    } catch {
      // A file: or git spec, or not installed under that name.
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// rig doctor: tools, venv health, node_modules, configuration

/** How serious a doctor finding is: `error` makes `rig doctor` exit 3. */
export type Severity = "ok" | "warning" | "error";

/** One line of the doctor's report. */
export interface Finding {
  area: "tool" | "component" | "config" | "journal";
  name: string;
  severity: Severity;
  /** What was found: a version, "healthy", the problem. */
  detail: string;
  /** The command or step that fixes it. */
  fix?: string;
  /** Tools: version, path and what needs them. */
  version?: string;
  path?: string;
  neededBy?: string;
}

/** A tool the doctor looks for, who needs it and whether its absence is an error. */
interface ToolCheck {
  name: string;
  neededBy: string;
  required: boolean;
  argv?: string[];
}

/** Checks tools, each component's environment and the configuration (read-only apart from journal recovery). */
export async function diagnose(
  project: Project,
  opts: { env: Record<string, string>; ui: Ui; signal?: AbortSignal },
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const journal = readJournal(project.root);
  if (journal) {
    await finishInterrupted(project.root, opts);
    findings.push({
      area: "journal",
      name: journal.component,
      severity: "ok",
      detail: `rolled back an interrupted install (${journal.action})`,
    });
  }
  const python = project.components.filter(isPython);
  const node = project.components.filter((c) => c.kind === "node-lib");
  const pythonNames = python.map((c) => c.name).join(", ");
  const nodeNames = node.map((c) => c.name).join(", ");
  const pythonCommand = opts.env.RIG_PYTHON || (Deno.build.os === "windows" ? "python" : "python3");
  const checks: ToolCheck[] = [
    {
      name: pythonCommand,
      neededBy: pythonNames || "Python components",
      required: python.length > 0,
    },
    {
      name: "pip",
      neededBy: pythonNames || "Python components",
      required: python.length > 0,
      argv: [pythonCommand, "-m", "pip", "--version"],
    },
    { name: "uv", neededBy: "faster installs; pip is the fallback", required: false },
    { name: "node", neededBy: nodeNames || "node components", required: node.length > 0 },
    { name: "npm", neededBy: nodeNames || "node components", required: node.length > 0 },
    { name: "git", neededBy: "rig test --changed, cache inputs", required: false },
    { name: "docker", neededBy: "rig build (Docker image)", required: false },
    { name: "psql", neededBy: "rig run with PostgreSQL", required: false },
    { name: "pg_ctl", neededBy: "rig run with a throwaway PostgreSQL", required: false },
  ];
  const toolResults = await Promise.all(checks.map((check) => checkTool(check, opts.env)));
  findings.push(...toolResults);

  for (const component of project.components) {
    findings.push(
      isPython(component)
        ? await diagnosePython(project, component, opts)
        : await diagnoseNode(project, component, opts),
    );
  }
  findings.push(...await diagnoseConfig(project, opts.env));
  return findings;
}

async function checkTool(check: ToolCheck, env: Record<string, string>): Promise<Finding> {
  const { run, which } = await import("../proc.ts");
  const { installHint } = await import("../errors.ts");
  let found = which(check.argv?.[0] ?? check.name, env);
  if (!found && check.name === "pg_ctl") found = findPgCtl();
  const base = { area: "tool" as const, name: check.name, neededBy: check.neededBy };
  if (!found) {
    return {
      ...base,
      severity: check.required ? "error" : "warning",
      detail: `not found (needed by ${check.neededBy})`,
      fix: installHint(check.name === "pip" ? "pip" : path.basename(check.name)),
    };
  }
  const argv = check.argv ? [found, ...check.argv.slice(1)] : [found, "--version"];
  try {
    const result = await run(argv, { env, timeoutMs: 15_000 });
    const text = `${result.stdout}\n${result.stderr}`;
    const version = text.match(/(\d+\.\d+(?:\.\d+)?[\w.+-]*)/)?.[1];
    if (!result.success) {
      return {
        ...base,
        severity: check.required ? "error" : "warning",
        detail: `does not work: ${text.trim().split("\n")[0] ?? ""} (needed by ${check.neededBy})`,
        fix: installHint(path.basename(check.name)),
      };
    }
    return {
      ...base,
      severity: "ok",
      detail: `${version ?? "?"}  ${found}  (${check.neededBy})`,
      version,
      path: found,
    };
  } catch {
    return { ...base, severity: "warning", detail: `${found} does not answer --version` };
  }
}

function findPgCtl(): string | undefined {
  for (const root of ["/usr/lib/postgresql", "/usr/local/pgsql"]) {
    try {
      const versions = [...Deno.readDirSync(root)].map((e) => e.name).sort().reverse();
      for (const v of versions) {
        const file = path.join(root, v, "bin", "pg_ctl");
        if (isFile(file)) return file;
      }
      if (isFile(path.join(root, "bin", "pg_ctl"))) return path.join(root, "bin", "pg_ctl");
    } catch {
      // Not installed there.
    }
  }
  return undefined;
}

async function diagnosePython(
  project: Project,
  component: Component,
  opts: { env: Record<string, string>; signal?: AbortSignal },
): Promise<Finding> {
  const { checkVenv } = await import("../python/venv.ts");
  const base = { area: "component" as const, name: component.name };
  const venv = findVenv(component, opts);
  if (!venv) {
    return {
      ...base,
      severity: "warning",
      detail: "no virtual environment yet",
      fix: `rig install --${component.name}`,
    };
  }
  const shown = path.relative(project.root, venv.dir).split(path.sep).join("/");
  const health = await checkVenv(venv, component, { ...opts, root: project.root });
  if (!health.ok) {
    return {
      ...base,
      severity: "error",
      detail: `${shown}: ${health.problem}`,
      fix: `rig install --${component.name} (recreates it)`,
    };
  }
  const stale = await staleReason(project, component, opts);
  if (stale) {
    return {
      ...base,
      severity: "warning",
      detail: `${shown} (Python ${health.version}) needs installing: ${stale}`,
      fix: `rig install --${component.name}`,
    };
  }
  return {
    ...base,
    severity: "ok",
    detail: `${shown} healthy (Python ${health.version}), up to date`,
  };
}

async function diagnoseNode(
  project: Project,
  component: Component,
  opts: { env: Record<string, string> },
): Promise<Finding> {
  const { nodeModulesState } = await import("../node/npm.ts");
  const base = { area: "component" as const, name: component.name };
  const state = nodeModulesState(component.dir);
  const hasLock = isFile(path.join(component.dir, "package-lock.json"));
  if (state === "missing") {
    return {
      ...base,
      severity: "warning",
      detail: `node_modules missing${hasLock ? " (package-lock.json present)" : ""}`,
      fix: `rig install --${component.name}`,
    };
  }
  const stale = await staleReason(project, component, opts);
  if (stale) {
    return {
      ...base,
      severity: "warning",
      detail: `node_modules does not match ${
        hasLock ? "package-lock.json" : "package.json"
      }: ${stale}`,
      fix: `rig install --${component.name}`,
    };
  }
  return { ...base, severity: "ok", detail: "node_modules matches the lockfile" };
}

async function diagnoseConfig(project: Project, env: Record<string, string>): Promise<Finding[]> {
  const base = { area: "config" as const, name: ".env" };
  try {
    const config = await import("../env/env_config.ts");
    if (!(await config.hasTemplates(project))) return [];
    const report = await config.inspectEnvironment(project, {
      name: "development",
      processEnv: env,
    });
    if (!report.fileExists) {
      return [{
        ...base,
        severity: "warning",
        detail: `${report.displayFile} missing`,
        fix: "rig env generate",
      }];
    }
    const missing = report.problems.filter((p) => p.kind !== "unknown");
    if (missing.length) {
      return missing.map((p) => ({
        ...base,
        name: p.key,
        severity: "warning" as const,
        detail: p.message,
        fix: p.fix,
      }));
    }
    return [{ ...base, name: report.displayFile, severity: "ok", detail: "complete" }];
  } catch (error) {
    if (error instanceof RigError) {
      return [{ ...base, severity: "error", detail: error.message, fix: error.hint }];
    }
    // Fallback when the configuration module is unavailable: templates need a .env.
    const dir = path.resolve(project.root, project.settings.configDir);
    let templates = false;
    try {
      templates = [...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".env.template"));
    } catch {
      templates = false;
    }
    if (templates && !isFile(path.join(project.root, ".env"))) {
      return [{ ...base, severity: "warning", detail: ".env missing", fix: "rig env generate" }];
    }
    return templates ? [{ ...base, severity: "ok", detail: "present" }] : [];
  }
}
