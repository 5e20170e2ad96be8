/**
 * Container images: finds an engine that answers (docker, else podman),
 * renders rig's Dockerfile template for a python-app without its own
 * Dockerfile, and builds an image with its tags.
 */
import * as path from "../path.ts";
import { type Engine, firstMeaningfulLine } from "../container_engine.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { type OutputSink, run, tail } from "../proc.ts";
import type { Component } from "../project/project.ts";
import { template } from "../../templates/mod.ts";

/** Normalises a name into a valid image repository name (lowercase, `[a-z0-9._-]`). */
export function imageName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[-._]+|[-._]+$/g, "") ||
    "app";
}

/** Normalises a version into a valid image tag (`+` is not allowed). */
export function imageTag(version: string): string {
  return version.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 128);
}

/** The tags of an image: `<name>:<version>`, `<name>:<sha>` (when known) and `<name>:latest`. */
export function imageTags(name: string, version: string, sha?: string): string[] {
  const repo = imageName(name);
  const tags = [`${repo}:${imageTag(version)}`];
  if (sha) tags.push(`${repo}:${imageTag(sha)}`);
  tags.push(`${repo}:latest`);
  return [...new Set(tags)];
}

/** Where the Dockerfile of a component comes from. */
export interface DockerfileChoice {
  /** Absolute path of the Dockerfile to build with. */
  file: string;
  /** True when rig rendered its template (the component has no Dockerfile). */
  template: boolean;
}

/** Values rig fills into its Dockerfile template. */
export interface TemplateValues {
  /** The ASGI app, e.g. `app.main:app`. */
  app: string;
  /** Python minor version of the default base image, e.g. `3.11`. */
  pythonVersion: string;
  /** Requirement file names present in the component (installed in the image). */
  requirements: string[];
  /** True when the component is a package (pyproject [project]) to `pip install .`. */
  installPackage: boolean;
  /** True when the component has alembic.ini (migrations run before serving). */
  migrations: boolean;
}

/** Renders rig's python-app Dockerfile template. */
export function renderTemplate(values: TemplateValues): string {
  const text = template("Dockerfile.python-app");
  const install: string[] = [];
  const runtime = values.requirements.find((r) => r === "requirements.txt");
  if (runtime) install.push(`COPY ${runtime} .`, `RUN pip install -r ${runtime}`);
  if (values.installPackage) {
    install.push("COPY . .", "RUN pip install .");
  } else if (!runtime) install.push("RUN pip install uvicorn fastapi");
  const port = 8000;
  const serve = `uvicorn ${values.app} --host 0.0.0.0 --port ${port}`;
  const cmd = values.migrations
    ? JSON.stringify(["sh", "-c", `alembic upgrade head && ${serve}`])
    : JSON.stringify(serve.split(" "));
  return text
    .replaceAll("{{PYTHON_VERSION}}", values.pythonVersion)
    .replaceAll("{{INSTALL}}", install.join("\n"))
    .replaceAll("{{CMD}}", cmd);
}

/**
 * The component's Dockerfile, or rig's template rendered into `workDir`
 * (the build context is assembled apart, see image_context.ts).
 */
export async function chooseDockerfile(
  component: Component,
  options: { workDir: string; app: string; pythonVersion: string; installPackage: boolean },
): Promise<DockerfileChoice> {
  const own = path.join(component.dir, "Dockerfile");
  try {
    if ((await Deno.stat(own)).isFile) return { file: own, template: false };
  } catch {
    // No Dockerfile of its own: use rig's template.
  }
  const has = async (name: string) => {
    try {
      await Deno.stat(path.join(component.dir, name));
      return true;
    } catch {
      return false;
    }
  };
  const requirements = (await has("requirements.txt")) ? ["requirements.txt"] : [];
  const text = renderTemplate({
    app: options.app,
    pythonVersion: options.pythonVersion,
    requirements,
    installPackage: options.installPackage,
    migrations: await has("alembic.ini"),
  });
  const file = path.join(options.workDir, "Dockerfile");
  await writeFileAtomic(file, text);
  return { file, template: true };
}

/** What a finished image build produced. */
export interface ImageResult {
  id: string;
  tags: string[];
  engine: string;
}

/** Builds an image from `contextDir` with every tag; throws RigError with the log's tail. */
export async function buildImage(
  engine: Engine,
  options: {
    contextDir: string;
    dockerfile: string;
    tags: string[];
    /** `--build-arg` values (e.g. BASE_IMAGE). */
    buildArgs?: Record<string, string>;
    /** OCI labels. */
    labels?: Record<string, string>;
    env: Record<string, string>;
    signal?: AbortSignal;
    onLine?: OutputSink;
  },
): Promise<ImageResult> {
  const pairs = (flag: string, values: Record<string, string> = {}) =>
    Object.entries(values).flatMap(([k, v]) => [flag, `${k}=${v}`]);
  const argv = [
    engine.program,
    "build",
    ...engine.buildArgs,
    // The base images were checked before (ensureBaseImages): never pull behind rig's back.
    ...(engine.name === "podman" ? ["--pull=never"] : []),
    "-f",
    options.dockerfile,
    ...pairs("--build-arg", options.buildArgs),
    ...pairs("--label", options.labels),
    ...options.tags.flatMap((t) => ["-t", t]),
    options.contextDir,
  ];
  const result = await run(argv, {
    env: options.env,
    signal: options.signal,
    onLine: options.onLine,
  });
  if (!result.success) {
    const output = tail(`${result.stdout}\n${result.stderr}`.trim(), 25);
    const pull = /pull|registry|resolve|manifest|network|dial tcp|no such host/i.test(output);
    throw new RigError(
      `Image build failed with ${engine.name} (exit code ${result.code}) for ${
        options.tags[0]
      }:\n${output}`,
      pull
        ? `The base image could not be pulled: make the registry reachable or pre-pull it (${engine.name} pull), then: rig build --docker`
        : `Fix the Dockerfile "${options.dockerfile}", then: rig build --docker`,
    );
  }
  const inspect = await run(
    [engine.program, "image", "inspect", "--format", "{{.Id}}", options.tags[0]!],
    { env: options.env, signal: options.signal },
  );
  return { id: inspect.stdout.trim(), tags: options.tags, engine: engine.name };
}

/**
 * Makes sure every base image is present (pulling a missing one) and returns
 * their ids, which go into the image's cache key. An image that can be
 * neither found nor pulled is an environment error naming the way out.
 */
export async function ensureBaseImages(
  engine: Engine,
  images: string[],
  options: { env: Record<string, string>; signal?: AbortSignal; configHint: string },
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const image of images) {
    const inspect = () =>
      run([engine.program, "image", "inspect", "--format", "{{.Id}}", image], {
        env: options.env,
        signal: options.signal,
      });
    let found = await inspect();
    if (!found.success) {
      const pulled = await run([engine.program, "pull", image], {
        env: options.env,
        signal: options.signal,
      });
      if (!pulled.success) {
        throw new EnvironmentError(
          `Cannot get the base image "${image}": it is not present and ${engine.name} cannot pull it (${
            firstMeaningfulLine(pulled.stderr || pulled.stdout)
          })`,
          `Make the registry reachable, or build on an image you have: ${options.configHint}`,
        );
      }
      found = await inspect();
    }
    ids[image] = found.stdout.trim().replace(/^sha256:/, "");
  }
  return ids;
}
