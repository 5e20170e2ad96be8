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
import * as path from "node:path";
import {
  compileRules,
  globToRegex as globToRegexSource,
  isPathIgnored,
  matchRuleSets,
  type RuleSet,
} from "../ignore.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { run } from "../proc.ts";
import { statCacheFile } from "../cache_paths.ts";
import { hashFile, type TextMode } from "./content_hash.ts";
import { RigError } from "../errors.ts";
import type { HashJob, HashResult } from "./hash_worker.ts";

export {
  crlfToLf,
  hashContent,
  hashFile,
  hashFileSync,
  looksBinary,
  type TextMode,
} from "./content_hash.ts";

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
    const inDirs = everything || dirs.some((d) => file.startsWith(d + "/") || file === d);
    if (!inDirs && !(include.rules.length && matchRuleSets([include], file, false))) continue;
    if (exclude.rules.length && isPathIgnored([exclude], file)) continue;
    if (venvs.length && venvs.some((v) => v === "." || file.startsWith(v + "/"))) continue;
    result.push(file);
  }
  // The default sort compares UTF-16 code units, the same order as comparePaths, only faster.
  return result.sort();
}

/** Compares posix paths by code unit, the order every manifest and key uses. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function normaliseDir(dir: string): string {
  const clean = path.posix.normalize(dir.replaceAll("\\", "/")).replace(/\/+$/, "");
  return clean === "." || clean === "/" || clean === "" ? "" : clean.replace(/^\.\//, "");
}

const ALWAYS_EXCLUDED_PATH = new RegExp(
  `(?:^|/)(?:${[...ALWAYS_EXCLUDED_DIRS].map((d) => d.replace(/\./g, "\\.")).join("|")})/|` +
    `(?:^|/)${ALWAYS_EXCLUDED_FILES.source.slice(1)}`,
);

function isAlwaysExcluded(file: string): boolean {
  // One regular expression per path: splitting 10,000 paths costs more than git's listing.
  return ALWAYS_EXCLUDED_PATH.test(file);
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
  // The root's file, then the nested ones the listing names (git lists tracked
  // .gitattributes files like any other), shallow before deep so deeper rules win.
  const nested = opts.files
    .filter((f) => f.endsWith("/.gitattributes"))
    .map((f) => f.slice(0, -"/.gitattributes".length))
    .sort((a, b) => depth(a) - depth(b) || comparePaths(a, b));
  for (const dir of ["", ...nested]) {
    const name = dir ? `${dir}/.gitattributes` : ".gitattributes";
    const parsed = readAttributes(path.join(root, name), dir);
    if (parsed) files.push(parsed);
  }
  let autocrlf = opts.autocrlf;
  if (autocrlf === undefined) {
    autocrlf = false;
    if (gitTop) {
      autocrlf = readAutocrlf(gitTop, opts.env);
      if (autocrlf === undefined) {
        try {
          const result = await run(["git", "config", "--get", "core.autocrlf"], {
            cwd: root,
            env: gitEnv(opts.env),
          });
          autocrlf = isAutocrlfOn(result.stdout);
        } catch {
          autocrlf = false; // No git: no autocrlf.
        }
      }
    }
  }
  return new TextRules(files, autocrlf ?? false);
}

function isAutocrlfOn(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v === "true" || v === "input" || v === "yes" || v === "on" || v === "1";
}

/**
 * core.autocrlf from the repository, global and system config files, read
 * directly: starting git costs more than the whole warm fingerprint. Returns
 * undefined when only git can tell (include directives, config from env vars,
 * a worktree's `.git` file, no HOME).
 */
export function readAutocrlf(
  gitTop: string,
  env: Record<string, string> | undefined,
): boolean | undefined {
  if (!env || env.GIT_CONFIG_COUNT || env.GIT_CONFIG_PARAMETERS || env.GIT_CONFIG) return undefined;
  const home = env.HOME ?? env.USERPROFILE;
  if (!home) return undefined;
  const gitDir = path.join(gitTop, ".git");
  try {
    if (!Deno.statSync(gitDir).isDirectory) return undefined;
  } catch {
    return undefined;
  }
  const globals = env.GIT_CONFIG_GLOBAL ? [env.GIT_CONFIG_GLOBAL] : [
    path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), "git", "config"),
    path.join(home, ".gitconfig"),
  ];
  // Later files override earlier ones: system, then global (XDG, then ~/.gitconfig), then the repository.
  const system = env.GIT_CONFIG_NOSYSTEM ? [] : [env.GIT_CONFIG_SYSTEM ?? "/etc/gitconfig"];
  let value: boolean | undefined;
  for (const file of [...system, ...globals, path.join(gitDir, "config")]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    let section = "";
    for (const raw of text.split("\n")) {
      const line = raw.replace(/[#;].*$/, "").trim();
      if (!line) continue;
      const header = line.match(/^\[\s*([^\]\s"]+)(?:\s+"[^"]*")?\s*\]/);
      if (header) {
        section = header[1]!.toLowerCase();
        if (section === "include" || section === "includeif") return undefined;
        continue;
      }
      const entry = line.match(/^([A-Za-z][\w-]*)\s*(?:=\s*(.*))?$/);
      if (section === "core" && entry && entry[1]!.toLowerCase() === "autocrlf") {
        value = entry[2] === undefined ? true : isAutocrlfOn(entry[2].replace(/^"|"$/g, ""));
      }
    }
  }
  return value ?? false;
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

/** Files modified this close to their hashing are re-hashed next time (git's "racy" entries). */
const RACY_WINDOW_MS = 1000;
const MAGIC = "RIGSTAT1";
const MODES: TextMode[] = ["raw", "text", "auto"];

/**
 * Remembers each file's hash together with its size, mtime, inode and ctime,
 * so an unchanged file is not read again. Persisted in a compact binary file
 * (written atomically) that loads in a few milliseconds for 10,000 files; a
 * missing or unreadable file is an empty cache.
 *
 * Layout: "RIGSTAT1", u32 count, u32 path bytes, the paths joined by "\n"
 * (UTF-8), 64 hex digits per hash, one mode byte per entry, padding to 8
 * bytes, then four float64 per entry: size, mtimeMs, ino, ctimeMs.
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
    let entries = new Map<string, StatEntry>();
    try {
      entries = decodeStatCache(await Deno.readFile(file));
    } catch {
      // Missing or corrupt: start empty; it is only a cache.
    }
    return new StatCache(file, entries);
  }

  /** Opens the project's stat cache in `.rig/cache/`. */
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
    if (
      entry[0] !== info.size || entry[1] !== (info.mtime?.getTime() ?? 0) ||
      entry[2] !== (info.ino ?? 0) || entry[3] !== (info.ctime?.getTime() ?? 0) ||
      entry[4] !== mode
    ) return undefined;
    // An entry hashed in the same moment its file changed may hide a later change.
    if (this.#racy.has(file)) return undefined;
    return entry[5];
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

  /** Forgets files that no longer exist or are no longer inputs. */
  forget(files: Iterable<string>): void {
    for (const file of files) {
      if (this.#entries.delete(file)) this.#dirty = true;
    }
  }

  /** Writes the cache when it changed (temp file + rename); racy entries are left out. */
  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    const kept: [string, StatEntry][] = [];
    for (const pair of this.#entries) {
      if (!this.#racy.has(pair[0])) kept.push(pair);
    }
    await writeFileAtomic(this.file, encodeStatCache(kept));
    this.#dirty = false;
  }
}

function encodeStatCache(entries: [string, StatEntry][]): Uint8Array {
  const encoder = new TextEncoder();
  const paths = encoder.encode(entries.map(([name]) => name).join("\n"));
  const count = entries.length;
  const head = 8 + 4 + 4;
  const numbersAt = Math.ceil((head + paths.length + 64 * count + count) / 8) * 8;
  const bytes = new Uint8Array(numbersAt + 32 * count);
  bytes.set(encoder.encode(MAGIC), 0);
  const view = new DataView(bytes.buffer);
  view.setUint32(8, count, true);
  view.setUint32(12, paths.length, true);
  bytes.set(paths, head);
  let at = head + paths.length;
  bytes.set(encoder.encode(entries.map(([, e]) => e[5]).join("")), at);
  at += 64 * count;
  for (let i = 0; i < count; i++) bytes[at + i] = MODES.indexOf(entries[i]![1][4]);
  const numbers = new Float64Array(bytes.buffer, numbersAt, 4 * count);
  for (let i = 0; i < count; i++) {
    const entry = entries[i]![1];
    numbers[4 * i] = entry[0];
    numbers[4 * i + 1] = entry[1];
    numbers[4 * i + 2] = entry[2];
    numbers[4 * i + 3] = entry[3];
  }
  return bytes;
}

function decodeStatCache(bytes: Uint8Array): Map<string, StatEntry> {
  const entries = new Map<string, StatEntry>();
  const decoder = new TextDecoder();
  if (bytes.length < 16 || decoder.decode(bytes.subarray(0, 8)) !== MAGIC) return entries;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(8, true);
  const pathBytes = view.getUint32(12, true);
  const head = 16;
  const numbersAt = Math.ceil((head + pathBytes + 64 * count + count) / 8) * 8;
  if (bytes.length !== numbersAt + 32 * count) return entries;
  const names = count ? decoder.decode(bytes.subarray(head, head + pathBytes)).split("\n") : [];
  if (names.length !== count) return entries;
  const hashes = decoder.decode(bytes.subarray(head + pathBytes, head + pathBytes + 64 * count));
  const modesAt = head + pathBytes + 64 * count;
  // Copy so the float64 view is aligned whatever the buffer's offset.
  const numbers = new Float64Array(bytes.slice(numbersAt).buffer);
  for (let i = 0; i < count; i++) {
    const mode = MODES[bytes[modesAt + i]!];
    if (!mode) return new Map();
    entries.set(names[i]!, [
      numbers[4 * i]!,
      numbers[4 * i + 1]!,
      numbers[4 * i + 2]!,
      numbers[4 * i + 3]!,
      mode,
      hashes.substring(64 * i, 64 * i + 64),
    ]);
  }
  return entries;
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
  /** Hash worker threads; default: one per core for jobs over 512 MB, else 0 (main thread). */
  workers?: number;
  /** Incremented with how many files were hashed and how many came from the stat cache. */
  counters?: { hashed: number; reused: number };
}

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
  const sorted = [...new Set(files)].sort();
  // Plain concatenation: path.join costs more than the stat for 10,000 files.
  const posix = Deno.build.os !== "windows" && !root.endsWith("/");
  const rules = opts.textRules ?? await loadTextRules(root, { files: sorted, env: opts.env });
  const trivial = rules.trivial;
  const hashes = new Map<string, string>();
  const todo: Omit<HashItem, "abs">[] = [];
  const gone: string[] = [];
  for (const file of sorted) {
    let info: Deno.FileInfo;
    try {
      // Synchronous stat is ~7x faster than awaiting 10,000 promises here.
      info = Deno.statSync(posix ? `${root}/${file}` : path.join(root, file));
    } catch (error) {
      if (isMissing(error)) {
        gone.push(file);
        continue;
      }
      throw unreadable(file, error);
    }
    if (!info.isFile) continue;
    const mode: TextMode = trivial ? "raw" : rules.modeFor(file);
    const known = opts.statCache?.lookup(file, info, mode);
    if (known) {
      hashes.set(file, known);
      if (opts.counters) opts.counters.reused++;
    } else todo.push({ file, info, mode });
  }
  const hashedAt = Date.now();
  const record = (item: HashItem, hash: string) => {
    hashes.set(item.file, hash);
    if (opts.counters) opts.counters.hashed++;
    opts.statCache?.remember(item.file, item.info, { mode: item.mode, hash, hashedAt });
  };
  const jobs = todo.map((item) => ({ ...item, abs: path.join(root, item.file) }));
  const workers = opts.workers ?? defaultWorkers(jobs);
  const left = workers > 0 ? await hashInWorkers(jobs, { workers, record }) : jobs;
  let next = 0;
  const hashOnMainThread = async () => {
    while (next < left.length) {
      const item = left[next++]!;
      try {
        record(item, await hashFile(item.abs, { size: item.info.size, mode: item.mode }));
      } catch (error) {
        if (isMissing(error)) continue; // deleted while we were hashing
        throw unreadable(item.file, error);
      }
    }
  };
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 8, left.length));
  await Promise.all(Array.from({ length: concurrency }, hashOnMainThread));
  opts.statCache?.forget(gone);
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

interface HashItem {
  file: string;
  abs: string;
  info: Deno.FileInfo;
  mode: TextMode;
}

/**
 * Worker threads only pay off for very large jobs: measured on a 2-core machine, the main thread
 * with 8 concurrent async reads already overlaps reading (kernel, I/O threads) with hashing, and
 * each worker costs ~100 ms to start, so 10,000 files (0.5 GB) hashed faster without workers.
 */
const WORKER_MIN_BYTES = 512 * 1024 * 1024;
const BATCH_FILES = 64;
const BATCH_BYTES = 16 * 1024 * 1024;

function defaultWorkers(jobs: HashItem[]): number {
  const cores = navigator.hardwareConcurrency ?? 1;
  if (cores < 2) return 0;
  const bytes = jobs.reduce((total, job) => total + job.info.size, 0);
  if (jobs.length < 2 || bytes < WORKER_MIN_BYTES) return 0;
  return Math.min(cores, 8);
}

/**
 * Hashes items on worker threads, largest first so one big file does not
 * finish last. Returns the items that still need hashing on the main thread
 * (all of them when workers cannot start, e.g. in a binary built without them).
 */
async function hashInWorkers(
  items: HashItem[],
  opts: { workers: number; record: (item: HashItem, hash: string) => void },
): Promise<HashItem[]> {
  const queue = [...items].sort((a, b) => b.info.size - a.info.size);
  const pending = new Map<number, HashItem>();
  const failures: { file: string; message: string }[] = [];
  let id = 0;
  const takeBatch = (): HashJob[] => {
    const batch: HashJob[] = [];
    let bytes = 0;
    while (queue.length && batch.length < BATCH_FILES && bytes < BATCH_BYTES) {
      const item = queue.shift()!;
      const job = { id: ++id, file: item.abs, size: item.info.size, mode: item.mode };
      pending.set(job.id, item);
      batch.push(job);
      bytes += item.info.size;
    }
    return batch;
  };
  const runWorker = (): Promise<void> =>
    new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(new URL("./hash_worker.ts", import.meta.url).href, {
          type: "module",
        });
      } catch (error) {
        reject(error);
        return;
      }
      const send = () => {
        const jobs = takeBatch();
        if (jobs.length === 0) {
          worker.terminate();
          resolve();
        } else worker.postMessage({ jobs });
      };
      worker.onmessage = (event: MessageEvent<{ results: HashResult[] }>) => {
        for (const result of event.data.results) {
          const item = pending.get(result.id);
          if (!item) continue;
          pending.delete(result.id);
          if (result.hash) opts.record(item, result.hash);
          else if (result.error) failures.push({ file: item.file, message: result.error });
        }
        send();
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        reject(new Error(event.message));
      };
      send();
    });
  const outcomes = await Promise.allSettled(
    Array.from({ length: Math.min(opts.workers, queue.length) }, runWorker),
  );
  if (failures.length) {
    const first = failures[0]!;
    throw unreadable(first.file, new Error(first.message));
  }
  if (outcomes.every((o) => o.status === "fulfilled")) return [];
  // Some worker failed to start or died: whatever it held is hashed here instead.
  return [...pending.values(), ...queue];
}

function unreadable(file: string, cause: unknown): RigError {
  return new RigError(
    `Cannot read input file "${file}": ${(cause as Error).message}`,
    "Fix its permissions, or leave it out of the component's inputs in rig.toml",
    { cause },
  );
}
