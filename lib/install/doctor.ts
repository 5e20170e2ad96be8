/**
 * `rig doctor`: the tools rig drives and their versions, each component's
 * environment (venv health, node_modules against the lockfile) and the
 * configuration's completeness, each finding with the command that fixes it.
 */
import { run, which } from "../proc.ts";
import { defaultPython } from "../python/venv.ts";
import { isDir, isFile, posixRelative } from "../fs.ts";
import { detectToolchain } from "../node/managers.ts";
import { componentCommand } from "../project/selection.ts";
import * as path from "../path.ts";
import { detectEngine } from "../container_engine.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import { installHint, RigError } from "../errors.ts";
import type { Ui } from "../ui.ts";
import { findVenv } from "../python/venv.ts";
import { finishInterrupted, readJournal } from "./install_journal.ts";
import { isPython, staleReason } from "./install_state.ts";
/** A tool as found on this machine. */
export interface ToolInfo {
  name: string;
  /** Absolute path, when found. */
  path?: string;
  /** The version number, when it could be read. */
  version?: string;
}

const VERSION_ARGS: Record<string, string[]> = {
  python3: ["--version"],
  python: ["--version"],
  pip: ["--version"],
  uv: ["--version"],
  node: ["--version"],
  npm: ["--version"],
  git: ["--version"],
  docker: ["--version"],
  psql: ["--version"],
};

/** Finds a tool and reads its version (`undefined` version when it does not answer). */
export async function detectTool(name: string, env: Record<string, string>): Promise<ToolInfo> {
  const found = which(name, env);
  if (!found) return { name };
  try {
    const result = await run([found, ...(VERSION_ARGS[name] ?? ["--version"])], {
      env,
      timeoutMs: 10_000,
    });
    const text = `${result.stdout}\n${result.stderr}`;
    return { name, path: found, version: text.match(/(\d+\.\d+(?:\.\d+)?[\w.+-]*)/)?.[1] };
  } catch {
    return { name, path: found };
  }
}

/** Detects several tools concurrently. */
export async function detectTools(
  names: string[],
  env: Record<string, string>,
): Promise<ToolInfo[]> {
  return await Promise.all(names.map((n) => detectTool(n, env)));
}

/** How serious a doctor finding is: `error` makes `rig doctor` exit 3. */
export type Severity = "ok" | "warning" | "error";

/** One line of the doctor's report. */
export interface Finding {
  area: "tool" | "component" | "config" | "journal";
  name: string;
  severity: Severity;
  /** What was found: a version, "healthy", the problem. */
  detail: string;
  /** The command or step that fixes it. */
  fix?: string;
  /** Tools: version, path and what needs them. */
  version?: string;
  path?: string;
  neededBy?: string;
}

/** A tool the doctor looks for, who needs it and whether its absence is an error. */
interface ToolCheck {
  name: string;
  neededBy: string;
  required: boolean;
  argv?: string[];
}

/** Checks tools, each component's environment and the configuration (read-only apart from journal recovery). */
export async function diagnose(
  project: Project,
  opts: { env: Record<string, string>; ui: Ui; signal?: AbortSignal },
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const journal = readJournal(project.root);
  if (journal) {
    await finishInterrupted(project.root, opts);
    findings.push({
      area: "journal",
      name: journal.component,
      severity: "ok",
      detail: `rolled back an interrupted install (${journal.action})`,
    });
  }
  const python = project.components.filter(isPython);
  const node = project.components.filter(isNode);
  const pythonNames = python.map((c) => c.name).join(", ");
  const nodeNames = node.map((c) => c.name).join(", ");
  const pythonCommand = defaultPython(opts.env);
  const checks: ToolCheck[] = [
    {
      name: pythonCommand,
      neededBy: pythonNames || "Python components",
      required: python.length > 0,
    },
    {
      name: "pip",
      neededBy: pythonNames || "Python components",
      required: python.length > 0,
      argv: [pythonCommand, "-m", "pip", "--version"],
    },
    {
      name: "uv",
      neededBy: "faster installs, uv projects (rig installs it when needed)",
      required: false,
    },
    { name: "poetry", neededBy: "Poetry projects (rig installs it when needed)", required: false },
    { name: "node", neededBy: nodeNames || "node components", required: node.length > 0 },
    { name: "npm", neededBy: nodeNames || "node components", required: node.length > 0 },
    ...managerChecks(project, node),
    { name: "git", neededBy: "rig test --changed, cache inputs", required: false },
    { name: "psql", neededBy: "rig run with PostgreSQL", required: false },
    { name: "pg_ctl", neededBy: "rig run with a throwaway PostgreSQL", required: false },
  ];
  const toolResults = await Promise.all(checks.map((check) => checkTool(check, opts.env)));
  findings.push(...toolResults);
  if (project.components.some((c) => c.kind === "python-app")) {
    findings.push(await checkContainerEngine(opts.env));
  }

  for (const component of project.components) {
    findings.push(
      isPython(component)
        ? await diagnosePython(project, component, opts)
        : await diagnoseNode(project, component, opts),
    );
  }
  findings.push(...await diagnoseConfig(project, opts.env));
  return findings;
}

async function checkTool(check: ToolCheck, env: Record<string, string>): Promise<Finding> {
  let found = which(check.argv?.[0] ?? check.name, env);
  if (!found && check.name === "pg_ctl") found = findPgCtl();
  const base = { area: "tool" as const, name: check.name, neededBy: check.neededBy };
  if (!found) {
    return {
      ...base,
      severity: check.required ? "error" : "warning",
      detail: `not found (needed by ${check.neededBy})`,
      fix: installHint(check.name === "pip" ? "pip" : path.basename(check.name)),
    };
  }
  const argv = check.argv ? [found, ...check.argv.slice(1)] : [found, "--version"];
  try {
    const result = await run(argv, { env, timeoutMs: 15_000 });
    const text = `${result.stdout}\n${result.stderr}`;
    const version = text.match(/(\d+\.\d+(?:\.\d+)?[\w.+-]*)/)?.[1];
    if (!result.success) {
      return {
        ...base,
        severity: check.required ? "error" : "warning",
        detail: `does not work: ${text.trim().split("\n")[0] ?? ""} (needed by ${check.neededBy})`,
        fix: installHint(path.basename(check.name)),
      };
    }
    return {
      ...base,
      severity: "ok",
      detail: `${version ?? "?"}  ${found}  (${check.neededBy})`,
      version,
      path: found,
    };
  } catch {
    return { ...base, severity: "warning", detail: `${found} does not answer --version` };
  }
}

/** A client alone is not enough: the engine behind it must answer (`docker info`, `podman info`). */
async function checkContainerEngine(env: Record<string, string>): Promise<Finding> {
  const neededBy = "rig build (container image)";
  const probe = await detectEngine(env, { timeoutMs: 5000 });
  const base = { area: "tool" as const, name: "container engine", neededBy };
  if (probe.engine) {
    return {
      ...base,
      severity: "ok",
      detail:
        `${probe.engine.name} ${probe.engine.version} answers  ${probe.engine.program}  (${neededBy})`,
      version: probe.engine.version,
      path: probe.engine.program,
    };
  }
  return {
    ...base,
    severity: "warning",
    detail: `${probe.problem} (needed by ${neededBy})`,
    fix: probe.hint,
  };
}

function findPgCtl(): string | undefined {
  for (const root of ["/usr/lib/postgresql", "/usr/local/pgsql"]) {
    try {
      const versions = [...Deno.readDirSync(root)].map((e) => e.name).sort().reverse();
      for (const v of versions) {
        const file = path.join(root, v, "bin", "pg_ctl");
        if (isFile(file)) return file;
      }
      if (isFile(path.join(root, "bin", "pg_ctl"))) return path.join(root, "bin", "pg_ctl");
    } catch {
      // Not installed there.
    }
  }
  return undefined;
}

async function diagnosePython(
  project: Project,
  component: Component,
  opts: { env: Record<string, string>; signal?: AbortSignal },
): Promise<Finding> {
  const { checkVenv } = await import("../python/venv.ts");
  const { managedBlocker, managerOf } = await import("./python_managed.ts");
  const { userCacheDir } = await import("./install.ts");
  const { emptyPlanError } = await import("./python_plan.ts");
  const base = { area: "component" as const, name: component.name };
  // The blockers rig install would stop at, found by the same check and said the same way.
  let manager = "pip";
  try {
    manager = managerOf(project, component).manager;
    const blocker = await managedBlocker(project, component, {
      ...opts,
      cacheDir: userCacheDir(opts.env),
    }) ?? emptyPlanError(project, component);
    if (blocker) {
      return { ...base, severity: "error", detail: blocker.message, fix: blocker.hint };
    }
  } catch (error) {
    if (error instanceof RigError) {
      return { ...base, severity: "error", detail: error.message, fix: error.hint };
    }
    throw error;
  }
  const venv = findVenv(component, opts);
  if (!venv) {
    return {
      ...base,
      severity: "warning",
      detail: "no virtual environment yet",
      fix: componentCommand(project.components, "install", { component: component.name }),
    };
  }
  const shown = posixRelative(project.root, venv.dir);
  const health = await checkVenv(venv, component, {
    ...opts,
    root: project.root,
    requirePip: manager === "pip" || manager === "poetry",
  });
  if (!health.ok) {
    return {
      ...base,
      severity: "error",
      detail: `${shown}: ${health.problem}`,
      fix: `${
        componentCommand(project.components, "install", { component: component.name })
      } (recreates it)`,
    };
  }
  const stale = await staleReason(project, component, opts);
  if (stale) {
    return {
      ...base,
      severity: "warning",
      detail: `${shown} (Python ${health.version}) needs installing: ${stale}`,
      fix: componentCommand(project.components, "install", { component: component.name }),
    };
  }
  return {
    ...base,
    severity: "ok",
    detail: `${shown} healthy (Python ${health.version}), up to date`,
  };
}

/** The package managers other than npm that the project's node components use. */
function managerChecks(project: Project, node: Component[]): ToolCheck[] {
  const users = new Map<string, string[]>();
  for (const c of node) {
    const manager = detectToolchain(c.dir, project.root).manager;
    if (manager !== "npm") users.set(manager, [...(users.get(manager) ?? []), c.name]);
  }
  return [...users].map(([name, names]) => ({ name, neededBy: names.join(", "), required: true }));
}

async function diagnoseNode(
  project: Project,
  component: Component,
  opts: { env: Record<string, string> },
): Promise<Finding> {
  const base = { area: "component" as const, name: component.name };
  const tc = detectToolchain(component.dir, project.root);
  const lockName = tc.lockfile ? path.basename(tc.lockfile) : undefined;
  if (!isDir(path.join(tc.installDir, "node_modules")) && tc.flavor !== "berry") {
    return {
      ...base,
      severity: "warning",
      detail: `node_modules missing (${tc.manager}${lockName ? `, ${lockName} present` : ""})`,
      fix: componentCommand(project.components, "install", { component: component.name }),
    };
  }
  const stale = await staleReason(project, component, opts);
  if (stale) {
    return {
      ...base,
      severity: "warning",
      detail: `node_modules does not match ${lockName ?? "package.json"}: ${stale}`,
      fix: componentCommand(project.components, "install", { component: component.name }),
    };
  }
  return { ...base, severity: "ok", detail: "node_modules matches the lockfile" };
}

async function diagnoseConfig(project: Project, env: Record<string, string>): Promise<Finding[]> {
  const base = { area: "config" as const, name: ".env" };
  try {
    const { hasTemplates } = await import("../env/templates.ts");
    if (!(await hasTemplates(project))) return [];
    const config = await import("../env/env_config.ts");
    const report = await config.inspectEnvironment(project, {
      name: "development",
      processEnv: env,
    });
    if (!report.fileExists) {
      return [{
        ...base,
        severity: "warning",
        detail: `${report.displayFile} missing`,
        fix: "rig env generate",
      }];
    }
    const missing = report.problems.filter((p) => p.kind !== "unknown");
    if (missing.length) {
      return missing.map((p) => ({
        ...base,
        name: p.key,
        severity: "warning" as const,
        detail: p.message,
        fix: p.fix,
      }));
    }
    return [{ ...base, name: report.displayFile, severity: "ok", detail: "complete" }];
  } catch (error) {
    if (error instanceof RigError) {
      return [{ ...base, severity: "error", detail: error.message, fix: error.hint }];
    }
    // Fallback when the configuration module is unavailable: templates need a .env.
    const dir = path.resolve(project.root, project.settings.configDir);
    let templates = false;
    try {
      templates = [...Deno.readDirSync(dir)].some((e) => e.name.endsWith(".env.template"));
    } catch {
      templates = false;
    }
    if (templates && !isFile(path.join(project.root, ".env"))) {
      return [{ ...base, severity: "warning", detail: ".env missing", fix: "rig env generate" }];
    }
    return templates ? [{ ...base, severity: "ok", detail: "present" }] : [];
  }
}
