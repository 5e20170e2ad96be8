/**
 * rig.toml's `[release]` tables: the release branch and remote, the tag
 * scheme, the changelog file, and one table per publishing target
 * (`[release.python]`, `[release.npm]`, `[release.github]`, `[release.image]`).
 * Every key is optional; errors name the file, line and key.
 */
import * as path from "../path.ts";
import { parse as parseToml } from "smol-toml";
import { ConfigError } from "../errors.ts";
import type { Project } from "../project/project.ts";

/** How release tags are named: one `vX.Y.Z`, or `<component>-vX.Y.Z` per component. */
export type TagScheme = "single" | "per-component";

/** The release settings of a project, with defaults applied. */
export interface ReleaseConfig {
  /** The branch releases are made from; undefined = the remote's default branch. */
  branch?: string;
  remote: string;
  tags: TagScheme;
  /** The changelog file, relative to the project root. */
  changelog: string;
  python: {
    enabled: boolean;
    /** Where `twine upload` sends packages. */
    repositoryUrl: string;
    /** The simple index that verification installs from. */
    indexUrl: string;
    /** `twine` (default when installed) or `uv`. */
    tool?: "twine" | "uv";
    /** TWINE_USERNAME when unset in the environment. */
    username: string;
  };
  npm: {
    enabled: boolean;
    registry: string;
    /** `npm publish --access` (public for scoped packages by default). */
    access: "public" | "restricted";
    tag: string;
  };
  github: {
    enabled: boolean;
    /** `owner/name`; default from the remote's URL when it is on github.com. */
    repo?: string;
    apiUrl: string;
    tokenEnv: string;
    draft: boolean;
    prerelease: boolean;
  };
  image: {
    enabled: boolean;
    /** Registry prefix the image is pushed under, e.g. `ghcr.io/acme`. */
    registry?: string;
  };
}

const KEYS: Record<string, Record<string, "string" | "bool">> = {
  release: { branch: "string", remote: "string", tags: "string", changelog: "string" },
  "release.python": {
    enabled: "bool",
    repository_url: "string",
    index_url: "string",
    tool: "string",
    username: "string",
  },
  "release.npm": { enabled: "bool", registry: "string", access: "string", tag: "string" },
  "release.github": {
    enabled: "bool",
    repo: "string",
    api_url: "string",
    token_env: "string",
    draft: "bool",
    prerelease: "bool",
  },
  "release.image": { enabled: "bool", registry: "string" },
};

/** Reads the `[release]` tables of the project's rig.toml (defaults without one). */
export async function readReleaseConfig(project: Project): Promise<ReleaseConfig> {
  let data: Record<string, unknown> = {};
  let lines: string[] = [];
  const file = project.configFile ?? path.join(project.root, "rig.toml");
  if (project.configFile) {
    const text = await Deno.readTextFile(project.configFile);
    lines = text.split(/\r?\n/);
    data = (parseToml(text) as Record<string, unknown>).release as Record<string, unknown> ?? {};
  }
  const lineOf = (key: string) => {
    const index = lines.findIndex((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
    return index >= 0 ? index + 1 : undefined;
  };
  const fail = (key: string, problem: string, hint?: string): never => {
    throw new ConfigError(path.basename(file), lineOf(key), problem, hint);
  };
  const table = (name: string): Record<string, unknown> => {
    const value = name === "release" ? data : data[name.slice("release.".length)];
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return fail(name, `"${name}" must be a table`);
    }
    const out = value as Record<string, unknown>;
    for (const [key, v] of Object.entries(out)) {
      const type = KEYS[name]![key];
      if (name === "release" && KEYS[`release.${key}`]) continue;
      if (!type) {
        fail(
          key,
          `unknown key "${name}.${key}"`,
          `Known keys: ${Object.keys(KEYS[name]!).join(", ")}`,
        );
      }
      if (
        (type === "bool") !== (typeof v === "boolean") ||
        (type === "string" && typeof v !== "string")
      ) {
        fail(key, `"${name}.${key}" must be ${type === "bool" ? "true or false" : "a string"}`);
      }
    }
    return out;
  };
  const release = table("release");
  const python = table("release.python");
  const npm = table("release.npm");
  const github = table("release.github");
  const image = table("release.image");
  const tags = (release.tags as string | undefined) ?? "single";
  if (tags !== "single" && tags !== "per-component") {
    fail("tags", `"release.tags" must be "single" or "per-component", not "${tags}"`);
  }
  const tool = python.tool as string | undefined;
  if (tool !== undefined && tool !== "twine" && tool !== "uv") {
    fail("tool", `"release.python.tool" must be "twine" or "uv", not "${tool}"`);
  }
  const access = (npm.access as string | undefined) ?? "public";
  if (access !== "public" && access !== "restricted") {
    fail("access", `"release.npm.access" must be "public" or "restricted", not "${access}"`);
  }
  const repo = github.repo as string | undefined;
  if (repo !== undefined && !/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    fail("repo", `"release.github.repo" must look like "owner/name", not "${repo}"`);
  }
  const repositoryUrl = (python.repository_url as string | undefined) ??
    "https://upload.pypi.org/legacy/";
  return {
    branch: release.branch as string | undefined,
    remote: (release.remote as string | undefined) ?? "origin",
    tags: tags as TagScheme,
    changelog: (release.changelog as string | undefined) ?? "CHANGELOG.md",
    python: {
      enabled: (python.enabled as boolean | undefined) ?? true,
      repositoryUrl,
      indexUrl: (python.index_url as string | undefined) ?? defaultIndexUrl(repositoryUrl),
      tool: tool as "twine" | "uv" | undefined,
      username: (python.username as string | undefined) ?? "__token__",
    },
    npm: {
      enabled: (npm.enabled as boolean | undefined) ?? true,
      registry: withSlash((npm.registry as string | undefined) ?? "https://registry.npmjs.org/"),
      access: access as "public" | "restricted",
      tag: (npm.tag as string | undefined) ?? "latest",
    },
    github: {
      enabled: (github.enabled as boolean | undefined) ?? true,
      repo,
      apiUrl: ((github.api_url as string | undefined) ?? "https://api.github.com").replace(
        /\/+$/,
        "",
      ),
      tokenEnv: (github.token_env as string | undefined) ?? "GITHUB_TOKEN",
      draft: (github.draft as boolean | undefined) ?? false,
      prerelease: (github.prerelease as boolean | undefined) ?? false,
    },
    image: {
      enabled: (image.enabled as boolean | undefined) ?? true,
      registry: image.registry as string | undefined,
    },
  };
}

/** The simple index that belongs to an upload URL (PyPI's, TestPyPI's, else `<url>/simple/`). */
export function defaultIndexUrl(repositoryUrl: string): string {
  const url = new URL(repositoryUrl);
  if (url.hostname === "upload.pypi.org") return "https://pypi.org/simple/";
  if (url.hostname === "test.pypi.org") return "https://test.pypi.org/simple/";
  return new URL("simple/", withSlash(url.origin + url.pathname.replace(/legacy\/?$/, ""))).href;
}

function withSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

/** `owner/name` from a GitHub remote URL (https, ssh or scp-like), else undefined. */
export function githubRepoFromUrl(url: string): string | undefined {
  const match = /github\.com[:/]+([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url.trim());
  return match ? `${match[1]}/${match[2]}` : undefined;
}
