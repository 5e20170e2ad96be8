/**
 * Environments: computing the effective configuration (process env > .env >
 * template) with sources, problems and secret masking. The templates are read
 * and merged in templates.ts; `.env` files are written in generate.ts.
 */
import { EnvironmentError } from "../errors.ts";
import { checkType, formatType, type RawValue, resolveReferences } from "./env_file.ts";
import { createMasker, isSecretValue, MASK, maskUrlPassword, urlPasswords } from "./env_mask.ts";
import {
  ensureEnvFromExample,
  type EnvProblem,
  type EnvSource,
  evaluateFiles,
  type FileConfig,
  placeholderProblems,
} from "./sources.ts";
import { envFilePath, generateEnvFile, readEnvFile } from "./generate.ts";
import {
  configDir,
  type EnvTemplates,
  hasTemplates,
  readTemplates,
  requireTemplates,
  type TemplateKey,
  validateEnvName,
} from "./templates.ts";
import type { Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { posixRelative } from "../fs.ts";

export { hashEnvValues, isSecretKey, maskUrlPassword } from "./env_mask.ts";
export type { EnvProblem, EnvSource } from "./sources.ts";

/** The effective configuration of one environment. */
export interface LoadedEnv {
  name: string;
  /** The .env file (absolute path), whether or not it exists. */
  file: string;
  /** The process environment overlaid with the configuration, references resolved. */
  values: Record<string, string>;
  /** The configuration's keys (templates, then extra .env keys), in order. */
  keys: string[];
  secretKeys: Set<string>;
  /** Where each configuration key's value came from. */
  sources: Record<string, EnvSource>;
  /** Replaces every secret value (and URL password) occurring in text with ****. */
  mask(text: string): string;
  /** The files the values were read from (relative to the root), highest precedence first. */
  read: string[];
  /** Problems that do not stop rig: placeholder values, keys no template or example has. */
  warnings: EnvProblem[];
}

/** A fuller view of an environment, for `rig env check` and `rig env show`. */
export interface EnvReport extends LoadedEnv {
  templates: EnvTemplates;
  /** Template keys by name. */
  templateKeys: Map<string, TemplateKey>;
  /** Descriptions by key. */
  descriptions: Record<string, string>;
  problems: EnvProblem[];
  /** The .env file relative to the root. */
  displayFile: string;
  fileExists: boolean;
  /** `templates`: config/*.env.template; `files`: .env / .env.example without templates. */
  mode: "templates" | "files";
}

/** Computes an environment's effective configuration and its problems (never generates). */
export async function inspectEnvironment(
  project: Project,
  opts: { name: string; processEnv: Record<string, string>; templates?: EnvTemplates },
): Promise<EnvReport> {
  if (!opts.templates && !(await hasTemplates(project))) {
    validateEnvName(opts.name);
    const config = await evaluateFiles(project.root, opts);
    if (config.read.length === 0) {
      const dir = posixRelative(project.root, configDir(project)) || ".";
      throw new EnvironmentError(
        `No configuration found: no ${dir}/*.env.template, .env, .env.example or .env.sample`,
        "Create .env (KEY=value lines), or run: rig env generate -y (writes rig's default " +
          `templates into ${dir}/)`,
      );
    }
    return fileReport(config, project.root);
  }
  const templates = opts.templates ?? await requireTemplates(project, opts.name);
  return await evaluate(project, opts.name, opts.processEnv, templates);
}

async function evaluate(
  project: Project,
  name: string,
  processEnv: Record<string, string>,
  templates: EnvTemplates,
): Promise<EnvReport> {
  const file = envFilePath(project.root, name);
  const displayFile = posixRelative(project.root, file);
  const envFile = await readEnvFile(file, project.root);
  const templateKeys = new Map(templates.keys.map((k) => [k.key, k]));
  const fileEntries = new Map(envFile?.entries.map((e) => [e.key, e]) ?? []);
  const keys = [
    ...templates.keys.map((k) => k.key),
    ...(envFile?.entries.map((e) => e.key).filter((k) => !templateKeys.has(k)) ?? []),
  ];
  const problems: EnvProblem[] = [];
  const raw = new Map<string, RawValue>();
  const sources: Record<string, EnvSource> = {};
  const descriptions: Record<string, string> = {};
  const fix = (key: string) => `add ${key}=... to ${displayFile} or export ${key}`;
  for (const key of keys) {
    const template = templateKeys.get(key);
    const entry = fileEntries.get(key);
    descriptions[key] = template?.description || entry?.description || "";
    if (key in processEnv) {
      raw.set(key, { value: processEnv[key]! });
      sources[key] = { kind: "process" };
    } else if (entry) {
      raw.set(key, { value: entry.value, file: entry.file, line: entry.line });
      sources[key] = { kind: "file", file: entry.file, line: entry.line };
    } else if (template && !template.required && !template.generated) {
      raw.set(key, { value: template.value, file: template.file, line: template.line });
      sources[key] = { kind: "template", file: template.file, line: template.line };
    } else if (template) {
      raw.set(key, { value: "" });
      sources[key] = { kind: "template", file: template.file, line: template.line };
      problems.push({
        key,
        kind: "missing",
        message: template.required
          ? `"${key}" is required but has no value`
          : `"${key}" has not been generated yet`,
        description: descriptions[key]!,
        file: template.file,
        line: template.line,
        fix: template.required ? fix(key) : `run: rig env generate --env ${name}`,
      });
    }
    if (!template && entry) {
      problems.push({
        key,
        kind: "unknown",
        message: `Key "${key}" in ${entry.file} line ${entry.line} is in no template`,
        description: descriptions[key]!,
        file: entry.file,
        line: entry.line,
        fix: `Add it to ${templates.files.at(-1)} or remove it from ${displayFile}`,
      });
    }
  }
  const resolved = resolveReferences(raw, processEnv);
  const secretKeys = new Set(keys.filter((k) => {
    const template = templateKeys.get(k);
    return isSecretValue(k, resolved.get(k) ?? "", {
      generated: template?.generators.some((g) => g.kind === "secret"),
      marked: template?.secret,
    }) || (template?.generated === true && (resolved.get(k) ?? "") !== "");
  }));
  const secrets: string[] = [];
  for (const key of keys) {
    const value = resolved.get(key) ?? "";
    if (secretKeys.has(key)) secrets.push(value);
    secrets.push(...urlPasswords(value));
  }
  const mask = createMasker(secrets);
  for (const key of keys) {
    const template = templateKeys.get(key);
    const value = resolved.get(key) ?? "";
    const source = sources[key]!;
    const needed = template?.required || template?.generated;
    if (needed && value === "" && !problems.some((p) => p.key === key)) {
      problems.push({
        key,
        kind: "missing",
        message: `"${key}" is ${template?.required ? "required" : "generated"} but empty`,
        description: descriptions[key]!,
        file: source.file,
        line: source.line,
        fix: template?.required || source.kind === "process"
          ? fix(key)
          : `run: rig env generate${name === "development" ? "" : ` --env ${name}`}`,
      });
      continue;
    }
    if (!template?.type || value === "") continue;
    const problem = checkType(value, template.type);
    if (!problem) continue;
    const where = source.kind === "process"
      ? "from the environment"
      : `in "${source.file}" line ${source.line}`;
    const shown = secretKeys.has(key) ? MASK : mask(value);
    problems.push({
      key,
      kind: "invalid",
      message:
        `"${key}" ${where}: ${problem} (type ${formatType(template.type)} at "${template.file}"` +
        ` line ${template.line}), got "${shown}"`,
      description: descriptions[key]!,
      file: source.file,
      line: source.line,
      fix: source.kind === "process" ? `export a valid ${key}` : `fix ${key} in ${source.file}`,
    });
  }
  const values: Record<string, string> = { ...processEnv };
  for (const key of keys) values[key] = resolved.get(key) ?? "";
  problems.push(...placeholderProblems({ name, keys, values, sources }));
  return {
    name,
    file,
    values,
    keys,
    secretKeys,
    sources,
    mask,
    templates,
    templateKeys,
    descriptions,
    problems,
    displayFile,
    fileExists: envFile !== undefined,
    mode: "templates",
    read: [...(envFile ? [displayFile] : []), ...[...templates.files].reverse()],
    warnings: problems.filter(isWarning),
  };
}

/** Whether a problem leaves the configuration usable (unknown keys, development placeholders). */
export function isWarning(problem: EnvProblem): boolean {
  return problem.kind === "unknown" ||
    (problem.kind === "placeholder" && problem.severity !== "error");
}

/** An environment read from `.env`-style files, in the shape `rig env` prints. */
function fileReport(config: FileConfig, root: string): EnvReport {
  return {
    ...config,
    templates: { name: config.name, files: config.read, keys: [] },
    templateKeys: new Map(),
    displayFile: posixRelative(root, config.file),
    mode: "files",
    warnings: config.problems.filter(isWarning),
  };
}

/**
 * Loads an environment for `rig run` (development) and `rig test` (test):
 * generates or completes its .env file (unless `generate: false`), then
 * returns the effective values. Missing or invalid keys, and placeholder
 * values in production-like environments, are an EnvironmentError (with
 * `generate: false`, keys still to be generated are empty instead).
 * Without templates the sources are the process environment, `.env.<name>`,
 * `.env` and `.env.example`; a missing `.env` is created from the example.
 * rig never writes a git-tracked file here.
 */
export async function loadEnvironment(
  project: Project,
  opts: { name: string; processEnv: Record<string, string>; ui: Ui; generate?: boolean },
): Promise<LoadedEnv> {
  const { name, processEnv, ui } = opts;
  validateEnvName(name);
  const generate = opts.generate ?? true;
  const templates = await readTemplates(project, name);
  const file = envFilePath(project.root, name);
  if (!templates) {
    if (generate) {
      const copy = await ensureEnvFromExample(project.root, { env: processEnv });
      if (copy.created) {
        ui.info(
          `Created .env from ${copy.from} (an untracked file; edit its values)` +
            (copy.ignored === false ? ": it is not git-ignored, add .env to .gitignore" : ""),
        );
      }
    }
    const config = await evaluateFiles(project.root, { name, processEnv });
    const report = fileReport(config, project.root);
    ui.addRedaction(report.mask);
    throwBlocking(report, name, () => false);
    return loaded(report);
  }
  if (generate) {
    const result = await generateEnvFile(project, {
      name,
      processEnv,
      templates,
      sideEffect: true,
    });
    const shown = posixRelative(project.root, file);
    if (result.created) {
      const generated = templates.keys.some((k) => k.generated) ? " (secrets generated)" : "";
      ui.info(`Created ${shown} from ${templates.files.join(" + ")}${generated}`);
    } else if (result.added.length) {
      ui.info(`Added ${result.added.join(", ")} to ${shown} from ${templates.files.join(" + ")}`);
    }
    if (result.gitignoreUpdated) ui.debug(`Added ${shown} to .gitignore`);
    if (result.gitignoreNeeded) {
      ui.warn(
        `${shown} holds secrets and is not git-ignored; rig leaves the tracked .gitignore alone`,
        `Add ${shown} to .gitignore`,
      );
    }
  }
  const report = await evaluate(project, name, processEnv, templates);
  // From here on nothing rig prints or stores carries this environment's secrets.
  ui.addRedaction(report.mask);
  // Without generation (e.g. a dry run) an ungenerated secret is expected, not an error.
  const ungenerated = (p: EnvProblem) =>
    !generate && p.kind === "missing" && report.templateKeys.get(p.key)?.generated === true;
  for (const problem of report.problems.filter((p) => ungenerated(p))) ui.debug(problem.message);
  for (const problem of report.problems.filter((p) => p.kind === "unknown")) {
    ui.debug(problem.message);
  }
  throwBlocking(report, name, ungenerated);
  return loaded(report);
}

function throwBlocking(report: EnvReport, name: string, ignore: (p: EnvProblem) => boolean) {
  const blocking = report.problems.filter((p) => !isWarning(p) && !ignore(p));
  if (blocking.length === 0) return;
  throw new EnvironmentError(
    `Environment "${name}" is incomplete: ${
      blocking.map((p) => `${p.message}; ${p.fix}`).join("\n  ")
    }`,
    `Run: rig env check${name === "development" ? "" : ` --env ${name}`}`,
  );
}

function loaded(report: EnvReport): LoadedEnv {
  return {
    name: report.name,
    file: report.file,
    values: report.values,
    keys: report.keys,
    secretKeys: report.secretKeys,
    sources: report.sources,
    mask: report.mask,
    read: report.read,
    warnings: report.warnings,
  };
}

/** A value as `rig env show` prints it: secrets masked, URL passwords masked. */
export function maskedValue(report: LoadedEnv, key: string): string {
  const value = report.values[key] ?? "";
  if (value === "") return "";
  if (report.secretKeys.has(key)) return MASK;
  return report.mask(maskUrlPassword(value));
}

/** Describes a source for people: `environment`, `.env line 3`. */
export function describeSource(source: EnvSource): string {
  if (source.kind === "process") return "environment";
  return `${source.file} line ${source.line}`;
}
