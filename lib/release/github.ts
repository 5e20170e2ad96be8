/**
 * The GitHub REST endpoints a release uses (API version 2022-11-28): create a
 * release, upload its assets to the `upload_url` GitHub returns, read it back
 * and delete it. The base URL is configurable for GitHub Enterprise
 * (`https://HOST/api/v3`).
 */
import * as path from "../path.ts";
import { RigError } from "../errors.ts";

/** Where and as whom to talk to GitHub. */
export interface GitHubApi {
  /** E.g. `https://api.github.com`. */
  apiUrl: string;
  /** `owner/name`. */
  repo: string;
  token: string;
  signal?: AbortSignal;
}

/** The fields of a release rig reads. */
export interface GitHubRelease {
  id: number;
  tag_name: string;
  name: string | null;
  body: string | null;
  html_url: string;
  upload_url: string;
  draft: boolean;
  prerelease: boolean;
  assets: { id: number; name: string; size: number; state: string; browser_download_url: string }[];
}

/** A failed GitHub call, with its HTTP status. */
export class GitHubError extends RigError {
  constructor(readonly status: number, what: string, message: string, hint?: string) {
    super(`GitHub ${what} failed with HTTP ${status}: ${message}`, hint);
  }
}

async function call<T>(
  api: GitHubApi,
  what: string,
  url: string,
  init: RequestInit & { expect: number[] },
): Promise<T | undefined> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      signal: api.signal,
      headers: {
        Accept: "application/vnd.github+json",
        Authorization: `Bearer ${api.token}`,
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "rig-release",
        ...(init.headers ?? {}),
      },
    });
  } catch (error) {
    if (api.signal?.aborted) throw error;
    throw new RigError(
      `GitHub ${what} failed: cannot reach ${new URL(url).origin} (${(error as Error).message})`,
      "Check the network and [release.github] api_url in rig.toml",
    );
  }
  const text = await response.text();
  if (!init.expect.includes(response.status)) {
    let message = text.slice(0, 300);
    try {
      message = JSON.parse(text).message ?? message;
    } catch {
      // Not JSON: keep the text.
    }
    const hint = response.status === 401
      ? "The token is missing or invalid: set GITHUB_TOKEN to a token with contents: write"
      : response.status === 403 || response.status === 404
      ? `Check that the token may write releases of "${api.repo}" ([release.github] repo)`
      : undefined;
    throw new GitHubError(response.status, what, message || response.statusText, hint);
  }
  return text ? JSON.parse(text) as T : undefined;
}

function repoUrl(api: GitHubApi, suffix: string): string {
  return `${api.apiUrl.replace(/\/+$/, "")}/repos/${api.repo}${suffix}`;
}

/** POST /repos/{owner}/{repo}/releases. */
export async function createRelease(
  api: GitHubApi,
  release: {
    tag_name: string;
    name: string;
    body: string;
    draft: boolean;
    prerelease: boolean;
    target_commitish?: string;
  },
): Promise<GitHubRelease> {
  return (await call<GitHubRelease>(api, "create release", repoUrl(api, "/releases"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(release),
    expect: [201],
  }))!;
}

/** Uploads a file to a release's `upload_url` (a URI template: `{?name,label}` is dropped). */
export async function uploadAsset(
  api: GitHubApi,
  release: GitHubRelease,
  file: string,
): Promise<GitHubRelease["assets"][number]> {
  const base = release.upload_url.replace(/\{[^}]*\}$/, "");
  const url = `${base}?name=${encodeURIComponent(path.basename(file))}`;
  const bytes = await Deno.readFile(file);
  return (await call<GitHubRelease["assets"][number]>(
    api,
    `upload of "${path.basename(file)}"`,
    url,
    {
      method: "POST",
      headers: { "Content-Type": contentType(file), "Content-Length": String(bytes.length) },
      body: bytes,
      expect: [201],
    },
  ))!;
}

/** GET /repos/{owner}/{repo}/releases/{id}. */
export async function getRelease(api: GitHubApi, id: number): Promise<GitHubRelease> {
  return (await call<GitHubRelease>(
    api,
    "read-back of the release",
    repoUrl(api, `/releases/${id}`),
    {
      method: "GET",
      expect: [200],
    },
  ))!;
}

/** GET /repos/{owner}/{repo}/releases/tags/{tag}, or undefined when there is none. */
export async function getReleaseByTag(
  api: GitHubApi,
  tag: string,
): Promise<GitHubRelease | undefined> {
  try {
    return await call<GitHubRelease>(
      api,
      "lookup of the release",
      repoUrl(api, `/releases/tags/${encodeURIComponent(tag)}`),
      { method: "GET", expect: [200] },
    );
  } catch (error) {
    if (error instanceof GitHubError && error.status === 404) return undefined;
    throw error;
  }
}

/** DELETE /repos/{owner}/{repo}/releases/{id} (a missing release counts as deleted). */
export async function deleteRelease(api: GitHubApi, id: number): Promise<void> {
  await call(api, "deletion of the release", repoUrl(api, `/releases/${id}`), {
    method: "DELETE",
    expect: [204, 404],
  });
}

function contentType(file: string): string {
  if (file.endsWith(".whl") || file.endsWith(".zip")) return "application/zip";
  if (file.endsWith(".tar.gz") || file.endsWith(".tgz")) return "application/gzip";
  if (file.endsWith(".json")) return "application/json";
  return "application/octet-stream";
}
