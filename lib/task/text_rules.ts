/**
 * Git's line-ending rules (`.gitattributes` text / text=auto / eol, and
 * core.autocrlf): which files git would normalise, so they are hashed with CRLF
 * turned into LF and keys agree across operating systems.
 */
import * as path from "../path.ts";
import { globToRegex as globToRegexSource } from "../ignore.ts";
import { run } from "../proc.ts";
import { findGitDir, gitConfigFiles, gitEnv } from "../git.ts";
import { comparePaths } from "./input_listing.ts";
import { type TextMode } from "./content_hash.ts";
import { posixRelative } from "../fs.ts";

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
      const rel = posixRelative(root, dir);
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
  let value: boolean | undefined;
  // Later files override earlier ones: system, then global (XDG, then ~/.gitconfig), then the repository.
  for (const file of gitConfigFiles(gitDir, env)) {
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
