/**
 * Canonical JSON: what task keys hash and record signatures cover. Its own
 * module, so that verifying a signature (lib/task/signing.ts) loads no more.
 */

/** Serialises JSON with object keys sorted at every level (undefined members dropped). */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return JSON.stringify(value) ?? "null";
  }
  // Dates (TOML dates too) serialise as JSON.stringify would, not as empty objects.
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === "function") return stableJson(withJson.toJSON());
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? "null" : stableJson(v))).join(",")}]`;
  }
  const keys = Object.keys(value as Record<string, unknown>).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const member = (value as Record<string, unknown>)[key];
    if (member === undefined || typeof member === "function") continue;
    parts.push(`${JSON.stringify(key)}:${stableJson(member)}`);
  }
  return `{${parts.join(",")}}`;
}
