/** Atomic file writes: a temp file in the same folder, then a rename, so readers never see half a file. */
import * as path from "./path.ts";

let counter = 0;

/** A unique temp file name beside `file` (process id + counter + random). */
export function tempSibling(file: string): string {
  const unique = `${Deno.pid}.${++counter}.${crypto.randomUUID().slice(0, 8)}`;
  return path.join(path.dirname(file), `.${path.basename(file)}.${unique}.tmp`);
}

/** Writes text or bytes to `file` atomically, creating its folder; `mode` sets permissions. */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: { mode?: number } = {},
): Promise<void> {
  await Deno.mkdir(path.dirname(file), { recursive: true });
  const temp = tempSibling(file);
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data, { mode: opts.mode });
    else await Deno.writeFile(temp, data, { mode: opts.mode });
    if (opts.mode !== undefined && Deno.build.os !== "windows") await Deno.chmod(temp, opts.mode);
    await Deno.rename(temp, file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Writes `data` as pretty JSON to `file` atomically. */
export async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(data, null, 2) + "\n");
}
