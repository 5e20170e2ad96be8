/**
 * The env file format: parsing `config/*.env.template` files and `.env` files
 * line by line (keeping comments and order), generators (`{{secret}}`,
 * `{{uuid}}`, `{{required}}`), annotations (`# type: port`, `# secret`) and `${OTHER}`
 * references. Every malformed line is a ConfigError naming the file and line.
 */
import { ConfigError } from "../errors.ts";

/** A value type declared with `# type: …` above a key. */
export type EnvType =
  | { kind: "string" | "int" | "bool" | "url" | "port" }
  | { kind: "enum"; values: string[] };

/** A value generator inside `{{…}}`. */
export type Generator =
  | { kind: "secret"; bytes: number; encoding: "hex" | "base64url" }
  | { kind: "uuid" }
  | { kind: "required" };

/** One line of an env file; `key` is set for `KEY=value` lines. */
export interface EnvLine {
  /** The line as written, without its newline. */
  text: string;
  /** 1-based line number. */
  line: number;
  key?: string;
  /** The value text after `=`, as written (quotes kept). */
  raw?: string;
  /** The value with quotes and inline comments removed, escapes applied. */
  value?: string;
}

/** A key of a template or `.env` file, with what its comments say about it. */
export interface EnvEntry {
  key: string;
  raw: string;
  value: string;
  /** The comment lines directly above the key (without `#`), joined by spaces. */
  description: string;
  type?: EnvType;
  /** Marked `# secret` in a template: its value is masked wherever rig writes it. */
  secret?: boolean;
  /** The generators in the value (templates only). */
  generators: Generator[];
  /** File as shown to users (relative to the project root). */
  file: string;
  line: number;
}

/** A parsed env file: all lines (for rewriting) and its keys in order. */
export interface EnvFile {
  file: string;
  lines: EnvLine[];
  entries: EnvEntry[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const GENERATOR = /\{\{([^{}]*)\}\}/g;
const REFERENCE = /\$\{([^}]*)\}/g;
const TYPE_LINE = /^type\s*:\s*(.*)$/i;
const SECRET_LINE = /^secret\s*$/i;

/** Parses env file text; `template` turns on generators and type annotations. */
export function parseEnvText(
  text: string,
  opts: { file: string; template: boolean },
): EnvFile {
  const { file, template } = opts;
  const lines: EnvLine[] = [];
  const entries: EnvEntry[] = [];
  const seen = new Map<string, number>();
  let comments: { text: string; line: number }[] = [];
  const source = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  if (source.length && source[source.length - 1] === "") source.pop();
  source.forEach((textLine, index) => {
    const line = index + 1;
    const trimmed = textLine.trim();
    lines.push({ text: textLine, line });
    if (trimmed === "") {
      comments = [];
      return;
    }
    if (trimmed.startsWith("#")) {
      comments.push({ text: trimmed.replace(/^#+\s?/, "").trim(), line });
      return;
    }
    const fail = (problem: string, hint?: string): never => {
      throw new ConfigError(file, line, problem, hint ?? "Write one KEY=value per line");
    };
    const body = trimmed.replace(/^export\s+/, "");
    const eq = body.indexOf("=");
    // .env lines may hold secrets: quote only template text back to the user.
    if (eq < 0) fail(template ? `expected KEY=value, got "${trimmed}"` : "expected KEY=value");
    const key = body.slice(0, eq).trim();
    if (!KEY.test(key)) {
      fail(
        `invalid key name "${key}"`,
        "Key names are letters, digits and underscores, not starting with a digit",
      );
    }
    const { value, raw } = unquote(body.slice(eq + 1).trim(), fail, template);
    const previous = seen.get(key);
    if (previous !== undefined) fail(`key "${key}" is already set on line ${previous}`);
    seen.set(key, line);
    for (const match of value.matchAll(REFERENCE)) {
      if (!KEY.test(match[1]!)) fail(`invalid reference "\${${match[1]}}" in "${key}"`);
    }
    let type: EnvType | undefined;
    let secret = false;
    const description: string[] = [];
    for (const comment of comments) {
      const typeMatch = template ? comment.text.match(TYPE_LINE) : null;
      if (template && SECRET_LINE.test(comment.text)) secret = true;
      else if (typeMatch) {
        type = parseType(typeMatch[1]!.trim(), (problem) => {
          throw new ConfigError(
            file,
            comment.line,
            problem,
            "Use one of: string, int, bool, url, port, enum(a|b)",
          );
        });
      } else if (comment.text) description.push(comment.text);
    }
    comments = [];
    const generators = template ? parseGenerators(value, key, fail) : [];
    Object.assign(lines[lines.length - 1]!, { key, raw, value });
    entries.push({
      key,
      raw,
      value,
      description: description.join(" "),
      type,
      ...(secret ? { secret } : {}),
      generators,
      file,
      line,
    });
  });
  return { file, lines, entries };
}

/** Splits a value from its inline comment: `raw` is the value as written, `value` unquoted. */
function unquote(
  text: string,
  fail: (problem: string) => never,
  echo: boolean,
): { value: string; raw: string } {
  const raw = text;
  const quote = raw[0];
  if (quote !== '"' && quote !== "'") {
    // An unquoted value ends at " #" (an inline comment), like dotenv.
    const hash = raw.search(/\s#/);
    const value = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    return { value, raw: value };
  }
  let out = "";
  let i = 1;
  for (; i < raw.length; i++) {
    const char = raw[i]!;
    if (char === quote) break;
    if (quote === '"' && char === "\\" && i + 1 < raw.length) {
      const next = raw[++i]!;
      out += next === "n" ? "\n" : next === "t" ? "\t" : next === "r" ? "\r" : next;
    } else out += char;
  }
  if (i >= raw.length) fail(`unterminated ${quote === '"' ? "double" : "single"} quote`);
  const rest = raw.slice(i + 1).trim();
  if (rest && !rest.startsWith("#")) {
    fail(`unexpected text after the closing quote${echo ? `: "${rest}"` : ""}`);
  }
  return { value: out, raw: raw.slice(0, i + 1) };
}

/** Parses a type annotation such as `port` or `enum(debug|info)`. */
export function parseType(text: string, fail: (problem: string) => never): EnvType {
  const simple = text.toLowerCase();
  if (["string", "int", "bool", "url", "port"].includes(simple)) {
    return { kind: simple as "string" | "int" | "bool" | "url" | "port" };
  }
  const enumMatch = text.match(/^enum\s*\((.*)\)$/i);
  if (enumMatch) {
    const values = enumMatch[1]!.split("|").map((v) => v.trim());
    if (values.length && values.every((v) => v !== "")) return { kind: "enum", values };
    fail(`invalid enum type "${text}": list values as enum(a|b|c)`);
  }
  return fail(`unknown type "${text}"`);
}

function parseGenerators(value: string, key: string, fail: (p: string, h?: string) => never) {
  const generators: Generator[] = [];
  for (const match of value.matchAll(GENERATOR)) {
    const spec = match[1]!.trim();
    const generator = parseGenerator(spec, fail);
    if (generator.kind === "required" && value.trim() !== match[0]) {
      fail(`"{{required}}" must be the whole value of "${key}"`, `Write: ${key}={{required}}`);
    }
    generators.push(generator);
  }
  return generators;
}

/** Parses the inside of `{{…}}`: `secret`, `secret:N`, `secret:N:base64url`, `uuid`, `required`. */
export function parseGenerator(
  spec: string,
  fail: (problem: string, hint?: string) => never,
): Generator {
  const hint = "Generators: {{secret}}, {{secret:N}}, {{secret:N:base64url}}, {{uuid}}, " +
    "{{required}}";
  const parts = spec.split(":").map((p) => p.trim());
  const [name, bytes, encoding] = parts;
  if (name === "uuid" && parts.length === 1) return { kind: "uuid" };
  if (name === "required" && parts.length === 1) return { kind: "required" };
  if (name === "secret" && parts.length <= 3) {
    const n = bytes === undefined ? 32 : Number(bytes);
    if (
      !Number.isInteger(n) || n < 1 || n > 1024 || (bytes !== undefined && !/^\d+$/.test(bytes))
    ) {
      fail(`invalid secret length "${bytes}" in "{{${spec}}}": use 1 to 1024 bytes`, hint);
    }
    const enc = encoding ?? "hex";
    if (enc !== "hex" && enc !== "base64url") {
      fail(`unknown secret encoding "${enc}" in "{{${spec}}}": use hex or base64url`, hint);
    }
    return { kind: "secret", bytes: n, encoding: enc as "hex" | "base64url" };
  }
  return fail(`unknown generator "{{${spec}}}"`, hint);
}

/** Produces a fresh value for a generator (Web Crypto randomness). */
export function generate(generator: Generator): string {
  if (generator.kind === "uuid") return crypto.randomUUID();
  if (generator.kind === "required") return "";
  const bytes = crypto.getRandomValues(new Uint8Array(generator.bytes));
  if (generator.encoding === "hex") {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Replaces every `{{…}}` generator in a template value with a fresh value. */
export function expandGenerators(text: string): string {
  // Values were validated when parsed; anything else in braces (say, in an inline comment)
  // stays as written.
  return text.replace(GENERATOR, (whole, spec: string) => {
    try {
      return generate(parseGenerator(spec.trim(), (problem) => {
        throw new Error(problem);
      }));
    } catch {
      return whole;
    }
  });
}

/** Checks a value against a type; returns the problem, or undefined when it fits. */
export function checkType(value: string, type: EnvType): string | undefined {
  switch (type.kind) {
    case "string":
      return undefined;
    case "int":
      return /^[+-]?\d+$/.test(value) ? undefined : "expected an integer";
    case "bool":
      return /^(true|false|1|0|yes|no|on|off)$/i.test(value)
        ? undefined
        : "expected a boolean (true, false, 1, 0, yes, no, on, off)";
    case "port": {
      const n = Number(value);
      return /^\d+$/.test(value) && n >= 1 && n <= 65535
        ? undefined
        : "expected a port number (1-65535)";
    }
    case "url":
      return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S*$/.test(value) && URL.canParse(value)
        ? undefined
        : "expected a URL such as scheme://host/path";
    case "enum":
      return type.values.includes(value) ? undefined : `expected one of ${type.values.join(", ")}`;
  }
}

/** Describes a type the way it is written in templates. */
export function formatType(type: EnvType): string {
  return type.kind === "enum" ? `enum(${type.values.join("|")})` : type.kind;
}

/** Where a raw value came from, for reference errors. */
export interface RawValue {
  value: string;
  /** File and line, when the value came from a file; process values are never expanded. */
  file?: string;
  line?: number;
}

/** Resolves `${OTHER}` references; unknown references and cycles are ConfigErrors. */
export function resolveReferences(
  raw: Map<string, RawValue>,
  fallback: Record<string, string>,
): Map<string, string> {
  const resolved = new Map<string, string>();
  const visiting: string[] = [];
  const resolve = (key: string): string => {
    const done = resolved.get(key);
    if (done !== undefined) return done;
    const entry = raw.get(key)!;
    if (entry.file === undefined) {
      resolved.set(key, entry.value);
      return entry.value;
    }
    visiting.push(key);
    const value = entry.value.replace(REFERENCE, (_, name: string) => {
      if (visiting.includes(name)) {
        throw new ConfigError(
          entry.file!,
          entry.line,
          `references form a cycle: ${
            [...visiting.slice(visiting.indexOf(name)), name].join(" → ")
          }`,
          "Replace one of the references with a value",
        );
      }
      if (raw.has(name)) return resolve(name);
      if (name in fallback) return fallback[name]!;
      throw new ConfigError(
        entry.file!,
        entry.line,
        `"${key}" references unknown key "\${${name}}"`,
        `Define ${name} in a template or .env file, or export ${name}`,
      );
    });
    visiting.pop();
    resolved.set(key, value);
    return value;
  };
  for (const key of raw.keys()) resolve(key);
  return resolved;
}

/** True when a value names `${OTHER}` keys. */
export function hasReferences(value: string): boolean {
  return /\$\{[^}]*\}/.test(value);
}

/** Formats a value for a `.env` line, quoting it when needed. */
export function formatValue(value: string): string {
  if (value === "" || /^[\w@%+=:,./~${}*?!^&()[\]<>|-]+$/.test(value)) return value;
  return `"${
    value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n").replaceAll(
      "\r",
      "\\r",
    )
  }"`;
}
