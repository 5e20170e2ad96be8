/**
 * A static Python import graph for choosing which test files a change can
 * affect. A regex-based scanner reads `import a.b`, `from a import b`, relative
 * imports and multi-line parenthesised imports (skipping comments and strings);
 * modules resolve against the component's source roots (the folder and `src/`).
 */
import * as path from "../path.ts";

/** One import statement: `from <module> import <names>` or `import <module>`. */
export interface PyImport {
  /** Dotted module (empty for `from . import x`). */
  module: string;
  /** Imported names for `from` imports (`*` included); empty for plain imports. */
  names: string[];
  /** Leading dots of a relative import (0 for absolute). */
  level: number;
}

/** Removes comments and string literals (keeping line breaks) so they cannot look like imports. */
export function stripPython(source: string): string {
  let out = "";
  let i = 0;
  const n = source.length;
  while (i < n) {
    const ch = source[i]!;
    if (ch === "#") {
      while (i < n && source[i] !== "\n") i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const triple = source.startsWith(ch.repeat(3), i);
      const quote = triple ? ch.repeat(3) : ch;
      i += quote.length;
      out += '""';
      while (i < n) {
        if (source[i] === "\\") {
          i += 2;
          continue;
        }
        if (source.startsWith(quote, i)) {
          i += quote.length;
          break;
        }
        if (source[i] === "\n") {
          out += "\n";
          if (!triple) {
            i++;
            break;
          }
        }
        i++;
      }
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** Joins logical lines: backslash continuations and open parentheses span lines. */
function logicalLines(code: string): string[] {
  const lines: string[] = [];
  let current = "";
  let depth = 0;
  for (const raw of code.split("\n")) {
    let line = raw;
    const continued = /\\\s*$/.test(line);
    if (continued) line = line.replace(/\\\s*$/, " ");
    current += (current ? " " : "") + line;
    for (const ch of line) {
      if (ch === "(" || ch === "[" || ch === "{") depth++;
      else if (ch === ")" || ch === "]" || ch === "}") depth = Math.max(0, depth - 1);
    }
    if (!continued && depth === 0) {
      lines.push(current);
      current = "";
    }
  }
  if (current) lines.push(current);
  return lines;
}

const DOTTED = /^[A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_][\w]*)*$/;

/** Finds the import statements of a Python source file. */
export function scanImports(source: string): PyImport[] {
  const found: PyImport[] = [];
  for (const line of logicalLines(stripPython(source))) {
    // Statements separated by ";" on one line, and imports nested in if/try blocks.
    for (const statement of line.split(";")) {
      const text = statement.trim();
      const from = text.match(/^from\s+(\.*)\s*([\w.\s]*?)\s+import\s+(.+)$/s);
      if (from) {
        const module = from[2]!.replace(/\s+/g, "");
        if (module && !DOTTED.test(module)) continue;
        const names = from[3]!.replace(/[()]/g, " ").split(",").map((part) =>
          part.trim().split(/\s+as\s+/)[0]!.trim()
        ).filter((name) => name === "*" || /^[A-Za-z_]\w*$/.test(name));
        found.push({ module, names, level: from[1]!.length });
        continue;
      }
      const plain = text.match(/^import\s+(.+)$/s);
      if (plain) {
        for (const part of plain[1]!.replace(/[()]/g, " ").split(",")) {
          const module = part.trim().split(/\s+as\s+/)[0]!.replace(/\s+/g, "");
          if (module && DOTTED.test(module)) found.push({ module, names: [], level: 0 });
        }
      }
    }
  }
  return found;
}

/** A component's Python modules and who imports whom. */
export interface ImportGraph {
  /** Dotted module name → file (relative to the component, `/` separators). */
  modules: Map<string, string>;
  /** File → files it imports (within the component). */
  imports: Map<string, Set<string>>;
}

/** The dotted module name of a file below one of `sourceRoots` (relative, `/` separators). */
export function moduleName(file: string, sourceRoots: string[]): string | undefined {
  const roots = [...sourceRoots].sort((a, b) => b.length - a.length);
  for (const root of roots) {
    const prefix = root === "." || root === "" ? "" : root.replace(/\/$/, "") + "/";
    if (!file.startsWith(prefix) || !file.endsWith(".py")) continue;
    const parts = file.slice(prefix.length, -3).split("/");
    if (parts[parts.length - 1] === "__init__") parts.pop();
    if (parts.length === 0 || parts.some((p) => !/^[A-Za-z_]\w*$/.test(p))) continue;
    return parts.join(".");
  }
  return undefined;
}

/** Builds the import graph of `files` (relative to the component, `.py` only) from their text. */
export function buildImportGraph(
  sources: Map<string, string>,
  options: { sourceRoots: string[] },
): ImportGraph {
  const modules = new Map<string, string>();
  for (const file of sources.keys()) {
    const name = moduleName(file, options.sourceRoots);
    // The first source root wins, like sys.path order.
    if (name && !modules.has(name)) modules.set(name, file);
  }
  const fileModule = new Map<string, string>();
  for (const [name, file] of modules) fileModule.set(file, name);
  const imports = new Map<string, Set<string>>();
  for (const [file, text] of sources) {
    const targets = new Set<string>();
    const own = fileModule.get(file) ?? moduleName(file, options.sourceRoots) ??
      file.replace(/\.py$/, "").split("/").join(".");
    const isPackage = file.endsWith("/__init__.py") || file === "__init__.py";
    for (const imp of scanImports(text)) {
      let base = imp.module;
      if (imp.level > 0) {
        const parts = own.split(".");
        // A module's package is its name minus the last part; a package is its own package.
        const keep = parts.length - (isPackage ? 0 : 1) - (imp.level - 1);
        if (keep < 0) continue;
        base = [...parts.slice(0, keep), ...(imp.module ? [imp.module] : [])].join(".");
      }
      const candidates: string[] = [];
      if (base) {
        const parts = base.split(".");
        // Importing a.b.c runs a/__init__ and a/b/__init__ too.
        for (let i = 1; i <= parts.length; i++) candidates.push(parts.slice(0, i).join("."));
      }
      for (const name of imp.names) {
        if (name !== "*") candidates.push(base ? `${base}.${name}` : name);
      }
      for (const candidate of candidates) {
        const target = modules.get(candidate);
        if (target && target !== file) targets.add(target);
      }
    }
    imports.set(file, targets);
  }
  return { modules, imports };
}

/** Why a set of test files was chosen. */
export interface TestSelection {
  /** True when every test file must run. */
  all: boolean;
  /** Test files to run (relative to the component), sorted; all of them when `all`. */
  files: string[];
  /** A sentence per reason. */
  reasons: string[];
}

const SELECT_ALL_FILES =
  /(^|\/)(conftest\.py|pyproject\.toml|setup\.cfg|setup\.py|tox\.ini|pytest\.ini|\.coveragerc|requirements[^/]*\.(txt|in)|poetry\.lock|uv\.lock|Pipfile(\.lock)?)$/;

/** True for files pytest collects by default (`test_*.py` or `*_test.py`). */
export function isTestFile(file: string): boolean {
  const base = path.posix.basename(file);
  return /^test_.*\.py$/.test(base) || /^.+_test\.py$/.test(base);
}

/**
 * The test files a change can affect: changed test files, and test files that
 * import a changed module directly or transitively. Configuration, conftest and
 * fixture changes, and Python files no test imports (possibly loaded
 * dynamically), select every test file.
 */
export function selectTests(
  graph: ImportGraph,
  options: { changed: string[]; testFiles: string[]; testDirs?: string[] },
): TestSelection {
  const testFiles = [...options.testFiles].sort();
  const everything = (reason: string): TestSelection => ({
    all: true,
    files: testFiles,
    reasons: [reason],
  });
  const testDirs = (options.testDirs ?? ["tests"]).map((d) => d.replace(/\/$/, "") + "/");
  const importers = new Map<string, Set<string>>();
  for (const [file, targets] of graph.imports) {
    for (const target of targets) {
      if (!importers.has(target)) importers.set(target, new Set());
      importers.get(target)!.add(file);
    }
  }
  const chosen = new Set<string>();
  const reasons: string[] = [];
  const testSet = new Set(testFiles);
  for (const file of options.changed) {
    if (SELECT_ALL_FILES.test(file)) {
      return everything(`"${file}" changed: it configures every test`);
    }
    if (testSet.has(file)) {
      chosen.add(file);
      reasons.push(`"${file}" changed`);
      continue;
    }
    if (!file.endsWith(".py")) {
      if (testDirs.some((d) => file.startsWith(d))) {
        return everything(`fixture "${file}" changed`);
      }
      return everything(`"${file}" changed and is not a Python module`);
    }
    // Reverse reachability: every file that reaches `file` through imports.
    const reached = new Set<string>();
    const queue = [file];
    while (queue.length) {
      const current = queue.pop()!;
      for (const importer of importers.get(current) ?? []) {
        if (!reached.has(importer)) {
          reached.add(importer);
          queue.push(importer);
        }
      }
    }
    const tests = [...reached].filter((f) => testSet.has(f)).sort();
    // pytest loads every conftest.py above a test file first: what a conftest imports (an
    // autouse fixture importing app.main) reaches the tests below it.
    const viaConftest = conftestTests([...reached], testFiles).filter((t) => !tests.includes(t));
    if (tests.length === 0 && viaConftest.length === 0) {
      return everything(`"${file}" changed and no test imports it (it may be loaded dynamically)`);
    }
    for (const t of [...tests, ...viaConftest]) chosen.add(t);
    const parts: string[] = [];
    if (tests.length) parts.push(`imported by ${tests.map((t) => `"${t}"`).join(", ")}`);
    if (viaConftest.length) {
      parts.push(`via conftest.py by ${viaConftest.map((t) => `"${t}"`).join(", ")}`);
    }
    reasons.push(`"${file}" changed: ${parts.join("; ")}`);
  }
  return { all: false, files: [...chosen].sort(), reasons };
}

/** The test files below the folders of the conftest.py files among `files`. */
function conftestTests(files: string[], testFiles: string[]): string[] {
  const dirs = files.filter((f) => path.posix.basename(f) === "conftest.py")
    .map((f) => path.posix.dirname(f));
  if (!dirs.length) return [];
  return testFiles.filter((t) => dirs.some((d) => d === "." || t.startsWith(d + "/"))).sort();
}
