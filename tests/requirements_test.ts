import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import {
  appendLine,
  appendTomlItem,
  findTomlArray,
  markerProblem,
  parseRequirement,
  parseRequirements,
  replaceSpecifier,
  replaceTomlItem,
  type Requirement,
  requirementIncludes,
  requirementsOf,
  specifiersDisjoint,
} from "../lib/python/requirements.ts";
import { tempDir, tempDirWith } from "./helpers.ts";

const SAMPLE = `# Runtime dependencies
--index-url https://pypi.org/simple
-r base.txt
-c constraints.txt
fastapi>=0.110,<1  # web framework
uvicorn[standard] >= 0.27 ; python_version >= "3.9"
psycopg[binary]>=3.1,<4
mypkg @ https://example.com/mypkg-1.0.tar.gz#egg=mypkg
-e ./libs/local#egg=local
requests==2.31.0 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
./wheels/thing-1.0-py3-none-any.whl
Django (>=4.2,<5)
`;

Deno.test("parseRequirements reads names, extras, specifiers, markers, URLs, options and hashes", () => {
  const entries = parseRequirements(SAMPLE, "requirements.txt");
  const options = entries.filter((e) => e.kind === "option");
  assert.deepEqual(
    options.map((o) => [o.option, o.kind === "option" ? o.value : undefined, o.line]),
    [
      ["--index-url", "https://pypi.org/simple", 2],
      ["-r", "base.txt", 3],
      ["-c", "constraints.txt", 4],
    ],
  );
  const reqs = requirementsOf(entries);
  const byKey = (key: string) => reqs.find((r) => r.key === key)!;
  assert.equal(byKey("fastapi").specifier, ">=0.110,<1");
  assert.equal(byKey("fastapi").line, 5);
  assert.deepEqual(byKey("uvicorn").extras, ["standard"]);
  assert.equal(byKey("uvicorn").specifier, ">=0.27");
  assert.equal(byKey("uvicorn").markers, 'python_version >= "3.9"');
  assert.deepEqual(byKey("psycopg").extras, ["binary"]);
  assert.equal(byKey("mypkg").url, "https://example.com/mypkg-1.0.tar.gz#egg=mypkg");
  assert.equal(byKey("local").editable, true);
  assert.equal(byKey("requests").specifier, "==2.31.0");
  assert.deepEqual(byKey("requests").options, ["--hash=sha256:aaaa", "--hash=sha256:bbbb"]);
  assert.equal(byKey("requests").line, 10);
  assert.equal(byKey("django").specifier, ">=4.2,<5");
  const wheel = reqs.find((r) => r.url?.endsWith(".whl"));
  assert.equal(wheel?.name, undefined);
  assert.equal(reqs.length, 8);
});

Deno.test("parseRequirements names the file and line of a malformed requirement", () => {
  for (
    const [text, line, problem] of [
      ["ok==1\nfoo >= = 2\n", 2, "invalid version specifier"],
      ["\n\n--frobnicate x\n", 3, 'unknown option "--frobnicate"'],
      ["pkg[extra\n", 1, 'unclosed "["'],
      ["# fine\n-r\n", 2, 'option "-r" needs a value'],
      ["pkg ; \n", 1, "empty environment marker"],
    ] as const
  ) {
    assert.throws(
      () => parseRequirements(text, "requirements.txt"),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.file, "requirements.txt");
        assert.equal(error.line, line);
        assert.match(error.message, new RegExp(problem.replace(/[[\]"]/g, ".")));
        assert.match(error.hint ?? "", /rig install/);
        return true;
      },
    );
  }
});

Deno.test("parseRequirement accepts a bare name and normalizes it", () => {
  const r = parseRequirement("Rig_Demo.A");
  assert.equal(r.name, "Rig_Demo.A");
  assert.equal(r.key, "rig-demo-a");
  assert.equal(r.specifier, "");
});

Deno.test("specifiersDisjoint finds specifiers no version can satisfy together", async () => {
  const cases: [string, string, boolean][] = [
    ["<2", ">=2", true],
    [">=1,<2", ">=1.5", false],
    ["==1.0", "==1.0.0", false],
    ["==1.0", "==2.0", true],
    [">1.0", "<1.0.1", false],
    ["~=2.2", "<2.2", true],
    ["~=2.2", ">=2.9", false],
    ["==1.*", ">=2", true],
    ["!=1.5", "==1.5", true],
    ["", "==9", false],
    [">=0.110,<1", ">=1", true],
  ];
  for (const [a, b, expected] of cases) {
    assert.equal(await specifiersDisjoint(a, b), expected, `${a} vs ${b}`);
  }
});

Deno.test("replaceSpecifier changes only the specifier and keeps extras, markers and comments", () => {
  const text = "a==1\nuvicorn[standard]>=0.27 ; python_version >= '3.9'  # server\nb\n";
  const entries = requirementsOf(parseRequirements(text, "r.txt"));
  const uvicorn = entries.find((e) => e.key === "uvicorn") as Requirement;
  assert.equal(
    replaceSpecifier(text, uvicorn, ">=0.30"),
    "a==1\nuvicorn[standard]>=0.30 ; python_version >= '3.9'  # server\nb\n",
  );
  const b = entries.find((e) => e.key === "b") as Requirement;
  assert.equal(
    replaceSpecifier(text, b, ">=2"),
    "a==1\nuvicorn[standard]>=0.27 ; python_version >= '3.9'  # server\nb>=2\n",
  );
});

Deno.test("appendLine adds a missing final newline and keeps CRLF files CRLF", () => {
  assert.equal(appendLine("a\nb", "c"), "a\nb\nc\n");
  assert.equal(appendLine("", "c"), "c\n");
  assert.equal(appendLine("a\r\n", "c"), "a\r\nc\r\n");
});

Deno.test("requirementIncludes follows -r and -c recursively without loops", async () => {
  await using dir = await tempDirWith({
    "requirements-dev.txt": "-r requirements.txt\npytest\n",
    "requirements.txt": "-c constraints/c.txt\nhttpx\n",
    "constraints/c.txt": "-r ../requirements.txt\nhttpx<1\n",
  });
  assert.deepEqual(requirementIncludes(dir.join("requirements-dev.txt")), [
    dir.join("requirements.txt"),
    dir.join("constraints/c.txt"),
  ]);
});

const PYPROJECT = `[project]
name = "demo"
dependencies = [
    "httpx>=0.24,<1",  # the HTTP client
    "attrs",
]

[project.optional-dependencies]
dev = ["pytest>=8"]
docs = []
`;

Deno.test("TOML array edits append and replace items and keep the formatting", () => {
  const deps = findTomlArray(PYPROJECT, "project", "dependencies")!;
  assert.deepEqual(deps.items.map((i) => i.value), ["httpx>=0.24,<1", "attrs"]);
  const appended = appendTomlItem(PYPROJECT, deps, "rich>=13");
  assert.equal(
    appended,
    PYPROJECT.replace('    "attrs",\n', '    "attrs",\n    "rich>=13",\n'),
  );
  const dev = findTomlArray(PYPROJECT, "project.optional-dependencies", "dev")!;
  assert.equal(
    appendTomlItem(PYPROJECT, dev, "ruff"),
    PYPROJECT.replace('dev = ["pytest>=8"]', 'dev = ["pytest>=8", "ruff"]'),
  );
  const docs = findTomlArray(PYPROJECT, "project.optional-dependencies", "docs")!;
  assert.equal(
    appendTomlItem(PYPROJECT, docs, "mkdocs"),
    PYPROJECT.replace("docs = []", 'docs = ["mkdocs"]'),
  );
  assert.equal(
    replaceTomlItem(PYPROJECT, deps.items[0]!, "httpx>=0.27,<1"),
    PYPROJECT.replace('"httpx>=0.24,<1"', '"httpx>=0.27,<1"'),
  );
  assert.equal(findTomlArray(PYPROJECT, "project", "nothing"), undefined);
});

Deno.test("development tools are recognised by name", async () => {
  const { isDevTool } = await import("../lib/install/add_packages.ts");
  for (
    const name of [
      "pytest",
      "pytest-cov",
      "Black",
      "flake8-bugbear",
      "ruff",
      "mypy",
      "types-requests",
      "pre_commit",
      "coverage",
      "isort",
    ]
  ) {
    assert.equal(isDevTool(name), true, name);
  }
  for (const name of ["fastapi", "httpx", "typer", "blackjack", "types"]) {
    assert.equal(isDevTool(name), false, name);
  }
});

Deno.test("RIG_INSTALLER forces pip or uv and rejects anything else", async () => {
  const { chooseInstaller } = await import("../lib/python/pip.ts");
  assert.equal(chooseInstaller({ RIG_INSTALLER: "pip", PATH: "" }), "pip");
  assert.equal(chooseInstaller({ PATH: "" }), "pip");
  assert.throws(() => chooseInstaller({ RIG_INSTALLER: "uv", PATH: "" }), /"uv" is not on PATH/);
  assert.throws(
    () => chooseInstaller({ RIG_INSTALLER: "poetry", PATH: "" }),
    /must be "uv" or "pip"/,
  );
});

Deno.test("environment markers are checked against PEP 508's grammar and variables", () => {
  for (
    const valid of [
      `python_version < "3.11"`,
      `python_version < "3.11" and (sys_platform == "linux" or os_name == "nt")`,
      `extra == 'dev'`,
      `"arm" not in platform_machine`,
    ]
  ) assert.equal(markerProblem(valid), undefined, valid);
  assert.equal(markerProblem("nonsense==="), `unknown marker variable "nonsense"`);
  assert.equal(markerProblem(`python_version <`), "a comparison is incomplete");
  assert.equal(markerProblem(`(python_version < "3"`), `missing ")"`);
  assert.equal(markerProblem(`python_version "3"`), `expected a comparison operator, found ""3""`);
});

Deno.test("a bad marker or a missing -r include names the file and line", async () => {
  await using dir = await tempDir();
  assert.throws(
    () => parseRequirements("# c\nfastapi>=0.110 ; nonsense===\n", "requirements.txt"),
    /"requirements\.txt" line 2: invalid environment marker "nonsense===": unknown marker variable/,
  );
  await dir.write({
    "requirements.txt": "fastapi>=0.110\n",
    "requirements-dev.txt": "-r requirements.txt\n-r missing.txt\n",
  });
  assert.throws(
    () => requirementIncludes(dir.join("requirements-dev.txt")),
    /"requirements-dev\.txt" line 2: "-r missing\.txt" names a file that does not exist/,
  );
});
