/**
 * Paths watched by their stat data: what rig's memos (the git listing,
 * listing_memo.ts; a command's whole answer, decision_memo.ts) keep beside
 * what they remember, and check before trusting it, as git's index does.
 */

/** Absolute paths with their `statId` when the memo was written. */
export type Watched = [path: string, id: string][];

/** What every stat-watched memo file holds besides what it remembers. */
export interface WatchedMemo {
  /** The memo's format; another one is ignored. */
  version: number;
  /** What its answer depends on, as it was when the memo was written. */
  watched: Watched;
}

/** A path's stat identity: size, mtime, ctime and inode; "-" when it does not exist. */
export function statId(file: string): string {
  try {
    const info = Deno.statSync(file);
    return `${info.isDirectory ? "d" : "f"}${info.size}|${info.mtime?.getTime() ?? 0}|` +
      `${info.ctime?.getTime() ?? 0}|${info.ino ?? 0}`;
  } catch {
    return "-";
  }
}

/** The first watched path whose identity is no longer the one kept (malformed entries count). */
export function firstChanged(
  watched: unknown[],
  identity: (file: string) => string = statId,
): string | undefined {
  for (const pair of watched) {
    if (!Array.isArray(pair) || typeof pair[0] !== "string") return String(pair);
    if (identity(pair[0]) !== pair[1]) return pair[0];
  }
  return undefined;
}

/**
 * True when an identity changed at or after `since` ("racy": a second change
 * in the same clock tick could keep the same identity). By mtime; with
 * `ctime`, by the ctime too, which Deno gives in whole seconds and so counts
 * as the end of its second: then a file whose mtime was set back (tar,
 * `cp -p`) is trusted only once a later change must move its ctime on.
 */
export function changedSince(id: string, since: number, opts: { ctime?: boolean } = {}): boolean {
  if (id === "-") return false;
  const [, mtime, ctime] = id.slice(1).split("|").map(Number);
  if ((mtime ?? 0) >= since) return true;
  return !!opts.ctime && (ctime ?? 0) + 1000 > since;
}
