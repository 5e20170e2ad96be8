/**
 * Configuration without templates: a project that ships `.env`, `.env.example`
 * or `.env.sample` (the way most projects do) is read as layered files —
 * process environment > `.env.<name>` > `.env` > `.env.example` / `.env.sample`
 * — with the source of every value, placeholder values (`changethis`) flagged,
 * and `.env` created from the example only when it is missing (an untracked
 * file; rig never writes a tracked one as a side effect).
 */
import * as path from "../path.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { gitCheckIgnore, trackedFiles } from "../git.ts";
import { type EnvFile, parseEnvText, type RawValue, resolveReferences } from "./env_file.ts";
import { createMasker, isSecretKey, isSecretValue, urlPasswords } from "./env_mask.ts";

/** Where an effective value came from. */
export interface EnvSource {
  kind: "process" | "file" | "template";
  /** File relative to the project root (for "file" and "template"). */
  file?: string;
  line?: number;
}

/** A missing, invalid, unknown or placeholder key. */
export interface EnvProblem {
  key: string;
  kind: "missing" | "invalid" | "unknown" | "placeholder";
  /** What is wrong, never containing a secret value. */
  message: string;
  description: string;
  file?: string;
  line?: number;
  /** How to fix it. */
  fix: string;
  /** Placeholders: an error for production-like environments, else a warning. */
  severity?: "warning" | "error";
}

/** The example files rig reads when there is no `.env` (first found wins). */
export const EXAMPLE_FILES = [".env.example", ".env.sample"];

/** Environments where a placeholder value is an error rather than a warning. */
const STRICT_ENVIRONMENTS = new Set(["production", "prod", "staging"]);

// Values people leave in shipped .env files to be replaced: changethis, change-me, <your key>, …
const PLACEHOLDER =
  /^(change[-_ .]?(this|me|it)|replace[-_ .]?(this|me)|to[-_ ]?do|fixme|x{3,}|placeholder|your[-_ ].+|<[^<>]+>|\.{3})$/i;

/** True when a value is an obvious placeholder such as `changethis` or `<your-key>`. */
export function isPlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value.trim());
}

/** True when placeholders must be errors in this environment (production, prod, staging). */
export function isStrictEnvironment(name: string): boolean {
  return STRICT_ENVIRONMENTS.has(name);
}

/** One file of a layered configuration. */
export interface ConfigFile {
  /** Absolute path. */
  file: string;
  /** Relative to the project root, `/` separators. */
  display: string;
  /** `override`: `.env.<name>`; `env`: `.env`; `example`: `.env.example` / `.env.sample`. */
  role: "override" | "env" | "example";
}

/** The files an environment reads without templates, highest precedence first (existing or not). */
export function configFiles(root: string, name: string): ConfigFile[] {
  const at = (file: string, role: ConfigFile["role"]): ConfigFile => ({
    file: path.join(root, file),
    display: file,
    role,
  });
  return [
    ...(name === "development" ? [] : [at(`.env.${name}`, "override")]),
    at(".env", "env"),
    ...EXAMPLE_FILES.map((f) => at(f, "example")),
  ];
}

/** The effective configuration read from `.env`-style files. */
export interface FileConfig {
  name: string;
  /** The `.env` file (absolute), whether or not it exists. */
  file: string;
  fileExists: boolean;
  /** The files read, highest precedence first, relative to the root. */
  read: string[];
  /** The example file read (`.env.example` / `.env.sample`), when there is one. */
  example?: string;
  values: Record<string, string>;
  keys: string[];
  secretKeys: Set<string>;
  sources: Record<string, EnvSource>;
  descriptions: Record<string, string>;
  problems: EnvProblem[];
  mask(text: string): string;
}

async function readIfPresent(file: ConfigFile): Promise<EnvFile | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file.file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) {
      return undefined;
    }
    throw error;
  }
  return parseEnvText(text, { file: file.display, template: false });
}

/**
 * Reads an environment from `.env`-style files: process environment >
 * `.env.<name>` > `.env` > the example. Keys of `.env` the example lacks are
 * "unknown" warnings; placeholder values are problems (errors for production).
 */
export async function evaluateFiles(
  root: string,
  opts: { name: string; processEnv: Record<string, string> },
): Promise<FileConfig> {
  const { name, processEnv } = opts;
  const layers: { file: ConfigFile; parsed: EnvFile }[] = [];
  let exampleSeen = false;
  for (const file of configFiles(root, name)) {
    if (file.role === "example" && exampleSeen) continue;
    const parsed = await readIfPresent(file);
    if (!parsed) continue;
    if (file.role === "example") exampleSeen = true;
    layers.push({ file, parsed });
  }
  const envLayer = layers.find((l) => l.file.role === "env");
  const exampleLayer = layers.find((l) => l.file.role === "example");
  // Keys in the order a reader expects: the example's, then what the other files add.
  const keys: string[] = [];
  for (const layer of [...layers].reverse()) {
    for (const entry of layer.parsed.entries) if (!keys.includes(entry.key)) keys.push(entry.key);
  }
  const raw = new Map<string, RawValue>();
  const sources: Record<string, EnvSource> = {};
  const descriptions: Record<string, string> = {};
  for (const key of keys) {
    const entries = layers.map((l) => l.parsed.entries.find((e) => e.key === key));
    descriptions[key] = entries.find((e) => e?.description)?.description ?? "";
    const entry = entries.find((e) => e !== undefined)!;
    if (key in processEnv) {
      raw.set(key, { value: processEnv[key]! });
      sources[key] = { kind: "process" };
    } else {
      raw.set(key, { value: entry.value, file: entry.file, line: entry.line });
      sources[key] = { kind: "file", file: entry.file, line: entry.line };
    }
  }
  const resolved = resolveReferences(raw, processEnv);
  const values: Record<string, string> = { ...processEnv, ...Object.fromEntries(resolved) };
  const secretKeys = new Set(keys.filter((k) => isSecretValue(k, values[k] ?? "")));
  const secrets = keys.flatMap((k) => [
    ...(secretKeys.has(k) ? [values[k]!] : []),
    ...urlPasswords(values[k]!),
  ]);
  const problems: EnvProblem[] = [];
  if (envLayer && exampleLayer) {
    const documented = new Set(exampleLayer.parsed.entries.map((e) => e.key));
    for (const entry of envLayer.parsed.entries) {
      if (documented.has(entry.key)) continue;
      problems.push({
        key: entry.key,
        kind: "unknown",
        message: `Key "${entry.key}" in ${entry.file} line ${entry.line} is not in ` +
          exampleLayer.file.display,
        description: descriptions[entry.key]!,
        file: entry.file,
        line: entry.line,
        fix: `Add it to ${exampleLayer.file.display} so others know about it`,
      });
    }
  }
  problems.push(...placeholderProblems({ name, keys, values, sources }));
  const envFile = path.join(root, ".env");
  return {
    name,
    file: envFile,
    fileExists: envLayer !== undefined,
    read: layers.map((l) => l.file.display),
    example: exampleLayer?.file.display,
    values,
    keys,
    secretKeys,
    sources,
    descriptions,
    problems,
    mask: createMasker(secrets),
  };
}

/** Placeholder problems of the given keys: warnings, errors for production-like environments. */
export function placeholderProblems(opts: {
  name: string;
  keys: string[];
  values: Record<string, string>;
  sources: Record<string, EnvSource>;
}): EnvProblem[] {
  const strict = isStrictEnvironment(opts.name);
  const problems: EnvProblem[] = [];
  for (const key of opts.keys) {
    const value = opts.values[key] ?? "";
    if (!isPlaceholder(value)) continue;
    const source = opts.sources[key];
    const where = source?.kind === "file"
      ? `${source.file} line ${source.line}`
      : source?.kind === "template"
      ? `${source.file} line ${source.line}`
      : "the environment";
    // A secret's placeholder is still not printed: the key and where it is say enough.
    const shown = isSecretKey(key) ? "a placeholder value" : `the placeholder "${value}"`;
    problems.push({
      key,
      kind: "placeholder",
      severity: strict ? "error" : "warning",
      message: `"${key}" is still ${shown} (${where})`,
      description: "",
      file: source?.file,
      line: source?.line,
      fix: `export ${key}=<real value> (the environment wins over files)` +
        (source?.kind === "file" ? ` or set it in ${source.file}` : ""),
    });
  }
  return problems;
}

/** What `ensureEnvFromExample` did. */
export interface ExampleCopy {
  /** The file written (absolute), when one was. */
  created?: string;
  /** The example it was copied from, relative to the root. */
  from?: string;
  /** False when git would show the new file (it is not ignored). */
  ignored?: boolean;
}

/**
 * Creates `.env` from `.env.example` / `.env.sample` when `.env` is missing
 * (mode 0600). Never overwrites, never touches a tracked file or .gitignore.
 */
export async function ensureEnvFromExample(
  root: string,
  opts: { env: Record<string, string> },
): Promise<ExampleCopy> {
  const target = path.join(root, ".env");
  try {
    await Deno.lstat(target);
    return {};
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const name of EXAMPLE_FILES) {
    const example = path.join(root, name);
    let text: string;
    try {
      text = await Deno.readTextFile(example);
    } catch {
      continue;
    }
    // A tracked .env that is missing from the work tree was deleted on purpose: leave it.
    if ((await trackedFiles(root, [target], { env: opts.env })).has(target)) return {};
    await writeFileAtomic(target, text, { mode: 0o600 });
    const ignored = await gitCheckIgnore(root, ".env", { env: opts.env });
    return { created: target, from: name, ignored };
  }
  return {};
}

/** Groups keys by where their values came from, for one line of `rig run` output. */
export function summarizeSources(
  keys: string[],
  sources: Record<string, EnvSource>,
): { label: string; keys: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const source = sources[key];
    if (!source) continue;
    const label = source.kind === "process" ? "environment" : source.file!;
    groups.set(label, [...(groups.get(label) ?? []), key]);
  }
  return [...groups].map(([label, list]) => ({ label, keys: list }));
}

/** A SourceOf over an environment's sources: `.env line 3`, `the environment`. */
export function sourceLookup(
  sources: Record<string, EnvSource>,
): (key: string) => string | undefined {
  return (key) => {
    const source = sources[key];
    if (!source) return undefined;
    return source.kind === "process" ? "the environment" : `${source.file} line ${source.line}`;
  };
}
