/**
 * The container image of a release: the image `rig build` made, tagged for
 * the configured registry and pushed with the engine that answers. This is
 * the hook issue 20's `rig build --docker --push` is meant to take over; with
 * no engine the image is skipped with the reason, never silently.
 */
import { RigError } from "../errors.ts";
import { detectEngine } from "../build/docker.ts";
import { run, tail } from "../proc.ts";
import type { Artifact } from "../build/build.ts";

/** Tags every built image for `registry` and pushes it; returns what was pushed or why not. */
export async function pushImages(
  images: Artifact[],
  options: { registry: string; env: Record<string, string>; signal?: AbortSignal },
): Promise<{ pushed: string[]; skipped?: string }> {
  if (!images.length) return { pushed: [], skipped: "no image was built" };
  const probe = await detectEngine(options.env, { signal: options.signal });
  if (!probe.engine) {
    return { pushed: [], skipped: `no container engine answers: ${probe.problem}` };
  }
  const pushed: string[] = [];
  for (const image of images) {
    const source = image.tags?.[0];
    if (!source) continue;
    const target = `${options.registry.replace(/\/+$/, "")}/${source}`;
    for (const argv of [["tag", source, target], ["push", target]]) {
      const result = await run([probe.engine.program, ...argv], {
        env: options.env,
        signal: options.signal,
        timeoutMs: 600_000,
      });
      if (!result.success) {
        throw new RigError(
          `${probe.engine.name} ${argv[0]} ${target} failed: ${
            tail(result.stderr || result.stdout, 6)
          }`,
          `Log in to the registry (${probe.engine.name} login ${
            options.registry.split("/")[0]
          }) and run rig release again`,
        );
      }
    }
    pushed.push(target);
  }
  return { pushed };
}
