import * as path from "../lib/path.ts";
import type { Command, Options } from "../lib/command.ts";
import { parseFlags, rejectMisusedOptions } from "../lib/command.ts";
import { UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs_atomic.ts";
import { renderJunit, type TestCase } from "../lib/testing/junit.ts";
import { type Project } from "../lib/project/project.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { componentOptions, selectComponents } from "../lib/project/selection.ts";
import { runTestSuite, selectByChanges } from "../lib/testing/runner.ts";
import {
  describeSummary,
  taskLabel,
  type TaskOutcome,
  type TestReport,
} from "../lib/testing/plan.ts";
import { mark } from "../lib/trace.ts";
import { formatDuration, type Ui } from "../lib/ui.ts";

const OPTIONS: Options = {
  changed: {
    type: "boolean",
    value: "[REF]",
    description:
      "[REF] Only components an edit can affect: changed files vs HEAD (or vs the merge-base with REF), plus dependents",
  },
  "no-lint": {
    type: "boolean",
    description: "Run tests only, no quality checks",
    conflicts: ["lint-only"],
  },
  "lint-only": { type: "boolean", description: "Run quality checks only, no tests" },
  force: { type: "boolean", short: "f", description: "Ignore cached results and run everything" },
  explain: { type: "boolean", description: "Say why each component ran or was cached" },
  "dry-run": { type: "boolean", description: "Print what would run and why, run nothing" },
  junit: { type: "string", value: "DIR", description: "Write JUnit XML per component into DIR" },
};

/** `rig test`: tests, coverage and checks per component, cached by content. */
export const test: Command = {
  name: "test",
  summary: "Run tests, coverage and quality checks per component (cached)",
  usage: [
    "test [COMPONENT...] [--<component>...] [--changed [REF]] [options] [-- RUNNER-ARGS]",
  ],
  description: "Runs each component's tests in its own environment with the test configuration " +
    "(.env.test): pytest with coverage for Python, the package's npm test script for node, " +
    "plus black, flake8, mypy and alembic check, or tsc and the lint script, where installed. " +
    "Clients' integration tests run against the server started on a free port with a " +
    "throwaway test database. Results are cached by a hash of every input: an unchanged " +
    "component is replayed from the cache. Select components with one flag per component " +
    "(e.g. --server, --python-client, --js-client) or by name; --changed picks the ones " +
    "an edit can affect. Arguments after -- go to the test runner.",
  options: OPTIONS,
  examples: [
    "rig test",
    "rig test --server",
    "rig test --changed",
    "rig test --changed main --explain",
    "rig test js-client --no-lint",
    "rig test --json --junit reports/",
    "rig test --server -- -k login -x",
  ],
  projectOptions: (project) => componentOptions(project, "Test", OPTIONS),
  async run(ctx, argv) {
    const project = await loadProject(ctx.cwd);
    mark("project model");
    const { argv: own, changed } = takeChangedFlag(argv, project);
    const options = { ...OPTIONS, ...this.projectOptions!(project) };
    delete options.changed;
    const args = parseFlags("test", options, own);
    rejectMisusedOptions(options, args);
    const v = args.values;
    let components = selectComponents(project, { values: v, names: args.positionals });
    let changedMap: Map<string, string[]> | undefined;
    let reasons: Map<string, string[]> | undefined;
    if (changed) {
      const result = await selectByChanges(project, components, {
        ref: changed.ref,
        env: ctx.env,
        ui: ctx.ui,
        signal: ctx.signal,
      });
      components = result.components;
      changedMap = result.changed;
      reasons = result.reasons;
      if (!ctx.flags.json) {
        for (const [name, why] of result.skipped) ctx.ui.info(`Not selected: ${name} (${why})`);
      }
    }
    const mode = v["lint-only"] ? "lint-only" : v["no-lint"] ? "no-lint" : "all";
    if (components.length === 0) {
      if (ctx.flags.json) {
        ctx.ui.result({ ok: true, components: [], durationMs: 0 });
      } else ctx.ui.print("Nothing to test: no component changed");
      return 0;
    }
    const report = await runTestSuite(project, {
      components,
      env: ctx.env,
      ui: ctx.ui,
      signal: ctx.signal,
      mode,
      passthrough: args.passthrough,
      readCache: !v.force && !ctx.flags.noCache,
      writeCache: !ctx.flags.noCache,
      explain: !!v.explain,
      dryRun: !!v["dry-run"],
      verbose: ctx.flags.verbose,
      changed: changedMap,
      reasons,
    });
    mark("tasks settled");
    if (typeof v.junit === "string") {
      await writeJunitReports(path.resolve(ctx.cwd, v.junit), report, (t) => ctx.ui.redact(t));
    }
    if (ctx.flags.json) {
      ctx.ui.result(jsonDocument(report, { dryRun: !!v["dry-run"], reasons }));
    } else {
      printReport(ctx.ui, report, {
        explain: !!v.explain || !!v["dry-run"],
        dryRun: !!v["dry-run"],
        verbose: ctx.flags.verbose,
        selection: reasons,
      });
    }
    return report.ok ? 0 : 1;
  },
};

/** Pulls `--changed [REF]` out of argv (the REF is optional, which parseArgs cannot express). */
function takeChangedFlag(
  argv: string[],
  project: Project,
): { argv: string[]; changed?: { ref?: string } } {
  const out: string[] = [];
  let changed: { ref?: string } | undefined;
  const names = new Set(project.components.map((c) => c.name));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (arg === "--changed") {
      changed = {};
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("-") && !names.has(next)) {
        changed.ref = next;
        i++;
      }
    } else if (arg.startsWith("--changed=")) {
      const ref = arg.slice("--changed=".length);
      if (!ref) throw new UsageError(`Option "--changed=" needs a ref, e.g. --changed=main`);
      changed = { ref };
    } else out.push(arg);
  }
  return { argv: out, changed };
}

function checksCell(outcome: TaskOutcome): string {
  const checks = outcome.summary.checks;
  if (!checks.length) return "-";
  return checks.map((c) =>
    `${c.name} ${c.status === "passed" ? "ok" : c.status === "failed" ? "FAIL" : "skip"}`
  ).join(", ");
}

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

async function writeJunitReports(
  dir: string,
  report: TestReport,
  redact: (text: string) => string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const o of report.tasks) {
    const s = o.summary;
    const name = s.task === "test" ? s.component : `${s.component}-integration`;
    const cases: TestCase[] = [...(s.cases ?? [])];
    for (const check of s.checks) {
      cases.push({
        classname: `${s.component}.checks`,
        name: check.name,
        time: check.durationMs / 1000,
        status: check.status === "passed"
          ? "passed"
          : check.status === "failed"
          ? "failed"
          : "skipped",
        message: check.status === "skipped" ? `not installed: ${check.hint}` : check.detail,
        details: check.output ? report.mask(check.output) : undefined,
      });
    }
    const counts = s.counts ?? { passed: 0, failed: 0, skipped: 0, errors: 0 };
    const checkCounts = {
      passed: s.checks.filter((c) => c.status === "passed").length,
      failed: s.checks.filter((c) => c.status === "failed").length,
      skipped: s.checks.filter((c) => c.status === "skipped").length,
    };
    const xml = renderJunit({
      name: taskLabel(s.component, s.task),
      counts: {
        passed: counts.passed + checkCounts.passed,
        failed: counts.failed + checkCounts.failed,
        skipped: counts.skipped + checkCounts.skipped,
        errors: counts.errors,
      },
      time: s.durationMs / 1000,
      cases,
      output: s.failureOutput ? report.mask(s.failureOutput) : undefined,
    }, { redact });
    await writeFileAtomic(path.join(dir, `${name}.xml`), xml);
  }
}

/** One line per task, for logs. */
export function summaryLine(o: TaskOutcome): string {
  return `${taskLabel(o.summary.component, o.summary.task)}: ${describeSummary(o.summary)}`;
}
