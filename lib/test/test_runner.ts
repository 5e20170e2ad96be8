/**
 * `rig test`'s engine: per component, a hermetic test task (pytest with
 * coverage and JUnit counts, or the package's npm `test` script) plus quality
 * checks (black, flake8, mypy, alembic check; tsc, the `lint` script); for
 * clients of the server, an integration task against a live server on a free
 * port. Each task has a cache key; a hit replays the stored summary without
 * starting anything.
 *
 * Why clients have two tasks: the unit task's key depends on the server's API
 * contract (its OpenAPI hash), the integration task's key on the server's code.
 * A server change that keeps the API therefore reruns only the integration task.
 */
import { exists, isFile } from "../fs.ts";
import { changedFiles, relativeToProject } from "../git.ts";
import { type ChangedSelection, groupChanges, selectChanged } from "../project/selection.ts";
import { tempSibling } from "../fs_atomic.ts";
import { makeRunTempDir, removeRunTempDir } from "../proc_registry.ts";
import { projectCacheDir } from "../cache_paths.ts";
import * as path from "node:path";
import { InterruptedError, RigError } from "../errors.ts";
import { buildImportGraph, isTestFile, selectTests } from "../python/pyimports.ts";
import { type Child, type OutputSink, run, spawn, tail, which } from "../proc.ts";
import { parseConsoleCounts, parseJunit, type TestCase, type TestCounts } from "./junit.ts";
import {
  type Component,
  extraInputGlobs,
  isComponentInput,
  type Project,
  topoOrder,
} from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { loadEnvironment } from "../env/env_config.ts";
import { openCacheStore } from "../task/cache.ts";
import { fingerprint, listInputs, type Manifest, StatCache } from "../task/fingerprint.ts";
import {
  describeExplanation,
  explain,
  hashEnv,
  type KeyManifest,
  keyManifest,
  manifestKey,
  sha256Text,
  stableJson,
  type TaskKeyInput,
} from "../task/task_key.ts";
import { exportContract, rememberedContract } from "./openapi_contract.ts";
import {
  findVenv,
  installedDistributions,
  readPyvenvCfg,
  type Venv,
  venvBin,
  venvEnv,
} from "../python/venv.ts";
import { ensureInstalled } from "../install/install.ts";
import { npmEnv } from "../node/npm.ts";
import {
  createDatabase,
  type DatabaseConfig,
  dropDatabase,
  parseDatabaseUrl,
  withDatabaseName,
} from "../db/database.ts";
import { hasAlembic, upgrade } from "../db/alembic.ts";
import { freePort, waitForHttp } from "../net.ts";

/** One quality check's outcome. */
export interface CheckResult {
  /** `black`, `flake8`, `mypy`, `alembic`, `tsc`, `lint` or `lint` (rig.toml override). */
  name: string;
  status: "passed" | "failed" | "skipped";
  /** Why skipped, or a one-line failure summary. */
  detail?: string;
  /** The command that fixes a skip (e.g. `rig install --dev black`). */
  hint?: string;
  durationMs: number;
  /** Masked output tail when it failed. */
  output?: string;
}

/** What one task did; stored in the cache and replayed on a hit. */
export interface TaskSummary {
  component: string;
  /** `test` (unit tests + checks) or `integration` (against a live server). */
  task: "test" | "integration";
  ok: boolean;
  /** Test counts; null when only checks ran (`--lint-only`). */
  counts: TestCounts | null;
  /** Line coverage percentage, when measured. */
  coverage: number | null;
  failUnder?: number;
  checks: CheckResult[];
  durationMs: number;
  /** JUnit cases (pytest) for `--junit`. */
  cases?: TestCase[];
  /** The test files run when `--changed` narrowed the run. */
  files?: string[];
  /** Short failure reason for the report (tests failed, coverage under N%, a check failed). */
  failure?: string;
  /** Masked tail of the test output when tests failed. */
  failureOutput?: string;
}

/** Test runner exit code conventions. */
const PYTEST_NO_TESTS = 5;

/** Environment variables every hermetic task may see (besides declared ones). */
export const ALLOWED_ENV: readonly (string | RegExp)[] = [
  "PATH",
  "HOME",
  "LANG",
  "LANGUAGE",
  /^LC_[A-Z_]+$/,
  "TZ",
  "TMPDIR",
  "TEMP",
  "TMP",
  "TERM",
  // Windows needs these to start anything.
  "SYSTEMROOT",
  "SystemRoot",
  "COMSPEC",
  "PATHEXT",
  "WINDIR",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
  // Package indexes, proxies and certificates.
  /^PIP_(INDEX_URL|EXTRA_INDEX_URL|TRUSTED_HOST|CERT|FIND_LINKS|NO_INDEX)$/,
  /^UV_(INDEX_URL|EXTRA_INDEX_URL|INDEX|DEFAULT_INDEX)$/,
  /^(npm_config|NPM_CONFIG)_(registry|REGISTRY|cafile|CAFILE|strict_ssl|STRICT_SSL|proxy|PROXY|https_proxy|HTTPS_PROXY)$/,
  /^(HTTP|HTTPS|NO|ALL)_PROXY$/i,
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "REQUESTS_CA_BUNDLE",
  "NODE_EXTRA_CA_CERTS",
];

/** True when a variable passes the hermetic allow-list. */
export function isAllowedEnv(name: string): boolean {
  return ALLOWED_ENV.some((rule) => typeof rule === "string" ? rule === name : rule.test(name));
}

/**
 * The environment of a hermetic task: the allow-listed variables of the
 * caller, the declared ones (project.settings.env, component.env) and the test
 * configuration's values, nothing else.
 */
export function hermeticEnv(
  callerEnv: Record<string, string>,
  options: { declared: string[]; values: Record<string, string> },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(callerEnv)) {
    if (isAllowedEnv(name) || options.declared.includes(name)) env[name] = value;
  }
  Object.assign(env, options.values);
  return env;
}

const COMMON_PREFIXES = ["APP_", "AUTH_", "DATABASE_", "DB_", "TEST_", "PYTEST_", "NODE_", "API_"];

/**
 * Variables of the caller's environment that a failed task did not see but
 * might have needed: names mentioned in the component's source text, or with a
 * common or component-specific prefix.
 */
export function undeclaredVariables(
  callerEnv: Record<string, string>,
  options: { passed: Record<string, string>; sourceText: string; component: string },
): string[] {
  const words = new Set(options.sourceText.match(/\b[A-Z][A-Z0-9_]{2,}\b/g) ?? []);
  const own = options.component.toUpperCase().replace(/[^A-Z0-9]+/g, "_") + "_";
  const out: string[] = [];
  for (const name of Object.keys(callerEnv).sort()) {
    if (name in options.passed) continue;
    if (words.has(name) || [...COMMON_PREFIXES, own].some((p) => name.startsWith(p))) {
      out.push(name);
    }
  }
  return out;
}

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
    const section = name === "pyproject.toml"
      ? /^\[tool\.pytest\.ini_options\]([\s\S]*?)(?=^\[|(?![\s\S]))/m
      : /^\[(?:pytest|tool:pytest)\]([\s\S]*?)(?=^\[|(?![\s\S]))/m;
    const body = text.match(section)?.[1];
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

/** The pieces of a pytest command line. */
export interface PytestPlan {
  pytest: string;
  junitFile: string;
  /** Coverage JSON report file; undefined when pytest-cov is not installed. */
  coverageFile?: string;
  /** Packages to measure; empty to let the coverage configuration decide. */
  coverSources?: string[];
  failUnder?: number;
  /** Partial runs never enforce coverage thresholds. */
  partial?: boolean;
  files?: string[];
  ignore?: string[];
  passthrough?: string[];
}

/** The pytest argv for a plan. */
export function pytestArgv(plan: PytestPlan): string[] {
  const argv = [plan.pytest, "-p", "no:cacheprovider", `--junitxml=${plan.junitFile}`];
  if (plan.coverageFile) {
    if (plan.coverSources?.length) argv.push(...plan.coverSources.map((s) => `--cov=${s}`));
    else argv.push("--cov");
    argv.push(`--cov-report=json:${plan.coverageFile}`, "--cov-report=term");
    if (plan.partial) argv.push("--cov-fail-under=0");
    else if (plan.failUnder !== undefined) argv.push(`--cov-fail-under=${plan.failUnder}`);
  }
  for (const file of plan.ignore ?? []) argv.push(`--ignore=${file}`);
  argv.push(...(plan.passthrough ?? []), ...(plan.files ?? []));
  return argv;
}

/** The packages to measure when the coverage configuration names none. */
export function coverSources(component: Component, hasCoverageConfig: boolean): string[] {
  if (hasCoverageConfig) return [];
  const found: string[] = [];
  for (const base of ["src", "."]) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(path.join(component.dir, base))];
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isDirectory || /^(tests?|migrations|\.|_)/.test(e.name)) continue;
      try {
        Deno.statSync(path.join(component.dir, base, e.name, "__init__.py"));
        found.push(e.name);
      } catch {
        // Not a package.
      }
    }
    if (found.length) break;
  }
  return found.length ? found.sort() : ["."];
}

/** True when a coverage configuration names the measured sources (`source = …`). */
export function hasCoverageSource(configTexts: Record<string, string>): boolean {
  return Object.values(configTexts).some((t) =>
    /^\[(tool\.coverage\.run|coverage:run|run)\][^[]*^\s*source\s*=/m.test(t)
  );
}

/** The total line coverage from coverage.py's JSON report. */
export function parseCoverageJson(text: string): number | null {
  try {
    const data = JSON.parse(text);
    const value = data?.totals?.percent_covered;
    return typeof value === "number" ? Math.round(value * 10) / 10 : null;
  } catch {
    return null;
  }
}

/** Options for running one command of a task. */
export interface StepRun {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  signal: AbortSignal;
  onLine?: OutputSink;
}

/** Output of a task step, combined in arrival order. */
export interface StepOutput {
  code: number;
  success: boolean;
  output: string;
  durationMs: number;
}

/** Runs a command, capturing stdout and stderr interleaved; throws InterruptedError on abort. */
export async function runStep(step: StepRun): Promise<StepOutput> {
  let output = "";
  const result = await run(step.argv, {
    cwd: step.cwd,
    env: step.env,
    signal: step.signal,
    capture: false,
    onLine: (line, stream) => {
      output += line + "\n";
      step.onLine?.(line, stream);
    },
  });
  if (result.cancelled || step.signal.aborted) throw new InterruptedError();
  return { code: result.code, success: result.success, output, durationMs: result.durationMs };
}

/** Reads pytest's results: JUnit counts when the report exists, else its console summary. */
export async function readPytestResult(
  out: StepOutput,
  files: { junitFile: string; coverageFile?: string },
): Promise<{ counts: TestCounts; cases: TestCase[]; coverage: number | null; failure?: string }> {
  let counts: TestCounts = { passed: 0, failed: 0, skipped: 0, errors: 0 };
  let cases: TestCase[] = [];
  try {
    const report = parseJunit(await Deno.readTextFile(files.junitFile));
    counts = {
      passed: report.passed,
      failed: report.failed,
      skipped: report.skipped,
      errors: report.errors,
    };
    cases = report.cases;
  } catch {
    counts = parseConsoleCounts(out.output) ?? counts;
  }
  const coverage = files.coverageFile
    ? parseCoverageJson(await Deno.readTextFile(files.coverageFile).catch(() => ""))
    : null;
  let failure: string | undefined;
  if (!out.success && out.code !== PYTEST_NO_TESTS) {
    const under = out.output.match(/Required test coverage of ([\d.]+)% not reached/);
    if (counts.failed || counts.errors) {
      failure = `${counts.failed + counts.errors} test${
        counts.failed + counts.errors === 1 ? "" : "s"
      } failed`;
    } else if (under) failure = `coverage under ${under[1]}%`;
    else failure = `pytest exited with code ${out.code}`;
  }
  return { counts, cases, coverage, failure };
}

/** Reads the counts of a node test run from its console output. */
export function readNodeResult(out: StepOutput): { counts: TestCounts; failure?: string } {
  const parsed = parseConsoleCounts(out.output);
  const counts = parsed ??
    (out.success
      ? { passed: 0, failed: 0, skipped: 0, errors: 0 }
      : { passed: 0, failed: 0, skipped: 0, errors: 1 });
  if (out.success) return { counts };
  const n = counts.failed + counts.errors;
  return {
    counts,
    failure: n ? `${n} test${n === 1 ? "" : "s"} failed` : `npm test exited with code ${out.code}`,
  };
}

/** The checks of a Python component: tool name → argv after the tool (`null`: not applicable). */
export function pythonCheckArgs(
  component: Component,
  configTexts: Record<string, string>,
): Record<string, string[] | null> {
  const mypyFiles =
    Object.values(configTexts).some((t) => /^\[(tool\.mypy|mypy)\][^[]*^\s*files\s*=/m.test(t)) ||
    exists(path.join(component.dir, "mypy.ini"));
  return {
    black: ["--check", "."],
    flake8: [],
    mypy: mypyFiles ? [] : ["."],
    alembic: exists(path.join(component.dir, "alembic.ini")) ? ["check"] : null,
  };
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

/** The last `lines` lines of output, masked. */
export function failureTail(output: string, mask: (text: string) => string, lines = 40): string {
  return mask(tail(output, lines));
}

/** A one-line description of a project's test task for logs. */
export function taskLabel(component: string, task: "test" | "integration"): string {
  return task === "test" ? component : `${component} (integration)`;
}

/** The server a client's integration tests need: its only python-app dependency. */
export function serverOf(project: Project, component: Component): Component | undefined {
  const deps = component.dependsOn.map((d) => project.components.find((c) => c.name === d));
  return deps.find((d) => d?.kind === "python-app");
}

// ---------------------------------------------------------------------------
// Orchestration: keys, cache, install, database, server, tasks.

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

/** One task's result in a report. */
export interface TaskOutcome {
  summary: TaskSummary;
  key: string;
  cached: boolean;
  /** Why it ran or was cached (--explain, --dry-run). */
  reasons: string[];
  /** The full (masked) log, when it ran or with --verbose on a hit. */
  log?: string;
  /** Dry run: what would run. */
  planned?: string[];
  /** Undeclared variables a failed task might have needed. */
  undeclared?: string[];
}

/** The result of `rig test`. */
export interface TestReport {
  ok: boolean;
  tasks: TaskOutcome[];
  durationMs: number;
  /** Masks secrets of the test configuration in any text. */
  mask: (text: string) => string;
}

interface ComponentState {
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

interface PlannedTask {
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
function cacheTask(t: { task: "test" | "integration" }, mode: TestRunOptions["mode"]): string {
  if (t.task === "integration") return "test:integration";
  return mode === "all" ? "test" : `test:${mode}`;
}

/** Runs the selected components' test tasks, from the cache when possible. */
export async function runTestSuite(project: Project, opts: TestRunOptions): Promise<TestReport> {
  const started = performance.now();
  const { ui } = opts;
  const loaded = await loadEnvironment(project, {
    name: "test",
    processEnv: opts.env,
    ui,
    generate: true,
  });
  const configValues: Record<string, string> = {};
  for (const key of loaded.keys) {
    const value = loaded.values[key];
    if (value !== undefined) configValues[key] = value;
  }
  const mask = loaded.mask;
  const store = openCacheStore(project.root, {
    env: opts.env,
    remoteCache: project.settings.remoteCache,
    ui,
  });
  const servers = new Set<Component>();
  for (const c of opts.components) {
    const server = serverOf(project, c);
    if (server) servers.add(server);
  }
  const involved = project.components.filter((c) => opts.components.includes(c) || servers.has(c));
  const states = await describeComponents(project, involved, { ...opts, configValues });

  const contracts = new Map<string, string>();
  const contractOf = async (server: Component, allowExport: boolean) => {
    const known = contracts.get(server.name);
    if (known) return known;
    const state = states.get(server.name)!;
    const memoDir = path.join(store.dir, "contracts");
    const inputsHash = serverCodeHash(state);
    const remembered = await rememberedContract(memoDir, inputsHash);
    if (remembered) {
      contracts.set(server.name, remembered.hash);
      return remembered.hash;
    }
    if (!allowExport) return undefined;
    const venv = state.venv ?? findVenv(server, { env: opts.env });
    if (!venv || !server.app) {
      // Without an app to import, the server's code stands in for its contract.
      contracts.set(server.name, `code:${inputsHash}`);
      return `code:${inputsHash}`;
    }
    const step = ui.step(`export ${server.name} API contract`);
    try {
      const contract = await exportContract(server.dir, {
        python: venv.python,
        app: server.app,
        env: venvEnv(venv, state.env),
        signal: opts.signal,
        memoDir,
        inputsHash,
      });
      step.done(`openapi ${contract.hash.slice(0, 12)}`);
      contracts.set(server.name, contract.hash);
      return contract.hash;
    } catch (error) {
      step.fail();
      throw error;
    }
  };

  // 1. Plan tasks and compute keys without starting anything.
  // Dependencies first; integration tasks last, so the server starts once after every unit run.
  const tasks: PlannedTask[] = [];
  const integration: PlannedTask[] = [];
  for (const c of topoOrder(opts.components)) {
    const state = states.get(c.name)!;
    const server = serverOf(project, c);
    tasks.push({ component: c, task: "test", server, key: "" });
    if (
      server && opts.mode !== "lint-only" && opts.passthrough.length === 0 &&
      state.integrationFiles.length > 0
    ) {
      integration.push({ component: c, task: "integration", server, key: "" });
    }
  }
  tasks.push(...integration);
  const computeKeys = async (allowExport: boolean) => {
    for (const t of tasks) {
      const input = await keyInputFor(
        t,
        states,
        opts,
        () => t.server ? contractOf(t.server, allowExport) : Promise.resolve(undefined),
      );
      if (!input) continue;
      t.input = input;
      t.manifest = keyManifest(input);
      t.key = manifestKey(t.manifest);
      if (t.files) {
        const full = keyManifest({ ...input, command: fullCommand(input.command) });
        t.fullKey = manifestKey(full);
      }
    }
  };
  narrowPythonTests(tasks, states, opts);
  await computeKeys(opts.dryRun && !!opts.exportContract);

  // 2. Cache lookups.
  const lookup = async (t: PlannedTask) => {
    if (!opts.readCache || !t.key) return;
    for (const key of [t.fullKey, t.key]) {
      if (!key) continue;
      const record = await store.get(key, {
        task: cacheTask(t, opts.mode),
        component: t.component.name,
      });
      if (!record) continue;
      const summary = record.summary as TaskSummary;
      const reasons = [`cached: nothing changed since the run of ${record.createdAt}`];
      let log: string | undefined;
      if (opts.verbose) log = await store.readLog(record).catch(() => undefined);
      t.outcome = { summary, key, cached: true, reasons, log };
      return;
    }
  };
  for (const t of tasks) await lookup(t);
  const explainMiss = async (t: PlannedTask): Promise<string[]> => {
    const reasons: string[] = [];
    if (!opts.readCache) reasons.push(opts.writeCache ? "--force: cache ignored" : "--no-cache");
    if (t.narrowReasons?.length) reasons.push(...t.narrowReasons);
    const previous = await store.latest(cacheTask(t, opts.mode), t.component.name);
    if (!t.manifest) reasons.push("not run yet: its key needs the installed environment");
    else if (!previous) reasons.push("no earlier green run is cached");
    else {
      // A narrowed run is compared with the full run it stands in for.
      const current = t.files
        ? { ...t.manifest, command: fullCommand(t.manifest.command) }
        : t.manifest;
      const before = { ...previous.manifest, command: fullCommand(previous.manifest.command) };
      for (const line of describeExplanation(explain(before, current))) {
        reasons.push(line);
      }
    }
    if (t.task === "integration" && t.server) {
      reasons.push(
        `integration tests depend on "${t.server.name}"'s code (${t.server.name}:code); ` +
          `unit tests only on its API contract (${t.server.name}:openapi)`,
      );
    }
    return reasons;
  };

  const pending = tasks.filter((t) => !t.outcome);
  if (opts.dryRun) {
    for (const t of pending) {
      t.outcome = {
        summary: emptySummary(t),
        key: t.key,
        cached: false,
        reasons: await explainMiss(t),
        planned: describePlan(t, states.get(t.component.name)!, opts),
      };
    }
    return finish(tasks, started, mask);
  }

  // 3. Install what the pending tasks need, then recompute their keys.
  if (pending.length) {
    const needed = new Set<Component>();
    for (const t of pending) {
      needed.add(t.component);
      if (t.server) needed.add(t.server);
    }
    await ensureInstalled(project, project.components.filter((c) => needed.has(c)), {
      env: opts.env,
      ui,
      signal: opts.signal,
    });
    // Installing may write inputs (a new package-lock.json): look at the files again.
    const fresh = await describeComponents(project, involved, { ...opts, configValues });
    for (const [name, state] of fresh) states.set(name, state);
    await computeKeys(true);
    for (const t of pending) {
      await lookup(t);
      if (!t.outcome) t.outcome = undefined;
    }
  }

  // 4. Run: database and server live only as long as the tasks that need them.
  const toRun = tasks.filter((t) => !t.outcome);
  const reasonsFor = new Map<PlannedTask, string[]>();
  for (const t of toRun) reasonsFor.set(t, await explainMiss(t));
  for (const t of tasks.filter((t) => t.outcome)) {
    ui.step(taskLabel(t.component.name, t.task)).cached(describeSummary(t.outcome!.summary));
  }
  const temp = await makeRunTempDir("test");
  const database = new TestDatabase(project, {
    temp,
    configValues,
    env: opts.env,
    ui,
    mask,
  });
  let server: RunningServer | undefined;
  try {
    const save = async (t: PlannedTask, result: TaskOutcome) => {
      t.outcome = result;
      if (result.summary.ok && opts.writeCache && t.manifest) {
        await store.put({
          key: t.key,
          task: cacheTask(t, opts.mode),
          component: t.component.name,
          exitCode: 0,
          summary: result.summary,
          durationMs: result.summary.durationMs,
          manifest: t.manifest,
        }, { log: result.log ?? "" });
      }
    };
    for (const t of toRun) {
      if (opts.signal.aborted) throw new InterruptedError();
      if (t.outcome) continue;
      const state = states.get(t.component.name)!;
      // A node client's unit and integration tests come from one `npm test`: when both must
      // run, one run with the server's URL answers both (its test script compiles everything).
      const partner = t.task === "test" && t.component.kind === "node-lib"
        ? toRun.find((o) => o.component === t.component && o.task === "integration")
        : undefined;
      let url: string | undefined;
      if ((t.task === "integration" || partner) && t.server) {
        server ??= launchServer(t.server, {
          state: states.get(t.server.name)!,
          database,
          signal: opts.signal,
          ui,
        });
        url = server.url;
        // pytest connects at once; npm test compiles first, so it overlaps the startup.
        if (!partner && t.component.kind !== "node-lib") await server.ready;
      }
      const label = partner
        ? `${t.component.name} (with integration)`
        : taskLabel(t.component.name, t.task);
      const step = ui.step(label);
      // The task gets its own signal so a server that fails to start stops it too.
      const taskAbort = new AbortController();
      const forward = () => taskAbort.abort();
      opts.signal.addEventListener("abort", forward, { once: true });
      let result: TaskOutcome;
      try {
        const running = runTask(t, state, {
          ...opts,
          signal: taskAbort.signal,
          temp,
          database,
          serverUrl: url,
          mask,
        });
        running.catch(() => {});
        if (url && server) {
          try {
            await server.ready;
          } catch (error) {
            taskAbort.abort();
            await running.catch(() => {});
            step.fail("the server did not start");
            throw error;
          }
        }
        result = await running;
      } catch (error) {
        step.fail();
        throw error;
      } finally {
        opts.signal.removeEventListener("abort", forward);
      }
      result.reasons = reasonsFor.get(t) ?? [];
      if (result.summary.ok) step.done(describeSummary(result.summary));
      else {
        step.fail(describeSummary(result.summary));
        result.undeclared = undeclaredVariables(opts.env, {
          passed: state.env,
          sourceText: await sourceText(project.root, state.manifest),
          component: t.component.name,
        });
      }
      await save(t, result);
      if (partner) {
        await save(partner, {
          ...result,
          summary: { ...result.summary, task: "integration", checks: [] },
          key: partner.key,
          reasons: [
            ...(reasonsFor.get(partner) ?? []),
            `ran together with the unit tests (one npm test with the server's URL)`,
          ],
        });
      }
    }
  } finally {
    if (server) await server.stop();
    await database.dispose();
    await removeRunTempDir(temp);
  }
  return finish(tasks, started, mask);
}

function finish(tasks: PlannedTask[], started: number, mask: (t: string) => string): TestReport {
  const outcomes = tasks.map((t) => t.outcome!).filter(Boolean);
  return {
    ok: outcomes.every((o) => o.summary.ok),
    tasks: outcomes,
    durationMs: performance.now() - started,
    mask,
  };
}

function emptySummary(t: PlannedTask): TaskSummary {
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

/** A short line for a step: `12 passed, 1 skipped, 91% coverage`. */
export function describeSummary(s: TaskSummary): string {
  const parts: string[] = [];
  if (s.counts) {
    parts.push(`${s.counts.passed} passed`);
    if (s.counts.failed) parts.push(`${s.counts.failed} failed`);
    if (s.counts.errors) parts.push(`${s.counts.errors} errors`);
    if (s.counts.skipped) parts.push(`${s.counts.skipped} skipped`);
  }
  if (s.coverage !== null) parts.push(`${s.coverage}% coverage`);
  const failedChecks = s.checks.filter((c) => c.status === "failed").map((c) => c.name);
  if (failedChecks.length) parts.push(`${failedChecks.join(", ")} failed`);
  if (s.files) parts.push(`${s.files.length} test file${s.files.length === 1 ? "" : "s"}`);
  return parts.join(", ");
}

async function describeComponents(
  project: Project,
  components: Component[],
  opts: TestRunOptions & { configValues: Record<string, string> },
): Promise<Map<string, ComponentState>> {
  const files = await listInputs(project.root, {
    dirs: components.map((c) => c.path),
    include: ["rig.toml", ...components.flatMap(extraInputGlobs)],
    env: opts.env,
  });
  const statCache = await StatCache.open(project.root);
  const all = await fingerprint(project.root, files, { statCache, env: opts.env });
  const states = new Map<string, ComponentState>();
  for (const c of components) {
    const prefix = c.path === "." ? "" : c.path + "/";
    const manifest: Manifest = {};
    for (const [file, hash] of Object.entries(all)) {
      if (isComponentInput(project.components, c, file)) manifest[file] = hash;
    }
    const declared = [...project.settings.env, ...c.env];
    const keyEnv: Record<string, string | undefined> = { ...opts.configValues };
    for (const name of declared) keyEnv[name] = opts.env[name];
    const env = hermeticEnv(opts.env, { declared, values: opts.configValues });
    const rel = Object.keys(manifest).filter((f) => f.startsWith(prefix)).map((f) =>
      f.slice(prefix.length)
    );
    const configTexts = c.kind === "node-lib" ? {} : readConfigTexts(c.dir);
    const testFiles = c.kind === "node-lib"
      ? rel.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.[cm]?[jt]s$/.test(f))
      : pythonTestFiles(rel, pytestTestPaths(configTexts));
    const sources = new Map<string, string>();
    for (const f of testFiles) {
      sources.set(f, await Deno.readTextFile(path.join(c.dir, f)).catch(() => ""));
    }
    const state: ComponentState = {
      component: c,
      manifest,
      tools: {},
      keyEnv,
      env,
      configTexts,
      testFiles,
      integrationFiles: integrationTestFiles(sources),
    };
    refreshTools(state, opts.env);
    states.set(c.name, state);
  }
  return states;
}

/** Tool versions without starting processes: pyvenv.cfg, dist-info names, node's memo. */
function refreshTools(state: ComponentState, env: Record<string, string>): void {
  const c = state.component;
  const tools: Record<string, string> = {};
  if (c.kind === "node-lib") {
    tools.node = nodeVersion(env);
    const lock = readOrEmpty(path.join(c.dir, "node_modules", ".package-lock.json"));
    tools["node_modules"] = lock ? sha256Text(lock) : "missing";
  } else {
    const venv = findVenv(c, { env });
    state.venv = venv;
    if (venv) {
      const cfg = readPyvenvCfg(venv.dir);
      tools.python = cfg.version ?? cfg.version_info ?? "unknown";
      tools["python-packages"] = sha256Text(stableJson(installedDistributions(venv)));
    } else {
      tools.python = "no venv";
    }
  }
  state.tools = tools;
}

const nodeVersions = new Map<string, string>();

/** node's version, remembered per executable path and mtime (one process per new node). */
function nodeVersion(env: Record<string, string>): string {
  const node = which("node", env);
  if (!node) return "missing";
  let mtime = 0;
  try {
    mtime = Deno.statSync(node).mtime?.getTime() ?? 0;
  } catch {
    // Keep 0.
  }
  const id = `${node}@${mtime}`;
  const known = nodeVersions.get(id) ?? readNodeMemo(id);
  if (known) return known;
  const out = new Deno.Command(node, { args: ["--version"], env, clearEnv: true }).outputSync();
  const version = new TextDecoder().decode(out.stdout).trim() || "unknown";
  nodeVersions.set(id, version);
  writeNodeMemo(id, version);
  return version;
}

function nodeMemoFile(): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("LOCALAPPDATA") ?? "/tmp";
  return path.join(home, ".cache", "rig", "node-versions.json");
}

function readNodeMemo(id: string): string | undefined {
  try {
    const data = JSON.parse(Deno.readTextFileSync(nodeMemoFile()));
    return typeof data[id] === "string" ? data[id] : undefined;
  } catch {
    return undefined;
  }
}

function writeNodeMemo(id: string, version: string): void {
  try {
    const file = nodeMemoFile();
    let data: Record<string, string> = {};
    try {
      data = JSON.parse(Deno.readTextFileSync(file));
    } catch {
      // Start fresh.
    }
    data[id] = version;
    Deno.mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${Deno.pid}.tmp`;
    Deno.writeTextFileSync(temp, JSON.stringify(data));
    Deno.renameSync(temp, file);
  } catch {
    // Only a memo.
  }
}

function readOrEmpty(file: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return "";
  }
}

function serverCodeHash(state: ComponentState): string {
  return sha256Text(stableJson({
    inputs: state.manifest,
    tools: state.tools,
    env: hashEnv(state.keyEnv),
  }));
}

/** The command part of a key: what runs, not where temp files go. */
function commandFor(t: PlannedTask, state: ComponentState, opts: TestRunOptions): string[] {
  const c = t.component;
  const command = [`rig-test:${t.task}`, c.kind, `mode=${opts.mode}`];
  if (c.commands.test) command.push("test=", ...c.commands.test);
  if (c.commands.lint) command.push("lint=", ...c.commands.lint);
  if (c.failUnder !== undefined) command.push(`fail-under=${c.failUnder}`);
  if (t.task === "test" && t.server && state.integrationFiles.length && c.kind !== "node-lib") {
    command.push("ignore=", ...state.integrationFiles);
  }
  if (opts.passthrough.length) command.push("--", ...opts.passthrough);
  if (t.files) command.push("files=", ...t.files);
  return command;
}

function fullCommand(command: string[]): string[] {
  const at = command.indexOf("files=");
  return at >= 0 ? command.slice(0, at) : command;
}

async function keyInputFor(
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
      dependencies[`${t.server.name}:code`] = serverCodeHash(states.get(t.server.name)!);
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
function narrowPythonTests(
  tasks: PlannedTask[],
  states: Map<string, ComponentState>,
  opts: TestRunOptions,
): void {
  if (!opts.changed || opts.mode === "lint-only") return;
  for (const t of tasks) {
    const c = t.component;
    const changed = opts.changed.get(c.name);
    if (t.task !== "test" || c.kind === "node-lib" || !changed?.length || c.commands.test) continue;
    const state = states.get(c.name)!;
    const prefix = c.path === "." ? "" : c.path + "/";
    const sources = new Map<string, string>();
    for (const file of Object.keys(state.manifest)) {
      if (!file.endsWith(".py")) continue;
      const rel = file.slice(prefix.length);
      sources.set(rel, readOrEmpty(path.join(c.dir, rel)));
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

function describePlan(t: PlannedTask, state: ComponentState, opts: TestRunOptions): string[] {
  const c = t.component;
  const lines: string[] = [];
  if (opts.mode !== "lint-only") {
    if (c.commands.test) lines.push(`test: ${c.commands.test.join(" ")}`);
    else if (c.kind === "node-lib") {
      lines.push(
        `npm test${t.task === "integration" ? " with AUTH_SERVER_URL of a live server" : ""}`,
      );
    } else if (t.task === "integration") {
      lines.push(`pytest ${state.integrationFiles.join(" ")} against a live server`);
    } else {
      lines.push(`pytest --cov${t.files ? ` ${t.files.join(" ")}` : ""}`);
    }
  }
  if (t.task === "test" && opts.mode !== "no-lint") {
    const checks = c.commands.lint
      ? ["lint"]
      : c.kind === "node-lib"
      ? ["tsc", "lint"]
      : Object.entries(pythonCheckArgs(c, state.configTexts)).filter(([, a]) => a).map(([n]) => n);
    lines.push(`checks: ${checks.join(", ")}`);
  }
  return lines;
}

async function sourceText(root: string, manifest: Manifest): Promise<string> {
  let text = "";
  for (const file of Object.keys(manifest)) {
    if (!/\.(py|[cm]?[jt]s|toml|cfg|ini|json|env|template)$/.test(file)) continue;
    text += await Deno.readTextFile(path.join(root, file)).catch(() => "");
    if (text.length > 4_000_000) break;
  }
  return text;
}

// ---------------------------------------------------------------------------
// Running one task.

interface RunContext extends TestRunOptions {
  temp: string;
  database: TestDatabase;
  serverUrl?: string;
  mask: (text: string) => string;
}

async function runTask(
  t: PlannedTask,
  state: ComponentState,
  ctx: RunContext,
): Promise<TaskOutcome> {
  const c = t.component;
  const started = performance.now();
  const logs = { test: "", checks: "" };
  const record = (argv: string[], out: StepOutput, lane: "test" | "checks") => {
    const shown = argv.map((a) => a.startsWith(ctx.temp) ? "<tmp>" + a.slice(ctx.temp.length) : a);
    logs[lane] += `$ ${shown.join(" ")}\n${out.output}\n`;
  };
  const onLine: OutputSink | undefined = ctx.verbose
    ? (line) => ctx.ui.debug(`  ${c.name} │ ${ctx.mask(line)}`)
    : undefined;
  const summary: TaskSummary = {
    component: c.name,
    task: t.task,
    ok: true,
    counts: null,
    coverage: null,
    failUnder: c.failUnder,
    checks: [],
    durationMs: 0,
    files: t.files,
  };
  const python = c.kind !== "node-lib";
  let env = python && state.venv ? venvEnv(state.venv, state.env) : npmEnv({ env: state.env });
  if (python && c.kind === "python-app" && state.env.DATABASE_URL !== undefined) {
    env = { ...env, DATABASE_URL: await ctx.database.url(c, state) };
  }
  if (ctx.serverUrl) {
    env = { ...env, AUTH_SERVER_URL: ctx.serverUrl, RIG_SERVER_URL: ctx.serverUrl };
    if (t.server) {
      env[`${t.server.name.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}_URL`] = ctx.serverUrl;
    }
  }
  const dir = `${c.name}-${t.task}`;
  await Deno.mkdir(path.join(ctx.temp, dir), { recursive: true });
  const fail = (failure: string, output?: string) => {
    summary.ok = false;
    summary.failure ??= failure;
    if (output !== undefined) summary.failureOutput = failureTail(output, ctx.mask);
  };

  const testLane = async () => {
    if (ctx.mode === "lint-only") return;
    if (c.commands.test) {
      const argv = [...c.commands.test, ...ctx.passthrough];
      const out = await runStep({ argv, cwd: c.dir, env, signal: ctx.signal, onLine });
      record(argv, out, "test");
      summary.counts = parseConsoleCounts(out.output) ?? null;
      if (!out.success) fail(`"${argv.join(" ")}" exited with code ${out.code}`, out.output);
    } else if (python) {
      const venv = state.venv!;
      const junitFile = path.join(ctx.temp, dir, "junit.xml");
      const installed = installedDistributions(venv);
      const withCoverage = t.task === "test" && "pytest-cov" in installed;
      const coverageFile = withCoverage ? path.join(ctx.temp, dir, "coverage.json") : undefined;
      const argv = pytestArgv({
        pytest: venvBin(venv, "pytest"),
        junitFile,
        coverageFile,
        coverSources: coverSources(c, hasCoverageSource(state.configTexts)),
        failUnder: c.failUnder,
        partial: !!t.files,
        files: t.task === "integration" ? state.integrationFiles : t.files,
        ignore: t.task === "test" && t.server ? state.integrationFiles : [],
        passthrough: ctx.passthrough,
      });
      const out = await runStep({ argv, cwd: c.dir, env, signal: ctx.signal, onLine });
      record(argv, out, "test");
      const result = await readPytestResult(out, { junitFile, coverageFile });
      summary.counts = result.counts;
      summary.cases = result.cases;
      summary.coverage = result.coverage;
      if (result.failure) fail(result.failure, out.output);
    } else {
      const argv = ["npm", "test", ...(ctx.passthrough.length ? ["--", ...ctx.passthrough] : [])];
      const out = await runStep({ argv, cwd: c.dir, env, signal: ctx.signal, onLine });
      record(argv, out, "test");
      const result = readNodeResult(out);
      summary.counts = result.counts;
      if (result.failure) fail(result.failure, out.output);
    }
  };

  const checkResults: CheckResult[] = [];
  const checkLane = async () => {
    if (t.task !== "test" || ctx.mode === "no-lint") return;
    for (const check of checksFor(c, state)) {
      if (ctx.signal.aborted) throw new InterruptedError();
      if (check.coveredBy) {
        const other = checkResults.find((r) => r.name === check.coveredBy);
        checkResults.push({
          name: check.name,
          status: other?.status ?? "skipped",
          detail: `run by the "${check.coveredBy}" script`,
          durationMs: 0,
        });
        continue;
      }
      if (!check.argv) {
        checkResults.push({
          name: check.name,
          status: "skipped",
          detail: "not installed",
          hint: check.hint,
          durationMs: 0,
        });
        continue;
      }
      let checkEnv = env;
      if (check.name === "alembic") {
        checkEnv = { ...env, DATABASE_URL: await ctx.database.url(c, state) };
      }
      const out = await runStep({
        argv: check.argv,
        cwd: c.dir,
        env: checkEnv,
        signal: ctx.signal,
        onLine,
      });
      record(check.argv, out, "checks");
      if (out.success) {
        checkResults.push({ name: check.name, status: "passed", durationMs: out.durationMs });
      } else {
        checkResults.push({
          name: check.name,
          status: "failed",
          detail: firstLine(out.output),
          hint: check.fixHint,
          durationMs: out.durationMs,
          output: failureTail(out.output, ctx.mask, 25),
        });
      }
    }
  };
  // Tests and checks are independent: two lanes keep both cores busy.
  await Promise.all([testLane(), checkLane()]);
  // Report checks in their usual order (a covered check is listed where it belongs).
  const order = checksFor(c, state).map((ch) => ch.name);
  summary.checks = checkResults.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const failedCheck = summary.checks.find((ch) => ch.status === "failed");
  if (failedCheck && summary.ok) fail(`${failedCheck.name} failed`);
  else if (failedCheck) summary.ok = false;
  summary.durationMs = performance.now() - started;
  return {
    summary,
    key: t.key,
    cached: false,
    reasons: [],
    log: ctx.mask(logs.test + logs.checks),
  };
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find(Boolean)?.slice(0, 160) ?? "";
}

interface PlannedCheck {
  name: string;
  /** undefined: the tool is not installed. */
  argv?: string[];
  /** How to install the tool. */
  hint?: string;
  /** How to fix a failure. */
  fixHint?: string;
  /** Another check that already does this one's work. */
  coveredBy?: string;
}

function checksFor(c: Component, state: ComponentState): PlannedCheck[] {
  if (c.commands.lint) return [{ name: "lint", argv: c.commands.lint }];
  if (c.kind === "node-lib") {
    const checks: PlannedCheck[] = [];
    const lint = packageScripts(c.dir).lint;
    // A lint script that is itself `tsc --noEmit` already is the type check: run it once.
    const lintIsTsc = !!lint && /^\s*tsc\b[^&|;]*--noEmit/.test(lint);
    if (lint) {
      checks.push({
        name: "lint",
        argv: ["npm", "run", "lint"],
        fixHint: "Fix the lint errors above",
      });
    }
    const tsc = path.join(
      c.dir,
      "node_modules",
      ".bin",
      Deno.build.os === "windows" ? "tsc.cmd" : "tsc",
    );
    if (exists(path.join(c.dir, "tsconfig.json"))) {
      checks.push(
        lintIsTsc
          ? { name: "tsc", coveredBy: "lint" }
          : exists(tsc)
          ? { name: "tsc", argv: [tsc, "--noEmit"], fixHint: "Fix the type errors above" }
          : { name: "tsc", hint: `rig install --${c.name} --dev typescript` },
      );
    }
    return checks;
  }
  const venv = state.venv!;
  const out: PlannedCheck[] = [];
  const fixes: Record<string, string> = {
    black: `Run: ${path.relative(c.dir, venvBin(venv, "black"))} . (in ${c.path})`,
    flake8: "Fix the reported lines",
    mypy: "Fix the type errors above",
    alembic:
      `Models and migrations disagree: generate a migration with: cd ${c.path} && alembic revision --autogenerate -m "…"`,
  };
  for (const [name, args] of Object.entries(pythonCheckArgs(c, state.configTexts))) {
    if (!args) continue;
    const bin = name === "alembic" ? venvBin(venv, "alembic") : venvBin(venv, name);
    if (!exists(bin)) {
      out.push({ name, hint: `rig install --${c.name} --dev ${name}` });
      continue;
    }
    const argv = name === "alembic" ? [venv.python, "-m", "alembic", ...args] : [bin, ...args];
    out.push({ name, argv, fixHint: fixes[name] });
  }
  return out;
}

// ---------------------------------------------------------------------------
// The test database and the server for integration tests.

/** A throwaway database for one `rig test` run, created on first use and always dropped. */
class TestDatabase {
  #url?: string;
  #config?: DatabaseConfig;
  #python?: string;

  constructor(
    readonly project: Project,
    readonly opts: {
      temp: string;
      configValues: Record<string, string>;
      env: Record<string, string>;
      ui: Ui;
      mask: (t: string) => string;
    },
  ) {}

  #ready?: Promise<string>;

  /** The database URL for the server's tasks; created and migrated once, on first call. */
  url(server: Component, state: ComponentState): Promise<string> {
    this.#ready ??= this.#prepare(server, state);
    return this.#ready;
  }

  async #prepare(server: Component, state: ComponentState): Promise<string> {
    const configured = this.opts.configValues.DATABASE_URL ?? state.env.DATABASE_URL;
    const venv = state.venv!;
    this.#python = venv.python;
    const parsed = parseDatabaseUrl(configured ?? "sqlite:///test.db", { baseDir: server.dir });
    if (parsed.kind === "sqlite") {
      const file = path.join(this.opts.temp, "test.db");
      this.#url = `${parsed.scheme}:///${file}`;
    } else {
      const random = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
      const base = (parsed.database ?? "app").replace(/[^A-Za-z0-9_]/g, "_");
      const name = `${base}_test_${random}`;
      const url = withDatabaseName(parsed, name);
      this.#config = parseDatabaseUrl(url, { baseDir: server.dir });
      const step = this.opts.ui.step(`create test database "${name}"`);
      try {
        await createDatabase(this.#config, { python: venv.python, env: venvEnv(venv, state.env) });
        step.done();
      } catch (error) {
        step.fail();
        throw error;
      }
      this.#url = url;
    }
    if (hasAlembic(server.dir)) {
      const env = { ...venvEnv(venv, state.env), DATABASE_URL: this.#url };
      // A migrated SQLite file depends only on the server's files and packages, so a
      // copy kept per server code hash spares Alembic's start-up on later runs.
      const sqlite = parsed.kind === "sqlite" ? path.join(this.opts.temp, "test.db") : undefined;
      const template = sqlite
        ? path.join(projectCacheDir(this.project.root), "testdb", `${serverCodeHash(state)}.db`)
        : undefined;
      if (sqlite && template && isFile(template)) {
        await Deno.copyFile(template, sqlite);
        this.opts.ui.step("migrate test database").skip("copied from a migrated template");
      } else {
        await this.opts.ui.task(`migrate test database`, async () => {
          await upgrade(server.dir, { python: venv.python, env, mask: this.opts.mask });
        });
        if (sqlite && template) await keepTemplate(sqlite, template);
      }
    }
    return this.#url;
  }

  /** Drops a PostgreSQL test database (SQLite files go with the temp folder). */
  async dispose(): Promise<void> {
    if (!this.#config || !this.#python) return;
    const name = this.#config.database;
    try {
      await dropDatabase(this.#config, { python: this.#python, env: this.opts.env });
      this.opts.ui.debug(`Dropped test database "${name}"`);
    } catch (error) {
      this.opts.ui.warn(
        `Cannot drop test database "${name}": ${(error as Error).message}`,
        `Drop it by hand: dropdb ${name}`,
      );
    }
  }
}

/** Stores a migrated SQLite file as the only template in its folder (older ones are stale). */
async function keepTemplate(file: string, template: string): Promise<void> {
  try {
    const dir = path.dirname(template);
    await Deno.mkdir(dir, { recursive: true });
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name !== path.basename(template)) {
        await Deno.remove(path.join(dir, entry.name)).catch(() => {});
      }
    }
    const temp = tempSibling(template);
    await Deno.copyFile(file, temp);
    await Deno.rename(temp, template);
  } catch {
    // Only a speed-up: without a template the next run migrates again.
  }
}

interface RunningServer {
  url: string;
  /** Settles when the server answers its health check; rejects when it cannot start. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the server for integration tests in the background: the URL is known
 * at once, so a client's slow build can overlap the database setup and startup.
 */
function launchServer(
  server: Component,
  opts: { state: ComponentState; database: TestDatabase; signal: AbortSignal; ui: Ui },
): RunningServer {
  const venv = opts.state.venv!;
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: Child | undefined;
  let stopped = false;
  const ready = (async () => {
    const env: Record<string, string> = { ...venvEnv(venv, opts.state.env) };
    if (opts.state.env.DATABASE_URL !== undefined) {
      env.DATABASE_URL = await opts.database.url(server, opts.state);
    }
    env.HOST = "127.0.0.1";
    env.PORT = String(port);
    if (stopped || opts.signal.aborted) throw new InterruptedError();
    const step = opts.ui.step(`start ${server.name} on ${url}`);
    let output = "";
    const started = spawn(
      [
        venvBin(venv, "uvicorn"),
        server.app ?? "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ],
      {
        cwd: server.dir,
        env,
        signal: opts.signal,
        capture: false,
        onLine: (line) => {
          output += line + "\n";
        },
      },
    );
    child = started;
    let exited: string | undefined;
    started.status.then((s) => {
      exited = `the server exited with code ${s.code}`;
    });
    try {
      const health = server.ready?.http ?? "/health";
      await waitForHttp(`${url}${health}`, {
        timeoutMs: 60_000,
        signal: opts.signal,
        giveUp: () => exited,
      });
      step.done();
    } catch (error) {
      step.fail();
      await started.stop();
      if (error instanceof InterruptedError) throw error;
      throw new RigError(
        `Cannot start "${server.name}" for integration tests: ${(error as Error).message}\n${
          tail(output, 30)
        }`,
        `Check that it starts with: rig run`,
      );
    }
  })();
  // Failures are reported by whoever awaits `ready`; never as an unhandled rejection.
  ready.catch(() => {});
  return {
    url,
    ready,
    async stop() {
      stopped = true;
      await ready.catch(() => {});
      await child?.stop(3000);
    },
  };
}

// ---------------------------------------------------------------------------
// --changed: which components an edit can affect.

/**
 * The components `rig test --changed [REF]` runs among `candidates`: those whose
 * files changed (vs HEAD, or the merge-base with REF) and the dependents whose view
 * of a dependency's contract changed, with the changed files of each and why.
 */
export async function selectByChanges(
  project: Project,
  candidates: Component[],
  opts: { ref?: string; env: Record<string, string>; ui: Ui; signal: AbortSignal },
): Promise<ChangedSelection & { changed: Map<string, string[]> }> {
  const { ref } = opts;
  const diff = await changedFiles(project.root, { env: opts.env, ref, signal: opts.signal });
  const files = relativeToProject(diff.root, project.root, diff.files);
  const changes = groupChanges(project, files);
  opts.ui.debug(
    `Changed files${ref ? ` since merge-base with "${ref}"` : ""}: ${files.join(", ")}`,
  );
  // A dependent is selected when the contract it was last tested against no longer matches;
  // that is decided inside runTestSuite's keys, so here: select it and let the cache answer.
  const selection = await selectChanged(project, {
    changes,
    candidates,
    contractChanged: (dependency, dependent) =>
      contractChangedFor(opts, project, dependency, dependent),
  });
  const changed = new Map<string, string[]>();
  for (const c of selection.components) {
    if (changes.global.length) continue;
    const own = changes.byComponent.get(c.name);
    if (own?.length) changed.set(c.name, own);
  }
  return { ...selection, changed };
}

/**
 * Whether a dependent's view of `dependency` changed: runs the dependent's unit
 * task key check in dry-run mode (no process is started when the contract is
 * remembered; otherwise the contract is exported once).
 */
async function contractChangedFor(
  ctx: { env: Record<string, string>; ui: Ui; signal: AbortSignal },
  project: Project,
  dependency: Component,
  dependent: Component,
): Promise<boolean> {
  if (dependency.kind !== "python-app") return true;
  const probe = await runTestSuite(project, {
    components: [dependent],
    env: ctx.env,
    ui: ctx.ui,
    signal: ctx.signal,
    mode: "all",
    passthrough: [],
    readCache: true,
    writeCache: false,
    explain: false,
    dryRun: true,
    verbose: false,
    exportContract: true,
  });
  const unit = probe.tasks.find((t) => t.summary.task === "test");
  return !unit?.cached;
}
