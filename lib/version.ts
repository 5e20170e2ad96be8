/**
 * rig's own version, printed by `rig --version` and recorded in cache entries:
 * the one in deno.json (a JSON import, so compiled binaries and the bundle carry it).
 */
import denoJson from "../deno.json" with { type: "json" };

/** rig's version, from deno.json's `version`. */
export const RIG_VERSION: string = denoJson.version;
