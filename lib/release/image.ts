/**
 * The container image of a release: the image `rig build` made, pushed to
 * the configured registry with `rig build --push`'s mechanism (push, then the
 * manifest read back from the registry). With no engine the image is skipped
 * with the reason, never silently.
 */
import { detectEngine } from "../container_engine.ts";
import { pushImage } from "../builder/image_push.ts";
import type { Artifact } from "../builder/artifacts.ts";

/** Pushes every built image to `registry`; returns the pushed references or why none were. */
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
    if (!image.imageId || !image.tags?.length) continue;
    const tags = await pushImage(probe.engine, {
      imageId: image.imageId,
      tags: image.tags,
      registry: options.registry,
      env: options.env,
      signal: options.signal,
    });
    pushed.push(...tags.map((t) => `${t.ref}@${t.digest}`));
  }
  return { pushed };
}
