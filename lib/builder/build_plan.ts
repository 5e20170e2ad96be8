/**
 * What `rig build` does for a component (wheel + sdist, npm tarball, app
 * bundle, container image), its options, and the context every build step gets.
 */
import type { EngineProbe } from "../container_engine.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import { projectTable, readPyproject } from "../python/pyproject.ts";
import type { CacheStore } from "../task/cache.ts";
import type { Manifest } from "../task/fingerprint.ts";
import type { TaskEngine } from "../task/task.ts";
import type { Ui } from "../ui.ts";
import type { ArtifactType, ComponentBuild } from "./artifacts.ts";

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

/** What each step of one component's build gets: the options, its plan and the task engine. */
export interface ComponentContext extends BuildOptions {
  plan: ReturnType<typeof buildPlan>;
  tasks: TaskEngine;
  /** The component's input files (path → hash). */
  inputs: Manifest;
  engine?: EngineProbe;
  sha?: string;
}

/**
 * A package step (python_package.ts, npm_package.ts): builds one kind of artifact into the
 * staging folder, validates it, adds its checks to the result, and returns the files it made.
 */
export type PackageStep = (
  project: Project,
  component: Component,
  result: ComponentBuild,
  options: ComponentContext & { version: string; staging: string },
) => Promise<{ file: string; type: ArtifactType }[]>;
