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
  rememberedReport,
  type ReportView,
  showReport,
  taskLabel,
  type TaskOutcome,
  type TestReport,
} from "../lib/testing/report.ts";
import { mark } from "../lib/trace.ts";

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
    let components = selectComponents(project, {
      values: v,
      names: args.positionals,
      own: OPTIONS,
    });
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
    const view: ReportView = {
      json: ctx.flags.json,
      explain: !!v.explain,
      dryRun: !!v["dry-run"],
      verbose: ctx.flags.verbose,
      selection: reasons,
    };
    showReport(ctx.ui, report, view);
    // An answer of the cache alone: the next run may replay it while nothing it read changes.
    if (report.tasks.every((o) => o.cached) && typeof v.junit !== "string") {
      ctx.remember?.(rememberedReport(report, view));
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
