/**
 * JUnit XML: reading the reports pytest writes (`--junitxml`) into counts, and
 * writing one report per component for `rig test --junit DIR`.
 */

/** The outcome of one test case. */
export type CaseStatus = "passed" | "failed" | "error" | "skipped";

/** One test case. */
export interface TestCase {
  classname: string;
  name: string;
  /** Seconds. */
  time: number;
  status: CaseStatus;
  /** Failure, error or skip message. */
  message?: string;
  /** Failure details (traceback). */
  details?: string;
}

/** Counts of a test run. */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
}

/** A parsed report: counts plus the cases when the report lists them. */
export interface JunitReport extends TestCounts {
  tests: number;
  /** Seconds. */
  time: number;
  cases: TestCase[];
}

/** A suite to write: a name, its cases or just counts, and captured output. */
export interface JunitSuite {
  name: string;
  counts: TestCounts;
  /** Seconds. */
  time: number;
  cases?: TestCase[];
  /** Output attached as <system-out> (already masked). */
  output?: string;
  timestamp?: string;
}

/** Escapes text for XML attribute values and character data (and drops invalid characters). */
export function escapeXml(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Undoes XML entity escapes (named and numeric). */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[lower] ?? "";
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
    out[m[1]!] = unescapeXml(m[3] ?? m[4] ?? "");
  }
  return out;
}

function body(text: string): string {
  const cdata = text.match(/^<!\[CDATA\[([\s\S]*)\]\]>$/);
  return cdata ? cdata[1]! : unescapeXml(text);
}

/** Parses a JUnit XML report (pytest's or any runner's) into counts and cases. */
export function parseJunit(xml: string): JunitReport {
  const cases: TestCase[] = [];
  const casePattern = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(casePattern)) {
    const attrs = attributes(m[1]!);
    const inner = m[3] ?? "";
    let status: CaseStatus = "passed";
    let message: string | undefined;
    let details: string | undefined;
    const child = inner.match(/<(failure|error|skipped)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/);
    if (child) {
      const kind = child[1]!;
      status = kind === "failure" ? "failed" : kind === "error" ? "error" : "skipped";
      message = attributes(child[2]!).message;
      details = child[4] !== undefined ? body(child[4]) : undefined;
    }
    cases.push({
      classname: attrs.classname ?? "",
      name: attrs.name ?? "",
      time: Number(attrs.time ?? 0) || 0,
      status,
      message,
      details,
    });
  }
  const count = (s: CaseStatus) => cases.filter((c) => c.status === s).length;
  let time = 0;
  for (const m of xml.matchAll(/<testsuite\b([^>]*)>/g)) {
    time += Number(attributes(m[1]!).time) || 0;
  }
  if (cases.length === 0) {
    // Some writers only give suite totals.
    let tests = 0, failed = 0, errors = 0, skipped = 0;
    for (const m of xml.matchAll(/<testsuite\b([^>]*)>/g)) {
      const a = attributes(m[1]!);
      tests += Number(a.tests) || 0;
      failed += Number(a.failures) || 0;
      errors += Number(a.errors) || 0;
      skipped += Number(a.skipped ?? a.skips) || 0;
    }
    return {
      tests,
      passed: Math.max(0, tests - failed - errors - skipped),
      failed,
      errors,
      skipped,
      time,
      cases,
    };
  }
  return {
    tests: cases.length,
    passed: count("passed"),
    failed: count("failed"),
    errors: count("error"),
    skipped: count("skipped"),
    time,
    cases,
  };
}

/**
 * Renders one JUnit XML document for a component (a <testsuites> with one
 * <testsuite>). `redact` (rig's redaction step, `ui.redact`) masks secrets in
 * every name, message, traceback and output before they are escaped.
 */
export function renderJunit(
  suite: JunitSuite,
  opts: { redact?: (text: string) => string } = {},
): string {
  const { counts } = suite;
  const tests = counts.passed + counts.failed + counts.skipped + counts.errors;
  const text = (value: string) => escapeXml(opts.redact ? opts.redact(value) : value);
  const attr = (name: string, value: string | number) => ` ${name}="${text(String(value))}"`;
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(
    `<testsuites${attr("name", suite.name)}${attr("tests", tests)}${
      attr("failures", counts.failed)
    }${attr("errors", counts.errors)}${attr("skipped", counts.skipped)}${
      attr("time", suite.time.toFixed(3))
    }>`,
  );
  lines.push(
    `  <testsuite${attr("name", suite.name)}${attr("tests", tests)}${
      attr("failures", counts.failed)
    }${attr("errors", counts.errors)}${attr("skipped", counts.skipped)}${
      attr("time", suite.time.toFixed(3))
    }${suite.timestamp ? attr("timestamp", suite.timestamp) : ""}>`,
  );
  for (const c of suite.cases ?? []) {
    const open = `    <testcase${attr("classname", c.classname)}${attr("name", c.name)}${
      attr("time", c.time.toFixed(3))
    }`;
    if (c.status === "passed") {
      lines.push(`${open}/>`);
      continue;
    }
    const tag = c.status === "failed" ? "failure" : c.status === "error" ? "error" : "skipped";
    const message = c.message !== undefined ? attr("message", c.message) : "";
    lines.push(
      `${open}>`,
      c.details
        ? `      <${tag}${message}>${text(c.details)}</${tag}>`
        : `      <${tag}${message}/>`,
      "    </testcase>",
    );
  }
  if (suite.output) lines.push(`    <system-out>${text(suite.output)}</system-out>`);
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}

/** Reads "<count> <word>" out of a runner's summary line; 0 when the word is absent. */
function summaryCounter(summary: string): (word: string) => number {
  return (word) => Number(summary.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
}

/** Reads counts from a test runner's console output (node --test TAP or spec, pytest, jest). */
export function parseConsoleCounts(output: string): TestCounts | undefined {
  // deno-lint-ignore no-control-regex
  const text = output.replace(/\u001b\[[0-9;]*m/g, "");
  const last = (pattern: RegExp): number | undefined => {
    let value: number | undefined;
    for (const m of text.matchAll(pattern)) value = Number(m[1]);
    return value;
  };
  // node --test: "# pass 5" (TAP) or "ℹ pass 5" (spec).
  const pass = last(/^\s*(?:#|ℹ)\s*pass\s+(\d+)\s*$/gm);
  if (pass !== undefined) {
    return {
      passed: pass,
      failed: last(/^\s*(?:#|ℹ)\s*fail\s+(\d+)\s*$/gm) ?? 0,
      skipped: (last(/^\s*(?:#|ℹ)\s*skipped\s+(\d+)\s*$/gm) ?? 0) +
        (last(/^\s*(?:#|ℹ)\s*todo\s+(\d+)\s*$/gm) ?? 0),
      errors: last(/^\s*(?:#|ℹ)\s*cancelled\s+(\d+)\s*$/gm) ?? 0,
    };
  }
  // jest: "Tests:       1 failed, 2 skipped, 5 passed, 8 total";
  // vitest: "      Tests  1 failed | 4 passed | 1 skipped (6)".
  const jest = text.match(/^\s*Tests:\s+(.*\d+ total)\s*$/m)?.[1] ??
    [...text.matchAll(/^\s*Tests\s{2,}(\d+ [a-z]+(?: \| \d+ [a-z]+)*)\s+\(\d+\)\s*$/gm)].pop()?.[1];
  if (jest) {
    const n = summaryCounter(jest);
    return {
      passed: n("passed"),
      failed: n("failed"),
      skipped: n("skipped") + n("todo"),
      errors: 0,
    };
  }
  // pytest: "=== 3 passed, 1 skipped in 0.12s ===".
  const pytest = text.match(/^=+ (.*(?:passed|failed|error|skipped).*) in [\d.]+s.* =+$/m);
  if (pytest) {
    const n = summaryCounter(pytest[1]!);
    return {
      passed: n("passed"),
      failed: n("failed"),
      skipped: n("skipped"),
      errors: n("errors?"),
    };
  }
  return undefined;
}
