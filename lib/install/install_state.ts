/**
 * What `rig install` records and how it knows the work is done: the fingerprint
 * of a component's install inputs, the state file `.rig/install/<component>.json`
 * (fingerprint + installed versions), and why a component is stale.
 */
import * as path from "../path.ts";
import { ensureRigDir } from "../cache_paths.ts";
import { writeJsonAtomic } from "../fs_atomic.ts";
import { posixRelative } from "../fs.ts";
import { sha256File, sha256Hex } from "../hash.ts";
import { detectToolchain, installInputs, installMarker, type Toolchain } from "../node/managers.ts";
import type { Component, Project } from "../project/project.ts";
import { detectManager } from "../python/managers.ts";
import {
  findVenv,
  installedDistributions,
  pythonRequirements,
  quickCheckVenv,
  readPyvenvCfg,
  type Venv,
} from "../python/venv.ts";
import { planArgs, pythonPlan } from "./python_plan.ts";

/** Bumped when the state file's meaning changes (old states then count as stale). */
const STATE_VERSION = 1;

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

/** Records a successful Python install (fingerprint + installed versions). */
export async function recordPython(
  project: Project,
  component: Component,
  venv: Venv,
  opts: { env: Record<string, string>; installer: string; started: number },
): Promise<void> {
  const print = await fingerprint(component, { root: project.root, venv, env: opts.env });
  await writeState(project, component, print, opts, { packages: installedDistributions(venv) });
}

/** Records a successful npm install. */
export async function recordNode(
  project: Project,
  component: Component,
  opts: { env: Record<string, string>; started: number },
): Promise<void> {
  const print = await fingerprint(component, { root: project.root, env: opts.env });
  const tc = detectToolchain(component.dir, project.root);
  await writeState(project, component, print, { installer: tc.manager, started: opts.started }, {
    nodeModules: await nodeModulesHash(tc),
  });
}

/** Writes a component's state file after a successful install, with what the install found. */
async function writeState(
  project: Project,
  component: Component,
  print: { hash: string; inputs: Record<string, string> },
  opts: { installer: string; started: number },
  found: Pick<InstallState, "packages" | "nodeModules">,
): Promise<void> {
  const state: InstallState = {
    version: STATE_VERSION,
    component: component.name,
    fingerprint: print.hash,
    inputs: print.inputs,
    installer: opts.installer,
    installedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - opts.started),
    ...found,
  };
  await ensureRigDir(project.root);
  await writeJsonAtomic(stateFile(project.root, component.name), state);
}

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
