/**
 * Commands that work on the project's components (build, release, install):
 * each loads the project and takes one flag per component (`--server`,
 * `--js-client`, …) beside its own options, through this one definition.
 */
import {
  type Command,
  type Context,
  defineProjectCommand,
  type ParsedArgs,
  type ProjectCommandDefinition,
} from "../command.ts";
import { loadProject } from "./load_project.ts";
import type { Component, Project } from "./project.ts";
import { componentOptions, selectComponents } from "./selection.ts";

/** A component command: a project command whose project options are the component flags. */
export interface ComponentCommandDefinition
  extends Omit<ProjectCommandDefinition<Project>, "loadProject" | "projectOptions" | "action"> {
  /** The verb of each component flag's help, e.g. "Build" → "Build the server component (server)". */
  verb: string;
  /** Runs the command in its project with its parsed flags; returns the exit code. */
  action(ctx: Context, run: ComponentRun): Promise<number>;
}

/** What a component command's action is given: its project, flags and arguments. */
export interface ComponentRun extends ParsedArgs {
  project: Project;
  /**
   * The components its flags and `names` (default: the positional arguments)
   * name, in project order; all of them when none is named.
   */
  select(names?: string[]): Component[];
}

/** The Command of a component command (component flags as `componentOptions` makes them). */
export function defineComponentCommand(definition: ComponentCommandDefinition): Command {
  const { verb, action, ...command } = definition;
  return defineProjectCommand({
    ...command,
    projectOptions: (project) => componentOptions(project, verb, command.options),
    loadProject,
    action: (ctx, project, args) =>
      action(ctx, {
        ...args,
        project,
        select: (names = args.positionals) =>
          // The command's own options never select a component named like one of them.
          selectComponents(project, { values: args.values, names, own: command.options }),
      }),
  });
}
