/**
 * Loading a project: find its root, read rig.toml, detect the components,
 * apply the overrides and check the dependency graph.
 */
import { exists } from "../fs.ts";
import { findRoot, requireProjectFolder } from "./root.ts";
import * as path from "../path.ts";
import type { Project } from "./project.ts";
import { detectComponents, inferDependencies, validateGraph } from "./detect.ts";
import { applyConfig, readConfig } from "./rig_toml.ts";
import { applyPythonLayout } from "./python_layout.ts";

/** Loads the project that contains `start`: root, rig.toml and components. */
export async function loadProject(start: string): Promise<Project> {
  requireProjectFolder(start);
  const root = findRoot(start);
  const configFile = path.join(root, "rig.toml");
  const config = exists(configFile) ? await readConfig(configFile) : undefined;
  const detected = await detectComponents(root);
  const components = config ? applyConfig(detected, config, root) : detected;
  inferDependencies(components);
  await applyPythonLayout(components, root);
  validateGraph(components, config?.file);
  return {
    root,
    configFile: config ? configFile : undefined,
    settings: config?.settings ?? { name: path.basename(root), configDir: "config", env: [] },
    components,
  };
}
