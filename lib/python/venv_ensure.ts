/**
 * Making sure a component has a healthy venv: reuse it, create it, or replace
 * a broken one without ever leaving none (the replacement interpreter is found
 * first; the old venv waits beside the new one until it works).
 */
import * as path from "../path.ts";
import { isFile } from "../fs.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { isAlive } from "../proc_registry.ts";
import {
  checkVenv,
  chooseInterpreter,
  createVenv,
  defaultVenvDir,
  findVenv,
  isInside,
  relative,
  type Venv,
  venvLayout,
  type VenvOptions,
  type VenvOwner,
} from "./venv.ts";

/** Finds the component's venv, checks it, and reuses it or (re)creates it, saying why. */
export async function ensureVenv(
  component: VenvOwner,
  opts: VenvOptions & {
    root?: string;
    systemSitePackages?: boolean;
    /** Keep a replaced venv beside the new one until `settleReplacement` says how it went. */
    keepOld?: boolean;
  },
): Promise<Venv> {
  await recoverReplacement(defaultVenvDir(component));
  const existing = findVenv(component, opts);
  let reason: string;
  let dir = defaultVenvDir(component);
  if (existing) {
    const health = await checkVenv(existing, component, opts);
    if (health.ok) return existing;
    dir = existing.dir;
    const shown = relative(opts.root ?? path.dirname(component.dir), existing.dir);
    reason = `${shown}: ${health.problem}`;
    const activated = opts.env.VIRTUAL_ENV &&
      path.resolve(component.dir, opts.env.VIRTUAL_ENV) === existing.dir;
    if (activated && !isInside(existing.dir, component.dir)) {
      // Never delete an environment the user activated from elsewhere.
      throw new EnvironmentError(
        `The activated virtual environment "${existing.dir}" is broken: ${health.problem}`,
        "Recreate it, or deactivate it (or unset RIG_USE_VIRTUAL_ENV) to let rig manage the component's own venv",
      );
    }
    return await replaceVenv(component, existing.dir, { ...opts, reason });
  } else {
    reason = "no virtual environment yet";
  }
  return await createVenv(component, dir, { ...opts, reason });
}

/**
 * Ends a replacement made with `keepOld`: drops the old venv once the new one
 * is installed (`ok`), else removes the new one and puts the old one back.
 */
export async function settleReplacement(venv: Venv, ok: boolean): Promise<void> {
  if (!venv.replaced) return;
  if (ok) {
    await Deno.remove(venv.replaced, { recursive: true }).catch(() => {});
    return;
  }
  await Deno.remove(venv.dir, { recursive: true }).catch(() => {});
  await Deno.rename(venv.replaced, venv.dir);
}

/** Puts back a venv whose replacement was cut short (rig killed), or drops a finished one's. */
async function recoverReplacement(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.rig-old-`;
  let names: string[];
  try {
    names = [...Deno.readDirSync(parent)].map((e) => e.name).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(prefix.length));
    if (pid === Deno.pid || isAlive(pid)) continue;
    const aside = path.join(parent, name);
    if (isFile(path.join(dir, "pyvenv.cfg")) && isFile(venvLayout(dir).python)) {
      await Deno.remove(aside, { recursive: true }).catch(() => {});
    } else {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(aside, dir).catch(() => {});
    }
  }
}

/**
 * Replaces a broken venv without ever leaving none: the replacement
 * interpreter is found first (nothing is touched when there is none), the old
 * venv waits beside its place (`<dir>.rig-old-<pid>`) while the new one is
 * created — at its final path, since venvs cannot be moved — and is removed
 * only once that worked; on failure it is put back.
 */
async function replaceVenv(
  component: VenvOwner,
  dir: string,
  opts: VenvOptions & {
    root?: string;
    reason: string;
    systemSitePackages?: boolean;
    keepOld?: boolean;
  },
): Promise<Venv> {
  const interpreter = await chooseInterpreter(component, opts);
  if (!isFile(path.join(dir, "pyvenv.cfg"))) {
    throw new RigError(`Refusing to replace "${dir}": it is not a virtual environment`);
  }
  const aside = `${dir}.rig-old-${Deno.pid}`;
  await Deno.remove(aside, { recursive: true }).catch(() => {});
  opts.ui.warn(`Recreating ${opts.reason}`);
  await Deno.rename(dir, aside);
  try {
    const venv = await createVenv(component, dir, { ...opts, interpreter });
    if (opts.keepOld) return { ...venv, replaced: aside };
    await Deno.remove(aside, { recursive: true }).catch(() => {});
    return venv;
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(aside, dir);
    throw error;
  }
}
