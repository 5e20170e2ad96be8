/** SHA256SUMS files, in the format `sha256sum` writes and `sha256sum -c` checks. */
import * as path from "../path.ts";
import { isFile } from "../fs.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { nodeSha256 } from "../hash.ts";

/** The text of a SHA256SUMS file: `<hex>  <name>` per line, in the given order. */
export function formatSha256Sums(entries: [name: string, sha256: string][]): string {
  return entries.map(([name, sum]) => `${sum}  ${name}\n`).join("");
}

/** Reads a SHA256SUMS text into name → hex (binary-mode `*name` lines too). */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = line.match(/^([0-9a-f]{64}) [ *](.+)$/);
    if (match) sums.set(match[2]!, match[1]!);
  }
  return sums;
}

/** Hashes the named files of `dir` and writes `dir`/SHA256SUMS; returns the entries. */
export async function writeSha256Sums(
  dir: string,
  names: string[],
): Promise<[string, string][]> {
  const entries: [string, string][] = [];
  for (const name of [...names].sort()) {
    const file = path.join(dir, name);
    if (!isFile(file)) continue;
    entries.push([name, nodeSha256().update(await Deno.readFile(file)).digest("hex")]);
  }
  await writeFileAtomic(path.join(dir, "SHA256SUMS"), formatSha256Sums(entries));
  return entries;
}
