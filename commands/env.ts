import { type Command, type Context, defineCommand, subcommandOf } from "../lib/command.ts";
import {
  describeSource,
  type EnvReport,
  inspectEnvironment,
  isWarning,
  maskedValue,
} from "../lib/env/env_config.ts";
import { generateEnvFile } from "../lib/env/generate.ts";
import {
  configDir,
  hasTemplates,
  requireTemplates,
  validateEnvName,
  writeDefaultTemplates,
} from "../lib/env/templates.ts";
import { formatType } from "../lib/env/env_file.ts";
import {
  configFiles,
  ensureEnvFromExample,
  evaluateFiles,
  EXAMPLE_FILES,
} from "../lib/env/sources.ts";
import { EnvironmentError, RigError, UsageError } from "../lib/errors.ts";
import { type Project } from "../lib/project/project.ts";
import { loadProject } from "../lib/project/load_project.ts";
import * as path from "../lib/path.ts";

const SUBCOMMANDS = [
  { name: "generate", summary: "Write or complete .env / .env.NAME from the config templates" },
  { name: "check", summary: "Check that every key is set and valid (exit 3 when not)" },
  { name: "show", summary: "Show the effective configuration and where each value comes from" },
];

/** `rig env`: .env files from config templates, with generated secrets, checks and masking. */
export const env: Command = defineCommand({
  name: "env",
  summary: "Generate, check and show .env files from config templates (secrets masked)",
  usage: [
    "env generate [--env NAME] [--force]",
    "env check [--env NAME]",
    "env show [--env NAME] [--reveal]",
  ],
  description: "Environments are described by templates in the config folder (rig.toml " +
    "[project] config_dir, default config/): base.env.template is shared and " +
    "NAME.env.template overrides it. generate writes .env (development) or .env.NAME with " +
    "mode 0600, generating {{secret}} and {{uuid}} values once and keeping every existing " +
    "value. Effective values: process environment > .env file > template. Secrets are " +
    "masked everywhere unless show --reveal.",
  options: {
    env: {
      type: "string",
      short: "e",
      value: "NAME",
      description: "Environment: development (default, .env), test, production or any template",
    },
    force: {
      type: "boolean",
      description: "generate: regenerate generated secrets (asks first; -y to skip)",
    },
    reveal: {
      type: "boolean",
      description: "show: print secret values in clear text (asks first; -y to skip)",
    },
  },
  subcommands: SUBCOMMANDS,
  examples: [
    "rig env generate",
    "rig env generate --env test",
    "rig env generate --force -y",
    "rig env check --env production",
    "SECRET_KEY=... rig env check --env production --json",
    "rig env show",
    "rig env show --env test --json",
    "rig env show --reveal",
  ],
  takesArguments: true,
  async action(ctx, args) {
    const [sub, [extra]] = subcommandOf(env, args);
    if (extra !== undefined) {
      throw new UsageError(`Unexpected argument "${extra}"`, "Run: rig env --help");
    }
    const name = (args.values.env as string | undefined) ?? "development";
    validateEnvName(name);
    const only = (flag: string, allowed: string) => {
      if (args.values[flag] && sub !== allowed) {
        throw new UsageError(`Option "--${flag}" only works with "rig env ${allowed}"`);
      }
    };
    only("force", "generate");
    only("reveal", "show");
    const project = await loadProject(ctx.cwd);
    switch (sub) {
      case "generate":
        return await generateCommand(ctx, project, name, args.values.force === true);
      case "check":
        return await checkCommand(ctx, project, name);
      default:
        return await showCommand(ctx, project, name, args.values.reveal === true);
    }
  },
});

function envFlag(name: string): string {
  return name === "development" ? "" : ` --env ${name}`;
}

async function generateCommand(
  ctx: Context,
  project: Project,
  name: string,
  force: boolean,
): Promise<number> {
  const ui = ctx.ui;
  let wroteTemplates: string[] = [];
  if (!(await hasTemplates(project)) && await hasConfigFiles(project.root, name)) {
    return await generateFromFiles(ctx, project, name);
  }
  if (!(await hasTemplates(project))) {
    const dir = path.relative(project.root, configDir(project)) || ".";
    if (!(await ctx.confirm(`No environment templates in "${dir}". Write rig's defaults there?`))) {
      throw new EnvironmentError(
        `No environment templates in "${dir}"`,
        `Run: rig env generate -y (writes rig's default templates into ${dir}/), or add ` +
          `${dir}/${name}.env.template`,
      );
    }
    wroteTemplates = await writeDefaultTemplates(project);
    ui.success(`Wrote ${wroteTemplates.join(", ")}`);
  }
  const templates = await requireTemplates(project, name);
  if (force) {
    const generated = templates.keys.filter((k) => k.generated).map((k) => k.key);
    if (generated.length === 0) {
      ui.warn(`Nothing to regenerate: no generated keys in ${templates.files.join(" + ")}`);
    } else if (
      !(await ctx.confirm(
        `Regenerate ${generated.join(", ")}? Sessions, tokens and data that depend on the old ` +
          "values stop working",
      ))
    ) {
      throw new RigError(
        "Did not regenerate secrets: not confirmed",
        `Confirm with -y: rig env generate${envFlag(name)} --force -y`,
      );
    }
  }
  const result = await generateEnvFile(project, {
    name,
    processEnv: ctx.env,
    templates,
    force,
  });
  const shown = path.relative(project.root, result.file);
  if (result.created) {
    ui.success(
      `Created ${shown} (mode 600) with ${result.added.length} keys from ${
        templates.files.join(" + ")
      }`,
    );
  } else if (result.added.length) {
    ui.success(`Added ${result.added.join(", ")} to ${shown}`);
  } else if (!result.regenerated.length) {
    ui.success(`${shown} is up to date (${templates.keys.length} keys); existing values kept`);
  }
  if (result.regenerated.length) ui.success(`Regenerated ${result.regenerated.join(", ")}`);
  if (result.fromProcess.length) {
    ui.info(`Took ${result.fromProcess.join(", ")} from the environment`);
  }
  if (result.gitignoreUpdated) ui.info(`Added .env and .env.* to .gitignore`);
  for (const key of result.requiredEmpty) {
    ui.warn(
      `${key} is required and has no value yet`,
      `Add ${key}=... to ${shown} or export ${key}, then run: rig env check${envFlag(name)}`,
    );
  }
  if (ctx.flags.json) {
    ui.result({
      ok: true,
      environment: name,
      file: result.file,
      templates: templates.files,
      created: result.created,
      added: result.added,
      regenerated: result.regenerated,
      fromEnvironment: result.fromProcess,
      requiredMissing: result.requiredEmpty,
      templatesWritten: wroteTemplates,
      gitignoreUpdated: result.gitignoreUpdated,
    });
  } else {
    for (const key of result.added) ui.print(`+ ${key}`);
  }
  return 0;
}

async function hasConfigFiles(root: string, name: string): Promise<boolean> {
  for (const file of configFiles(root, name)) {
    if (await Deno.stat(file.file).then((s) => s.isFile, () => false)) return true;
  }
  return false;
}

/** Without templates, `generate` only creates an untracked .env from the example. */
async function generateFromFiles(ctx: Context, project: Project, name: string): Promise<number> {
  const ui = ctx.ui;
  const copy = await ensureEnvFromExample(project.root, { env: ctx.env });
  const config = await evaluateFiles(project.root, { name, processEnv: ctx.env });
  if (copy.created) {
    ui.success(`Created .env (mode 600) from ${copy.from}: an untracked file, edit its values`);
    if (copy.ignored === false) {
      ui.warn(".env is not git-ignored", "Add .env to .gitignore so its secrets stay local");
    }
  } else {
    ui.success(
      `Nothing to generate: no templates in ${
        path.relative(project.root, configDir(project)) || "."
      }/, rig reads ${config.read.join(" > ")} unchanged`,
    );
  }
  if (ctx.flags.json) {
    ui.result({
      ok: true,
      environment: name,
      file: config.file,
      sources: config.read,
      created: copy.created !== undefined,
      createdFrom: copy.from ?? null,
      added: [],
      regenerated: [],
      templatesWritten: [],
      gitignoreUpdated: false,
    });
  }
  return 0;
}

async function checkCommand(ctx: Context, project: Project, name: string): Promise<number> {
  const ui = ctx.ui;
  const report = await inspectEnvironment(project, { name, processEnv: ctx.env });
  ui.addRedaction(report.mask);
  const blocking = report.problems.filter((p) => !isWarning(p));
  for (const problem of report.warnings) {
    ui.warn(problem.message, problem.fix);
  }
  if (ctx.flags.json) {
    ui.result({
      ok: blocking.length === 0,
      environment: name,
      file: report.file,
      exists: report.fileExists,
      templates: report.mode === "templates" ? report.templates.files : [],
      sources: report.read,
      keys: keyDocuments(report, false),
      problems: report.problems,
    });
    return blocking.length ? 3 : 0;
  }
  ui.print(`Environment "${name}": ${describeReport(report)}`);
  for (const problem of blocking) {
    ui.print(`${ui.style("red", "✗")} ${problem.key}: ${problem.message}`);
    if (problem.description) ui.print(`    ${ui.style("dim", problem.description)}`);
    ui.print(`    fix: ${problem.fix}`);
  }
  if (blocking.length) {
    throw new EnvironmentError(
      `Environment "${name}" has ${blocking.length} missing or invalid ${
        blocking.length === 1 ? "key" : "keys"
      }`,
      `Fix the keys above, then run: rig env check${envFlag(name)}`,
    );
  }
  ui.success(
    report.mode === "templates"
      ? `All ${report.templateKeys.size} keys of "${name}" are set and valid`
      : `All ${report.keys.length} keys of "${name}" are set${
        report.warnings.length ? ` (${report.warnings.length} warnings above)` : ""
      }`,
  );
  return 0;
}

async function showCommand(
  ctx: Context,
  project: Project,
  name: string,
  reveal: boolean,
): Promise<number> {
  const ui = ctx.ui;
  const report = await inspectEnvironment(project, { name, processEnv: ctx.env });
  if (reveal && !(await ctx.confirm("Print secret values in clear text?"))) {
    throw new RigError(
      "Did not reveal secrets: not confirmed",
      `Confirm with -y: rig env show${envFlag(name)} --reveal -y`,
    );
  }
  // --reveal is the one place secrets are printed on purpose.
  if (reveal) ui.clearRedactions();
  else ui.addRedaction(report.mask);
  const documents = keyDocuments(report, reveal);
  if (ctx.flags.json) {
    ui.result({
      environment: name,
      file: report.file,
      exists: report.fileExists,
      templates: report.mode === "templates" ? report.templates.files : [],
      sources: report.read,
      revealed: reveal,
      keys: documents,
    });
    return 0;
  }
  ui.print(`Environment "${name}": ${describeReport(report)}`);
  for (const problem of report.problems.filter((p) => p.kind === "placeholder")) {
    ui.warn(problem.message, problem.fix);
  }
  ui.print(
    ui.table(
      ["KEY", "VALUE", "SOURCE", "DESCRIPTION"],
      documents.map((d) => [
        d.key,
        d.missing ? "(missing)" : d.value,
        d.source,
        d.description,
      ]),
    ),
  );
  ui.print(
    ui.style(
      "dim",
      report.mode === "templates"
        ? "Precedence: environment > .env file > template"
        : `Precedence: environment > ${report.read.join(" > ")}`,
    ),
  );
  return 0;
}

function describeReport(report: EnvReport): string {
  if (report.mode === "files") {
    const example = report.read.find((f) => EXAMPLE_FILES.includes(f));
    const missing = report.fileExists || !example
      ? ""
      : ` (no .env yet: rig run creates it from ${example})`;
    return `${report.read.join(" > ")}${missing} (no templates)`;
  }
  const where = `${report.displayFile}${
    report.fileExists ? "" : ` (not generated yet: run rig env generate${envFlag(report.name)})`
  }`;
  return `${where} from ${report.templates.files.join(" + ")}`;
}

function keyDocuments(report: EnvReport, reveal: boolean) {
  const missing = new Set(report.problems.filter((p) => p.kind === "missing").map((p) => p.key));
  return report.keys.map((key) => {
    const template = report.templateKeys.get(key);
    return {
      key,
      value: reveal ? report.values[key] ?? "" : maskedValue(report, key),
      secret: report.secretKeys.has(key),
      missing: missing.has(key),
      placeholder: report.problems.some((p) => p.kind === "placeholder" && p.key === key),
      source: describeSource(report.sources[key]!),
      description: report.descriptions[key] ?? "",
      type: template?.type ? formatType(template.type) : null,
      required: template?.required ?? false,
      generated: template?.generated ?? false,
      inTemplate: template !== undefined,
    };
  });
}
