/**
 * What `rig build` makes and where it goes: the artifact and result types, the
 * `dist/<component>/` and `.rig/build/<component>/` folders, and
 * `dist/manifest.json`, which lists every artifact.
 */
import * as path from "../path.ts";
import { exists } from "../fs.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import type { Component, Project } from "../project/project.ts";
import type { PushedTag } from "./image_push.ts";

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
