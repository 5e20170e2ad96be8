import assert from "node:assert/strict";
import { escapeXml, parseConsoleCounts, parseJunit, renderJunit } from "../lib/testing/junit.ts";

const PYTEST_XML = `<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">
<testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.512" timestamp="2026-01-01T00:00:00" hostname="h">
<testcase classname="tests.test_a" name="test_ok" time="0.001" />
<testcase classname="tests.test_a" name="test_bad" time="0.002"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure></testcase>
<testcase classname="tests.test_a" name="test_skip" time="0.000"><skipped type="pytest.skip" message="AUTH_SERVER_URL is not set">skipped</skipped></testcase>
<testcase classname="tests.test_b" name="test_err" time="0.003"><error message="failed on setup with &quot;boom&quot;">trace</error></testcase>
</testsuite></testsuites>`;

Deno.test("parseJunit counts pytest's passed, failed, skipped and errors", () => {
  const report = parseJunit(PYTEST_XML);
  assert.deepEqual(
    {
      tests: report.tests,
      passed: report.passed,
      failed: report.failed,
      skipped: report.skipped,
      errors: report.errors,
    },
    { tests: 4, passed: 1, failed: 1, skipped: 1, errors: 1 },
  );
  assert.equal(report.time, 0.512);
  assert.equal(report.cases[1]!.message, "assert 1 == 2");
  assert.match(report.cases[1]!.details!, /> {7}assert 1 == 2/);
  assert.equal(report.cases[3]!.message, 'failed on setup with "boom"');
});

Deno.test("renderJunit escapes names and output so the XML stays valid", () => {
  const xml = renderJunit({
    name: "js-client <&>",
    counts: { passed: 1, failed: 1, skipped: 0, errors: 0 },
    time: 1.5,
    cases: [
      { classname: 'a"b', name: "x < y & 'z'", time: 0.1, status: "passed" },
      {
        classname: "a",
        name: "fails",
        time: 0.2,
        status: "failed",
        message: "<boom>",
        details: "E ]]> \u0001 bad",
      },
    ],
    output: "log with <tags> & ]]>",
  });
  assert.ok(!xml.includes("\u0001"));
  assert.match(xml, /name="x &lt; y &amp; &apos;z&apos;"/);
  const back = parseJunit(xml);
  assert.equal(back.passed, 1);
  assert.equal(back.failed, 1);
  assert.equal(back.cases[0]!.name, "x < y & 'z'");
  assert.equal(back.cases[1]!.message, "<boom>");
  // Every tag opened is closed (a cheap well-formedness check).
  const opened = [...xml.matchAll(/<(\w[\w-]*)[^>]*?(?<!\/)>/g)].map((m) => m[1]);
  const closed = [...xml.matchAll(/<\/(\w[\w-]*)>/g)].map((m) => m[1]);
  assert.deepEqual(opened.sort(), closed.sort());
  assert.equal(escapeXml(`&<>"'`), "&amp;&lt;&gt;&quot;&apos;");
});

Deno.test("parseConsoleCounts reads node --test, jest and pytest summaries", () => {
  assert.deepEqual(
    parseConsoleCounts(
      "ok 1 - a\n# tests 4\n# suites 0\n# pass 2\n# fail 1\n# cancelled 0\n# skipped 1\n# todo 0\n",
    ),
    { passed: 2, failed: 1, skipped: 1, errors: 0 },
  );
  assert.deepEqual(
    parseConsoleCounts(
      "\u001b[34mℹ tests 3\u001b[39m\n\u001b[34mℹ pass 3\u001b[39m\nℹ fail 0\nℹ skipped 0\n",
    ),
    { passed: 3, failed: 0, skipped: 0, errors: 0 },
  );
  assert.deepEqual(
    parseConsoleCounts("Tests:       1 failed, 2 skipped, 5 passed, 8 total\n"),
    { passed: 5, failed: 1, skipped: 2, errors: 0 },
  );
  assert.deepEqual(
    parseConsoleCounts("======= 3 passed, 1 skipped in 0.12s =======\n"),
    { passed: 3, failed: 0, skipped: 1, errors: 0 },
  );
  assert.equal(parseConsoleCounts("nothing here"), undefined);
});

Deno.test("parseConsoleCounts reads vitest's summary like node --test's", () => {
  const out = [
    " ✓ src/a.test.ts (3 tests) 4ms",
    " ❯ src/b.test.ts (3 tests | 1 failed) 6ms",
    "",
    " Test Files  1 failed | 1 passed (2)",
    "      Tests  1 failed | 4 passed | 1 skipped (6)",
    "   Start at  10:00:00",
  ].join("\n");
  assert.deepEqual(parseConsoleCounts(out), { passed: 4, failed: 1, skipped: 1, errors: 0 });
  assert.deepEqual(parseConsoleCounts("      Tests  2 passed (2)\n"), {
    passed: 2,
    failed: 0,
    skipped: 0,
    errors: 0,
  });
});
