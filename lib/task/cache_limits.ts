/**
 * The cache's limits as people write them: sizes (`500MB`, `2G`), durations
 * (`7d`, `12h`) and the project cache's size limit from `RIG_CACHE_MAX_SIZE`.
 */
import { UsageError } from "../errors.ts";

/** The default size limit of a project cache. */
export const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses a size like `500MB`, `2G`, `1.5GiB` or `1024` (bytes; units are powers of 1024). */
export function parseSize(text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(
      `Cannot read size "${text}": expected a number with an optional unit (KB, MB, GB, TB)`,
      "Example: rig cache prune --max-size 500MB",
    );
  }
  return Math.round(Number(match[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Parses a duration like `7d`, `12h`, `30m`, `1d12h` or `90s` into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|min|s|m|h|d|w)/g)];
  const consumed = parts.map((p) => p[0]).join("");
  if (!parts.length || consumed !== trimmed) {
    throw new UsageError(
      `Cannot read duration "${text}": expected a number with a unit (s, m, h, d, w), e.g. 7d or 12h`,
      "Example: rig cache prune --max-age 7d",
    );
  }
  return parts.reduce((total, p) => total + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
}

/** The project cache's size limit: `RIG_CACHE_MAX_SIZE` (e.g. `5G`) when set, else 2 GiB. */
export function cacheMaxBytes(env: Record<string, string | undefined>): number {
  const configured = env.RIG_CACHE_MAX_SIZE?.trim();
  return configured ? parseSize(configured) : DEFAULT_MAX_BYTES;
}
