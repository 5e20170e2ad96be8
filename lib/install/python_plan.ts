/**
 * What `rig install` installs for a pip-managed Python component: its
 * requirement files, the project itself (editable, with `[dev]`) and its
 * dependency groups, and the pip/uv arguments for that.
 */
import * as path from "../path.ts";
import { EnvironmentError } from "../errors.ts";
import { isFile, posixRelative } from "../fs.ts";
import type { Component, Project } from "../project/project.ts";
import { detectManager } from "../python/managers.ts";
import { hasDevExtra, projectTable, readPyproject } from "../python/pyproject.ts";
import { requirementIncludes } from "../python/requirements.ts";

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
