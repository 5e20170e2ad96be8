/**
 * Pushes an image's tags to a registry and reads each manifest back through
 * the registry's HTTP API (distribution spec), so a push that a registry
 * silently dropped is an error, not a success.
 */
import { RigError } from "../errors.ts";
import { run, tail } from "../proc.ts";
import type { Engine } from "../container_engine.ts";

/** One tag as the registry has it after the push. */
export interface PushedTag {
  /** The full reference, e.g. `127.0.0.1:5000/authserver:0.1.0`. */
  ref: string;
  /** The manifest digest the registry reports. */
  digest: string;
}

/** True for registries on this machine, where rig allows plain HTTP (`--tls-verify=false`). */
export function isLoopbackRegistry(registry: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  const host = bracketed ? bracketed[1]! : registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Splits `name:tag` (a local tag) into repository and tag. */
function splitTag(tag: string): { repo: string; tag: string } {
  const colon = tag.lastIndexOf(":");
  return { repo: tag.slice(0, colon), tag: tag.slice(colon + 1) };
}

/** Pushes every tag to `registry` and verifies each manifest there; returns what the registry holds. */
export async function pushImage(
  engine: Engine,
  options: {
    imageId: string;
    tags: string[];
    registry: string;
    env: Record<string, string>;
    signal?: AbortSignal;
    fetch?: typeof fetch;
  },
): Promise<PushedTag[]> {
  const registry = options.registry.replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");
  const loopback = isLoopbackRegistry(registry);
  const pushed: PushedTag[] = [];
  for (const local of options.tags) {
    const { repo, tag } = splitTag(local);
    const ref = `${registry}/${repo}:${tag}`;
    const argv = engine.name === "podman"
      ? [
        engine.program,
        "push",
        ...(loopback ? ["--tls-verify=false"] : []),
        "--format",
        "oci",
        options.imageId,
        `docker://${ref}`,
      ]
      : [engine.program, "push", ref];
    if (engine.name === "docker") {
      const tagged = await run([engine.program, "tag", options.imageId, ref], {
        env: options.env,
      });
      if (!tagged.success) throw pushError(ref, tagged.stderr);
    }
    const result = await run(argv, { env: options.env, signal: options.signal });
    if (!result.success) throw pushError(ref, `${result.stdout}\n${result.stderr}`);
    const digest = await readManifestDigest(registry, repo, tag, {
      secure: !loopback,
      fetch: options.fetch ?? fetch,
    });
    pushed.push({ ref, digest });
  }
  return pushed;
}

function pushError(ref: string, output: string): RigError {
  const text = tail(output.trim(), 15);
  const auth = /unauthorized|authentication required|denied/i.test(text);
  return new RigError(
    `Cannot push "${ref}":\n${text}`,
    auth
      ? `Log in to the registry first (docker login / podman login ${
        ref.split("/")[0]
      }), then push again`
      : `Check that the registry "${ref.split("/")[0]}" answers, then push again`,
  );
}

const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

/** Reads `GET /v2/<repo>/manifests/<tag>` and returns the manifest digest. */
export async function readManifestDigest(
  registry: string,
  repo: string,
  tag: string,
  options: { secure: boolean; fetch: typeof fetch },
): Promise<string> {
  const url = `${options.secure ? "https" : "http"}://${registry}/v2/${repo}/manifests/${tag}`;
  let response: Response;
  try {
    response = await options.fetch(url, { headers: { Accept: MANIFEST_TYPES } });
  } catch (error) {
    throw new RigError(
      `Cannot read back "${registry}/${repo}:${tag}" after pushing it: ${(error as Error).message}`,
    );
  }
  const body = await response.text();
  if (!response.ok) {
    throw new RigError(
      `The registry does not have "${registry}/${repo}:${tag}" after the push (HTTP ${response.status})`,
      "Check the registry's storage and logs, then push again",
    );
  }
  const manifest = JSON.parse(body) as { layers?: unknown[]; manifests?: unknown[] };
  if (!manifest.layers?.length && !manifest.manifests?.length) {
    throw new RigError(`The registry's manifest for "${registry}/${repo}:${tag}" lists no layers`);
  }
  return response.headers.get("docker-content-digest") ?? "";
}
