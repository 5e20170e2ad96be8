/**
 * Which components a command works on: one flag per detected component
 * (`--server`, `--python-client`, `--js-client`), positional names, or, for
 * `--changed`, the components whose files changed plus the ones that depend on
 * them.
 */
import type { ComponentList, Options } from "../command.ts";
import { suggest } from "../command.ts";
import { UsageError } from "../errors.ts";
import * as path from "../path.ts";
import { type Component, isExtraInput, owningComponent, type Project } from "./project.ts";

/**
 * One boolean option per component, named after it (`--server`, `--js-client`).
 * A component named like one of the command's `own` options (e.g. "dev") gets
 * no flag, so it cannot hide the option; it is still reached by name.
 */
export function componentOptions(
  project: ComponentList,
  verb = "Test",
  own: Options = {},
): Options {
  const options: Options = {};
  for (const c of project.components) {
    if (c.name in own) continue;
    options[c.name] = {
      type: "boolean",
      description: `${verb} the ${c.name} component (${c.path})`,
    };
  }
  return options;
}

/**
 * The components named by flags (`values[name] === true`) and positional names,
 * in project order; every component when none is named. Unknown names are a
 * UsageError with a suggestion. A component named like one of the command's
 * own options (`own`) has no flag (see componentOptions): that option's value
 * never selects it; its name does.
 */
export function selectComponents(
  project: Project,
  options: { values: Record<string, unknown>; names: string[]; own?: Options },
): Component[] {
  const known = project.components.map((c) => c.name);
  const wanted = new Set<string>();
  for (const name of options.names) {
    if (!known.includes(name)) {
      const guess = suggest(name, known);
      throw new UsageError(
        `No component named "${name}"`,
        `${guess ? `Did you mean "${guess}"? ` : ""}Components: ${
          known.join(", ")
        } (see: rig info)`,
      );
    }
    wanted.add(name);
  }
  for (const name of known) {
    if (!(name in (options.own ?? {})) && options.values[name] === true) wanted.add(name);
  }
  if (wanted.size === 0) return [...project.components];
  return project.components.filter((c) => wanted.has(c.name));
}

/** Changed files grouped by component, with paths relative to the component folder. */
export interface ChangeMap {
  /** Component name → changed files relative to its folder. */
  byComponent: Map<string, string[]>;
  /** Project-level files that concern every component (rig.toml, environment templates). */
  global: string[];
  /** Files outside every component that rig ignores. */
  ignored: string[];
}

/** Groups files (relative to the project root, `/` separators) by the component they belong to. */
export function groupChanges(
  project: Project,
  files: string[],
  options: { globalFiles?: (file: string) => boolean } = {},
): ChangeMap {
  const configDir = project.settings.configDir.replace(/\/$/, "");
  const isGlobal = options.globalFiles ??
    ((f: string) => f === "rig.toml" || f.startsWith(configDir + "/"));
  const byComponent = new Map<string, string[]>();
  const global: string[] = [];
  const ignored: string[] = [];
  const add = (c: Component, rel: string) => {
    if (!byComponent.has(c.name)) byComponent.set(c.name, []);
    byComponent.get(c.name)!.push(rel);
  };
  for (const file of files) {
    const owner = owningComponent(project.components, file);
    const declaredBy = project.components.filter((c) => c !== owner && isExtraInput(c, file));
    for (const c of declaredBy) add(c, path.posix.relative(c.path, file));
    if (owner) {
      add(owner, owner.path === "." ? file : file.slice(owner.path.length + 1));
    } else if (declaredBy.length) {
      continue;
    } else if (isGlobal(file)) {
      global.push(file);
    } else {
      ignored.push(file);
    }
  }
  return { byComponent, global, ignored };
}

/** Why a component was selected by `--changed`. */
export interface ChangedSelection {
  /** Selected components in project order. */
  components: Component[];
  /** Component name → sentences saying why it was selected. */
  reasons: Map<string, string[]>;
  /** Component name → why a dependent was left out (its dependency's contract is unchanged). */
  skipped: Map<string, string>;
}

/**
 * The components `--changed` selects among `candidates`: those with changed
 * files (every one when a project-level file changed), plus, transitively, the
 * components that depend on a selected one, unless `contractChanged` says the
 * dependency's contract (e.g. the server's OpenAPI document) is unchanged for
 * that dependent.
 */
export async function selectChanged(
  project: Project,
  options: {
    changes: ChangeMap;
    candidates: Component[];
    /** Whether `dependency`'s change matters to `dependent`; default: always. */
    contractChanged?: (dependency: Component, dependent: Component) => Promise<boolean>;
  },
): Promise<ChangedSelection> {
  const { changes } = options;
  const reasons = new Map<string, string[]>();
  const skipped = new Map<string, string>();
  const add = (name: string, reason: string) => {
    if (!reasons.has(name)) reasons.set(name, []);
    reasons.get(name)!.push(reason);
  };
  for (const c of project.components) {
    const files = changes.byComponent.get(c.name);
    if (files?.length) {
      const shown = files.slice(0, 3).map((f) => `"${f}"`).join(", ");
      add(c.name, `changed: ${shown}${files.length > 3 ? ` and ${files.length - 3} more` : ""}`);
    }
    if (changes.global.length) add(c.name, `project file changed: "${changes.global[0]}"`);
  }
  // Walk dependents in waves until nothing new is selected.
  let frontier = [...reasons.keys()];
  const byName = new Map(project.components.map((c) => [c.name, c]));
  while (frontier.length) {
    const next: string[] = [];
    for (const c of project.components) {
      for (const dep of c.dependsOn) {
        if (!frontier.includes(dep) || reasons.has(c.name)) continue;
        const dependency = byName.get(dep)!;
        const matters = options.contractChanged
          ? await options.contractChanged(dependency, c)
          : true;
        if (matters) {
          add(c.name, `depends on "${dep}", which changed`);
          next.push(c.name);
        } else {
          skipped.set(c.name, `depends on "${dep}", whose API contract is unchanged`);
        }
      }
    }
    frontier = next;
  }
  for (const name of reasons.keys()) skipped.delete(name);
  const wanted = new Set(options.candidates.map((c) => c.name));
  return {
    components: project.components.filter((c) => reasons.has(c.name) && wanted.has(c.name)),
    reasons,
    skipped,
  };
}

/**
 * The rig command line that acts on one component, with the flag this project
 * really has for it (`rig build --frontend`): every hint that names a
 * component flag is built here, from the component list.
 */
export function componentCommand(
  components: readonly { name: string }[],
  verb: string,
  options: { component?: string; args?: string[] } = {},
): string {
  const parts = ["rig", verb];
  const known = options.component !== undefined &&
    components.some((c) => c.name === options.component);
  if (known) parts.push(`--${options.component}`);
  parts.push(...(options.args ?? []));
  return parts.join(" ");
}
