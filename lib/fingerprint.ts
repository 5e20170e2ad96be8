/**
 * Which files are a task's inputs, and what their content hashes are.
 *
 * `listInputs` asks git for tracked plus untracked-not-ignored files (or walks
 * the folders applying .gitignore rules outside git); `fingerprint` hashes them
 * with SHA-256, skipping files whose stat data (size, mtime, inode, ctime) is
 * unchanged since the last run thanks to a persisted `StatCache`. Text files
 * that git would normalise (`.gitattributes` text / text=auto, core.autocrlf)
 * are hashed with CRLF turned into LF so keys agree across operating systems.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import {
  compileRules,
  globToRegex as globToRegexSource,
  isPathIgnored,
  matchRuleSets,
  type RuleSet,
} from "./ignore.ts";
import { writeFileAtomic } from "./fs_atomic.ts";
import { run } from "./proc.ts";
import { statCacheFile } from "./cache_paths.ts";

/** Input file path (posix, relative to the root) → SHA-256 hex of its (normalised) content. */
export type Manifest = Record<string, string>;

/** Folder names that are never inputs: environments, dependencies, caches and build output. */
export const ALWAYS_EXCLUDED_DIRS: ReadonlySet<string> = new Set([
  ".git",
  ".hg",
  ".svn",
  ".venv",
  "venv",
  "node_modules",
  ".rig",
  "__pycache__",
  ".pytest_cache",
  ".mypy_cache",
  ".ruff_cache",
  ".tox",
  ".nox",
  "dist",
  "coverage",
  "htmlcov",
  ".nyc_output",
]);

/** File names that are never inputs (coverage data, OS litter). */
const ALWAYS_EXCLUDED_FILES = /^(?:\.coverage(?:\..*)?|coverage\.xml|lcov\.info|\.DS_Store)$/;

/** A minimal PATH for git when the caller passes no environment. */
const FALLBACK_PATH = Deno.build.os === "windows"
  ? "C:\\Program Files\\Git\\cmd;C:\\Windows\\System32"
  : "/usr/local/bin:/usr/bin:/bin:/opt/homebrew/bin";

/** Options of `listInputs`. */
export interface ListInputsOptions {
  /** Folders whose files are inputs, posix and relative to the root (`"."` for all). */
  dirs: string[];
  /** Extra gitignore-style globs relative to the root that are inputs too (e.g. `rig.toml`). */
  include?: string[];
  /** gitignore-style globs relative to the root that are never inputs (e.g. `*.log`, `docs/`). */
  exclude?: string[];
  /** The environment git runs with (pass `ctx.env`); only PATH/HOME matter. */
  env?: Record<string, string>;
  /** Set false to skip git and walk the folders with .gitignore rules (default true). */
  useGit?: boolean;
}

/**
 * Lists input files below `root`: tracked plus untracked-not-ignored files
 * (through git when `root` is inside a repository, else through .gitignore
 * rules), restricted to `dirs` and `include`, minus `exclude` and the folders in
 * `ALWAYS_EXCLUDED_DIRS` and any virtualenv. Returns sorted posix paths
 * relative to `root`. A tracked file deleted from the work tree may be listed;
 * `fingerprint` leaves it out.
 */
export async function listInputs(root: string, opts: ListInputsOptions): Promise<string[]> {
  const dirs = opts.dirs.map(normaliseDir);
  const include = compileRules(opts.include ?? []);
  const exclude = compileRules(opts.exclude ?? []);
  const everything = dirs.includes("");
  const all = (opts.useGit ?? true) ? await gitFiles(root, opts.env) : undefined;
  const candidates = all ??
    await walkFiles(root, everything ? [""] : dirs, include.rules.length > 0);
  const venvs = candidates.filter((f) => f === "pyvenv.cfg" || f.endsWith("/pyvenv.cfg"))
    .map((f) => path.posix.dirname(f));
  const result: string[] = [];
  for (const file of candidates) {
    if (isAlwaysExcluded(file)) continue;
    const inDirs = everything || dirs.some((d) => file.startsWith(d + "/"));
    if (!inDirs && !(include.rules.length && matchRuleSets([include], file, false))) continue;
    if (exclude.rules.length && isPathIgnored([exclude], file)) continue;
    if (venvs.length && venvs.some((v) => v === "." || file.startsWith(v + "/"))) continue;
    result.push(file);
  }
  return result.sort(comparePaths);
}

/** Compares posix paths by code unit, the order every manifest and key uses. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function normaliseDir(dir: string): string {
  const clean = path.posix.normalize(dir.replaceAll("\\", "/")).replace(/\/+$/, "");
  return clean === "." || clean === "/" || clean === "" ? "" : clean.replace(/^\.\//, "");
}

function isAlwaysExcluded(file: string): boolean {
  const parts = file.split("/");
  const name = parts.pop()!;
  if (ALWAYS_EXCLUDED_FILES.test(name)) return true;
  return parts.some((p) => ALWAYS_EXCLUDED_DIRS.has(p));
}

async function gitFiles(
  root: string,
  env: Record<string, string> | undefined,
): Promise<string[] | undefined> {
  if (!findGitDir(root)) return undefined;
  let result;
  try {
    result = await run(
      ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      { cwd: root, env: gitEnv(env) },
    );
  } catch {
    return undefined; // git is not installed: fall back to .gitignore rules
  }
  if (!result.success) return undefined;
  const files = result.stdout.split("\0").filter(Boolean);
  // A path listed twice (unmerged index stages) is one input.
  return [...new Set(files)];
}

function gitEnv(env: Record<string, string> | undefined): Record<string, string> {
  const base: Record<string, string> = env ? { ...env } : { PATH: FALLBACK_PATH };
  // Reading must not take git's index lock away from the user's own git commands.
  base.GIT_OPTIONAL_LOCKS = "0";
  delete base.GIT_DIR;
  delete base.GIT_WORK_TREE;
  delete base.GIT_INDEX_FILE;
  return base;
}

/** The folder holding `.git` at or above `root`, or undefined outside a repository. */
export function findGitDir(root: string): string | undefined {
  for (let dir = path.resolve(root);; dir = path.dirname(dir)) {
    try {
      Deno.statSync(path.join(dir, ".git"));
      return dir;
    } catch {
      // Keep looking upwards.
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

async function walkFiles(root: string, starts: string[], wholeTree: boolean): Promise<string[]> {
  const out: string[] = [];
  // Include globs may name files anywhere, so then the whole tree is walked.
  const roots = wholeTree ? [""] : starts;
  const rootRules = await readRules(root, "");
  const visit = async (dir: string, sets: RuleSet[]) => {
    const abs = dir ? path.join(root, dir) : root;
    const own = dir ? await readRules(root, dir) : undefined;
    const active = own ? [...sets, own] : sets;
    let entries: Deno.DirEntry[];
    try {
      entries = [];
      for await (const entry of Deno.readDir(abs)) entries.push(entry);
    } catch {
      return;
    }
    for (const entry of entries) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      let isDir = entry.isDirectory;
      let isFile = entry.isFile;
      if (entry.isSymlink) {
        try {
          const info = await Deno.stat(path.join(abs, entry.name));
          isDir = info.isDirectory;
          isFile = info.isFile;
        } catch {
          continue;
        }
      }
      if (isDir) {
        if (ALWAYS_EXCLUDED_DIRS.has(entry.name) || entry.isSymlink) continue;
        if (matchRuleSets(active, rel, true) === true) continue;
        await visit(rel, active);
      } else if (isFile) {
        if (matchRuleSets(active, rel, false) === true) continue;
        out.push(rel);
      }
    }
  };
  const base = rootRules ? [rootRules] : [];
  for (const start of new Set(roots)) {
    if (start === "") {
      await visit("", base);
      continue;
    }
    // Rules of the folders between the root and the start folder apply too.
    const sets = [...base];
    const parts = start.split("/");
    let ignored = false;
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (matchRuleSets(sets, parent, true) === true) ignored = true;
      const rules = await readRules(root, parent);
      if (rules) sets.push(rules);
    }
    if (ignored || matchRuleSets(sets, start, true) === true) continue;
    await visit(start, sets);
  }
  return out;
}

async function readRules(root: string, dir: string): Promise<RuleSet | undefined> {
  try {
    const text = await Deno.readTextFile(path.join(root, dir, ".gitignore"));
    return compileRules(text.split("\n"), dir);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Text normalisation (git's CRLF rules)

/** How a file's bytes are hashed: as they are, as text (CRLF → LF), or text when it looks like text. */
export type TextMode = "raw" | "text" | "auto";

interface AttributeRule {
  regex: RegExp;
  text?: "set" | "unset" | "auto" | "unspecified";
  eol?: boolean;
}

interface AttributeFile {
  /** The folder of the .gitattributes file, relative to the fingerprint root ("" for the root, "../x" above it). */
  prefix: string;
  rules: AttributeRule[];
}

/** Decides, per file, whether git would normalise its line endings. */
export class TextRules {
  constructor(readonly files: AttributeFile[], readonly autocrlf: boolean) {}

  /** The text mode of a file (posix path relative to the fingerprint root). */
  modeFor(file: string): TextMode {
    let text: AttributeRule["text"];
    let eol = false;
    for (const attributes of this.files) {
      let relative: string;
      if (attributes.prefix === "") relative = file;
      else if (attributes.prefix.startsWith("..")) {
        relative = path.posix.join(attributes.prefix, file).replace(/^(\.\.\/)+/, "");
      } else if (file.startsWith(attributes.prefix + "/")) {
        relative = file.slice(attributes.prefix.length + 1);
      } else continue;
      for (const rule of attributes.rules) {
        if (!rule.regex.test(relative)) continue;
        if (rule.text) text = rule.text;
        if (rule.eol !== undefined) eol = rule.eol;
      }
    }
    if (text === "set") return "text";
    if (text === "unset") return "raw";
    if (text === "auto") return "auto";
    if (eol) return "text";
    return this.autocrlf ? "auto" : "raw";
  }

  /** True when no file can be normalised (the common case: nothing to check). */
  get trivial(): boolean {
    return !this.autocrlf && this.files.every((f) => f.rules.length === 0);
  }
}

/** Options of `loadTextRules`. */
export interface TextRulesOptions {
  /** The files that will be hashed; their folders are searched for .gitattributes. */
  files: string[];
  /** The environment git runs with, to read core.autocrlf (pass `ctx.env`). */
  env?: Record<string, string>;
  /** Overrides core.autocrlf instead of asking git. */
  autocrlf?: boolean;
}

/** Reads the .gitattributes files that apply below `root` and git's core.autocrlf. */
export async function loadTextRules(root: string, opts: TextRulesOptions): Promise<TextRules> {
  const gitTop = findGitDir(root);
  const files: AttributeFile[] = [];
  // .gitattributes above the root (up to the repository's top) apply as well.
  if (gitTop) {
    const above: string[] = [];
    for (let dir = path.resolve(root); dir !== gitTop;) {
      dir = path.dirname(dir);
      above.unshift(dir);
      if (path.dirname(dir) === dir) break;
    }
    for (const dir of above) {
      const rel = path.relative(root, dir).split(path.sep).join("/");
      const parsed = readAttributes(path.join(dir, ".gitattributes"), rel);
      if (parsed) files.push(parsed);
    }
  }
  const dirs = new Set<string>([""]);
  for (const file of opts.files) {
    for (
      let dir = path.posix.dirname(file);
      dir !== "." && !dirs.has(dir);
      dir = path.posix.dirname(dir)
    ) {
      dirs.add(dir);
    }
  }
  const ordered = [...dirs].sort((a, b) => depth(a) - depth(b) || comparePaths(a, b));
  const listed = new Set(opts.files);
  for (const dir of ordered) {
    const name = dir ? `${dir}/.gitattributes` : ".gitattributes";
    // Most folders have none; only stat the ones the listing did not already tell about.
    if (!listed.has(name) && dir !== "") continue;
    const parsed = readAttributes(path.join(root, name), dir);
    if (parsed) files.push(parsed);
  }
  let autocrlf = opts.autocrlf;
  if (autocrlf === undefined) {
    autocrlf = false;
    if (gitTop) {
      try {
        const result = await run(["git", "config", "--get", "core.autocrlf"], {
          cwd: root,
          env: gitEnv(opts.env),
        });
        const value = result.stdout.trim().toLowerCase();
        autocrlf = value === "true" || value === "input";
      } catch {
        // No git: no autocrlf.
      }
    }
  }
  return new TextRules(files, autocrlf);
}

function depth(dir: string): number {
  return dir === "" ? 0 : dir.split("/").length;
}

function readAttributes(file: string, prefix: string): AttributeFile | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return undefined;
  }
  return { prefix, rules: parseAttributes(text) };
}

/** Parses .gitattributes text into the rules that concern line endings. */
export function parseAttributes(text: string): AttributeRule[] {
  const rules: AttributeRule[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("[attr]")) continue;
    const [pattern, ...attributes] = line.split(/\s+/);
    if (!pattern || pattern.startsWith("!")) continue;
    const rule: AttributeRule = { regex: attributeRegex(pattern) };
    for (const attribute of attributes) {
      if (attribute === "text" || attribute === "crlf") rule.text = "set";
      else if (attribute === "-text" || attribute === "-crlf" || attribute === "binary") {
        rule.text = "unset";
      } else if (attribute === "text=auto") rule.text = "auto";
      else if (attribute === "!text") rule.text = "unspecified";
      else if (attribute.startsWith("eol=") || attribute === "crlf=input") rule.eol = true;
      else if (attribute === "-eol" || attribute === "!eol") rule.eol = false;
    }
    if (rule.text !== undefined || rule.eol !== undefined) rules.push(rule);
  }
  return rules;
}

function attributeRegex(pattern: string): RegExp {
  const anchored = pattern.includes("/");
  const text = pattern.replace(/^\//, "");
  // Folder patterns (`dir/`) do not apply to files in gitattributes.
  if (text.endsWith("/")) return /$^/;
  return new RegExp(
    anchored ? `^${globToRegexSource(text)}$` : `^(?:.*/)?${globToRegexSource(text)}$`,
  );
}

/** True when git's `text=auto` would treat these bytes as binary (NUL, lone CR, or mostly control bytes). */
export function looksBinary(bytes: Uint8Array): boolean {
  let printable = 0;
  let nonPrintable = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if (b === 13) {
      if (bytes[i + 1] !== 10) return true;
      continue;
    }
    if (b === 127) nonPrintable++;
    else if (b < 32) {
      // Backspace, escape, form feed, tab and newline count as printable, as in git.
      if (b === 8 || b === 27 || b === 12 || b === 9 || b === 10) printable++;
      else nonPrintable++;
    } else printable++;
  }
  return (printable >> 7) < nonPrintable;
}

/** Replaces every CRLF with LF (lone CRs stay); returns the input when it has none. */
export function crlfToLf(bytes: Uint8Array): Uint8Array {
  let at = bytes.indexOf(13);
  if (at < 0) return bytes;
  const out = new Uint8Array(bytes.length);
  let written = 0;
  let from = 0;
  while (at >= 0) {
    if (bytes[at + 1] === 10) {
      out.set(bytes.subarray(from, at), written);
      written += at - from;
      from = at + 1;
    }
    at = bytes.indexOf(13, at + 1);
  }
  out.set(bytes.subarray(from), written);
  written += bytes.length - from;
  return out.subarray(0, written);
}

/** SHA-256 hex of bytes after the normalisation `mode` asks for. */
export function hashContent(bytes: Uint8Array, mode: TextMode): string {
  let data = bytes;
  if (mode === "text") data = crlfToLf(bytes);
  else if (mode === "auto" && bytes.indexOf(13) >= 0 && !looksBinary(bytes)) data = crlfToLf(bytes);
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------------------
// Stat cache

type StatEntry = [
  size: number,
  mtimeMs: number,
  ino: number,
  ctimeMs: number,
  mode: TextMode,
  hash: string,
];

const STAT_CACHE_VERSION = 1;
/** Files modified this close to their hashing are re-hashed next time (git's "racy" entries). */
const RACY_WINDOW_MS = 1000;

/**
 * Remembers each file's hash together with its size, mtime, inode and ctime,
 * so an unchanged file is not read again. Persisted as JSON (written
 * atomically); a missing or unreadable file is an empty cache.
 */
export class StatCache {
  #entries: Map<string, StatEntry>;
  #racy = new Set<string>();
  #dirty = false;

  private constructor(readonly file: string | undefined, entries: Map<string, StatEntry>) {
    this.#entries = entries;
  }

  /** An empty cache that is never saved (for tests and one-off hashing). */
  static memory(): StatCache {
    return new StatCache(undefined, new Map());
  }

  /** Loads the stat cache from `file` (an empty one when it is missing or corrupt). */
  static async load(file: string): Promise<StatCache> {
    const entries = new Map<string, StatEntry>();
    try {
      const data = JSON.parse(await Deno.readTextFile(file));
      if (
        data?.version === STAT_CACHE_VERSION && data.entries && typeof data.entries === "object"
      ) {
        for (const [name, entry] of Object.entries(data.entries)) {
          if (Array.isArray(entry) && entry.length === 6) entries.set(name, entry as StatEntry);
        }
      }
    } catch {
      // Missing or corrupt: start empty; it is only a cache.
    }
    return new StatCache(file, entries);
  }

  /** Opens the project's stat cache in `.rig/cache/stat-cache.json`. */
  static open(root: string): Promise<StatCache> {
    return StatCache.load(statCacheFile(root));
  }

  /** Number of remembered files. */
  get size(): number {
    return this.#entries.size;
  }

  /** The remembered hash when the file's stat data and text mode are unchanged. */
  lookup(file: string, info: Deno.FileInfo, mode: TextMode): string | undefined {
    const entry = this.#entries.get(file);
    if (!entry) return undefined;
    const [size, mtimeMs, ino, ctimeMs, entryMode, hash] = entry;
    if (
      size !== info.size || mtimeMs !== (info.mtime?.getTime() ?? 0) ||
      ino !== (info.ino ?? 0) || ctimeMs !== (info.ctime?.getTime() ?? 0) || entryMode !== mode
    ) return undefined;
    // An entry hashed in the same moment its file changed may hide a later change.
    if (this.#racy.has(file)) return undefined;
    return hash;
  }

  /** Remembers a file's hash; `hashedAt` is when its content was read (ms since epoch). */
  remember(
    file: string,
    info: Deno.FileInfo,
    opts: { mode: TextMode; hash: string; hashedAt: number },
  ): void {
    const mtimeMs = info.mtime?.getTime() ?? 0;
    const entry: StatEntry = [
      info.size,
      mtimeMs,
      info.ino ?? 0,
      info.ctime?.getTime() ?? 0,
      opts.mode,
      opts.hash,
    ];
    if (mtimeMs >= opts.hashedAt - RACY_WINDOW_MS) this.#racy.add(file);
    else this.#racy.delete(file);
    this.#entries.set(file, entry);
    this.#dirty = true;
  }

  /** Writes the cache when it changed (temp file + rename). */
  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    const entries: Record<string, StatEntry> = {};
    for (const [name, entry] of this.#entries) {
      if (!this.#racy.has(name)) entries[name] = entry;
    }
    await writeFileAtomic(this.file, JSON.stringify({ version: STAT_CACHE_VERSION, entries }));
    this.#dirty = false;
  }
}

// ---------------------------------------------------------------------------
// Hashing

/** Options of `fingerprint`. */
export interface FingerprintOptions {
  /** Skips files whose stat data is unchanged since they were last hashed; saved afterwards. */
  statCache?: StatCache;
  /** Line-ending rules; loaded from .gitattributes and core.autocrlf when absent. */
  textRules?: TextRules;
  /** The environment git runs with when text rules are loaded (pass `ctx.env`). */
  env?: Record<string, string>;
  /** Files read at once (default 8). */
  concurrency?: number;
  /** Incremented with how many files were hashed and how many came from the stat cache. */
  counters?: { hashed: number; reused: number };
}

/** Files at least this large are hashed in streamed chunks instead of read whole. */
const STREAM_THRESHOLD = 8 * 1024 * 1024;
const CHUNK_SIZE = 4 * 1024 * 1024;

/**
 * Hashes `files` (posix paths relative to `root`) into a manifest, sorted by
 * path. Files that do not exist or are not regular files are left out. With a
 * stat cache, files whose size, mtime, inode and ctime are unchanged are not
 * read again, and the cache is saved afterwards.
 */
export async function fingerprint(
  root: string,
  files: string[],
  opts: FingerprintOptions = {},
): Promise<Manifest> {
  const sorted = [...new Set(files)].sort(comparePaths);
  const rules = opts.textRules ?? await loadTextRules(root, { files: sorted, env: opts.env });
  const trivial = rules.trivial;
  const hashes = new Map<string, string>();
  const todo: { file: string; info: Deno.FileInfo; mode: TextMode }[] = [];
  for (const file of sorted) {
    let info: Deno.FileInfo;
    try {
      // Synchronous stat is ~7x faster than awaiting 10,000 promises here.
      info = Deno.statSync(path.join(root, file));
    } catch (error) {
      if (isMissing(error)) continue;
      throw error;
    }
    if (!info.isFile) continue;
    const mode: TextMode = trivial ? "raw" : rules.modeFor(file);
    const known = opts.statCache?.lookup(file, info, mode);
    if (known) {
      hashes.set(file, known);
      if (opts.counters) opts.counters.reused++;
    } else todo.push({ file, info, mode });
  }
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const item = todo[next++]!;
      const hashedAt = Date.now();
      let hash: string;
      try {
        hash = await hashFile(path.join(root, item.file), {
          size: item.info.size,
          mode: item.mode,
        });
      } catch (error) {
        if (isMissing(error)) continue; // deleted while we were hashing
        throw error;
      }
      hashes.set(item.file, hash);
      if (opts.counters) opts.counters.hashed++;
      opts.statCache?.remember(item.file, item.info, { mode: item.mode, hash, hashedAt });
    }
  };
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 8, todo.length));
  await Promise.all(Array.from({ length: concurrency }, worker));
  await opts.statCache?.save();
  const manifest: Manifest = {};
  for (const file of sorted) {
    const hash = hashes.get(file);
    if (hash) manifest[file] = hash;
  }
  return manifest;
}

function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
}

/** SHA-256 hex of one file's content after line-ending normalisation (`mode`, default raw). */
export async function hashFile(
  file: string,
  opts: { size?: number; mode?: TextMode } = {},
): Promise<string> {
  const mode = opts.mode ?? "raw";
  const size = opts.size ?? (await Deno.stat(file)).size;
  if (size < STREAM_THRESHOLD) return hashContent(await Deno.readFile(file), mode);
  return await hashStream(file, mode);
}

async function hashStream(file: string, mode: TextMode): Promise<string> {
  const hash = createHash("sha256");
  using handle = await Deno.open(file, { read: true });
  const buffers = [new Uint8Array(CHUNK_SIZE), new Uint8Array(CHUNK_SIZE)];
  let current = 0;
  let pending = readFull(handle, buffers[0]!);
  let normalise: boolean | undefined = mode === "text" ? true : mode === "raw" ? false : undefined;
  let carriedCr = false;
  for (;;) {
    const length = await pending;
    if (length === 0) break;
    const chunk = buffers[current]!.subarray(0, length);
    current ^= 1;
    // Read the next chunk while this one is hashed: the two cores overlap I/O and hashing.
    pending = readFull(handle, buffers[current]!);
    // For text=auto on a large file, git's quick binary check looks at the first 8000 bytes.
    normalise ??= !looksBinaryPrefix(chunk.subarray(0, 8000));
    if (!normalise) {
      hash.update(chunk);
      continue;
    }
    let body = chunk;
    if (carriedCr) {
      if (body[0] !== 10) hash.update(CR);
      carriedCr = false;
    }
    if (body[body.length - 1] === 13) {
      carriedCr = true;
      body = body.subarray(0, body.length - 1);
    }
    hash.update(crlfToLf(body));
  }
  if (carriedCr) hash.update(CR);
  return hash.digest("hex");
}

const CR = new Uint8Array([13]);

function looksBinaryPrefix(bytes: Uint8Array): boolean {
  return bytes.indexOf(0) >= 0;
}

async function readFull(handle: Deno.FsFile, buffer: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const read = await handle.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return filled;
}
