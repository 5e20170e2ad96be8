/**
 * The project model: a project's root, its components (and of what kind), how
 * they depend on each other, and which files belong to which component.
 */
import * as path from "../path.ts";
import { EnvironmentError } from "../errors.ts";
import { compileRules, isPathIgnored } from "../ignore.ts";
import { toPosix } from "../fs.ts";

/** The kinds of component rig knows how to run, test, install and build. */
export type ComponentKind = "python-app" | "python-lib" | "node-lib" | "node-app";

/** All component kinds, for validation and help. */
export const COMPONENT_KINDS: readonly ComponentKind[] = [
  "python-app",
  "python-lib",
  "node-lib",
  "node-app",
];

/** Whether a component is a node one (a library or an app). */
export function isNode(component: { kind: ComponentKind }): boolean {
  return component.kind === "node-lib" || component.kind === "node-app";
}

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
  /** Why rig inferred each dependency (dependency name → sentence), for `rig info`. */
  dependencyReasons?: Record<string, string>;
  /** Extra input globs relative to the component folder; default is the whole folder. */
  inputs: string[];
  /** Environment variables the component's tasks may read (passed through, hashed into keys). */
  env: string[];
  /** Command overrides from rig.toml, as argv arrays. */
  commands: { test?: string[]; dev?: string[]; build?: string[]; lint?: string[] };
  /** For python-app: the ASGI app, e.g. `app.main:app`. */
  app?: string;
  /** For python-app: commands `rig run` runs after migrations, before the server (argv each). */
  prestart?: string[][];
  /** For python-app: commands `rig test` runs on the migrated test database before the tests. */
  testPrestart?: string[][];
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
  remoteCache?: { url: string; team?: string; tokenEnv?: string; readOnly?: boolean };
  /** Environment variables every task may read. */
  env: string[];
}

/** A component of `kind` in `dir`, before naming and rig.toml. */
export function makeComponent(root: string, dir: string, kind: ComponentKind): Component {
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
