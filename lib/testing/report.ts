/**
 * What `rig test` shows of its answer: the step line of a cached task, the
 * report (table, explanations, failures, summary) or its `--json` document,
 * and the replay of a remembered answer (lib/task/decision_memo.ts). It is
 * loaded on a replay without the rest of rig test, so it needs only the Ui.
 */
import type { Replayer } from "../command.ts";
import type { TestCase, TestCounts } from "./junit.ts";
import { formatDuration, type Ui } from "../ui.ts";

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
  /** Why coverage was not measured, with the install command (pytest-cov missing). */
  coverageHint?: string;
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
  /** True when the component has no tests (a node package without a `test` script). */
  noTests?: boolean;
}

/** A one-line description of a project's test task for logs. */
export function taskLabel(component: string, task: "test" | "integration"): string {
  return task === "test" ? component : `${component} (integration)`;
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
  /** A node client's run with the server's URL: the counts of its integration files. */
  integrationCounts?: TestCounts;
}

/** The result of `rig test`. */
export interface TestReport {
  ok: boolean;
  tasks: TaskOutcome[];
  durationMs: number;
  /** Masks secrets of the test configuration in any text. */
  mask: (text: string) => string;
}

/** A short line for a step: `12 passed, 1 skipped, 91% coverage`. */
export function describeSummary(s: TaskSummary): string {
  const parts: string[] = [];
  if (s.noTests) parts.push("no tests");
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

/** How the report is shown: the options of `rig test` that change it. */
export interface ReportView {
  json: boolean;
  explain: boolean;
  dryRun: boolean;
  verbose: boolean;
  /** Why `--changed` selected each component. */
  selection?: Map<string, string[]>;
}

/** Shows a cached task's step line. */
export function showCached(ui: Ui, outcome: TaskOutcome): void {
  ui.step(taskLabel(outcome.summary.component, outcome.summary.task))
    .cached(describeSummary(outcome.summary));
}

/** Shows the report, or with --json its document. */
export function showReport(ui: Ui, report: TestReport, view: ReportView): void {
  if (view.json) {
    ui.result(jsonDocument(report, { dryRun: view.dryRun, reasons: view.selection }));
  } else {
    printReport(ui, report, {
      explain: view.explain || view.dryRun,
      dryRun: view.dryRun,
      verbose: view.verbose,
      selection: view.selection,
    });
  }
}

/** An answer of the cache alone, as the decision memo keeps it (already masked). */
interface RememberedReport {
  ok: boolean;
  tasks: TaskOutcome[];
  durationMs: number;
  view: Omit<ReportView, "selection"> & { selection?: [string, string[]][] };
}

/** The data the decision memo keeps of a report: its texts masked, as they were shown. */
export function rememberedReport(
  report: TestReport,
  view: ReportView,
): RememberedReport {
  const mask = (text: string | undefined) => text === undefined ? undefined : report.mask(text);
  return {
    ok: report.ok,
    durationMs: report.durationMs,
    view: { ...view, selection: view.selection ? [...view.selection] : undefined },
    tasks: report.tasks.map((o) => ({
      ...o,
      log: mask(o.log),
      summary: {
        ...o.summary,
        failure: mask(o.summary.failure),
        failureOutput: mask(o.summary.failureOutput),
        checks: o.summary.checks.map((c) => ({ ...c, output: mask(c.output) })),
      },
    })),
  };
}

/** Shows a remembered report as the run that remembered it did, with this run's time. */
export const replayTestReport: Replayer = (ui, data, elapsedMs) => {
  const remembered = data as RememberedReport;
  // A run shows a step line per cached task before its report, except a dry run (runner.ts).
  if (!remembered.view.dryRun) { for (const o of remembered.tasks) showCached(ui, o); }
  const { selection, ...view } = remembered.view;
  showReport(ui, {
    ok: remembered.ok,
    tasks: remembered.tasks,
    durationMs: elapsedMs ?? remembered.durationMs,
    mask: (text) => text,
  }, { ...view, selection: selection ? new Map(selection) : undefined });
};

function checksCell(outcome: TaskOutcome): string {
  const checks = outcome.summary.checks;
  if (!checks.length) return "-";
  return checks.map((c) =>
    `${c.name} ${c.status === "passed" ? "ok" : c.status === "failed" ? "FAIL" : "skip"}`
  ).join(", ");
}

/** The table, explanations, failures and the summary line of `rig test`. */
function printReport(
  ui: Ui,
  report: TestReport,
  opts: { explain: boolean; dryRun: boolean; verbose: boolean; selection?: Map<string, string[]> },
): void {
  const rows = report.tasks.map((o) => {
    const s = o.summary;
    const counts = s.counts;
    return [
      taskLabel(s.component, s.task),
      counts ? String(counts.passed) : "-",
      counts ? String(counts.failed + counts.errors) : "-",
      counts ? String(counts.skipped) : "-",
      s.coverage !== null ? `${s.coverage}%` : s.coverageHint ? "not measured" : "-",
      checksCell(o),
      opts.dryRun && !o.cached ? "-" : formatDuration(s.durationMs),
      opts.dryRun && !o.cached ? "would run" : o.cached ? "cached" : s.ok ? "ran" : "FAILED",
    ];
  });
  ui.print();
  ui.print(
    ui.table(
      ["COMPONENT", "PASSED", "FAILED", "SKIPPED", "COVERAGE", "CHECKS", "TIME", "RESULT"],
      rows,
    ),
  );
  if (opts.explain) {
    ui.print();
    for (const o of report.tasks) {
      const name = taskLabel(o.summary.component, o.summary.task);
      ui.print(`${ui.style("bold", name)}${o.cached ? " (cached)" : ""}`);
      for (const why of opts.selection?.get(o.summary.component) ?? []) {
        ui.print(`  selected: ${why}`);
      }
      for (const line of o.reasons) ui.print(`  ${line}`);
      for (const line of o.planned ?? []) ui.print(`  would run: ${line}`);
      if (o.key) ui.print(ui.style("dim", `  key ${o.key.slice(0, 16)}`));
    }
  }
  for (const o of report.tasks) {
    if (o.cached && opts.verbose && o.log) {
      ui.print();
      ui.print(
        ui.style("bold", `── ${taskLabel(o.summary.component, o.summary.task)} (cached log)`),
      );
      ui.print(report.mask(o.log).trimEnd());
    }
  }
  for (const o of report.tasks.filter((o) => !o.summary.ok)) {
    const s = o.summary;
    ui.print();
    ui.print(
      ui.style("red", `── ${taskLabel(s.component, s.task)} failed: ${s.failure ?? "failed"}`),
    );
    if (s.failureOutput) ui.print(report.mask(s.failureOutput));
    for (const check of s.checks.filter((c) => c.status === "failed")) {
      const detail = check.detail && !check.output ? ` ${check.detail}` : "";
      ui.print(`${ui.style("bold", `${check.name}:`)}${detail}`);
      if (check.output) ui.print(report.mask(check.output));
      if (check.hint) ui.print(`hint: ${check.hint}`);
    }
    if (o.undeclared?.length) {
      ui.print(
        `Variables set in your shell but hidden from the tests (tasks are hermetic): ${
          o.undeclared.join(", ")
        }`,
      );
      ui.print(
        `hint: if the tests need one, declare it in rig.toml: [components.${s.component}] env = ["${
          o.undeclared[0]
        }"] (or [project] env = [...] for every component)`,
      );
    }
  }
  const skipped = report.tasks.flatMap((o) =>
    o.summary.checks.filter((c) => c.status === "skipped").map((c) => ({ o, c }))
  );
  if (skipped.length) {
    ui.print();
    for (const { o, c } of skipped) {
      ui.print(
        ui.style(
          "dim",
          `${o.summary.component}: ${c.name} skipped (not installed); install: ${c.hint}`,
        ),
      );
    }
  }
  const unmeasured = report.tasks.filter((o) => o.summary.coverageHint && o.summary.counts);
  if (unmeasured.length) {
    if (!skipped.length) ui.print();
    for (const o of unmeasured) {
      ui.print(
        ui.style("dim", `${o.summary.component}: coverage not measured: ${o.summary.coverageHint}`),
      );
    }
  }
  const failed = report.tasks.filter((o) => !o.summary.ok).length;
  const cached = report.tasks.filter((o) => o.cached).length;
  ui.print();
  if (opts.dryRun) {
    ui.print(
      `Dry run: ${report.tasks.length - cached} to run, ${cached} cached`,
    );
  } else if (failed) {
    ui.print(ui.style("red", `${failed} of ${report.tasks.length} failed`));
  } else {
    ui.print(
      ui.style(
        "green",
        `All ${report.tasks.length} passed${cached ? ` (${cached} cached)` : ""} in ${
          formatDuration(report.durationMs)
        }`,
      ),
    );
  }
}

/** The `--json` document of `rig test`. */
function jsonDocument(
  report: TestReport,
  opts: { dryRun: boolean; reasons?: Map<string, string[]> },
): unknown {
  const byComponent = new Map<string, TaskOutcome[]>();
  for (const o of report.tasks) {
    const list = byComponent.get(o.summary.component) ?? [];
    list.push(o);
    byComponent.set(o.summary.component, list);
  }
  return {
    ok: report.ok,
    dryRun: opts.dryRun,
    durationMs: Math.round(report.durationMs),
    components: [...byComponent].map(([name, outcomes]) => ({
      name,
      ok: outcomes.every((o) => o.summary.ok),
      selectedBecause: opts.reasons?.get(name) ?? null,
      tasks: outcomes.map((o) => ({
        task: o.summary.task,
        ok: o.summary.ok,
        cached: o.cached,
        wouldRun: opts.dryRun && !o.cached,
        key: o.key || null,
        passed: o.summary.counts?.passed ?? null,
        failed: o.summary.counts?.failed ?? null,
        skipped: o.summary.counts?.skipped ?? null,
        errors: o.summary.counts?.errors ?? null,
        coverage: o.summary.coverage,
        ...(o.summary.coverageHint ? { coverageHint: o.summary.coverageHint } : {}),
        failUnder: o.summary.failUnder ?? null,
        checks: o.summary.checks.map((c) => ({
          name: c.name,
          status: c.status,
          detail: c.detail ?? null,
          hint: c.hint ?? null,
          durationMs: Math.round(c.durationMs),
        })),
        files: o.summary.files ?? null,
        durationMs: Math.round(o.summary.durationMs),
        failure: o.summary.failure ? report.mask(o.summary.failure) : null,
        reasons: o.reasons,
        undeclaredEnv: o.undeclared ?? [],
      })),
    })),
  };
}
