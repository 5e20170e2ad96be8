import assert from "node:assert/strict";
import { hermeticEnv, undeclaredVariables } from "../lib/task/hermetic_env.ts";
import { integrationTestFiles, pytestTestPaths, pythonTestFiles } from "../lib/testing/plan.ts";
import { parseCoverageJson, pytestArgv, readNodeResult } from "../lib/testing/component_tests.ts";
import { rigInProcess, tempDirWith, testWithProcesses } from "./helpers.ts";

Deno.test("hermeticEnv keeps the allow-list, declared variables and the test configuration only", () => {
  // What the allow-list and the declaration keep, unchanged.
  const kept = {
    PATH: "/bin",
    HOME: "/home/me",
    LC_ALL: "C.UTF-8",
    PIP_INDEX_URL: "https://pypi.example/simple",
    https_proxy: "http://proxy:3128",
    STRIPE_KEY: "sk_live",
  };
  const env = hermeticEnv(
    { ...kept, AWS_SECRET_ACCESS_KEY: "nope", DATABASE_URL: "postgresql://prod" },
    {
      declared: ["STRIPE_KEY"],
      values: { DATABASE_URL: "sqlite:///data/test.db", SECRET_KEY: "s" },
    },
  );
  assert.deepEqual(env, { ...kept, DATABASE_URL: "sqlite:///data/test.db", SECRET_KEY: "s" });
});

Deno.test("undeclaredVariables names hidden variables the sources mention or that share a prefix", () => {
  const hidden = undeclaredVariables(
    { PATH: "/bin", FEATURE_FLAG: "1", SERVER_MODE: "x", AUTH_TOKEN: "t", UNRELATED: "u" },
    {
      passed: { PATH: "/bin" },
      sourceText: 'flag = os.environ["FEATURE_FLAG"]',
      component: "server",
    },
  );
  assert.deepEqual(hidden, ["AUTH_TOKEN", "FEATURE_FLAG", "SERVER_MODE"]);
});

Deno.test("pytest test paths, test files and integration files are found from config and sources", () => {
  const paths = pytestTestPaths({
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\naddopts = "-ra"\n',
  });
  assert.deepEqual(paths, ["tests"]);
  assert.deepEqual(pytestTestPaths({ "setup.cfg": "[tool:pytest]\ntestpaths = tests it\n" }), [
    "tests",
    "it",
  ]);
  assert.deepEqual(
    pythonTestFiles(
      ["app/test_x.py", "tests/test_a.py", "tests/b_test.py", "tests/conftest.py"],
      paths,
    ),
    ["tests/b_test.py", "tests/test_a.py"],
  );
  assert.deepEqual(
    integrationTestFiles(
      new Map([
        ["tests/test_client.py", "def test(): pass"],
        ["tests/test_integration.py", 'URL = os.environ.get("AUTH_SERVER_URL")'],
      ]),
    ),
    ["tests/test_integration.py"],
  );
});

Deno.test("pytestArgv adds coverage, thresholds, ignores and passthrough in order", () => {
  assert.deepEqual(
    pytestArgv({
      pytest: "/v/bin/pytest",
      junitFile: "/t/j.xml",
      coverageFile: "/t/c.json",
      coverSources: ["app"],
      failUnder: 80,
      ignore: ["tests/test_integration.py"],
      passthrough: ["-k", "login"],
    }),
    [
      "/v/bin/pytest",
      "-p",
      "no:cacheprovider",
      "--junitxml=/t/j.xml",
      "--cov=app",
      "--cov-report=json:/t/c.json",
      "--cov-report=term",
      "--cov-fail-under=80",
      "--ignore=tests/test_integration.py",
      "-k",
      "login",
    ],
  );
  const partial = pytestArgv({
    pytest: "pytest",
    junitFile: "j",
    coverageFile: "c",
    failUnder: 80,
    partial: true,
    files: ["tests/test_a.py"],
  });
  assert.ok(partial.includes("--cov-fail-under=0"));
  assert.equal(partial.at(-1), "tests/test_a.py");
});

Deno.test("coverage JSON and node test output are read into numbers", () => {
  assert.equal(parseCoverageJson('{"totals": {"percent_covered": 91.2345}}'), 91.2);
  assert.equal(parseCoverageJson("not json"), null);
  const failed = readNodeResult({
    code: 1,
    success: false,
    output: "# tests 3\n# pass 2\n# fail 1\n# skipped 0\n",
    durationMs: 1,
  });
  assert.deepEqual(failed.counts, { passed: 2, failed: 1, skipped: 0, errors: 0 });
  assert.equal(failed.failure, "1 test failed");
});

testWithProcesses({
  name: "rig test runs rig.toml commands hermetically and keys the cache on declared variables",
  async fn() {
    await using dir = await tempDirWith({
      "rig.toml": [
        "[components.tool]",
        'path = "tool"',
        'kind = "node-lib"',
        'env = ["DECLARED_VAR"]',
        'inputs = ["../shared/*.json"]',
        'test = "node test.js"',
        'lint = "node lint.js"',
        "",
      ].join("\n"),
      "tool/package.json": '{ "name": "tool", "version": "1.0.0", "private": true }\n',
      "tool/test.js": [
        "if (process.env.HIDDEN_VAR) { console.log('HIDDEN_VAR leaked'); process.exit(1); }",
        "if (process.env.DECLARED_VAR !== 'yes' || process.env.SOME_FLAG) {",
        "  console.log('# pass 1\\n# fail 1'); process.exit(1);",
        "}",
        "console.log('# pass 2\\n# fail 0');",
        "",
      ].join("\n"),
      "tool/lint.js": "console.log('lint ok');\n",
      "shared/schema.json": "{}\n",
    });
    const run = (env: Record<string, string>, ...args: string[]) =>
      rigInProcess(["--json", "test", ...args], { cwd: dir.path, env });
    const doc = (out: { stdout: string }) => JSON.parse(out.stdout).components[0].tasks[0];

    const first = await run({ HIDDEN_VAR: "x", DECLARED_VAR: "yes" });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(doc(first).cached, false);
    assert.equal(doc(first).passed, 2);
    assert.deepEqual(doc(first).checks.map((c: { name: string }) => c.name), ["lint"]);

    // An undeclared variable neither reaches the task nor changes its key.
    const second = await run({ HIDDEN_VAR: "other", DECLARED_VAR: "yes" });
    assert.equal(doc(second).cached, true);

    // A declared one does, and --explain names it (never its value).
    const third = await run({ DECLARED_VAR: "no" }, "--explain");
    assert.equal(third.code, 1);
    assert.equal(doc(third).cached, false);
    assert.ok(doc(third).reasons.some((r: string) => /DECLARED_VAR/.test(r)), doc(third).reasons);

    // A failure names hidden variables the sources mention, with how to declare them.
    const human = await rigInProcess(["test"], {
      cwd: dir.path,
      env: { DECLARED_VAR: "no", SOME_FLAG: "1" },
    });
    assert.equal(human.code, 1);
    assert.match(human.stdout, /hidden from the tests.*SOME_FLAG/);
    assert.match(human.stdout, /\[components\.tool\] env = \["SOME_FLAG"\]/);

    // A file declared in rig.toml `inputs` outside the folder is part of the key.
    assert.equal(doc(await run({ DECLARED_VAR: "yes" })).cached, true);
    await Deno.writeTextFile(dir.join("shared/schema.json"), '{"v": 2}\n');
    const edited = await run({ DECLARED_VAR: "yes" }, "--explain");
    assert.equal(doc(edited).cached, false);
    assert.ok(
      doc(edited).reasons.some((r: string) => /shared\/schema\.json/.test(r)),
      doc(edited).reasons,
    );
  },
});
