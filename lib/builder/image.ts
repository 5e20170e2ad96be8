/**
 * The container image step of `rig build`: assemble the context, make sure
 * the base image is there, build (or reuse the image an unchanged context
 * built before), validate, and push when asked. Engine specifics stay in
 * docker.ts; what is checked in an image lives in image_check.ts.
 */
import * as path from "../path.ts";
import { parseEnvText } from "../env/env_file.ts";
import { environmentSecrets } from "../env/env_mask.ts";
import { sha256Hex } from "../hash.ts";
import { run, type SpawnScope } from "../proc.ts";
import type { Component, Project } from "../project/project.ts";
import type { CacheStore } from "../task/cache.ts";
import { keyManifest, manifestKey } from "../task/task_key.ts";
import { assembleContext, baseImages } from "./image_context.ts";
import { checkImage, type ImageAppConfig, inspectImage } from "./image_check.ts";
import { type PushedTag, pushImage } from "./image_push.ts";
import type { Engine } from "../container_engine.ts";
import { buildImage, chooseDockerfile, ensureBaseImages, imageTags } from "./docker.ts";
import { asgiApp } from "../python/uvicorn.ts";

/** What one image step produced. */
export interface ImageOutcome {
  id: string;
  tags: string[];
  /** True when an unchanged context reused the image built before. */
  cached: boolean;
  /** The checks the image passed. */
  checks: string[];
  key: string;
  /** Tags as the registry holds them, when pushed. */
  pushed: PushedTag[];
  /** True when rig applied its default .dockerignore (the component has none). */
  defaultIgnore: boolean;
}

/**
 * Options of `buildComponentImage`: the engine runs with the scope's environment and signal;
 * the app's configuration and secrets are what the image is checked with.
 */
export interface ImageOptions extends SpawnScope, ImageAppConfig {
  engine: Engine;
  /** The image name (repository), e.g. the project's name. */
  name: string;
  version: string;
  sha?: string;
  /** rig's scratch folder for this component. */
  workDir: string;
  /** A base image to build on instead of the Dockerfile's default (`BASE_IMAGE`). */
  baseImage?: string;
  /** Push every tag to this registry (`host[:port]`). */
  push?: string;
  /** Installs the component itself (`pip install .`) in rig's template. */
  installPackage: boolean;
  cache?: CacheStore;
  onLine?: (line: string) => void;
  onUpdate?: (text: string) => void;
}

/** Version of the image key recipe; bump when what goes into it changes. */
const IMAGE_RECIPE = "image-v1";
const APP_PORT = 8000;

/** Builds, validates and optionally pushes a python-app's image. */
export async function buildComponentImage(
  project: Project,
  component: Component,
  options: ImageOptions,
): Promise<ImageOutcome> {
  const { engine, env } = options;
  const app = asgiApp(component);
  const tags = imageTags(options.name, options.version, options.sha);
  const choice = await chooseDockerfile(component, {
    workDir: options.workDir,
    app,
    pythonVersion: "3.11",
    installPackage: options.installPackage,
  });
  if (choice.template) options.onUpdate?.("using rig's Dockerfile template");
  const dockerfile = await Deno.readTextFile(choice.file);
  const context = await assembleContext(component.dir, path.join(options.workDir, "context"));
  const buildArgs: Record<string, string> = options.baseImage
    ? { BASE_IMAGE: options.baseImage }
    : {};
  const bases = baseImages(dockerfile, buildArgs);
  const baseIds = await ensureBaseImages(engine, bases, {
    env,
    signal: options.signal,
    configHint: `set base_image = "IMAGE" for [components.${component.name}] in rig.toml ` +
      `(or pass --base-image IMAGE), with a Dockerfile that starts ARG BASE_IMAGE / FROM \${BASE_IMAGE}`,
  });
  const manifest = await keyManifest({
    task: "image",
    component: component.name,
    command: [IMAGE_RECIPE, engine.name, "build", ...Object.entries(buildArgs).flat()],
    config: { app, version: options.version, dockerfile: await sha256Hex(dockerfile) },
    inputs: Object.fromEntries(
      context.files.map((f) => [f.path, `${f.executable ? "x" : "-"}${f.sha256}`]),
    ),
    tools: Object.fromEntries(Object.entries(baseIds).map(([image, id]) => [`base:${image}`, id])),
  });
  const key = await manifestKey(manifest);

  const reused = await reuseImage(engine, options, key, tags);
  let id = reused?.id;
  let checks = reused?.checks ?? [];
  if (!id) {
    const labels = await ociLabels(project, options);
    const built = await buildImage(engine, {
      contextDir: context.dir,
      dockerfile: choice.file,
      tags,
      buildArgs,
      labels,
      env,
      signal: options.signal,
      onLine: options.onLine,
    });
    id = built.id.replace(/^sha256:/, "");
    const config = await inspectImage(engine, id, env);
    if (!config) throw new Error(`The image ${id} vanished right after it was built`);
    const finalBase = bases.at(-1);
    const baseConfig = finalBase ? await inspectImage(engine, finalBase, env) : undefined;
    checks = await checkImage(engine, config, {
      app,
      port: APP_PORT,
      baseLayers: baseConfig?.layers.length ?? 0,
      secrets: [...options.secrets, ...await projectSecrets(project.root, component.dir)],
      appEnv: options.appEnv,
      env,
      signal: options.signal,
      workDir: path.join(options.workDir, "inspect"),
    });
    await options.cache?.put({
      key,
      task: "image",
      component: component.name,
      exitCode: 0,
      durationMs: 0,
      summary: { imageId: id, checks },
      manifest,
    }).catch(() => {});
  }
  const pushed = options.push
    ? await pushImage(engine, { imageId: id, tags, registry: options.push, env })
    : [];
  return {
    id,
    tags,
    cached: reused !== undefined,
    checks,
    key,
    pushed,
    defaultIgnore: context.defaultIgnore,
  };
}

/** The image an earlier build made from the same key, re-tagged, when the engine still has it. */
async function reuseImage(
  engine: Engine,
  options: ImageOptions,
  key: string,
  tags: string[],
): Promise<{ id: string; checks: string[] } | undefined> {
  const record = await options.cache?.get(key, { task: "image" }).catch(() => undefined);
  const summary = record?.summary as { imageId?: string; checks?: string[] } | undefined;
  const id = summary?.imageId;
  if (!id || !/^[0-9a-f]{12,64}$/.test(id)) return undefined;
  const present = await run([engine.program, "image", "inspect", "--format", "{{.Id}}", id], {
    env: options.env,
  });
  if (!present.success) return undefined;
  for (const tag of tags) {
    const tagged = await run([engine.program, "tag", id, tag], { env: options.env });
    if (!tagged.success) return undefined;
  }
  return { id, checks: summary?.checks ?? [] };
}

/** OCI annotations of the image: version, revision, source and creation time. */
async function ociLabels(
  project: Project,
  options: ImageOptions,
): Promise<Record<string, string>> {
  const labels: Record<string, string> = {
    "org.opencontainers.image.title": options.name,
    "org.opencontainers.image.version": options.version,
    "org.opencontainers.image.created": new Date().toISOString(),
  };
  if (options.sha) labels["org.opencontainers.image.revision"] = options.sha;
  const remote = await run(["git", "config", "--get", "remote.origin.url"], {
    cwd: project.root,
    env: options.env,
  }).catch(() => undefined);
  const source = remote?.success ? remote.stdout.trim() : "";
  // A URL with credentials in it must not be baked into an image.
  if (source) labels["org.opencontainers.image.source"] = source.replace(/\/\/[^/@]*@/, "//");
  return labels;
}

/** Secret values in the project's and the component's `.env*` files (what no layer may carry). */
export async function projectSecrets(root: string, componentDir: string): Promise<string[]> {
  const values = new Set<string>();
  for (const dir of new Set([root, componentDir])) {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isFile || !/^\.env(\.|$)/.test(entry.name)) continue;
      const text = await Deno.readTextFile(path.join(dir, entry.name)).catch(() => "");
      const parsed = parseEnvText(text, { file: entry.name, template: false }).entries;
      // The project's one rule for which values are secrets (URL passwords included).
      const secrets = environmentSecrets(Object.fromEntries(parsed.map((e) => [e.key, e.value])));
      for (const secret of secrets) values.add(secret);
    }
  }
  return [...values];
}
