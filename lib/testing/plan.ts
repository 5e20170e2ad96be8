/**
 * The plan of `rig test`: which tasks the selected components have, what each
 * task's state is (inputs, tools, hermetic environment, test files) and the
 * parts of its cache key.
 *
 * Why clients have two tasks: the unit task's key depends on the server's API
 * contract (its OpenAPI hash), the integration task's key on the server's code.
 * A server change that keeps the API therefore reruns only the integration task.
 */
import * as path from "../path.ts";
import { exists, readTextIfPresent } from "../fs.ts";
import { sha256Hex } from "../hash.ts";
import { buildImportGraph, isTestFile, selectTests } from "../python/pyimports.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import type { Manifest } from "../task/fingerprint.ts";
import type { TaskEngine } from "../task/task.ts";
import { hashEnv, type KeyManifest, stableJson, type TaskKeyInput } from "../task/task_key.ts";
import { type Venv } from "../python/venv.ts";
import { parsePyproject, tomlTable } from "../python/pyproject.ts";
import type { TaskOutcome, TaskSummary } from "./report.ts";
/** Python test files under the pytest test paths (component-relative, `/` separators). */
export function pythonTestFiles(files: string[], testPaths: string[]): string[] {
  const roots = testPaths.map((p) => p.replace(/^\.\//, "").replace(/\/$/, ""));
  return files.filter((f) =>
    isTestFile(f) && (roots.length === 0 || roots.some((r) => r === "." || f.startsWith(r + "/")))
  ).sort();
}

/** `testpaths` of pytest's configuration (pyproject.toml, pytest.ini, setup.cfg, tox.ini). */
export function pytestTestPaths(configTexts: Record<string, string>): string[] {
  for (const [name, text] of Object.entries(configTexts)) {
    if (name === "pyproject.toml") {
      const value = tomlTable(parsePyproject(text), "tool", "pytest", "ini_options")?.testpaths;
      if (typeof value === "string") return value.trim().split(/\s+/);
      if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
      continue;
    }
    // pytest.ini, setup.cfg and tox.ini are INI files: [pytest] or [tool:pytest].
    const body = text.match(/^\[(?:pytest|tool:pytest)\]([\s\S]*?)(?=^\[|(?![\s\S]))/m)?.[1];
    if (!body) continue;
    const value = body.match(/^testpaths\s*=\s*(\[[^\]]*\]|.*)$/m)?.[1];
    if (!value) continue;
    if (value.startsWith("[")) return [...value.matchAll(/["']([^"']+)["']/g)].map((m) => m[1]!);
    return value.trim().split(/\s+/);
  }
  return [];
}

/** Test files that talk to a live server (they read a `…SERVER_URL` variable). */
export function integrationTestFiles(sources: Map<string, string>): string[] {
  return [...sources].filter(([, text]) => /\b[A-Z][A-Z0-9_]*SERVER_URL\b/.test(text))
    .map(([file]) => file).sort();
}

/** Reads small config files of a component (pyproject.toml, setup.cfg, …) that exist. */
export function readConfigTexts(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini", ".coveragerc"]) {
    try {
      out[name] = Deno.readTextFileSync(path.join(dir, name));
    } catch {
      // Absent.
    }
  }
  return out;
}

/** The package.json scripts of a node component. */
export function packageScripts(dir: string): Record<string, string> {
  try {
    const data = JSON.parse(Deno.readTextFileSync(path.join(dir, "package.json")));
    return typeof data?.scripts === "object" && data.scripts ? data.scripts : {};
  } catch {
    return {};
  }
}

/** The server a client's integration tests need: its only python-app dependency. */
export function serverOf(project: Project, component: Component): Component | undefined {
  const deps = component.dependsOn.map((d) => project.components.find((c) => c.name === d));
  return deps.find((d) => d?.kind === "python-app");
}

/** How `rig test` was asked to run. */
export interface TestRunOptions {
  /** The selected components (project order). */
  components: Component[];
  /** The caller's environment (never passed through whole). */
  env: Record<string, string>;
  ui: Ui;
  signal: AbortSignal;
  /** `all`, `lint-only` (checks only) or `no-lint` (tests only). */
  mode: "all" | "lint-only" | "no-lint";
  passthrough: string[];
  /** Read the cache (false with --force or --no-cache). */
  readCache: boolean;
  /** Write the cache (false with --no-cache). */
  writeCache: boolean;
  explain: boolean;
  dryRun: boolean;
  verbose: boolean;
  /** `--changed`: component name → changed files (component-relative) of directly changed components. */
  changed?: Map<string, string[]>;
  /** `--changed`: why each component was selected. */
  reasons?: Map<string, string[]>;
  /** Dry runs: export the server's API contract when it is not remembered (for --changed). */
  exportContract?: boolean;
}

export interface ComponentState {
  component: Component;
  manifest: Manifest;
  tools: Record<string, string>;
  venv?: Venv;
  /** Declared names plus the test configuration's keys → values, for the key (hashed). */
  keyEnv: Record<string, string | undefined>;
  /** The hermetic environment of its tasks (without venv activation). */
  env: Record<string, string>;
  configTexts: Record<string, string>;
  testFiles: string[];
  integrationFiles: string[];
}

export interface PlannedTask {
  component: Component;
  task: "test" | "integration";
  server?: Component;
  /** Narrowed Python test files (--changed), component-relative. */
  files?: string[];
  narrowReasons?: string[];
  input?: TaskKeyInput;
  manifest?: KeyManifest;
  key: string;
  fullKey?: string;
  outcome?: TaskOutcome;
}

/** The cache's task name: one per mode, so --explain compares like with like. */
export function cacheTask(
  t: { task: "test" | "integration" },
  mode: TestRunOptions["mode"],
): string {
  if (t.task === "integration") return "test:integration";
  return mode === "all" ? "test" : `test:${mode}`;
}

export function emptySummary(t: PlannedTask): TaskSummary {
  return {
    component: t.component.name,
    task: t.task,
    ok: true,
    counts: null,
    coverage: null,
    checks: [],
    durationMs: 0,
    files: t.files,
  };
}

export async function describeComponents(
  engine: TaskEngine,
  components: Component[],
  opts: { configValues: Record<string, string> },
): Promise<Map<string, ComponentState>> {
  const inputs = await engine.inputs(components);
  const states = new Map<string, ComponentState>();
  for (const c of components) {
    const prefix = c.path === "." ? "" : c.path + "/";
    const manifest = inputs.get(c.name)!;
    const { env, keyEnv } = engine.environment(c, opts.configValues);
    const rel = Object.keys(manifest).filter((f) => f.startsWith(prefix)).map((f) =>
      f.slice(prefix.length)
    );
    const configTexts = isNode(c) ? {} : readConfigTexts(c.dir);
    const testFiles = isNode(c)
      ? rel.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.[cm]?[jt]s$/.test(f))
      : pythonTestFiles(rel, pytestTestPaths(configTexts));
    const sources = new Map<string, string>();
    // Synchronous: test files are small, and awaiting each read costs more than reading it.
    for (const f of testFiles) sources.set(f, readTextIfPresent(path.join(c.dir, f)) ?? "");
    const { tools, venv } = await engine.tools(c);
    states.set(c.name, {
      component: c,
      manifest,
      tools,
      venv,
      keyEnv,
      env,
      configTexts,
      testFiles,
      integrationFiles: integrationTestFiles(sources),
    });
  }
  return states;
}

export async function serverCodeHash(state: ComponentState): Promise<string> {
  return await sha256Hex(stableJson({
    inputs: state.manifest,
    tools: state.tools,
    env: await hashEnv(state.keyEnv),
  }));
}

/** The command part of a key: what runs, not where temp files go. */
function commandFor(t: PlannedTask, state: ComponentState, opts: TestRunOptions): string[] {
  const c = t.component;
  const command = [`rig-test:${t.task}`, c.kind, `mode=${opts.mode}`];
  if (c.commands.test) command.push("test=", ...c.commands.test);
  if (c.commands.lint) command.push("lint=", ...c.commands.lint);
  if (c.failUnder !== undefined) command.push(`fail-under=${c.failUnder}`);
  if (t.task === "test" && t.server && state.integrationFiles.length && !isNode(c)) {
    command.push("ignore=", ...state.integrationFiles);
  }
  if (opts.passthrough.length) command.push("--", ...opts.passthrough);
  if (t.files) command.push("files=", ...t.files);
  return command;
}

export function fullCommand(command: string[]): string[] {
  const at = command.indexOf("files=");
  return at >= 0 ? command.slice(0, at) : command;
}

export async function keyInputFor(
  t: PlannedTask,
  states: Map<string, ComponentState>,
  opts: TestRunOptions,
  contract: () => Promise<string | undefined>,
): Promise<TaskKeyInput | undefined> {
  const state = states.get(t.component.name)!;
  const dependencies: Record<string, string> = {};
  if (t.server) {
    if (t.task === "test") {
      const hash = await contract();
      if (!hash) return undefined;
      dependencies[`${t.server.name}:openapi`] = hash;
    } else {
      dependencies[`${t.server.name}:code`] = await serverCodeHash(states.get(t.server.name)!);
    }
  }
  return {
    task: cacheTask(t, opts.mode),
    component: t.component.name,
    command: commandFor(t, state, opts),
    config: t.component.config,
    inputs: state.manifest,
    tools: state.tools,
    env: state.keyEnv,
    dependencies,
  };
}

/** With --changed, a directly changed Python component runs only the test files its change reaches. */
export function narrowPythonTests(
  tasks: PlannedTask[],
  states: Map<string, ComponentState>,
  opts: TestRunOptions,
): void {
  if (!opts.changed || opts.mode === "lint-only") return;
  for (const t of tasks) {
    const c = t.component;
    const changed = opts.changed.get(c.name);
    if (t.task !== "test" || isNode(c) || !changed?.length || c.commands.test) continue;
    const state = states.get(c.name)!;
    const prefix = c.path === "." ? "" : c.path + "/";
    const sources = new Map<string, string>();
    for (const file of Object.keys(state.manifest)) {
      if (!file.endsWith(".py")) continue;
      const rel = file.slice(prefix.length);
      sources.set(rel, readTextIfPresent(path.join(c.dir, rel)) ?? "");
    }
    const roots = exists(path.join(c.dir, "src")) ? ["src", "."] : ["."];
    const graph = buildImportGraph(sources, { sourceRoots: roots });
    const candidates = state.testFiles.filter((f) => !state.integrationFiles.includes(f));
    const selection = selectTests(graph, { changed, testFiles: candidates });
    if (selection.all) {
      t.narrowReasons = [`all test files: ${selection.reasons[0]}`];
      continue;
    }
    t.files = selection.files;
    t.narrowReasons = selection.reasons;
  }
}

export async function sourceText(root: string, manifest: Manifest): Promise<string> {
  let text = "";
  for (const file of Object.keys(manifest)) {
    if (!/\.(py|[cm]?[jt]s|toml|cfg|ini|json|env|template)$/.test(file)) continue;
    text += await Deno.readTextFile(path.join(root, file)).catch(() => "");
    if (text.length > 4_000_000) break;
  }
  return text;
}
