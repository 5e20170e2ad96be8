/**
 * Which files are a task's inputs: `listInputs` asks git for tracked plus
 * untracked-not-ignored files (or walks the folders applying .gitignore rules
 * outside git), minus environments, dependencies, caches and build output.
 */
import { readDirIfPresent } from "../fs.ts";
import * as path from "../path.ts";
import { compileRules, isPathIgnored, matchRuleSets, type RuleSet } from "../ignore.ts";
import { rememberedGitListing } from "./listing_memo.ts";

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
  // Other task runners' caches and logs, beside rig in a repository that also uses them.
  ".turbo",
  ".nx",
  ".pants.d",
  // Frontend frameworks' build caches.
  ".next",
  ".nuxt",
  ".svelte-kit",
  ".parcel-cache",
]);

/** File names that are never inputs (coverage data, OS litter). */
const ALWAYS_EXCLUDED_FILES = /^(?:\.coverage(?:\..*)?|coverage\.xml|lcov\.info|\.DS_Store)$/;

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
  const all = (opts.useGit ?? true)
    ? await rememberedGitListing(root, opts.env, ALWAYS_EXCLUDED_DIRS)
    : undefined;
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

async function walkFiles(root: string, starts: string[], wholeTree: boolean): Promise<string[]> {
  const out: string[] = [];
  // Include globs may name files anywhere, so then the whole tree is walked.
  const roots = wholeTree ? [""] : starts;
  const rootRules = await readRules(root, "");
  const visit = async (dir: string, sets: RuleSet[]) => {
    const abs = dir ? path.join(root, dir) : root;
    const own = dir ? await readRules(root, dir) : undefined;
    const active = own ? [...sets, own] : sets;
    const entries = await readDirIfPresent(abs);
    if (!entries) return;
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
