/**
 * `rig build` orchestration: for each selected component, a build task keyed
 * by its inputs (a hit restores the artifacts from the cache, verifying their
 * hashes); on a miss it builds into a staging folder, validates every
 * artifact, moves them to `dist/<component>/` and stores them. Python packages
 * become a wheel and an sdist, node packages an npm tarball, the python-app a
 * container image. `dist/manifest.json` lists every artifact.
 */
import { lockFile, withLock } from "../lock.ts";
import { exists, posixRelative } from "../fs.ts";
import * as path from "node:path";
import type { CacheStore } from "../task/cache.ts";
import type { TaskRecord } from "../task/cache_record.ts";
import { ensureRigDir } from "../cache_paths.ts";
import { detectEngine, type EngineProbe } from "../container_engine.ts";
import { imageTags } from "./docker.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { shortSha } from "../git.ts";
import { sha256File } from "../hash.ts";
import { ensureInstalled } from "../install/install.ts";
import { npm } from "../node/npm.ts";
import { detectToolchain, requireManager, runManager, scriptArgv } from "../node/managers.ts";
import { appBuildCommand, type AppBundle, appOutputOf, buildApp } from "./app_build.ts";
import { componentCommand } from "../project/selection.ts";
import { validateNpmPack } from "../node/npm_pack.ts";
import { run, runChecked, tail } from "../proc.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import type { Manifest } from "../task/fingerprint.ts";
import { TaskEngine, type TaskKey } from "../task/task.ts";
import { defaultPython } from "../python/venv.ts";
import type { Ui } from "../ui.ts";
import { findVenv, readPyvenvCfg, venvLayout } from "../python/venv.ts";
import { componentVersion } from "./version_bump.ts";
import { buildComponentImage } from "./image.ts";
import { loadEnvironment } from "../env/env_config.ts";
import type { PushedTag } from "./image_push.ts";
import { smokeTestWheel, validateSdist, validateWheel, wheelSources } from "../python/wheel.ts";
import { projectTable, readPyproject } from "../python/pyproject.ts";
import { prependPath, pythonInHome } from "../os.ts";

/** The kinds of artifact rig builds. */
export type ArtifactType = "wheel" | "sdist" | "npm" | "app" | "docker-image";

/** One built artifact, as listed in dist/manifest.json. */
export interface Artifact {
  component: string;
  type: ArtifactType;
  /** The file relative to the project root (`dist/<component>/…`); images have none. */
  path?: string;
  sha256?: string;
  size?: number;
  version: string;
  /** The build task key the artifact came from. */
  sourceKey: string;
  /** Image tags (docker-image only). */
  tags?: string[];
  /** Image id (docker-image only). */
  imageId?: string;
  /** Where the image was pushed, with the registry's manifest digests. */
  pushed?: PushedTag[];
}

/** How one component's build went. */
export interface ComponentBuild {
  component: string;
  kind: Component["kind"];
  status: "built" | "cached" | "skipped" | "failed";
  /** Why it was skipped or failed. */
  reason?: string;
  key?: string;
  version?: string;
  artifacts: Artifact[];
  /** The checks each artifact passed, for the summary. */
  checks: string[];
  durationMs: number;
}

/** The result document of `rig build`. */
export interface BuildResult {
  ok: boolean;
  components: ComponentBuild[];
  /** dist/manifest.json, absolute. */
  manifest: string;
  /** Set when an image was wanted but no engine answers. */
  docker?: { available: boolean; engine?: string; problem?: string; hint?: string };
}

/** What the image step does: build when an engine answers, insist on one, or skip. */
export type DockerMode = "auto" | "require" | "skip";

/** Options of `buildProject`. */
export interface BuildOptions {
  env: Record<string, string>;
  ui: Ui;
  signal?: AbortSignal;
  /** The components to build, in project order. */
  components: Component[];
  docker: DockerMode;
  /** The cache store; undefined with --no-cache (always build, store nothing). */
  cache?: CacheStore;
  /** Skip installing the wheel into a scratch venv (faster, less checked). */
  noSmokeTest?: boolean;
  /** Build images on this base (`BASE_IMAGE`) instead of the Dockerfile's default. */
  baseImage?: string;
  /** Push every image tag to this registry (`host[:port]`). */
  push?: string;
}

/** Format version of dist/manifest.json. */
export const MANIFEST_VERSION = 1;

/** The folder below the project root that artifacts go to. */
export function distDir(root: string, component?: string): string {
  return component ? path.join(root, "dist", component) : path.join(root, "dist");
}

/** rig's working folder for a component's build (staging, scratch venvs, templates). */
export function workDir(root: string, component: string): string {
  return path.join(root, ".rig", "build", component);
}

/** What a component builds into, or undefined when rig builds nothing for it. */
export function buildPlan(
  component: Component,
): { python: boolean; npm: boolean; app: boolean; image: boolean } {
  const python = !isNode(component) && hasProjectTable(component.dir);
  return {
    python,
    npm: component.kind === "node-lib",
    app: component.kind === "node-app",
    image: component.kind === "python-app",
  };
}

function hasProjectTable(dir: string): boolean {
  return projectTable(readPyproject(dir)) !== undefined;
}

/** A node component's build step: rig.toml `build`, else its package's build script. */
function nodeBuildStep(project: Project, component: Component): string[] {
  return component.commands.build ??
    scriptArgv(detectToolchain(component.dir, project.root), "build");
}

/** Files below a component that are build output, never build inputs. */
const BUILD_OUTPUTS = ["*.egg-info/", "build/", "dist-test/"];

/** The build task key of a component: its inputs, config, tools, declared variables and recipe. */
export function buildKey(
  tasks: TaskEngine,
  component: Component,
  options: { inputs: Manifest; recipe: string[]; tools: Record<string, string> },
): TaskKey {
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

interface ComponentContext extends BuildOptions {
  plan: ReturnType<typeof buildPlan>;
  tasks: TaskEngine;
  /** The component's input files (path → hash). */
  inputs: Manifest;
  engine?: EngineProbe;
  sha?: string;
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
  const task = buildKey(options.tasks, component, { inputs: options.inputs, recipe, tools });
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
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await options.tasks.save(task, { task: "build", component: component.name }, {
      exitCode: 0,
      durationMs: performance.now() - started,
      summary: { artifacts: result.artifacts, checks: result.checks },
      artifacts: app.files,
    });
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
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await options.tasks.save(task, { task: "build", component: component.name }, {
      exitCode: 0,
      durationMs: performance.now() - started,
      summary: { artifacts: result.artifacts, checks: result.checks },
      artifacts: result.artifacts.map((a) => a.path!),
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

// ---------------------------------------------------------------------------
// Python: wheel + sdist

/** The interpreter that runs `python -m build`, and whether `build` is there. */
interface Builder {
  python: string;
  hasBuild: boolean;
  where: string;
}

async function pythonBuilder(
  project: Project,
  component: Component,
  options: ComponentContext,
): Promise<Builder> {
  const env = pythonEnv(options.env);
  const hasBuild = async (python: string) =>
    (await run([python, "-c", "import build"], { env, signal: options.signal })).success;
  const own = findVenv(component, { env: options.env });
  if (own && await hasBuild(own.python)) {
    return { python: own.python, hasBuild: true, where: "the component's venv" };
  }
  const dir = path.join(project.root, ".rig", "build", "venv");
  const venv = venvLayout(dir);
  if (exists(venv.python) && await hasBuild(venv.python)) {
    return { python: venv.python, hasBuild: true, where: ".rig" };
  }
  const hasPip = async (python: string) =>
    (await run([python, "-m", "pip", "--version"], { env, signal: options.signal })).success;
  if (exists(venv.python) && !(await hasPip(venv.python))) {
    // A venv cut short (rig killed while "python -m venv" ran) has no pip: make it again.
    options.ui.debug(`Recreating ${path.relative(project.root, dir)}: it has no pip`);
    await Deno.remove(dir, { recursive: true });
  }
  if (!exists(venv.python)) {
    const creator = (own && venvBase(own.dir)) ?? defaultPython(options.env);
    await runChecked([creator, "-m", "venv", dir], {
      env,
      signal: options.signal,
      failureHint: "On Debian/Ubuntu install the venv module: apt-get install python3-venv",
    });
  }
  if (await hasBuild(venv.python)) return { python: venv.python, hasBuild: true, where: ".rig" };
  const install = await run(
    [venv.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "build"],
    { env, signal: options.signal },
  );
  if (install.success) return { python: venv.python, hasBuild: true, where: ".rig" };
  options.ui.warn(
    `Cannot install "build" into ${path.relative(project.root, dir)} (${
      tail(install.stderr || install.stdout, 1)
    }); falling back to pip wheel and the setuptools sdist hook`,
    "Make the package index reachable (or pre-install build: pip install build) for python -m build",
  );
  return { python: venv.python, hasBuild: false, where: ".rig" };
}

function venvBase(dir: string): string | undefined {
  const cfg = readPyvenvCfg(dir);
  if (!cfg.home) return undefined;
  const candidate = pythonInHome(cfg.home);
  return exists(candidate) ? candidate : undefined;
}

function pythonEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {
    ...env,
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  delete out.VIRTUAL_ENV;
  delete out.PYTHONPATH;
  delete out.PYTHONHOME;
  return out;
}

async function pythonStep(
  project: Project,
  component: Component,
  result: ComponentBuild,
  options: ComponentContext & { version: string; staging: string },
): Promise<{ file: string; type: ArtifactType }[]> {
  const { ui } = options;
  const pyproject = readPyproject(component.dir);
  const declared = (pyproject?.project ?? {}) as Record<string, unknown>;
  const name = typeof declared.name === "string" ? declared.name : component.name;
  const env = pythonEnv(options.env);
  const out = path.join(options.staging, "python");
  let builder: Builder | undefined;
  await ui.task(`${component.name}: wheel + sdist`, async (step) => {
    builder = await pythonBuilder(project, component, options);
    step.update(`python -m build (${builder.where})`);
    if (builder.hasBuild) {
      await runChecked([builder.python, "-m", "build", "--outdir", out, component.dir], {
        env,
        signal: options.signal,
        cwd: component.dir,
        failureHint: `Fix the packaging of "${component.path}" (pyproject.toml), then: rig build`,
      });
    } else {
      await runChecked(
        [builder.python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", out, component.dir],
        { env, signal: options.signal, cwd: component.dir },
      );
      await runChecked(
        [
          builder.python,
          "-c",
          "import sys; from setuptools import build_meta as b; b.build_sdist(sys.argv[1])",
          out,
        ],
        { env, signal: options.signal, cwd: component.dir },
      );
    }
  });
  const produced = [...Deno.readDirSync(out)].map((e) => path.join(out, e.name));
  const wheel = produced.find((f) => f.endsWith(".whl"));
  const sdist = produced.find((f) => f.endsWith(".tar.gz"));
  if (!wheel || !sdist) {
    throw new RigError(
      `Building "${component.name}" made ${
        produced.map((f) => `"${path.basename(f)}"`).join(", ") || "nothing"
      }; expected a wheel and an sdist`,
      `Check the build backend in ${component.path}/pyproject.toml`,
    );
  }
  const expected = { name, version: options.version };
  await ui.task(`${component.name}: validate ${path.basename(wheel)}`, async (step) => {
    const report = await validateWheel(wheel, expected);
    result.checks.push(
      `${
        path.basename(wheel)
      }: METADATA ${report.name} ${report.version}, RECORD ${report.filesChecked} files`,
    );
    const sources = await wheelSources(wheel);
    await validateSdist(sdist, { ...expected, sources });
    result.checks.push(
      `${path.basename(sdist)}: PKG-INFO, pyproject.toml and ${sources.length} sources`,
    );
    if (!options.noSmokeTest) {
      step.update("install + import in a scratch venv");
      const smoke = await smokeTestWheel(wheel, {
        python: builder!.python,
        venvDir: path.join(workDir(project.root, component.name), "scratch-venv"),
        modules: report.topLevel,
        env,
        signal: options.signal,
      });
      if (smoke.skipped) {
        ui.warn(
          `${path.basename(wheel)} installs, but the import check was skipped: ${smoke.skipped}`,
          "Make the package index reachable to check imports too",
        );
        result.checks.push(`installs (--no-deps); import skipped: ${smoke.skipped}`);
      } else result.checks.push(`installs and imports ${smoke.imported.join(", ")}`);
    }
  });
  return [{ file: wheel, type: "wheel" }, { file: sdist, type: "sdist" }];
}

// ---------------------------------------------------------------------------
// Node: npm tarball

async function npmStep(
  project: Project,
  component: Component,
  result: ComponentBuild,
  options: ComponentContext & { version: string; staging: string },
): Promise<{ file: string; type: ArtifactType }[]> {
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
}

// ---------------------------------------------------------------------------
// Container image

async function imageStep(
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

// ---------------------------------------------------------------------------
// dist/manifest.json

/** The document in dist/manifest.json. */
export interface DistManifest {
  formatVersion: number;
  project: string;
  generatedAt: string;
  gitSha: string | null;
  artifacts: Artifact[];
}

/** Reads dist/manifest.json, or undefined when absent or unreadable. */
export async function readManifest(root: string): Promise<DistManifest | undefined> {
  try {
    const data = JSON.parse(await Deno.readTextFile(path.join(distDir(root), "manifest.json")));
    return data?.formatVersion === MANIFEST_VERSION ? data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes dist/manifest.json atomically: this run's artifacts plus earlier
 * entries of other components whose files are still there.
 */
export async function writeManifest(
  project: Project,
  results: ComponentBuild[],
  sha: string | undefined,
): Promise<string> {
  const file = path.join(distDir(project.root), "manifest.json");
  const previous = await readManifest(project.root);
  const touched = new Set(
    results.filter((r) => r.status === "built" || r.status === "cached").map((r) => r.component),
  );
  const kept = (previous?.artifacts ?? []).filter((a) =>
    !touched.has(a.component) && (!a.path || exists(path.join(project.root, a.path)))
  );
  const artifacts = [...kept, ...results.flatMap((r) => r.artifacts)].sort((a, b) =>
    a.component.localeCompare(b.component) || (a.path ?? "").localeCompare(b.path ?? "")
  );
  const document: DistManifest = {
    formatVersion: MANIFEST_VERSION,
    project: project.settings.name,
    generatedAt: new Date().toISOString(),
    gitSha: sha ?? null,
    artifacts,
  };
  await writeFileAtomic(file, JSON.stringify(document, null, 2) + "\n");
  return file;
}
