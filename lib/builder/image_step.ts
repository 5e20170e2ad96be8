/**
 * The python-app's image step of `rig build`: its name and tags, the test
 * configuration it must import with, and the artifact it adds to the result.
 */
import * as path from "../path.ts";
import { loadEnvironment } from "../env/env_config.ts";
import type { Component, Project } from "../project/project.ts";
import { type ComponentBuild, workDir } from "./artifacts.ts";
import type { ComponentContext } from "./build_plan.ts";
import { imageTags } from "./docker.ts";
import { buildComponentImage } from "./image.ts";

/** Builds (or reuses) the component's image, checks it, pushes it when asked. */
export async function imageStep(
  project: Project,
  component: Component,
  result: ComponentBuild,
  options: ComponentContext & { version: string; key: string },
): Promise<void> {
  const engine = options.engine!.engine!;
  const apps = project.components.filter((c) => c.kind === "python-app");
  const name = apps.length === 1
    ? project.settings.name
    : `${project.settings.name}-${component.name}`;
  const tags = imageTags(name, options.version, options.sha);
  // The app must import inside the image: it gets the test configuration, as under rig test.
  const config = await loadEnvironment(project, { name: "test", processEnv: {}, ui: options.ui });
  const appEnv = Object.fromEntries(config.keys.map((k) => [k, config.values[k] ?? ""]));
  const secrets = [...config.secretKeys].map((k) => config.values[k] ?? "");
  await options.ui.task(`${component.name}: image ${tags[0]}`, async (step) => {
    const image = await buildComponentImage(project, component, {
      appEnv,
      secrets,
      engine,
      env: options.env,
      name,
      version: options.version,
      sha: options.sha,
      workDir: path.join(workDir(project.root, component.name), "image"),
      baseImage: options.baseImage ?? configString(component, "base_image"),
      push: options.push,
      installPackage: options.plan.python,
      cache: options.cache,
      signal: options.signal,
      onLine: (line) => options.ui.debug(`  ${line}`),
      onUpdate: (text) => step.update(text),
    });
    if (image.defaultIgnore) {
      options.ui.info(
        `${component.name} has no .dockerignore: rig left out venvs, node_modules, .env*, .git, .rig and dist`,
      );
    }
    result.artifacts.push({
      component: component.name,
      type: "docker-image",
      version: options.version,
      sourceKey: image.key,
      tags: image.tags,
      imageId: image.id,
      ...(image.pushed.length ? { pushed: image.pushed } : {}),
    });
    result.checks.push(
      `image ${image.tags.join(", ")} (${engine.name}${image.cached ? ", cached" : ""})`,
      ...image.checks.map((check) => `image ${check}`),
      ...image.pushed.map((p) => `pushed ${p.ref}${p.digest ? ` (${p.digest.slice(0, 19)})` : ""}`),
    );
    step.update(image.cached ? "unchanged: reused the image built before" : "built and checked");
    if (result.status !== "cached") result.status = image.cached ? "cached" : "built";
  });
}

function configString(component: Component, key: string): string | undefined {
  const value = (component.config as Record<string, unknown> | undefined)?.[key];
  return typeof value === "string" && value ? value : undefined;
}
