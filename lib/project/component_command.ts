/**
 * Commands that work on the project's components (build, release, install):
 * each loads the project and takes one flag per component (`--server`,
 * `--js-client`, …) beside its own options, through this one definition.
 */
import { type Command, defineProjectCommand, type ProjectCommandDefinition } from "../command.ts";
import { loadProject } from "./load_project.ts";
import type { Project } from "./project.ts";
import { componentOptions } from "./selection.ts";

/** A component command: a project command whose project options are the component flags. */
export interface ComponentCommandDefinition
  extends Omit<ProjectCommandDefinition<Project>, "loadProject" | "projectOptions"> {
  /** The verb of each component flag's help, e.g. "Build" → "Build the server component (server)". */
  verb: string;
}

/** The Command of a component command (component flags as `componentOptions` makes them). */
export function defineComponentCommand(definition: ComponentCommandDefinition): Command {
  const { verb, ...command } = definition;
  return defineProjectCommand({
    ...command,
    projectOptions: (project) => componentOptions(project, verb, command.options),
    loadProject,
  });
}
