/**
 * `rig install` orchestration: set up every component (venv + pip/uv, npm),
 * skip the work when nothing changed (fingerprint + installed versions recorded
 * under `.rig/install/<component>.json`), in parallel where safe. What is
 * installed is python_plan.ts's; what is recorded, and when it is stale,
 * install_state.ts's.
 */
import { isFile } from "../fs.ts";
import * as path from "../path.ts";
import { userCacheDir as sharedUserCacheDir } from "../cache_paths.ts";
import { type Component, type Project } from "../project/project.ts";
import { RigError } from "../errors.ts";
import type { Ui } from "../ui.ts";
import { lockFile, withLock } from "../lock.ts";
import type { Venv } from "../python/venv.ts";
import { ensureVenv, settleReplacement } from "../python/venv_ensure.ts";
import { chooseInstaller, type Installer, installWithFallback } from "../python/pip.ts";
import { detectToolchain, installFrozen, type ManagerName } from "../node/managers.ts";
import { finishInterrupted } from "./install_journal.ts";
import { detectManager } from "../python/managers.ts";
import { installManaged } from "./python_managed.ts";
import { isPython, recordNode, recordPython, staleReason } from "./install_state.ts";
import { emptyPlanError, planArgs, pythonPlan } from "./python_plan.ts";

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

/** What every pip/uv install into a component's venv passes: cache, folder, log lines. */
export function installerOptions(component: Component, installer: Installer, opts: InstallOptions) {
  return {
    env: opts.env,
    installer,
    cacheDir: userCacheDir(opts.env),
    cwd: component.dir,
    signal: opts.signal,
    onLine: (line: string) => opts.ui.debug(`  ${component.name} │ ${line}`),
  };
}

/** The user-level download cache folder (see lib/cache_paths.ts); pip uses `pip/`, uv `uv/`, npm `npm/` below it. */
export function userCacheDir(env: Record<string, string>): string {
  return sharedUserCacheDir(env, Deno.build.os);
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
      ...installerOptions(component, installer, opts),
      warn: (text) =>
        opts.ui.warn(`${component.name}: ${text}`, "Set RIG_INSTALLER=pip to skip uv"),
    });
  }
  await recordPython(project, component, venv, { env: opts.env, installer, started });
  return { name: component.name, skipped: false, durationMs: 0, installer, reason, venv };
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

/** Installs of workspace roots during one `ensureInstalled`, so members install a root once. */
const installsInFlight = new Map<string, Promise<void>>();
