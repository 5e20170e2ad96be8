/**
 * A node package's build step: its build (rig.toml `build` or the package's
 * build script), `npm pack`, and the tarball validated.
 */
import * as path from "../path.ts";
import { RigError } from "../errors.ts";
import { detectToolchain, requireManager, runManager, scriptArgv } from "../node/managers.ts";
import { npm } from "../node/npm.ts";
import { validateNpmPack } from "../node/npm_pack.ts";
import { prependPath } from "../os.ts";
import { runChecked } from "../proc.ts";
import type { Component, Project } from "../project/project.ts";
import { componentCommand } from "../project/selection.ts";
import type { PackageStep } from "./build_plan.ts";

/** A node component's build step: rig.toml `build`, else its package's build script. */
export function nodeBuildStep(project: Project, component: Component): string[] {
  return component.commands.build ??
    scriptArgv(detectToolchain(component.dir, project.root), "build");
}

/** Builds the package and packs and validates its tarball in the staging folder. */
export const npmStep: PackageStep = async (project, component, result, options) => {
  const { ui } = options;
  const pkg = JSON.parse(await Deno.readTextFile(path.join(component.dir, "package.json")));
  const out = path.join(options.staging, "npm");
  await Deno.mkdir(out, { recursive: true });
  let file = "";
  await ui.task(`${component.name}: npm pack`, async (step) => {
    if (pkg.scripts?.build || component.commands.build) {
      // Its dependencies were installed before its key was computed (buildComponent).
      const argv = nodeBuildStep(project, component);
      step.update(argv.join(" "));
      if (component.commands.build) {
        // Like an npm script: the package's own tools (node_modules/.bin) come first on PATH.
        const bin = path.join(component.dir, "node_modules", ".bin");
        const env = prependPath(options.env, bin);
        await runChecked(argv, { cwd: component.dir, env, signal: options.signal });
      } else {
        const tc = detectToolchain(component.dir, project.root);
        requireManager(tc, { env: options.env, component: component.name });
        await runManager(tc, component.dir, argv.slice(1), {
          env: options.env,
          signal: options.signal,
        });
      }
    }
    step.update("npm pack");
    const packed = await npm(
      component.dir,
      ["pack", "--json", "--pack-destination", out],
      { env: options.env, signal: options.signal },
    );
    const json = packed.stdout.slice(packed.stdout.indexOf("["));
    const name = (JSON.parse(json) as { filename: string }[])[0]?.filename;
    if (!name) throw new RigError(`npm pack printed no file name for "${component.name}"`);
    file = path.join(out, path.basename(name));
  });
  await ui.task(`${component.name}: validate ${path.basename(file)}`, async () => {
    const report = await validateNpmPack(file, {
      name: pkg.name,
      version: options.version,
      rebuild: componentCommand(project.components, "build", { component: component.name }),
    });
    result.checks.push(
      `${
        path.basename(file)
      }: package.json ${report.version}, ${report.entryPoints.length} entry points, no tests or secrets`,
    );
  });
  return [{ file, type: "npm" }];
};
