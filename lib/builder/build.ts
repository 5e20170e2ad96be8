/**
 * `rig build` orchestration: for each selected component, a build task keyed
 * by its inputs (a hit restores the artifacts from the cache, verifying their
 * hashes); on a miss it builds into a staging folder, validates every
 * artifact, moves them to `dist/<component>/` and stores them. Python packages
 * become a wheel and an sdist, node packages an npm tarball, the python-app a
 * container image. `dist/manifest.json` lists every artifact.
 *
 * The steps live beside it: python_package.ts, npm_package.ts, app_build.ts and
 * image_step.ts; build_plan.ts says which a component gets; artifacts.ts holds
 * the result types, the dist/ layout and the manifest.
 */
import * as path from "../path.ts";
import { ensureRigDir } from "../cache_paths.ts";
import { detectEngine, type EngineProbe } from "../container_engine.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { posixRelative } from "../fs.ts";
import { shortSha } from "../git.ts";
import { sha256File } from "../hash.ts";
import { ensureInstalled } from "../install/install.ts";
import { lockFile, withLock } from "../lock.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import type { TaskRecord } from "../task/cache_record.ts";
import type { Manifest } from "../task/fingerprint.ts";
import { TaskEngine, type TaskKey } from "../task/task.ts";
import { appBuildCommand, type AppBundle, appOutputOf, buildApp } from "./app_build.ts";
import {
  type Artifact,
  type ArtifactType,
  type BuildResult,
  type ComponentBuild,
  distDir,
  workDir,
  writeManifest,
} from "./artifacts.ts";
import { type BuildOptions, buildPlan, type ComponentContext } from "./build_plan.ts";
import { imageStep } from "./image_step.ts";
import { nodeBuildStep, npmStep } from "./npm_package.ts";
import { pythonStep } from "./python_package.ts";
import { componentVersion } from "./version_bump.ts";

/** Files below a component that are build output, never build inputs. */
const BUILD_OUTPUTS = ["*.egg-info/", "build/", "dist-test/"];

/** The build task key of a component: its inputs, config, tools, declared variables and recipe. */
export function buildKey(
  tasks: TaskEngine,
  component: Component,
  options: { inputs: Manifest; recipe: string[]; tools: Record<string, string> },
): Promise<TaskKey> {
  return tasks.key({
    task: "build",
    component: component.name,
    command: options.recipe,
    config: component.config,
    inputs: options.inputs,
    tools: options.tools,
    env: tasks.environment(component).keyEnv,
  });
}

/** Builds the selected components and writes dist/manifest.json. */
export async function buildProject(project: Project, options: BuildOptions): Promise<BuildResult> {
  await ensureRigDir(project.root);
  // One dist/ (and one build/ and egg-info per package): a second rig waits for the first.
  return await withLock(lockFile(project.root, "build"), {
    what: "writing dist/",
    signal: options.signal,
    onWait: (message) => options.ui.info(message),
  }, () =>
    // The task engine turns failed cache writes into one warning for the whole build.
    buildProjectLocked(project, options));
}

async function buildProjectLocked(
  project: Project,
  options: BuildOptions,
): Promise<BuildResult> {
  const { ui } = options;
  const results: ComponentBuild[] = [];
  let engine: EngineProbe | undefined;
  const plans = new Map<string, ReturnType<typeof buildPlan>>();
  for (const component of options.components) plans.set(component.name, buildPlan(component));
  const wantsImage = options.docker !== "skip" &&
    options.components.some((c) => plans.get(c.name)!.image);
  if (wantsImage) {
    engine = await detectEngine(options.env, { signal: options.signal });
    // With --docker the caller turns a missing engine into exit 3 after building the rest.
    if (!engine.engine && options.docker === "auto") {
      ui.warn(`Skipping container images: ${engine.problem}`, engine.hint);
    }
  }
  const sha = await shortSha(project.root, { env: options.env, signal: options.signal });
  // One task engine for every component: one listing and stat cache, the store's size limit
  // and remote cache, hermetic environments.
  const tasks = new TaskEngine(project, {
    env: options.env,
    ui,
    store: options.cache,
    readCache: !!options.cache,
    writeCache: !!options.cache,
  });
  // An app's output folder (frontend/dist, .next, …) is output, never input.
  const appOutputs = options.components.filter((c) => c.kind === "node-app").map((c) =>
    `${c.path === "." ? "" : `${c.path}/`}${appOutputOf(c).dir}/`
  );
  const inputs = await tasks.inputs(options.components, {
    exclude: [...BUILD_OUTPUTS, ...appOutputs],
  });
  let failed = false;
  for (const component of options.components) {
    const plan = plans.get(component.name)!;
    const started = performance.now();
    const result: ComponentBuild = {
      component: component.name,
      kind: component.kind,
      status: "built",
      artifacts: [],
      checks: [],
      durationMs: 0,
    };
    results.push(result);
    if (plan.app && !appBuildCommand(project, component)) {
      result.status = "skipped";
      result.reason = "nothing to build (no build script in package.json)";
      ui.step(`${component.name}`).skip(result.reason);
      continue;
    }
    if (!plan.python && !plan.npm && !plan.app && !plan.image) {
      result.status = "skipped";
      result.reason = "nothing to build (no [project] table in pyproject.toml)";
      ui.step(`${component.name}`).skip(result.reason);
      continue;
    }
    const imageOnly = !plan.python && !plan.npm && !plan.app;
    if (imageOnly && !engine?.engine) {
      result.status = "skipped";
      result.reason = options.docker === "skip"
        ? "container image skipped (--no-docker)"
        : "no container engine answers";
      ui.step(`${component.name} image`).skip(result.reason);
      continue;
    }
    try {
      await buildComponent(project, component, result, {
        ...options,
        plan,
        engine: engine?.engine ? engine : undefined,
        sha,
        tasks,
        inputs: inputs.get(component.name)!,
      });
    } catch (error) {
      result.status = "failed";
      result.reason = error instanceof Error ? error.message : String(error);
      failed = true;
      result.durationMs = performance.now() - started;
      await writeManifest(project, results, sha);
      throw error;
    }
    result.durationMs = performance.now() - started;
  }
  const manifest = await writeManifest(project, results, sha);
  return {
    ok: !failed,
    components: results,
    manifest,
    ...(wantsImage
      ? {
        docker: {
          available: !!engine?.engine,
          engine: engine?.engine?.name,
          problem: engine?.problem,
          hint: engine?.engine ? undefined : engine?.hint,
        },
      }
      : {}),
  };
}

async function buildComponent(
  project: Project,
  component: Component,
  result: ComponentBuild,
  options: ComponentContext,
): Promise<void> {
  const { ui } = options;
  const version = await versionOf(project, component);
  result.version = version;
  const recipe = [
    ...(options.plan.python ? ["python -m build", "validate wheel+sdist"] : []),
    ...(options.plan.python && !options.noSmokeTest ? ["install check"] : []),
    ...(options.plan.npm
      ? [nodeBuildStep(project, component).join(" "), "npm pack", "validate tarball"]
      : []),
    ...(options.plan.app
      ? [appBuildCommand(project, component)!.join(" "), `output ${appOutputOf(component).dir}/`]
      : []),
  ];
  if (options.plan.npm || options.plan.app) {
    // node_modules' state is part of the key: install first (a no-op when up to date), so the
    // first build and the next one agree on it instead of "missing" before, "installed" after.
    await ensureInstalled(project, [component], { env: options.env, ui, signal: options.signal });
  }
  const { tools } = await options.tasks.tools(component);
  const task = await buildKey(options.tasks, component, { inputs: options.inputs, recipe, tools });
  const { key } = task;
  result.key = key;
  const files = options.plan.python || options.plan.npm || options.plan.app;
  // An app's artifact is the folder its build writes; packages go to dist/<component>/.
  const dist = options.plan.app
    ? path.join(component.dir, ...appOutputOf(component).dir.split("/"))
    : distDir(project.root, component.name);

  if (options.cache && files) {
    const record = await options.tasks.lookup(key, { task: "build", component: component.name });
    const restored = record ? await restoreRecord(project, record, dist, options) : undefined;
    if (record && restored) {
      const summary = record.summary as { artifacts?: Artifact[]; checks?: string[] } | null;
      result.status = "cached";
      // Report what was written, not what the record's summary claims.
      const written = new Set(restored);
      result.artifacts = (summary?.artifacts ?? []).filter((a) =>
        a.type !== "docker-image" && a.path !== undefined &&
        (written.has(a.path) ||
          // An app's artifact is its output folder: written when its files were.
          (a.type === "app" && restored.some((file) => file.startsWith(`${a.path}/`))))
      );
      result.checks = summary?.checks ?? [];
      ui.step(`${component.name}`).cached(
        `restored ${restored.length} file(s) from cache (${key.slice(0, 12)}): ${
          restored.join(", ")
        }`,
      );
      if (options.plan.image && options.engine?.engine) {
        await imageStep(project, component, result, { ...options, version, key });
      }
      return;
    }
  }

  const started = performance.now();
  const staging = path.join(workDir(project.root, component.name), "staging");
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  const built: { file: string; type: ArtifactType }[] = [];
  // Cached steps see only what their key covers: the allow-listed and declared variables.
  const hermetic = { ...options, env: options.tasks.environment(component).env, version, staging };
  if (options.plan.python) built.push(...await pythonStep(project, component, result, hermetic));
  if (options.plan.npm) built.push(...await npmStep(project, component, result, hermetic));
  // The files the build record restores: an app's output folder, or the packages in dist/.
  let stored: string[] | undefined;
  if (options.plan.app) {
    let bundle: AppBundle | undefined;
    await ui.task(`${component.name}: build`, async (step) => {
      // Its dependencies were installed before its key was computed (buildComponent).
      step.update(appBuildCommand(project, component)!.join(" "));
      bundle = await buildApp(project, component, {
        env: hermetic.env,
        signal: options.signal,
        onLine: (line) => ui.debug(`  ${component.name} │ ${line}`),
      });
    });
    const app = bundle!;
    result.checks.push(
      `${app.folder}/: ${app.files.length} files${
        app.output.spa ? ", index.html" : ""
      } (${app.output.source})`,
    );
    result.artifacts.push({
      component: component.name,
      type: "app",
      path: app.folder,
      sha256: app.sha256,
      size: app.size,
      version,
      sourceKey: key,
    });
    stored = app.files;
  } else if (files) {
    // Replace the component's dist folder only once everything validated.
    await Deno.remove(dist, { recursive: true }).catch(() => {});
    await Deno.mkdir(dist, { recursive: true });
    for (const item of built) {
      const target = path.join(dist, path.basename(item.file));
      await Deno.rename(item.file, target);
      const relative = posixRelative(project.root, target);
      const info = await Deno.stat(target);
      result.artifacts.push({
        component: component.name,
        type: item.type,
        path: relative,
        sha256: await sha256File(target),
        size: info.size,
        version,
        sourceKey: key,
      });
    }
    stored = result.artifacts.map((a) => a.path!);
  }
  if (stored) {
    // The same record for every kind: the summary replayed on a hit, the files restored.
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await options.tasks.save(task, { task: "build", component: component.name }, {
      exitCode: 0,
      durationMs: performance.now() - started,
      summary: { artifacts: result.artifacts, checks: result.checks },
      artifacts: stored,
    });
  }
  if (options.plan.image && options.engine?.engine) {
    await imageStep(project, component, result, { ...options, version, key });
  }
}

async function restoreRecord(
  project: Project,
  record: TaskRecord,
  dist: string,
  options: ComponentContext,
): Promise<string[] | undefined> {
  // Restore beside the dist folder first, so a broken cache entry never empties dist/.
  const scratch = path.join(workDir(project.root, record.component), "restore");
  await Deno.remove(scratch, { recursive: true }).catch(() => {});
  let paths: string[];
  try {
    paths = (await options.tasks.restore(record, scratch)).paths;
  } catch (error) {
    options.ui.warn(
      `Cannot restore the cached build of "${record.component}": ${
        (error as Error).message
      }; building instead`,
      error instanceof RigError ? error.hint : undefined,
    );
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
    return undefined;
  }
  await Deno.remove(dist, { recursive: true }).catch(() => {});
  await Deno.mkdir(dist, { recursive: true });
  for (const artifact of record.artifacts) {
    const from = path.join(scratch, ...artifact.path.split("/"));
    const to = path.join(project.root, ...artifact.path.split("/"));
    await Deno.mkdir(path.dirname(to), { recursive: true });
    await Deno.rename(from, to);
  }
  await Deno.remove(scratch, { recursive: true }).catch(() => {});
  return paths;
}

async function versionOf(project: Project, component: Component): Promise<string> {
  const version = await componentVersion(project, component);
  if (version) return version;
  if (component.kind === "python-app" || component.kind === "node-app") return "0.0.0";
  throw new EnvironmentError(
    `Component "${component.name}" declares no version`,
    isNode(component)
      ? `Add "version": "0.1.0" to ${component.path}/package.json`
      : `Add version = "0.1.0" to [project] in ${component.path}/pyproject.toml`,
  );
}
