/**
 * rig as one JavaScript file: `deno bundle` of main.ts with the npm packages
 * and templates inlined, and the hash worker embedded as a data: URL, so it
 * needs nothing beside it; packed (gzip, base64) into the last line of a
 * small entry module (bundle_main.ts) that answers `--version` and
 * remembered answers without evaluating the rest. Minified: fewer bytes for
 * Deno to check against its code cache and for V8 to load. Used by
 * `deno task bundle` and by `rig self install` when rig runs from source.
 */
import * as path from "../path.ts";
import { EnvironmentError, RigError } from "../errors.ts";
import { isFile } from "../fs.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { sha256Hex } from "../hash.ts";
import { runChecked } from "../proc.ts";
import { RIG_VERSION } from "../version.ts";
import { PACKED_BYTES, PACKED_PREFIX, PACKED_SHA256 } from "./packed.ts";

/** The first line of every bundle: how `isBundle` recognises one, and what it is. */
export const BUNDLE_HEADER =
  `// rig ${RIG_VERSION} bundle: run it with "deno run -A --no-config rig.js"`;

/** How the hash worker is started in lib/task/fingerprint.ts, which a bundle must rewrite. */
const WORKER_REFERENCE = /new URL\("\.\/hash_worker\.ts",\s*import\.meta\.url\)\.href/g;

/** What was bundled. */
export interface BundleInfo {
  file: string;
  bytes: number;
  sha256: string;
}

/** Options for `bundleRig`. */
export interface BundleOptions {
  /** The deno executable that runs `deno bundle`. */
  deno: string;
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** Bundles rig's source tree (`sourceRoot`/main.ts) into the single file `out`. */
export async function bundleRig(
  sourceRoot: string,
  out: string,
  opts: BundleOptions,
): Promise<BundleInfo> {
  const scratch = await Deno.makeTempDir({ prefix: "rig-bundle-" });
  try {
    const bundle = (entry: string, file: string) =>
      runChecked(
        [opts.deno, "bundle", "--quiet", "--minify", "--platform", "deno", "-o", file, entry],
        { cwd: sourceRoot, env: opts.env, signal: opts.signal },
      );
    const main = path.join(scratch, "rig.js");
    const worker = path.join(scratch, "hash_worker.js");
    const entry = path.join(scratch, "entry.js");
    await bundle(path.join(sourceRoot, "main.ts"), main);
    await bundle(path.join(sourceRoot, "lib", "task", "hash_worker.ts"), worker);
    await bundle(path.join(sourceRoot, "bundle_main.ts"), entry);
    const rig = embedWorker(await Deno.readTextFile(main), await Deno.readTextFile(worker));
    const text = `${BUNDLE_HEADER}\n${await packInto(await Deno.readTextFile(entry), rig)}`;
    await Deno.mkdir(path.dirname(out), { recursive: true });
    await writeFileAtomic(out, text);
    const bytes = new TextEncoder().encode(text);
    return { file: out, bytes: bytes.length, sha256: await sha256Hex(bytes) };
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/**
 * The bundle's entry (bundle_main.ts) with `rig` packed into its
 * last line, gzipped and in base64, and the size and checksum of `rig` in
 * place of the entry's placeholders.
 */
export async function packInto(entry: string, rig: string): Promise<string> {
  const code = new TextEncoder().encode(rig);
  let filled = entry;
  for (
    const [placeholder, value] of [
      [PACKED_SHA256, await sha256Hex(code)],
      [PACKED_BYTES, String(code.length)],
    ]
  ) {
    const quoted = JSON.stringify(placeholder!);
    if (!filled.includes(quoted)) {
      throw new RigError(
        `Cannot pack rig into its bundle: the entry has no ${quoted}`,
        "bundle_main.ts must use PACKED_SHA256 and PACKED_BYTES of lib/ship/packed.ts",
      );
    }
    filled = filled.replaceAll(quoted, JSON.stringify(value));
  }
  const stream = new Blob([code]).stream().pipeThrough(new CompressionStream("gzip"));
  const packed = new Uint8Array(await new Response(stream).arrayBuffer());
  return `${filled.trimEnd()}\n${PACKED_PREFIX}${base64(packed)}\n`;
}

/** Replaces the worker's module URL with a data: URL of the bundled worker. */
export function embedWorker(bundle: string, worker: string): string {
  const found = bundle.match(WORKER_REFERENCE)?.length ?? 0;
  if (found !== 1) {
    throw new RigError(
      `Cannot embed the hash worker: the bundle starts it ${found} times, expected once`,
      "lib/task/fingerprint.ts changed how it starts hash_worker.ts: update WORKER_REFERENCE in lib/ship/bundle.ts",
    );
  }
  const url = `data:text/javascript;base64,${base64(worker)}`;
  return bundle.replace(WORKER_REFERENCE, JSON.stringify(url));
}

/** True when `text` is (the start of) a rig bundle. */
export function isBundle(text: string): boolean {
  return text.startsWith("// rig ") && text.split("\n", 1)[0]!.includes(" bundle: ");
}

function base64(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * The text of the running rig as a bundle: the file itself when rig runs from
 * a bundle, a fresh `deno bundle` when it runs from source (`main.ts` in a
 * checkout). A compiled binary has neither, which is an EnvironmentError.
 */
export async function runningBundle(entry: string, opts: BundleOptions): Promise<string> {
  const file = path.fromFileUrl(entry);
  if (file && isFile(file) && file.endsWith(".js")) {
    const text = await Deno.readTextFile(file);
    if (isBundle(text)) return text;
  }
  const sourceRoot = file ? path.dirname(file) : undefined;
  if (
    file && sourceRoot && path.basename(file) === "main.ts" &&
    isFile(path.join(sourceRoot, "lib", "ship", "bundle.ts"))
  ) {
    const scratch = await Deno.makeTempDir({ prefix: "rig-self-" });
    try {
      const info = await bundleRig(sourceRoot, path.join(scratch, "rig.js"), opts);
      return await Deno.readTextFile(info.file);
    } finally {
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }
  }
  throw new EnvironmentError(
    "This rig cannot copy itself: it runs neither from its bundle nor from source",
    "Run rig self install with the npm or PyPI package (npx <package> self install), or from a checkout: deno task rig self install",
  );
}
