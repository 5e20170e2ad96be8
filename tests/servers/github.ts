/**
 * A small GitHub REST API for tests, on 127.0.0.1: the release endpoints rig
 * uses, with GitHub's documented request and response shapes (API version
 * 2022-11-28): create a release (201), upload an asset to the release's
 * `upload_url` (201), get a release by id or by tag (200), delete a release
 * (204); 401 without the token, 404 for unknown releases, 422 for a tag that
 * already has a release. Failures can be injected per route, and a route can
 * be held open (to kill rig mid-request).
 */
import type { RunningServer } from "./common.ts";

/** The routes a test can break or hold. */
export type GitHubRoute = "create" | "upload" | "get" | "get-by-tag" | "delete";

/** One stored release, in GitHub's shape. */
export interface FakeRelease {
  id: number;
  tag_name: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  html_url: string;
  url: string;
  upload_url: string;
  assets_url: string;
  created_at: string;
  assets: {
    id: number;
    name: string;
    size: number;
    state: string;
    content_type: string;
    browser_download_url: string;
    bytes: Uint8Array;
  }[];
}

/** The fake GitHub and its state. */
export interface FakeGitHub extends RunningServer {
  token: string;
  releases: Map<number, FakeRelease>;
  /** Answer this route with this status (once per request) until cleared. */
  fail: Map<GitHubRoute, number>;
  /** Hold requests to this route open; `waitForHeld()` resolves when one arrives. */
  hold?: GitHubRoute;
  waitForHeld(): Promise<void>;
  /** Every request seen: `METHOD path`. */
  log: string[];
}

/** Starts the fake GitHub API. */
export function startFakeGitHub(token = "ghp_test_token"): FakeGitHub {
  const releases = new Map<number, FakeRelease>();
  const fail = new Map<GitHubRoute, number>();
  const log: string[] = [];
  let nextId = 1000;
  let heldResolve: (() => void) | undefined;
  let heldPromise = new Promise<void>((r) => heldResolve = r);
  let release = new AbortController();
  let base = "";
  const json = (status: number, body: unknown) =>
    new Response(status === 204 ? null : JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json; charset=utf-8" },
    });
  const error = (status: number, message: string) =>
    json(status, { message, documentation_url: "https://docs.github.com/rest/releases/releases" });
  const view = (r: FakeRelease) => ({
    ...r,
    assets: r.assets.map(({ bytes: _bytes, ...a }) => a),
  });

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      log.push(`${request.method} ${url.pathname}`);
      if (request.headers.get("authorization") !== `Bearer ${token}`) {
        return error(401, "Bad credentials");
      }
      let match: RegExpExecArray | null;
      let route: GitHubRoute | undefined;
      let id = 0;
      let tag = "";
      if (
        request.method === "POST" &&
        (match = /^\/repos\/[^/]+\/[^/]+\/releases$/.exec(url.pathname))
      ) route = "create";
      else if (
        request.method === "POST" &&
        (match = /^\/uploads\/repos\/[^/]+\/[^/]+\/releases\/(\d+)\/assets$/.exec(url.pathname))
      ) [route, id] = ["upload", Number(match[1])];
      else if (
        request.method === "GET" &&
        (match = /^\/repos\/[^/]+\/[^/]+\/releases\/tags\/(.+)$/.exec(url.pathname))
      ) [route, tag] = ["get-by-tag", decodeURIComponent(match[1]!)];
      else if (
        (match = /^\/repos\/[^/]+\/[^/]+\/releases\/(\d+)$/.exec(url.pathname)) &&
        (request.method === "GET" || request.method === "DELETE")
      ) [route, id] = [request.method === "GET" ? "get" : "delete", Number(match[1])];
      if (!route) return error(404, "Not Found");
      if (hold === route) {
        heldResolve?.();
        const held = release.signal;
        await new Promise((resolve) => held.addEventListener("abort", resolve));
        return error(503, "held");
      }
      const injected = fail.get(route);
      if (injected) return error(injected, "Server Error");
      const repoPath = url.pathname.replace(/^\/uploads/, "").split("/").slice(0, 4).join("/");
      switch (route) {
        case "create": {
          const body = await request.json();
          if (typeof body.tag_name !== "string") return error(422, "Validation Failed");
          if ([...releases.values()].some((r) => r.tag_name === body.tag_name)) {
            return error(422, "Validation Failed: already_exists tag_name");
          }
          const releaseId = nextId++;
          const r: FakeRelease = {
            id: releaseId,
            tag_name: body.tag_name,
            name: body.name ?? null,
            body: body.body ?? null,
            draft: !!body.draft,
            prerelease: !!body.prerelease,
            url: `${base}${repoPath.slice(1)}/releases/${releaseId}`,
            html_url: `${base}html${repoPath}/releases/tag/${body.tag_name}`,
            assets_url: `${base}${repoPath.slice(1)}/releases/${releaseId}/assets`,
            upload_url: `${base}uploads${repoPath}/releases/${releaseId}/assets{?name,label}`,
            created_at: new Date().toISOString(),
            assets: [],
          };
          releases.set(releaseId, r);
          return json(201, view(r));
        }
        case "upload": {
          const r = releases.get(id);
          if (!r) return error(404, "Not Found");
          const name = url.searchParams.get("name");
          if (!name) return error(422, "Validation Failed: name");
          const bytes = new Uint8Array(await request.arrayBuffer());
          const asset = {
            id: nextId++,
            name,
            size: bytes.length,
            state: "uploaded",
            content_type: request.headers.get("content-type") ?? "application/octet-stream",
            browser_download_url: `${base}download/${r.tag_name}/${name}`,
            bytes,
          };
          r.assets.push(asset);
          const { bytes: _b, ...shown } = asset;
          return json(201, shown);
        }
        case "get": {
          const r = releases.get(id);
          return r ? json(200, view(r)) : error(404, "Not Found");
        }
        case "get-by-tag": {
          const r = [...releases.values()].find((x) => x.tag_name === tag);
          return r ? json(200, view(r)) : error(404, "Not Found");
        }
        case "delete": {
          if (!releases.delete(id)) return error(404, "Not Found");
          return json(204, null);
        }
      }
    },
  );
  base = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`;
  let hold: GitHubRoute | undefined;
  const stop = async () => {
    release.abort();
    await server.shutdown();
  };
  const fake: FakeGitHub = {
    url: base,
    token,
    releases,
    fail,
    log,
    get hold() {
      return hold;
    },
    set hold(value) {
      // Changing the held route lets requests held so far go (they answer 503).
      release.abort();
      release = new AbortController();
      hold = value;
      heldPromise = new Promise<void>((r) => heldResolve = r);
    },
    waitForHeld: () => heldPromise,
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return fake;
}
