/**
 * gitignore-style patterns: `.gitignore` rules for projects outside git, the
 * include/exclude globs of cache inputs, and `.gitattributes` path patterns.
 * Semantics follow gitignore(5): `*`, `?`, `[...]`, `**`, a leading or middle
 * `/` anchors to the file's folder, a trailing `/` matches folders only, `!`
 * re-includes, and the last matching rule wins.
 */

/** One compiled pattern line. */
export interface PatternRule {
  /** The pattern as written (after trimming). */
  source: string;
  negate: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

/** Rules read from one file (or given as globs), relative to folder `base` ("" for the root). */
export interface RuleSet {
  base: string;
  rules: PatternRule[];
}

/** Compiles one gitignore-style pattern; undefined for blank lines and comments. */
export function compilePattern(line: string): PatternRule | undefined {
  let text = line.replace(/\r$/, "");
  if (!text || text.startsWith("#")) return undefined;
  // Trailing spaces are ignored unless escaped with a backslash.
  text = text.replace(/(?<!\\)\s+$/, "");
  if (!text) return undefined;
  let negate = false;
  if (text.startsWith("!")) {
    negate = true;
    text = text.slice(1);
  } else if (text.startsWith("\\!") || text.startsWith("\\#")) {
    text = text.slice(1);
  }
  let dirOnly = false;
  if (text.endsWith("/")) {
    dirOnly = true;
    text = text.replace(/\/+$/, "");
  }
  if (!text) return undefined;
  const anchored = text.includes("/");
  if (text.startsWith("/")) text = text.slice(1);
  const body = globToRegex(text);
  const regex = new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
  return { source: line.trim(), negate, dirOnly, regex };
}

/** Compiles the lines of a .gitignore file (or a list of globs) into a rule set. */
export function compileRules(lines: string[], base = ""): RuleSet {
  const rules: PatternRule[] = [];
  for (const line of lines) {
    const rule = compilePattern(line);
    if (rule) rules.push(rule);
  }
  return { base, rules };
}

/** Converts a glob (no leading `/`) into a regular expression source over posix paths. */
export function globToRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const afterSlash = i === 0 || glob[i - 1] === "/";
        if (afterSlash && glob[i + 2] === "/") {
          out += "(?:.*/)?";
          i += 2;
          continue;
        }
        if (afterSlash && i + 2 === glob.length) {
          out += ".*";
          i += 1;
          continue;
        }
        out += "[^/]*";
        i += 1;
        continue;
      }
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
    } else if (c === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close < 0) {
        out += "\\[";
        continue;
      }
      let inner = glob.slice(i + 1, close);
      let negated = false;
      if (inner.startsWith("!") || inner.startsWith("^")) {
        negated = true;
        inner = inner.slice(1);
      }
      inner = inner.replace(/\\/g, "\\\\").replace(/\]/g, "\\]");
      out += negated ? `[^/${inner}]` : `[${inner}]`;
      i = close;
    } else if (c === "\\" && i + 1 < glob.length) {
      out += escapeRegex(glob[i + 1]!);
      i += 1;
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/**
 * Decides a path's fate against rule sets ordered from the root outwards (a
 * deeper `.gitignore` wins over a higher one). Returns true (ignored), false
 * (re-included by `!`) or undefined (no rule matched). Only the path itself is
 * tested, not its parent folders; see `isPathIgnored`.
 */
export function matchRuleSets(
  sets: readonly RuleSet[],
  file: string,
  isDir: boolean,
): boolean | undefined {
  let verdict: boolean | undefined;
  for (const set of sets) {
    let relative: string;
    if (set.base === "") relative = file;
    else if (file.startsWith(set.base + "/")) relative = file.slice(set.base.length + 1);
    else continue;
    for (const rule of set.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(relative)) verdict = !rule.negate;
    }
  }
  return verdict;
}

/**
 * True when a file (posix path) is excluded by the rule sets, counting its
 * parent folders: a file inside an ignored folder is ignored, as in git.
 */
export function isPathIgnored(sets: readonly RuleSet[], file: string): boolean {
  let slash = file.indexOf("/");
  while (slash >= 0) {
    if (matchRuleSets(sets, file.slice(0, slash), true) === true) return true;
    slash = file.indexOf("/", slash + 1);
  }
  return matchRuleSets(sets, file, false) === true;
}
