/**
 * How `rig test` runs a node component: its scripts as they are, through the
 * project's package manager, once and non-interactively (stdin closed,
 * CI=true, so vitest and jest never watch). No `test` script means no tests,
 * never a failure; a script that dies because a program is missing is an
 * environment error naming the program.
 */
import { nodeBinName } from "../os.ts";
import * as path from "../path.ts";
import { exists } from "../fs.ts";
import { detectApiClient } from "../node/api_client.ts";
import { scriptsOf } from "../node/app.ts";
import {
  detectToolchain,
  installMarker,
  managerEnv,
  missingCommand,
  missingToolError,
  readPackageJson,
  scriptArgv,
  type Toolchain,
} from "../node/managers.ts";
import { type Component, type Project } from "../project/project.ts";
import { componentCommand } from "../project/selection.ts";
import { projectCacheDir } from "../cache_paths.ts";
import { findVenv } from "../python/venv.ts";
import { checkDrift } from "./contract_drift.ts";

/** npm init's placeholder: a test script that only says there are none. */
const PLACEHOLDER = /^\s*echo\s+["']?Error: no test specified["']?\s*&&\s*exit\s+1\s*$/;

/** The command that runs a node component's tests, or undefined when it has none. */
export function nodeTestArgv(
  project: Project,
  component: Component,
  passthrough: string[],
): string[] | undefined {
  const script = scriptsOf(readPackageJson(component.dir)).test;
  if (!script || PLACEHOLDER.test(script)) return undefined;
  return scriptArgv(detectToolchain(component.dir, project.root), "test", passthrough);
}

/** The environment of a node task: the manager's, CI=true, the packages' tools on PATH. */
export function nodeTaskEnv(
  project: Project,
  component: Component,
  env: Record<string, string>,
): Record<string, string> {
  const tc = detectToolchain(component.dir, project.root);
  return managerEnv(tc, { env: { ...env, CI: env.CI ?? "true" } });
}

/** Throws a missing-tool error (exit 3) when a script died because a program is missing. */
export function throwIfToolMissing(
  project: Project,
  component: Component,
  out: { code: number; success: boolean; output: string },
  script: string,
): void {
  if (out.success) return;
  const tool = missingCommand(out.code, out.output);
  if (!tool) return;
  throw missingToolError(tool, {
    component: component.name,
    script,
    install: componentCommand(project.components, "install", { component: component.name }),
  });
}

/** A planned node check: `lint` (the script), `tsc`, `api-client` (contract drift). */
export interface NodeCheck {
  name: string;
  /** undefined: the tool is not installed. */
  argv?: string[];
  /** How to install the tool. */
  hint?: string;
  /** How to fix a failure. */
  fixHint?: string;
  /** Another check that already does this one's work. */
  coveredBy?: string;
  /** The contract drift check of a generated API client (runs in-process, not as a command). */
  drift?: boolean;
}

/** The checks of a node component, in report order. */
export function nodeChecks(project: Project, c: Component, hasServer: boolean): NodeCheck[] {
  const checks: NodeCheck[] = [];
  const tc = detectToolchain(c.dir, project.root);
  const scripts = scriptsOf(readPackageJson(c.dir));
  const lint = scripts.lint;
  // A lint script that is itself `tsc --noEmit` already is the type check: run it once.
  const lintIsTsc = !!lint && /^\s*tsc\b[^&|;]*--noEmit/.test(lint);
  if (lint) {
    checks.push({
      name: "lint",
      argv: scriptArgv(tc, "lint"),
      fixHint: "Fix the lint errors above",
    });
  }
  const tsc = localBin(c, tc, "tsc");
  if (exists(path.join(c.dir, "tsconfig.json"))) {
    checks.push(
      lintIsTsc
        ? { name: "tsc", coveredBy: "lint" }
        : tsc
        ? { name: "tsc", argv: [tsc, "--noEmit"], fixHint: "Fix the type errors above" }
        : {
          name: "tsc",
          hint: componentCommand(project.components, "install", {
            component: c.name,
            args: ["--dev", "typescript"],
          }),
        },
    );
  }
  if (hasServer && detectApiClient(c.dir)) checks.push({ name: "api-client", drift: true });
  return checks;
}

/** A program from the component's (or the workspace root's) node_modules/.bin. */
export function localBin(c: Component, tc: Toolchain, name: string): string | undefined {
  const file = nodeBinName(name);
  for (const dir of [c.dir, tc.installDir]) {
    const bin = path.join(dir, "node_modules", ".bin", file);
    if (exists(bin)) return bin;
  }
  return undefined;
}

/** The file whose hash says what is installed in node_modules (part of the task key). */
export function nodeModulesMarker(project: Project, c: Component): string | undefined {
  return installMarker(detectToolchain(c.dir, project.root));
}

/** The fix for a check that rewrote files: a check-only command in rig.toml. */
export function checkOnlyHint(c: Component, command: string): string {
  const checkOnly = /\bprettier\b/.test(command)
    ? command.replace(/\s--write\b/g, " --check")
    : command.replace(/\s--(?:write|fix|unsafe|apply(?:-unsafe)?)\b/g, "");
  const suggestion = checkOnly !== command ? checkOnly.trim() : "a command that only checks";
  return `Give rig a check-only command: lint = "${suggestion}" under [components.${c.name}] ` +
    `in rig.toml (this one runs: ${command})`;
}

/** The outcome of the contract drift check, shaped like a check result. */
export interface DriftCheckResult {
  name: "api-client";
  status: "passed" | "failed" | "skipped";
  detail: string;
  hint?: string;
  durationMs: number;
  output?: string;
}

/** Runs the contract drift check of a generated client against the server's exported document. */
export async function runDriftCheck(
  project: Project,
  c: Component,
  opts: {
    server?: Component;
    contract?: { document: string; hash: string };
    env: Record<string, string>;
    signal?: AbortSignal;
    mask: (text: string) => string;
  },
): Promise<DriftCheckResult> {
  const started = performance.now();
  const client = detectApiClient(c.dir);
  if (!client || !opts.server || !opts.contract) {
    return {
      name: "api-client",
      status: "skipped",
      detail: `the API contract of "${opts.server?.name ?? "the server"}" could not be exported`,
      durationMs: 0,
    };
  }
  const tc = detectToolchain(c.dir, project.root);
  const generate = client.script
    ? scriptArgv(tc, client.script.name).join(" ")
    : `(run ${client.generator})`;
  let regenerate = `cd ${c.path} && ${generate}`;
  // A document read from a file must be exported first: say how, with the server's own venv.
  const venv = findVenv(opts.server, { env: opts.env });
  if (client.spec && !/^https?:/.test(client.spec) && venv && opts.server.app) {
    const specFromServer = path.relative(opts.server.dir, path.resolve(c.dir, client.spec));
    const python = path.relative(opts.server.dir, venv.python);
    const [module, attr] = opts.server.app.split(":");
    regenerate = `(cd ${opts.server.path} && ${python} -c "import json; from ${module} import ${
      attr ?? "app"
    } as a; print(json.dumps(a.openapi(), indent=2))" > ${specFromServer}) && ${regenerate}`;
  }
  const result = await checkDrift({
    root: project.root,
    componentPath: c.path,
    client,
    toolchain: tc,
    contract: opts.contract,
    server: opts.server.name,
    env: opts.env,
    signal: opts.signal,
    memoDir: path.join(projectCacheDir(project.root), "drift"),
    regenerate,
  });
  return {
    name: "api-client",
    status: result.status,
    detail: result.detail,
    hint: result.hint,
    durationMs: performance.now() - started,
    output: result.output ? opts.mask(result.output) : undefined,
  };
}
