/**
 * The entry point of rig's bundle (rig.js), as main.ts is rig's. Deno evaluates the whole of a module
 * before it runs, and rig whole is ~540 KB of minified JavaScript: about 6 ms
 * of every run before rig does anything. So the bundle is this small module,
 * with rig whole packed into its last line (`// rig packed: <gzip, base64>`,
 * see lib/ship/bundle.ts), and it answers what it can by itself:
 *
 * - `rig --version`;
 * - a remembered answer (lib/answer.ts): a cached `rig test` whose inputs did
 *   not change is shown with only the decision memo's modules loaded.
 *
 * Anything else runs rig whole: the packed line is unpacked once into the
 * user cache (`<user cache>/bundles/rig-<sha256>.js`, verified against the
 * checksum built into this module, the newest few kept) and imported from
 * there, where Deno keeps its code cache like any module's.
 */
// First import: its evaluation is the "entry" mark of RIG_TRACE=1.
import { mark, renderTrace } from "./lib/trace.ts";
import * as path from "./lib/path.ts";
import { EnvironmentError, RigError } from "./lib/errors.ts";
import { fileWriter, HeldOutput, type Stream, type Writer } from "./lib/ui.ts";
import {
  defaultFlags,
  parseGlobal,
  safeIsTerminal,
  uiFor,
  withoutDenoNodeShim,
} from "./lib/invocation.ts";
import { userCacheDir } from "./lib/cache_paths.ts";
import { memoAllowed, rememberedAnswer } from "./lib/answer.ts";
import { findRoot } from "./lib/project/root.ts";
import { sha256Hex } from "./lib/hash.ts";
import { writeFileAtomic } from "./lib/fs_atomic.ts";
import { RIG_VERSION } from "./lib/version.ts";
import { REPLAYERS } from "./commands/replayers.ts";
import { PACKED_BYTES, PACKED_PREFIX, PACKED_SHA256 } from "./lib/ship/packed.ts";

/** Unpacked rigs kept in the user cache (other versions, other checkouts). */
const KEEP = 4;

/** What the entry writes to. */
interface Streams {
  stdout: Writer;
  stderr: Writer;
}

/** Where the bundle runs. */
interface BundleRun {
  /** The bundle's file URL (import.meta.url). */
  entry: string;
  env: Record<string, string>;
  cwd: string;
}

/** Runs rig from the bundle with `args`; returns the exit code. */
async function runBundle(args: string[], run: BundleRun): Promise<number> {
  const { entry, cwd } = run;
  // Off the module's top-level frame: the first error thrown while that frame is on the
  // stack makes V8 look through the whole file for it (milliseconds).
  await Promise.resolve();
  mark("bundle entry");
  const streams = { stdout: fileWriter(Deno.stdout), stderr: fileWriter(Deno.stderr) };
  const env = withoutDenoNodeShim(run.env);
  let asked = false;
  try {
    const early = await earlyAnswer(args, { entry, env, cwd }, streams);
    if (early.code !== undefined) return early.code;
    asked = early.asked;
  } catch (error) {
    // The full run answers (and reports what is wrong, as it always would).
    mark(`no early answer: ${(error as Error).message}`);
  }
  let file: string;
  try {
    file = await unpackedRig(entry, env);
  } catch (error) {
    if (!(error instanceof RigError)) throw error;
    const ui = uiFor({ ...streams, tty: safeIsTerminal(Deno.stderr), env }, defaultFlags());
    ui.error(error.message, error.hint);
    ui.close();
    return error.exitCode;
  }
  const rig = await import(path.toFileUrl(file));
  return await rig.main(args, { ...streams, env, cwd, entry, askedMemo: asked });
}

/**
 * `--version`, or the remembered answer of a command line, shown whole; code
 * undefined when rig whole must answer (`asked`: the memo was looked at).
 */
async function earlyAnswer(
  args: string[],
  { entry, env, cwd: start }: BundleRun,
  streams: Streams,
): Promise<{ code?: number; asked: boolean }> {
  const parsed = parseGlobal(args);
  if (parsed.version) {
    streams.stdout.write(`rig ${RIG_VERSION}\n`);
    return { code: 0, asked: false };
  }
  const replayer = parsed.command && !parsed.help ? REPLAYERS[parsed.command] : undefined;
  const { flags } = parsed;
  if (!replayer || !memoAllowed({ flags, env })) return { asked: false };
  const held = new HeldOutput();
  const ui = uiFor({
    stdout: held.writer("stdout"),
    stderr: held.writer("stderr"),
    tty: safeIsTerminal(Deno.stderr),
    env,
  }, flags);
  ui.addRedaction((await import("./lib/env/redact.ts")).environmentMasker(env));
  const cwd = path.resolve(start, parsed.cwd ?? ".");
  const question = { root: findRoot(cwd), args, cwd, env, flags, ui, entry };
  const code = await rememberedAnswer(question, replayer, performance.now());
  if (code === undefined) return { asked: true };
  ui.close();
  if (env.RIG_TRACE) {
    mark("done");
    ui.stderr.write(`${renderTrace()}\n`);
  }
  held.flush(streams satisfies Record<Stream, Writer>);
  return { code, asked: true };
}

/** The file of rig whole, unpacked from the bundle `entry` when not yet in the user cache. */
async function unpackedRig(entry: string, env: Record<string, string>): Promise<string> {
  const bundle = path.fromFileUrl(entry);
  if (!bundle) throw new EnvironmentError(`rig's bundle runs from ${entry}, not from a file`);
  const bytes = Number(PACKED_BYTES);
  const dir = path.join(userCacheDir(env, Deno.build.os), "bundles");
  const file = path.join(dir, `rig-${PACKED_SHA256}.js`);
  try {
    if (Deno.statSync(file).size === bytes) {
      mark("unpacked bundle found");
      return file;
    }
  } catch {
    // Not unpacked yet.
  }
  const code = await unpack(bundle, bytes);
  try {
    await writeFileAtomic(file, code);
    prune(dir, file);
    mark("bundle unpacked");
    return file;
  } catch {
    // A read-only user cache: a copy of this run's own.
    const copy = await Deno.makeTempFile({ prefix: "rig-", suffix: ".js" });
    await Deno.writeFile(copy, code);
    addEventListener("unload", () => {
      try {
        Deno.removeSync(copy);
      } catch {
        // Already gone.
      }
    });
    return copy;
  }
}

/** The packed rig of the bundle file `bundle`, checked against the size and checksum built in. */
async function unpack(bundle: string, bytes: number): Promise<Uint8Array> {
  const damaged = (why: string) =>
    new EnvironmentError(
      `${bundle} is damaged: the rig packed in it ${why}`,
      "Restore it (git checkout -- .rig-tool/rig.js in a project), or run: rig self update",
    );
  const text = await Deno.readTextFile(bundle);
  const at = text.lastIndexOf(`\n${PACKED_PREFIX}`);
  if (at < 0) throw damaged("is missing");
  let code: Uint8Array;
  try {
    const packed = Uint8Array.from(
      atob(text.slice(at + 1 + PACKED_PREFIX.length).trim()),
      (c) => c.charCodeAt(0),
    );
    const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
    code = new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    throw damaged("cannot be unpacked");
  }
  if (code.length !== bytes || await sha256Hex(code) !== PACKED_SHA256) {
    throw damaged("does not match its checksum");
  }
  return code;
}

/** Keeps the newest `KEEP` unpacked rigs in `dir`, `current` among them. */
function prune(dir: string, current: string): void {
  const found: { file: string; at: number }[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const file = path.join(dir, entry.name);
    if (!/^rig-[0-9a-f]{64}\.js$/.test(entry.name) || file === current) continue;
    try {
      found.push({ file, at: Deno.statSync(file).mtime?.getTime() ?? 0 });
    } catch {
      // Pruned by another rig.
    }
  }
  found.sort((a, b) => b.at - a.at);
  for (const { file } of found.slice(KEEP - 1)) {
    try {
      Deno.removeSync(file);
    } catch {
      // Pruned by another rig.
    }
  }
}

Deno.exit(
  await runBundle(Deno.args, { entry: import.meta.url, env: Deno.env.toObject(), cwd: Deno.cwd() }),
);
