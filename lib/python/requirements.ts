/**
 * requirements.txt files (pip's format: PEP 508 lines, options, comments,
 * continuations, hashes), PEP 440 specifier logic (overlap of two specifiers),
 * and minimal textual edits that keep everything else untouched.
 */
import { isFile } from "../fs.ts";
import * as path from "../path.ts";
import { ConfigError } from "../errors.ts";
import { normalizeName } from "./names.ts";

/** One requirement (a PEP 508 line or a URL/path requirement). */
export interface Requirement {
  kind: "requirement";
  /** The name as written (undefined for a bare URL or path without `#egg=`). */
  name?: string;
  /** PEP 503 normalized name. */
  key?: string;
  extras: string[];
  /** The version specifier, e.g. `>=1.0,<2` (empty when none). */
  specifier: string;
  markers?: string;
  /** `name @ URL`, or a bare URL/path requirement. */
  url?: string;
  /** Per-requirement options such as `--hash=sha256:…`. */
  options: string[];
  /** True for `-e TARGET`. */
  editable?: boolean;
  /** First physical line (1-based). */
  line: number;
  /** The logical line (continuations joined), without its comment. */
  text: string;
  /** Where the specifier starts and ends in the first physical line (for edits). */
  specStart: number;
  specEnd: number;
}

/** An option line: `-r FILE`, `-c FILE`, `--index-url URL`, `--pre`, … */
export interface OptionLine {
  kind: "option";
  option: string;
  value?: string;
  line: number;
  text: string;
}

/** One meaningful line of a requirements file. */
export type RequirementsEntry = Requirement | OptionLine;

const OPTIONS_WITH_VALUE: Record<string, string> = {
  "-r": "-r",
  "--requirement": "-r",
  "-c": "-c",
  "--constraint": "-c",
  "-e": "-e",
  "--editable": "-e",
  "-i": "--index-url",
  "--index-url": "--index-url",
  "--extra-index-url": "--extra-index-url",
  "-f": "--find-links",
  "--find-links": "--find-links",
  "--trusted-host": "--trusted-host",
  "--only-binary": "--only-binary",
  "--no-binary": "--no-binary",
  "--use-feature": "--use-feature",
  "--config-settings": "--config-settings",
};

const FLAG_OPTIONS = new Set(["--no-index", "--pre", "--prefer-binary", "--require-hashes"]);

const PER_REQUIREMENT_OPTIONS = new Set([
  "--hash",
  "--global-option",
  "--config-settings",
  "--install-option",
]);

const NAME = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/;
const CLAUSE = /^(~=|===|==|!=|<=|>=|<|>)\s*([A-Za-z0-9][A-Za-z0-9.*+!_-]*)$/;

/** Thrown by `parseRequirement` for text that is not a PEP 508 requirement. */
export class RequirementSyntaxError extends Error {}

/** Parses a requirements file's text; a malformed line is a ConfigError naming file and line. */
export function parseRequirements(text: string, file: string): RequirementsEntry[] {
  const physical = text.split(/\r?\n/);
  const entries: RequirementsEntry[] = [];
  for (let i = 0; i < physical.length; i++) {
    const start = i;
    let logical = physical[i]!;
    while (/\\$/.test(logical) && i + 1 < physical.length) {
      logical = logical.slice(0, -1) + physical[++i]!;
    }
    if (/\\$/.test(logical)) logical = logical.slice(0, -1);
    const content = stripComment(logical).trim();
    if (!content) continue;
    const lineNo = start + 1;
    try {
      entries.push(parseLine(content, lineNo, logical));
    } catch (error) {
      if (error instanceof RequirementSyntaxError) {
        throw new ConfigError(
          file,
          lineNo,
          error.message,
          "Fix the line (pip's format: https://pip.pypa.io/en/stable/reference/requirements-file-format/), then run: rig install",
        );
      }
      throw error;
    }
  }
  return entries;
}

/** Removes a `#` comment (a `#` at the start or after whitespace; URLs keep `#egg=`). */
export function stripComment(line: string): string {
  const m = line.match(/(^|\s)#/);
  return m ? line.slice(0, m.index) : line;
}

function parseLine(content: string, line: number, raw: string): RequirementsEntry {
  if (content.startsWith("-")) {
    const m = content.match(/^(--?[A-Za-z][\w-]*)(?:\s*=\s*|\s+)?(.*)$/);
    const option = m?.[1] ?? content;
    const value = (m?.[2] ?? "").trim();
    if (option === "-e" || option === "--editable") {
      if (!value) throw new RequirementSyntaxError(`option "${option}" needs a path or URL`);
      return editableRequirement(value, line, raw);
    }
    const canonical = OPTIONS_WITH_VALUE[option];
    if (canonical) {
      if (!value) throw new RequirementSyntaxError(`option "${option}" needs a value`);
      return { kind: "option", option: canonical, value, line, text: content };
    }
    if (FLAG_OPTIONS.has(option)) {
      if (value) throw new RequirementSyntaxError(`option "${option}" takes no value`);
      return { kind: "option", option, line, text: content };
    }
    throw new RequirementSyntaxError(`unknown option "${option}"`);
  }
  const requirement = parseRequirement(content);
  requirement.line = line;
  // Offsets refer to the first physical line; find the requirement's start there.
  const offset = raw.indexOf(content.slice(0, Math.min(content.length, 8)));
  requirement.specStart += Math.max(0, offset);
  requirement.specEnd += Math.max(0, offset);
  return requirement;
}

function editableRequirement(value: string, line: number, raw: string): Requirement {
  const egg = value.match(/#egg=([A-Za-z0-9._-]+)/)?.[1];
  return {
    kind: "requirement",
    name: egg,
    key: egg ? normalizeName(egg) : undefined,
    extras: [],
    specifier: "",
    url: value,
    options: [],
    editable: true,
    line,
    text: raw.trim(),
    specStart: -1,
    specEnd: -1,
  };
}

/** Parses one PEP 508 requirement (`name[extras] spec ; markers`, `name @ url`, or a URL/path). */
export function parseRequirement(input: string): Requirement {
  let text = input.trim();
  const options: string[] = [];
  const optionAt = text.search(/\s--?[A-Za-z]/);
  if (optionAt >= 0) {
    const tokens = text.slice(optionAt).trim().split(/\s+/);
    text = text.slice(0, optionAt).trim();
    for (const token of tokens) {
      const name = token.split("=")[0]!;
      if (!PER_REQUIREMENT_OPTIONS.has(name)) {
        throw new RequirementSyntaxError(`unknown option "${name}" after a requirement`);
      }
      options.push(token);
    }
  }
  const base: Requirement = {
    kind: "requirement",
    extras: [],
    specifier: "",
    options,
    line: 0,
    text: input.trim(),
    specStart: -1,
    specEnd: -1,
  };
  if (
    /^(\.{0,2}\/|[A-Za-z][\w+.-]*:\/\/|[A-Za-z]:\\)/.test(text) || /\.(whl|tar\.gz|zip)$/.test(text)
  ) {
    const egg = text.match(/#egg=([A-Za-z0-9._-]+)/)?.[1];
    return { ...base, url: text, name: egg, key: egg ? normalizeName(egg) : undefined };
  }
  const nameMatch = text.match(NAME);
  if (!nameMatch) throw new RequirementSyntaxError(`cannot read a package name in "${text}"`);
  const name = nameMatch[1]!;
  let pos = name.length;
  const skipSpace = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  skipSpace();
  const extras: string[] = [];
  if (text[pos] === "[") {
    const close = text.indexOf("]", pos);
    if (close < 0) throw new RequirementSyntaxError(`unclosed "[" in "${text}"`);
    for (const extra of text.slice(pos + 1, close).split(",").map((e) => e.trim())) {
      if (!extra) continue;
      if (!NAME.test(extra) || extra.match(NAME)![1] !== extra) {
        throw new RequirementSyntaxError(`invalid extra "${extra}" in "${text}"`);
      }
      extras.push(extra);
    }
    pos = close + 1;
    skipSpace();
  }
  const afterName = pos;
  let rest = text.slice(pos);
  let markers: string | undefined;
  let url: string | undefined;
  let specifier = "";
  let specStart = afterName;
  let specEnd = afterName;
  if (rest.startsWith("@")) {
    const body = rest.slice(1).trim();
    const semi = body.search(/\s;/);
    url = (semi >= 0 ? body.slice(0, semi) : body).trim();
    if (!url) throw new RequirementSyntaxError(`missing URL after "@" in "${text}"`);
    if (semi >= 0) markers = body.slice(semi).trim().slice(1).trim();
  } else {
    const semi = rest.indexOf(";");
    if (semi >= 0) {
      markers = rest.slice(semi + 1).trim();
      rest = rest.slice(0, semi);
    }
    let spec = rest.trimEnd();
    specEnd = afterName + spec.length;
    if (spec.startsWith("(") && spec.endsWith(")")) spec = spec.slice(1, -1);
    spec = spec.trim();
    if (spec) {
      const clauses = spec.split(",").map((c) => c.trim());
      for (const clause of clauses) {
        if (!CLAUSE.test(clause)) {
          throw new RequirementSyntaxError(`invalid version specifier "${clause}" in "${text}"`);
        }
      }
      specifier = clauses.map((c) => c.replace(/\s+/g, "")).join(",");
    }
    specStart = afterName;
  }
  if (markers !== undefined && !markers) {
    throw new RequirementSyntaxError(`empty environment marker after ";" in "${text}"`);
  }
  if (markers !== undefined) {
    const problem = markerProblem(markers);
    if (problem) {
      throw new RequirementSyntaxError(`invalid environment marker "${markers}": ${problem}`);
    }
  }
  return {
    ...base,
    name,
    key: normalizeName(name),
    extras,
    specifier,
    markers,
    url,
    specStart,
    specEnd,
  };
}

/** The files a requirements file pulls in with `-r`/`-c`, recursively (absolute paths, no repeats). */
export function requirementIncludes(
  file: string,
  opts: { display?: (file: string) => string; seen?: Set<string> } = {},
): string[] {
  const absolute = path.resolve(file);
  const seen = opts.seen ?? new Set<string>();
  const display = opts.display ?? ((f: string) => path.basename(f));
  if (seen.has(absolute)) return [];
  seen.add(absolute);
  let text: string;
  try {
    text = Deno.readTextFileSync(absolute);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of parseRequirements(text, display(absolute))) {
    if (
      entry.kind === "option" && (entry.option === "-r" || entry.option === "-c") && entry.value
    ) {
      if (/^[a-z]+:\/\//i.test(entry.value)) continue;
      const included = path.resolve(path.dirname(absolute), entry.value);
      if (!isFile(included)) {
        throw new ConfigError(
          display(absolute),
          entry.line,
          `"${entry.option} ${entry.value}" names a file that does not exist`,
          `Create "${display(included)}" or fix the line, then run: rig install`,
        );
      }
      if (!seen.has(included)) {
        out.push(included);
        out.push(...requirementIncludes(included, { display, seen }));
      }
    }
  }
  return [...new Set(out)];
}

const MARKER_VARIABLES = new Set([
  "python_version",
  "python_full_version",
  "os_name",
  "sys_platform",
  "platform_release",
  "platform_system",
  "platform_version",
  "platform_machine",
  "platform_python_implementation",
  "implementation_name",
  "implementation_version",
  "extra",
  // Legacy names pip still accepts.
  "os.name",
  "sys.platform",
  "platform.version",
  "platform.machine",
  "platform.python_implementation",
  "python_implementation",
]);

const MARKER_TOKEN =
  /\s*(?:(\()|(\))|('[^']*'|"[^"]*")|(===|==|!=|<=|>=|~=|<|>)|([A-Za-z_][\w.]*))/y;

/**
 * Checks a PEP 508 environment marker (`python_version < "3.11" and sys_platform
 * == 'linux'`); returns what is wrong, or undefined when it is valid.
 */
export function markerProblem(marker: string): string | undefined {
  type Token = { kind: "(" | ")" | "string" | "op" | "word"; text: string };
  const tokens: Token[] = [];
  MARKER_TOKEN.lastIndex = 0;
  let index = 0;
  while (index < marker.length && marker.slice(index).trim()) {
    MARKER_TOKEN.lastIndex = index;
    const m = MARKER_TOKEN.exec(marker);
    if (!m) return `unexpected "${marker.slice(index).trim()}"`;
    index = MARKER_TOKEN.lastIndex;
    const kind = m[1] ? "(" : m[2] ? ")" : m[3] ? "string" : m[4] ? "op" : "word";
    tokens.push({ kind, text: m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]! });
  }
  let pos = 0;
  const peek = () => tokens[pos];
  const value = (): string | undefined => {
    const t = tokens[pos++];
    if (t?.kind === "string") return undefined;
    if (t?.kind === "word" && MARKER_VARIABLES.has(t.text)) return undefined;
    return t ? `unknown marker variable "${t.text}"` : "a comparison is incomplete";
  };
  const expression = (): string | undefined => {
    if (peek()?.kind === "(") {
      pos++;
      const inner = or();
      if (inner) return inner;
      if (tokens[pos++]?.kind !== ")") return `missing ")"`;
      return undefined;
    }
    const left = value();
    if (left) return left;
    const op = tokens[pos];
    if (op?.kind === "op" || op?.text === "in") pos++;
    else if (op?.text === "not" && tokens[pos + 1]?.text === "in") pos += 2;
    else return op ? `expected a comparison operator, found "${op.text}"` : "missing operator";
    return value();
  };
  const chain = (word: string, next: () => string | undefined) => (): string | undefined => {
    let problem = next();
    while (!problem && peek()?.text === word) {
      pos++;
      problem = next();
    }
    return problem;
  };
  const and = chain("and", expression);
  const or = chain("or", and);
  const problem = or();
  if (problem) return problem;
  return pos < tokens.length ? `unexpected "${tokens[pos]!.text}"` : undefined;
}

/** Requirements (not options) of a file's entries. */
export function requirementsOf(entries: RequirementsEntry[]): Requirement[] {
  return entries.filter((e): e is Requirement => e.kind === "requirement");
}

/** True when no version can satisfy both specifiers (PEP 440). */
export async function specifiersDisjoint(a: string, b: string): Promise<boolean> {
  if (!a.trim() || !b.trim()) return false;
  const { satisfies } = await import("@renovatebot/pep440");
  for (const candidate of candidateVersions(a, b)) {
    try {
      if (satisfies(candidate, a) && satisfies(candidate, b)) return false;
      if (
        satisfies(candidate, a, { prereleases: true }) &&
        satisfies(candidate, b, { prereleases: true })
      ) return false;
    } catch {
      // A candidate the library cannot compare: try the next.
    }
  }
  return true;
}

/** Versions at and between every version a pair of specifiers mentions. */
function candidateVersions(a: string, b: string): string[] {
  const mentioned = new Set<string>();
  for (const clause of `${a},${b}`.split(",")) {
    const m = clause.trim().match(CLAUSE);
    if (m) mentioned.add(m[2]!.replace(/\.\*$/, ""));
  }
  const out = new Set<string>(["0", "0.0.0.0.1"]);
  for (const v of mentioned) {
    out.add(v);
    const release = v.match(/^(\d+(?:\.\d+)*)/)?.[1];
    if (!release) continue;
    const parts = release.split(".").map(Number);
    // Just above v, and the next major/minor/patch.
    out.add(`${release}.0.0.0.0.1`);
    out.add(`${release}.post1`);
    for (let i = 0; i < parts.length; i++) {
      const bumped = parts.slice(0, i + 1);
      bumped[i]! += 1;
      out.add(bumped.join("."));
    }
    // Just below v: decrement the last non-zero part and append a large one.
    for (let i = parts.length - 1; i >= 0; i--) {
      if (parts[i]! > 0) {
        const lower = parts.slice(0, i + 1);
        lower[i]! -= 1;
        out.add([...lower, 999999].join("."));
        break;
      }
    }
  }
  return [...out];
}

/** Replaces a requirement's specifier in its file's text, touching nothing else. */
export function replaceSpecifier(
  text: string,
  requirement: Requirement,
  specifier: string,
): string {
  if (requirement.url || requirement.specStart < 0) {
    throw new Error(`Cannot change the version of a URL requirement on line ${requirement.line}`);
  }
  const lines = text.split("\n");
  const index = requirement.line - 1;
  const original = lines[index]!;
  const before = original.slice(0, requirement.specStart).trimEnd();
  const after = original.slice(requirement.specEnd);
  const spaced = after && !/^\s/.test(after) && !after.startsWith("\r") ? ` ${after}` : after;
  lines[index] = `${before}${specifier}${spaced}`;
  return lines.join("\n");
}

/** Appends a line to a file's text (adding the missing final newline first). */
export function appendLine(text: string, line: string): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  if (text && !text.endsWith("\n")) text += eol;
  return `${text}${line}${eol}`;
}

/** Formats a requirement for writing: `name[extras]spec ; markers`. */
export function formatRequirement(
  r: Pick<Requirement, "name" | "extras" | "specifier" | "markers" | "url">,
): string {
  const extras = r.extras.length ? `[${r.extras.join(",")}]` : "";
  if (r.url) return `${r.name ?? ""}${extras} @ ${r.url}${r.markers ? ` ; ${r.markers}` : ""}`;
  return `${r.name}${extras}${r.specifier}${r.markers ? ` ; ${r.markers}` : ""}`;
}

/** A string item of a TOML array, with its position in the text. */
export interface TomlArrayItem {
  value: string;
  /** Index of the opening quote and just after the closing quote. */
  start: number;
  end: number;
}

/** A TOML array `key = [ … ]` found textually in a table, with its items. */
export interface TomlArray {
  /** Index of `[` and of the matching `]`. */
  open: number;
  close: number;
  items: TomlArrayItem[];
}

/** Finds `key = [...]` inside `[table]` of a TOML text (strings only), without a TOML library. */
export function findTomlArray(text: string, table: string, key: string): TomlArray | undefined {
  const header = new RegExp(`^[ \\t]*\\[[ \\t]*${escapeRe(table)}[ \\t]*\\][ \\t]*(#.*)?$`, "m");
  const h = header.exec(text);
  if (!h) return undefined;
  let pos = h.index + h[0].length;
  const rest = text.slice(pos);
  const nextHeader = rest.search(/^[ \t]*\[/m);
  const tableEnd = nextHeader >= 0 ? pos + nextHeader : text.length;
  const keyRe = new RegExp(`^[ \\t]*"?${escapeRe(key)}"?[ \\t]*=[ \\t]*\\[`, "m");
  const body = text.slice(pos, tableEnd);
  const k = keyRe.exec(body);
  if (!k) return undefined;
  const open = pos + k.index + k[0].length - 1;
  pos = open + 1;
  const items: TomlArrayItem[] = [];
  while (pos < text.length) {
    const c = text[pos]!;
    if (c === "]") return { open, close: pos, items };
    if (c === "#") {
      while (pos < text.length && text[pos] !== "\n") pos++;
      continue;
    }
    if (c === '"' || c === "'") {
      const triple = text.startsWith(c.repeat(3), pos);
      const quote = triple ? c.repeat(3) : c;
      let i = pos + quote.length;
      let value = "";
      while (i < text.length && !text.startsWith(quote, i)) {
        if (c === '"' && text[i] === "\\" && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        value += text[i];
        i++;
      }
      items.push({ value, start: pos, end: i + quote.length });
      pos = i + quote.length;
      continue;
    }
    pos++;
  }
  return undefined;
}

/** Replaces one item of a TOML array with a new string (double-quoted). */
export function replaceTomlItem(text: string, item: TomlArrayItem, value: string): string {
  return text.slice(0, item.start) + JSON.stringify(value) + text.slice(item.end);
}

/** Appends a string to a TOML array, following its layout (one item a line, or inline). */
export function appendTomlItem(text: string, array: TomlArray, value: string): string {
  const quoted = JSON.stringify(value);
  const inside = text.slice(array.open + 1, array.close);
  const last = array.items[array.items.length - 1];
  if (!inside.includes("\n")) {
    const insert = last ? `, ${quoted}` : quoted;
    const at = last ? last.end : array.open + 1;
    const tail = last ? text.slice(at, array.close).replace(/^\s*,?\s*/, "") : "";
    return text.slice(0, at) + insert + (tail ? tail : "") + text.slice(array.close);
  }
  if (!last) {
    const indent = "    ";
    return text.slice(0, array.open + 1) + `\n${indent}${quoted},` + text.slice(array.open + 1);
  }
  const lineStart = text.lastIndexOf("\n", last.start) + 1;
  const indent = text.slice(lineStart, last.start).match(/^[ \t]*/)?.[0] ?? "    ";
  let after = last.end;
  let hadComma = false;
  const m = text.slice(after).match(/^[ \t]*,/);
  if (m) {
    after += m[0].length;
    hadComma = true;
  }
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const lineEnd = text.indexOf("\n", after);
  const endOfLine = lineEnd >= 0 && lineEnd < array.close ? lineEnd + 1 : -1;
  if (endOfLine < 0) {
    // The closing bracket sits on the last item's line.
    return text.slice(0, last.end) + `,${eol}${indent}${quoted},${eol}` +
      text.slice(after).replace(/^[ \t]*/, "");
  }
  const prefix = hadComma ? text.slice(0, endOfLine) : text.slice(0, last.end) + "," +
    text.slice(last.end, endOfLine);
  return prefix + `${indent}${quoted},${eol}` + text.slice(endOfLine);
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
