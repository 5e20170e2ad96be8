/**
 * One test task's run: pytest with coverage and JUnit counts, or the
 * package's npm `test` script, plus the quality checks (black, flake8, mypy,
 * alembic check; tsc, the `lint` script), and reading their results.
 */
import * as path from "../path.ts";
import { pythonChecks } from "../python/quality.ts";
import { exists } from "../fs.ts";
import { InterruptedError } from "../errors.ts";
import { lockFile, withLock } from "../lock.ts";
import { type OutputSink, runCombined, tail } from "../proc.ts";
import { parseConsoleCounts, parseJunit, type TestCase, type TestCounts } from "./junit.ts";
import { type Component, isNode, type Project } from "../project/project.ts";
import { alembicCommand, findAlembicDir } from "../db/alembic.ts";
import { installedDistributions, venvBin, venvEnv } from "../python/venv.ts";
import {
  checkOnlyHint,
  type NodeCheck,
  nodeChecks,
  nodeTaskEnv,
  nodeTestArgv,
  runDriftCheck,
  throwIfToolMissing,
} from "./node_tests.ts";
import { describeChanges, WorktreeGuard } from "./worktree_guard.ts";
import { componentCommand } from "../project/selection.ts";
import {
  type ComponentState,
  packageScripts,
  type PlannedTask,
  type TestRunOptions,
} from "./plan.ts";
import type { CheckResult, TaskOutcome, TaskSummary } from "./report.ts";
import type { TestDatabase } from "./services.ts";
import { configuredFailUnder, coverageShortfall, coverageTotal } from "./coverage.ts";
import { nodeCounting, readNodeFileCounts, splitNodeCounts } from "./node_counts.ts";

/** Test runner exit code conventions. */
const PYTEST_NO_TESTS = 5;

/** The pieces of a pytest command line. */
export interface PytestPlan {
  /** The pytest program, or the argv that starts it (`python -m pytest`). */
  pytest: string | string[];
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
  const argv = [...[plan.pytest].flat(), "-p", "no:cacheprovider", `--junitxml=${plan.junitFile}`];
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
  const result = await runCombined(step.argv, {
    cwd: step.cwd,
    env: step.env,
    signal: step.signal,
    onLine: step.onLine,
  });
  if (result.cancelled || step.signal.aborted) throw new InterruptedError();
  const { code, success, output, durationMs } = result;
  return { code, success, output, durationMs };
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

/** The checks of a Python component, from its configuration: check name → argv after the tool. */
export function pythonCheckArgs(
  component: Component,
  configTexts: Record<string, string>,
  installed: Record<string, string> = {},
): Record<string, string[]> {
  return Object.fromEntries(
    pythonChecks(component.dir, configTexts, installed).map((c) => [c.name, c.args]),
  );
}

/** The last `lines` lines of output, masked. */
export function failureTail(output: string, mask: (text: string) => string, lines = 40): string {
  return mask(tail(output, lines));
}

export function describePlan(
  project: Project,
  t: PlannedTask,
  state: ComponentState,
  opts: TestRunOptions,
): string[] {
  const c = t.component;
  const lines: string[] = [];
  if (opts.mode !== "lint-only") {
    if (c.commands.test) lines.push(`test: ${c.commands.test.join(" ")}`);
    else if (isNode(c)) {
      const argv = nodeTestArgv(project, c, opts.passthrough);
      lines.push(
        argv
          ? `${argv.join(" ")}${
            t.task === "integration" ? " with AUTH_SERVER_URL of a live server" : ""
          }`
          : "no tests (package.json has no test script)",
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
      : isNode(c)
      ? nodeChecks(project, c, !!t.server).map((check) => check.name)
      : pythonChecks(c.dir, state.configTexts, state.venv ? installedDistributions(state.venv) : {})
        .map((check) => check.name);
    lines.push(`checks: ${checks.join(", ")}`);
  }
  return lines;
}

export interface RunContext extends TestRunOptions {
  project: Project;
  /** The server's exported OpenAPI document, for the drift check of generated clients. */
  contractDocument?: (server: Component) => Promise<{ document: string; hash: string } | undefined>;
  temp: string;
  database: TestDatabase;
  serverUrl?: string;
  mask: (text: string) => string;
}

export async function runTask(
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
  const python = !isNode(c);
  let env = python && state.venv
    ? venvEnv(state.venv, state.env)
    : nodeTaskEnv(ctx.project, c, state.env);
  if (python && c.kind === "python-app" && state.venv) {
    env = { ...env, ...await ctx.database.env(c, state) };
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

  let integrationCounts: TestCounts | undefined;
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
      if (t.task === "test" && !withCoverage) {
        summary.coverageHint = `pytest-cov is not installed; install: ${
          componentCommand(ctx.project.components, "install", {
            component: c.name,
            args: ["--dev", "pytest-cov"],
          })
        }`;
      }
      const coverageFile = withCoverage ? path.join(ctx.temp, dir, "coverage.json") : undefined;
      const argv = pytestArgv({
        pytest: [venv.python, "-m", "pytest"],
        junitFile,
        coverageFile,
        coverSources: coverSources(c, hasCoverageSource(state.configTexts)),
        failUnder: c.failUnder,
        partial: !!t.files,
        files: t.task === "integration" ? state.integrationFiles : t.files,
        ignore: t.task === "test" && t.server ? state.integrationFiles : [],
        passthrough: ctx.passthrough,
      });
      // Its own coverage data file: two runs at once never share one SQLite file.
      const pytestEnv = { ...env, COVERAGE_FILE: path.join(ctx.temp, dir, ".coverage") };
      const out = await runStep({ argv, cwd: c.dir, env: pytestEnv, signal: ctx.signal, onLine });
      record(argv, out, "test");
      const result = await readPytestResult(out, { junitFile, coverageFile });
      summary.counts = result.counts;
      summary.cases = result.cases;
      summary.coverage = result.coverage;
      let shortfall: string | undefined;
      if (coverageFile && !t.files) {
        // rig compares the exact total: pytest-cov rounds it first (98.5% passed 99).
        const failUnder = c.failUnder ?? configuredFailUnder(state.configTexts);
        const total = coverageTotal(await Deno.readTextFile(coverageFile).catch(() => ""));
        shortfall = total === undefined ? undefined : coverageShortfall(total, failUnder);
        if (failUnder !== undefined) summary.failUnder = failUnder;
      }
      // pytest-cov's own verdict names no exact figure; rig's does.
      if (result.failure && !(shortfall && result.failure.startsWith("coverage under"))) {
        fail(result.failure, out.output);
      }
      if (shortfall) fail(shortfall, out.output);
    } else {
      const argv = nodeTestArgv(ctx.project, c, ctx.passthrough);
      if (!argv) {
        // No test script: the component has no tests, which is not a failure.
        summary.noTests = true;
        return;
      }
      const counting = await nodeCounting(path.join(ctx.temp, dir), env);
      const out = await runStep({
        argv,
        cwd: c.dir,
        env: counting.env,
        signal: ctx.signal,
        onLine,
      });
      record(argv, out, "test");
      throwIfToolMissing(ctx.project, c, out, "test");
      const result = readNodeResult(out);
      summary.counts = result.counts;
      // One npm test runs both tasks' files: each test is counted by the task it belongs to.
      const perFile = t.server && state.integrationFiles.length
        ? await readNodeFileCounts(counting.file)
        : undefined;
      if (perFile) {
        const split = splitNodeCounts(perFile, state.integrationFiles);
        summary.counts = t.task === "integration" ? split.integration : split.unit;
        integrationCounts = split.integration;
      }
      if (result.failure) fail(result.failure, out.output);
    }
  };

  const checkResults: CheckResult[] = [];
  const checkLane = async (guard?: WorktreeGuard) => {
    if (t.task !== "test" || ctx.mode === "no-lint") return;
    for (const check of checksFor(ctx.project, c, state)) {
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
      if (check.drift) {
        checkResults.push(
          await runDriftCheck(ctx.project, c, {
            server: t.server,
            contract: t.server ? await ctx.contractDocument?.(t.server) : undefined,
            env: state.env,
            signal: ctx.signal,
            mask: ctx.mask,
          }),
        );
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
      const out = await runStep({
        argv: check.argv,
        cwd: check.cwd ?? c.dir,
        env,
        signal: ctx.signal,
        onLine,
      });
      record(check.argv, out, "checks");
      const changes = await guard?.restore() ?? [];
      if (isNode(c)) throwIfToolMissing(ctx.project, c, out, check.name);
      if (changes.length) {
        checkResults.push({
          name: check.name,
          status: "failed",
          detail: `this check modifies files: ${describeChanges(changes)} (rig put them back)`,
          hint: checkOnlyHint(c, checkCommandText(c, check)),
          durationMs: out.durationMs,
        });
      } else if (out.success) {
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
  // rig never changes the work tree: a check that rewrites files is undone and reported.
  const lanes = async () => {
    const guard = t.task === "test" && ctx.mode !== "no-lint"
      ? await WorktreeGuard.capture(ctx.project.root, { dirs: [c.path], env: ctx.env })
      : undefined;
    try {
      await Promise.all([testLane(), checkLane(guard)]);
      const late = await guard?.restore();
      if (late?.length) {
        ctx.ui.warn(
          `The tests of "${c.name}" changed ${describeChanges(late)}; rig put them back`,
          "Make the tests write to a temp folder",
        );
      }
    } finally {
      await guard?.dispose();
    }
  };
  // Two rigs testing one component at once would share its tools' caches (two mypy runs on
  // one .mypy_cache crash) and undo each other's files: the second waits for the first.
  if (t.task === "test") {
    await withLock(lockFile(ctx.project.root, `test-${c.name}`), {
      what: `testing ${c.name}`,
      signal: ctx.signal,
      onWait: (message) => ctx.ui.info(message),
    }, lanes);
  } else await lanes();
  // Report checks in their usual order (a covered check is listed where it belongs).
  const order = checksFor(ctx.project, c, state).map((ch) => ch.name);
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
    integrationCounts,
  };
}

/** The command a check runs, as the user wrote it (the script text for package scripts). */
function checkCommandText(c: Component, check: PlannedCheck): string {
  if (c.commands.lint) return c.commands.lint.join(" ");
  if (isNode(c) && check.name === "lint") return packageScripts(c.dir).lint ?? "";
  return check.argv?.join(" ") ?? check.name;
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find(Boolean)?.slice(0, 160) ?? "";
}

/** A planned check of any component: a node check, or a Python one that may run elsewhere. */
interface PlannedCheck extends NodeCheck {
  /** Where it runs (default: the component's folder); Alembic runs beside alembic.ini. */
  cwd?: string;
}

/** The project root a component lives in (its folder minus its relative path). */
function componentRoot(c: Component): string {
  return c.path === "." ? c.dir : path.resolve(c.dir, ...c.path.split("/").map(() => ".."));
}

function checksFor(project: Project, c: Component, state: ComponentState): PlannedCheck[] {
  if (c.commands.lint) return [{ name: "lint", argv: c.commands.lint }];
  if (isNode(c)) return nodeChecks(project, c, !!c.dependsOn.length);
  const venv = state.venv!;
  const out: PlannedCheck[] = [];
  const fixes: Record<string, string> = {
    ruff: `Run: ${path.relative(c.dir, venvBin(venv, "ruff"))} check --fix . (in ${c.path})`,
    "ruff-format": `Run: ${path.relative(c.dir, venvBin(venv, "ruff"))} format . (in ${c.path})`,
    isort: `Run: ${path.relative(c.dir, venvBin(venv, "isort"))} . (in ${c.path})`,
    black: `Run: ${path.relative(c.dir, venvBin(venv, "black"))} . (in ${c.path})`,
    flake8: "Fix the reported lines",
    mypy: "Fix the type errors above",
  };
  const alembicDir = findAlembicDir(c.dir, componentRoot(c));
  if (alembicDir) {
    const where = path.relative(componentRoot(c), alembicDir) || ".";
    fixes.alembic = `Models and migrations disagree: generate a migration with: cd ${where} && ` +
      `${alembicCommand(alembicDir, venv.python)} revision --autogenerate -m "…"`;
  }
  const checks = pythonChecks(c.dir, state.configTexts, installedDistributions(venv));
  // An alembic.ini above the component (e.g. at the repository root) still has a check.
  if (alembicDir && !checks.some((check) => check.name === "alembic")) {
    checks.push({ name: "alembic", tool: "alembic", args: ["check"] });
  }
  for (const { name, tool, args } of checks) {
    const bin = venvBin(venv, tool);
    if (!exists(bin)) {
      out.push({
        name,
        hint: componentCommand(project.components, "install", {
          component: c.name,
          args: ["--dev", tool],
        }),
      });
      continue;
    }
    // `python -m tool`: a script's shebang may point into another venv (a copied project).
    const argv = [venv.python, "-m", tool, ...args];
    out.push({
      name,
      argv,
      fixHint: fixes[name],
      ...(name === "alembic" && alembicDir ? { cwd: alembicDir } : {}),
    });
  }
  return out;
}
