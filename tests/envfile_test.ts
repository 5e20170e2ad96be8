import assert from "node:assert/strict";
import * as path from "node:path";
import { inspectEnvironment, loadEnvironment } from "../lib/env/env_config.ts";
import { ensureGitIgnored, generateEnvFile, gitignoreMatches } from "../lib/env/generate.ts";
import { createMasker, hashEnvValues, isSecretKey, maskUrlPassword } from "../lib/env/env_mask.ts";
import { checkType, generate, parseEnvText, parseGenerator } from "../lib/env/env_file.ts";
import { ConfigError, EnvironmentError } from "../lib/errors.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { BufferWriter, Ui } from "../lib/ui.ts";
import { git, tempDir } from "./helpers.ts";

const PATH_ENV = { PATH: Deno.env.get("PATH") ?? "" };

function testUi() {
  const stdout = new BufferWriter();
  const stderr = new BufferWriter();
  return { ui: new Ui({ stdout, stderr }), stdout, stderr };
}

const BASE = `# Shared settings

# Signs tokens
SECRET_KEY={{secret}}

# Port of the server
# type: port
PORT=8000

DATABASE_URL=sqlite:///\${DB_FILE}
DB_FILE=data/app.db
`;

async function project(files: Record<string, string>) {
  const dir = await tempDir();
  await dir.write({ "server/requirements.txt": "fastapi\n", ...files });
  return dir;
}

Deno.test("parseEnvText reads keys, descriptions, types and generators", () => {
  const file = parseEnvText(BASE, { file: "config/base.env.template", template: true });
  assert.deepEqual(file.entries.map((e) => e.key), [
    "SECRET_KEY",
    "PORT",
    "DATABASE_URL",
    "DB_FILE",
  ]);
  const [secret, port] = file.entries;
  assert.equal(secret!.description, "Signs tokens");
  assert.deepEqual(secret!.generators, [{ kind: "secret", bytes: 32, encoding: "hex" }]);
  assert.equal(port!.description, "Port of the server");
  assert.deepEqual(port!.type, { kind: "port" });
  assert.equal(port!.line, 8);
});

Deno.test("parseEnvText unquotes values and strips inline comments", () => {
  const file = parseEnvText(
    `A="two words # not a comment"\nB='lit\\n'\nC=plain # comment\nexport D=x\nE="a\\nb"\n`,
    { file: ".env", template: false },
  );
  assert.deepEqual(
    file.entries.map((e) => [e.key, e.value]),
    [["A", "two words # not a comment"], ["B", "lit\\n"], ["C", "plain"], ["D", "x"], [
      "E",
      "a\nb",
    ]],
  );
});

Deno.test("a malformed template line is a ConfigError naming the file and line", () => {
  const cases: [string, number, RegExp][] = [
    ["A=1\nno equals sign\n", 2, /expected KEY=value/],
    ["A=1\n\n1BAD=2\n", 3, /invalid key name "1BAD"/],
    ["A={{password}}\n", 1, /unknown generator "\{\{password\}\}"/],
    ["# type: number\nA=1\n", 1, /unknown type "number"/],
    ["A={{secret:0}}\n", 1, /invalid secret length/],
    ["A={{secret:8:base32}}\n", 1, /unknown secret encoding "base32"/],
    ["A=x{{required}}\n", 1, /must be the whole value/],
    ['A="open\n', 1, /unterminated double quote/],
    ["A=1\nA=2\n", 2, /already set on line 1/],
  ];
  for (const [text, line, problem] of cases) {
    assert.throws(
      () => parseEnvText(text, { file: "config/test.env.template", template: true }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.file, "config/test.env.template");
        assert.equal(error.line, line, text);
        assert.match(error.message, new RegExp(`^"config/test.env.template" line ${line}: `));
        assert.match(error.message, problem);
        assert.equal(error.exitCode, 3);
        return true;
      },
    );
  }
});

Deno.test("every generator produces the documented format and length", () => {
  const fail = (p: string): never => {
    throw new Error(p);
  };
  const hex = generate(parseGenerator("secret", fail));
  assert.match(hex, /^[0-9a-f]{64}$/);
  assert.match(generate(parseGenerator("secret:16", fail)), /^[0-9a-f]{32}$/);
  const b64 = generate(parseGenerator("secret:48:base64url", fail));
  assert.match(b64, /^[A-Za-z0-9_-]{64}$/);
  assert.match(generate(parseGenerator("secret:1:base64url", fail)), /^[A-Za-z0-9_-]{2}$/);
  assert.match(
    generate(parseGenerator("uuid", fail)),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.notEqual(generate(parseGenerator("secret", fail)), hex);
});

Deno.test("checkType validates int, bool, url, port and enum values", () => {
  assert.equal(checkType("42", { kind: "int" }), undefined);
  assert.match(checkType("4.2", { kind: "int" })!, /integer/);
  assert.equal(checkType("yes", { kind: "bool" }), undefined);
  assert.match(checkType("maybe", { kind: "bool" })!, /boolean/);
  assert.equal(checkType("postgresql://u:p@localhost:5432/db", { kind: "url" }), undefined);
  assert.equal(checkType("sqlite:///data/app.db", { kind: "url" }), undefined);
  assert.match(checkType("localhost:5432", { kind: "url" }) ?? "", /URL/);
  assert.match(checkType("not a url", { kind: "url" })!, /URL/);
  assert.equal(checkType("8000", { kind: "port" }), undefined);
  assert.match(checkType("70000", { kind: "port" })!, /port/);
  assert.equal(checkType("b", { kind: "enum", values: ["a", "b"] }), undefined);
  assert.match(checkType("c", { kind: "enum", values: ["a", "b"] })!, /one of a, b/);
});

Deno.test("isSecretKey and maskUrlPassword recognise secrets", () => {
  for (const key of ["SECRET_KEY", "DB_PASSWORD", "GITHUB_TOKEN", "API_KEY", "PRIVATE_PEM"]) {
    assert.ok(isSecretKey(key), key);
  }
  for (const key of ["PORT", "HOST", "DATABASE_URL", "LOG_LEVEL"]) assert.ok(!isSecretKey(key));
  assert.equal(
    maskUrlPassword("postgresql://user:s3cr3t@host/db"),
    "postgresql://user:****@host/db",
  );
  assert.equal(
    maskUrlPassword("redis://:pw@h:6379/0 and http://h:80/x"),
    "redis://:****@h:6379/0 and http://h:80/x",
  );
  assert.equal(maskUrlPassword("sqlite:///data/app.db"), "sqlite:///data/app.db");
  const mask = createMasker(["abc", "p@ss word!"]);
  assert.equal(mask("abc p@ss word! p%40ss%20word!"), "abc **** ****");
});

Deno.test("hashEnvValues hashes values so no secret is stored in clear", async () => {
  const hashes = await hashEnvValues({ SECRET_KEY: "hunter22", PORT: "8000" }, [
    "SECRET_KEY",
    "MISSING",
  ]);
  assert.deepEqual(Object.keys(hashes), ["MISSING", "SECRET_KEY"]);
  assert.match(hashes.SECRET_KEY!, /^[0-9a-f]{64}$/);
  assert.equal(hashes.MISSING, "unset");
  assert.ok(!JSON.stringify(hashes).includes("hunter22"));
  const again = await hashEnvValues({ SECRET_KEY: "hunter22" }, ["SECRET_KEY"]);
  assert.equal(again.SECRET_KEY, hashes.SECRET_KEY);
});

Deno.test("loadEnvironment generates a missing .env with a one-line notice", async () => {
  await using dir = await project({
    "config/base.env.template": BASE,
    "config/development.env.template": "# Verbose logs\nLOG_LEVEL=debug\n",
  });
  const { ui, stderr } = testUi();
  const env = await loadEnvironment(await loadProject(dir.path), {
    name: "development",
    processEnv: PATH_ENV,
    ui,
  });
  assert.equal(env.file, dir.join(".env"));
  assert.equal(
    stderr.text,
    "Created .env from config/base.env.template + config/development.env.template " +
      "(secrets generated)\n",
  );
  assert.match(env.values.SECRET_KEY!, /^[0-9a-f]{64}$/);
  assert.equal(env.values.DATABASE_URL, "sqlite:///data/app.db");
  assert.equal(env.values.LOG_LEVEL, "debug");
  assert.equal(env.values.PATH, PATH_ENV.PATH);
  assert.deepEqual([...env.secretKeys], ["SECRET_KEY"]);
  assert.deepEqual(env.sources.SECRET_KEY, { kind: "file", file: ".env", line: 6 });
  assert.equal(env.mask(`boom ${env.values.SECRET_KEY} boom`), "boom **** boom");
  assert.equal((await Deno.stat(dir.join(".env"))).mode! & 0o777, 0o600);

  const second = testUi();
  const again = await loadEnvironment(await loadProject(dir.path), {
    name: "development",
    processEnv: { ...PATH_ENV, PORT: "9000" },
    ui: second.ui,
  });
  assert.equal(second.stderr.text, "");
  assert.equal(again.values.SECRET_KEY, env.values.SECRET_KEY);
  assert.equal(again.values.PORT, "9000");
  assert.deepEqual(again.sources.PORT, { kind: "process" });
});

Deno.test("loadEnvironment without templates returns the process environment", async () => {
  await using dir = await project({});
  const { ui, stderr } = testUi();
  const env = await loadEnvironment(await loadProject(dir.path), {
    name: "test",
    processEnv: { FOO: "bar" },
    ui,
  });
  assert.deepEqual(env.values, { FOO: "bar" });
  assert.equal(env.secretKeys.size, 0);
  assert.equal(env.mask("bar"), "bar");
  assert.equal(stderr.text, "");
  await assert.rejects(Deno.stat(dir.join(".env.test")));
});

Deno.test("loadEnvironment fails on missing required keys without leaking values", async () => {
  await using dir = await project({
    "config/production.env.template":
      "# Signs tokens\nSECRET_KEY={{required}}\n# type: port\nPORT=8000\n",
  });
  const { ui } = testUi();
  const proj = await loadProject(dir.path);
  await assert.rejects(
    loadEnvironment(proj, { name: "production", processEnv: PATH_ENV, ui }),
    (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(error.message, /"SECRET_KEY" is required/);
      assert.match(error.message, /export SECRET_KEY/);
      assert.equal(error.hint, "Run: rig env check --env production");
      return true;
    },
  );
  const env = await loadEnvironment(proj, {
    name: "production",
    processEnv: { ...PATH_ENV, SECRET_KEY: "from-the-vault-123" },
    ui,
  });
  assert.equal(env.values.SECRET_KEY, "from-the-vault-123");
  assert.equal(env.mask("x from-the-vault-123"), "x ****");
});

Deno.test("the environment template overrides base and references resolve after merging", async () => {
  await using dir = await project({
    "config/base.env.template": BASE,
    "config/test.env.template": "DB_FILE=data/test.db\nEXTRA=${DATABASE_URL}?x=1\n",
  });
  const proj = await loadProject(dir.path);
  const { ui } = testUi();
  const env = await loadEnvironment(proj, { name: "test", processEnv: PATH_ENV, ui });
  assert.equal(env.values.DATABASE_URL, "sqlite:///data/test.db");
  assert.equal(env.values.EXTRA, "sqlite:///data/test.db?x=1");
  assert.deepEqual(env.keys, ["SECRET_KEY", "PORT", "DATABASE_URL", "DB_FILE", "EXTRA"]);
  const text = await Deno.readTextFile(dir.join(".env.test"));
  assert.match(text, /^DATABASE_URL=sqlite:\/\/\/\$\{DB_FILE\}$/m);
});

Deno.test("an unknown reference or a cycle is an error naming file and line", async () => {
  await using dir = await project({
    "config/development.env.template": "A=1\nB=${NOPE}\n",
    "config/test.env.template": "A=${B}\nB=x${A}\n",
  });
  const proj = await loadProject(dir.path);
  const { ui } = testUi();
  await assert.rejects(
    loadEnvironment(proj, { name: "development", processEnv: {}, ui, generate: false }),
    /"config\/development.env.template" line 2: "B" references unknown key "\$\{NOPE\}"/,
  );
  await assert.rejects(
    loadEnvironment(proj, { name: "test", processEnv: {}, ui, generate: false }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /line \d: references form a cycle: (A → B → A|B → A → B)/);
      return true;
    },
  );
});

Deno.test("generateEnvFile keeps existing values, comments and order and adds missing keys", async () => {
  await using dir = await project({ "config/development.env.template": BASE });
  const proj = await loadProject(dir.path);
  const first = await generateEnvFile(proj, { name: "development", processEnv: PATH_ENV });
  assert.ok(first.created);
  assert.deepEqual(first.added, ["SECRET_KEY", "PORT", "DATABASE_URL", "DB_FILE"]);
  const edited =
    (await Deno.readTextFile(dir.join(".env"))).replace("PORT=8000", "PORT=9999 # mine") +
    "# my own\nMY_OWN=1\n";
  await Deno.writeTextFile(dir.join(".env"), edited);
  const again = await generateEnvFile(proj, { name: "development", processEnv: PATH_ENV });
  assert.deepEqual(again.added, []);
  assert.equal(await Deno.readTextFile(dir.join(".env")), edited);

  await Deno.writeTextFile(
    dir.join("config/development.env.template"),
    BASE + "\n# A new token\nAPI_TOKEN={{secret:8}}\n",
  );
  const third = await generateEnvFile(proj, { name: "development", processEnv: PATH_ENV });
  assert.deepEqual(third.added, ["API_TOKEN"]);
  const text = await Deno.readTextFile(dir.join(".env"));
  assert.ok(text.startsWith(edited));
  assert.match(text.slice(edited.length), /^\n# A new token\nAPI_TOKEN=[0-9a-f]{16}\n$/);

  const secret = text.match(/^SECRET_KEY=(.*)$/m)![1]!;
  const forced = await generateEnvFile(proj, {
    name: "development",
    processEnv: PATH_ENV,
    force: true,
  });
  assert.deepEqual(forced.regenerated, ["SECRET_KEY", "API_TOKEN"]);
  const after = await Deno.readTextFile(dir.join(".env"));
  const newSecret = after.match(/^SECRET_KEY=(.*)$/m)![1]!;
  assert.match(newSecret, /^[0-9a-f]{64}$/);
  assert.notEqual(newSecret, secret);
  assert.match(after, /^PORT=9999 # mine$/m);
  assert.equal(after.split("\n").length, text.split("\n").length);
});

Deno.test("inspectEnvironment reports type errors with file and line and unknown keys", async () => {
  await using dir = await project({ "config/development.env.template": BASE });
  await dir.write({ ".env": "SECRET_KEY=abcdefgh\nPORT=http\nDB_FILE=x\nSTRAY=1\n" });
  const report = await inspectEnvironment(await loadProject(dir.path), {
    name: "development",
    processEnv: {},
  });
  const invalid = report.problems.find((p) => p.kind === "invalid")!;
  assert.equal(invalid.key, "PORT");
  assert.equal(invalid.file, ".env");
  assert.equal(invalid.line, 2);
  assert.match(invalid.message, /"PORT" in ".env" line 2: expected a port number/);
  assert.match(invalid.message, /"config\/development.env.template" line 8/);
  const unknown = report.problems.find((p) => p.kind === "unknown")!;
  assert.equal(unknown.key, "STRAY");
  assert.ok(!JSON.stringify(report.problems).includes("abcdefgh"));
});

Deno.test("ensureGitIgnored asks git in a repository and adds .env lines once", async () => {
  await using dir = await tempDir();
  await git(dir.path, "init", "-q");
  const file = dir.join(".env.test");
  assert.equal(await ensureGitIgnored(dir.path, { file, env: PATH_ENV }), true);
  assert.equal(
    await Deno.readTextFile(dir.join(".gitignore")),
    "# Local environment files with secrets (rig env generate)\n.env\n.env.*\n",
  );
  assert.equal(await ensureGitIgnored(dir.path, { file, env: PATH_ENV }), false);
  assert.equal((await git(dir.path, "check-ignore", ".env.test")).trim(), ".env.test");

  await Deno.writeTextFile(dir.join(".gitignore"), "node_modules/\n*.env*\n");
  assert.equal(await ensureGitIgnored(dir.path, { file: dir.join(".env"), env: PATH_ENV }), false);
});

Deno.test("ensureGitIgnored reads .gitignore outside a repository", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(dir.join(".gitignore"), "dist/");
  const env = { PATH: "/nonexistent" };
  assert.equal(await ensureGitIgnored(dir.path, { file: dir.join(".env"), env }), true);
  assert.equal(
    await Deno.readTextFile(dir.join(".gitignore")),
    "dist/\n\n# Local environment files with secrets (rig env generate)\n.env\n.env.*\n",
  );
  assert.ok(gitignoreMatches("/.env*\n", ".env.production"));
  assert.ok(!gitignoreMatches(".env\n!.env\n", ".env"));
  assert.ok(!gitignoreMatches("config/.env\n", ".env"));
  assert.equal(path.basename(dir.join(".env")), ".env");
});

Deno.test("a malformed .env line is reported without echoing its text", () => {
  assert.throws(
    () => parseEnvText("A=1\nhunter2-secret-value\n", { file: ".env", template: false }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, '".env" line 2: expected KEY=value');
      return true;
    },
  );
  assert.throws(
    () => parseEnvText('A="x"hunter2-secret\n', { file: ".env", template: false }),
    /^ConfigError: ".env" line 1: unexpected text after the closing quote$/,
  );
});

/** The sh block of a markdown file that uses the generators: its template example. */
async function templateExample(file: string): Promise<string> {
  const text = await Deno.readTextFile(new URL(`../${file}`, import.meta.url));
  const example = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!)
    .find((block) => block.includes("={{secret}}"));
  assert.ok(example, `${file} has a template example with {{secret}}`);
  return example;
}

Deno.test("the README's short template example parses and generates", async () => {
  await using dir = await project({
    "config/development.env.template": await templateExample("README.md"),
  });
  const env = await loadEnvironment(await loadProject(dir.path), {
    name: "development",
    processEnv: { PRODUCTION_DATABASE_URL: "postgresql://app:pw-123456@db/app" },
    ui: testUi().ui,
  });
  assert.match(env.values.SECRET_KEY!, /^[0-9a-f]{64}$/);
  assert.ok(env.secretKeys.has("SECRET_KEY"));
  assert.equal(env.values.PORT, "8000");
  assert.equal(env.values.DATABASE_URL, "sqlite:///data/app.db");
});

Deno.test("the template example in docs/env.md parses and generates", async () => {
  const example = await templateExample("docs/env.md");
  await using dir = await project({ "config/development.env.template": example });
  const { ui } = testUi();
  await assert.rejects(
    loadEnvironment(await loadProject(dir.path), { name: "development", processEnv: {}, ui }),
    /"PRODUCTION_DATABASE_URL" is required but empty/,
  );
  const env = await loadEnvironment(await loadProject(dir.path), {
    name: "development",
    processEnv: {
      PRODUCTION_DATABASE_URL: "postgresql://app:pw-123456@db/app",
      UPSTREAM_AUTH: "upstream-token-7f3a91",
    },
    ui,
  });
  assert.ok(env.secretKeys.has("UPSTREAM_AUTH"), "# secret marks a key secret");
  assert.equal(env.mask("auth upstream-token-7f3a91"), "auth ****");
  assert.match(env.values.SECRET_KEY!, /^[0-9a-f]{64}$/);
  assert.match(env.values.SESSION_SALT!, /^[0-9a-f]{32}$/);
  assert.match(env.values.WEBHOOK_TOKEN!, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(env.values.DATABASE_URL, "sqlite:///data/app.db");
  assert.equal(env.mask("postgresql://app:pw-123456@db/app"), "postgresql://app:****@db/app");
});

Deno.test("an emptied generated key is reported and refilled by generate", async () => {
  await using dir = await project({ "config/development.env.template": BASE });
  const proj = await loadProject(dir.path);
  await dir.write({ ".env": "SECRET_KEY=\nPORT=8000\n" });
  const report = await inspectEnvironment(proj, { name: "development", processEnv: {} });
  const problem = report.problems.find((p) => p.key === "SECRET_KEY")!;
  assert.equal(problem.message, '"SECRET_KEY" is generated but empty');
  assert.equal(problem.fix, "run: rig env generate");
  const result = await generateEnvFile(proj, { name: "development", processEnv: PATH_ENV });
  assert.deepEqual(result.added, ["SECRET_KEY", "DATABASE_URL", "DB_FILE"]);
  const text = await Deno.readTextFile(dir.join(".env"));
  assert.match(text, /^SECRET_KEY=[0-9a-f]{64}\nPORT=8000\n/);
});

Deno.test("loadEnvironment with generate false writes nothing and tolerates ungenerated keys", async () => {
  await using dir = await project({ "config/test.env.template": BASE });
  const { ui, stderr } = testUi();
  const env = await loadEnvironment(await loadProject(dir.path), {
    name: "test",
    processEnv: {},
    ui,
    generate: false,
  });
  assert.equal(env.values.SECRET_KEY, "");
  assert.equal(env.values.PORT, "8000");
  assert.deepEqual(env.sources.PORT, {
    kind: "template",
    file: "config/test.env.template",
    line: 8,
  });
  assert.equal(stderr.text, "");
  await assert.rejects(Deno.stat(dir.join(".env.test")));
});
