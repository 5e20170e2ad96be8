import assert from "node:assert/strict";
import {
  copyReferenceProject,
  git,
  rigInProcess,
  rigProcess,
  tempDir,
  tempDirWith,
} from "../helpers.ts";

const BASE = `# Shared by every environment

# Signs tokens and sessions
SECRET_KEY={{secret}}

# Identifies this checkout
INSTANCE_ID={{uuid}}

# Port of the HTTP server
# type: port
PORT=8000

# Log level
# type: enum(debug|info|warning|error)
LOG_LEVEL=info
`;

const PRODUCTION = `# Signs tokens and sessions; from the secret store
SECRET_KEY={{required}}

# Database of the deployment
# type: url
DATABASE_URL={{required}}

# type: bool
DEBUG=false
`;

async function fixture() {
  const dir = await tempDir();
  await dir.write({
    "server/requirements.txt": "fastapi\n",
    "config/base.env.template": BASE,
    "config/development.env.template": "# Verbose\nLOG_LEVEL=debug\n",
    "config/production.env.template": PRODUCTION,
  });
  await git(dir.path, "init", "-q");
  return dir;
}

function valueOf(text: string, key: string): string {
  const match = text.match(new RegExp(`^${key}=(.*)$`, "m"));
  assert.ok(match, `${key} not found in:\n${text}`);
  return match[1]!;
}

function assertAbsent(run: { stdout: string; stderr: string }, secret: string) {
  assert.ok(secret.length >= 8);
  assert.ok(!run.stdout.includes(secret), `secret leaked on stdout:\n${run.stdout}`);
  assert.ok(!run.stderr.includes(secret), `secret leaked on stderr:\n${run.stderr}`);
}

Deno.test("rig env generate writes a 0600, git-ignored .env and keeps values on regeneration", async (t) => {
  await using dir = await fixture();
  const envFile = dir.join(".env");
  let secret = "";

  await t.step("first run creates .env with generated values", async () => {
    const run = await rigInProcess(["env", "generate"], { cwd: dir.path });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "+ SECRET_KEY\n+ INSTANCE_ID\n+ PORT\n+ LOG_LEVEL\n");
    assert.match(run.stderr, /Created \.env \(mode 600\) with 4 keys/);
    assert.match(run.stderr, /Added \.env and \.env\.\* to \.gitignore/);
    const text = await Deno.readTextFile(envFile);
    secret = valueOf(text, "SECRET_KEY");
    assert.match(secret, /^[0-9a-f]{64}$/);
    assert.match(valueOf(text, "INSTANCE_ID"), /^[0-9a-f-]{36}$/);
    assert.equal(valueOf(text, "LOG_LEVEL"), "debug");
    assert.match(text, /# Signs tokens and sessions\nSECRET_KEY=/);
    assertAbsent(run, secret);
    assert.equal((await Deno.stat(envFile)).mode! & 0o777, 0o600);
    assert.equal(
      (await git(dir.path, "check-ignore", ".env", ".env.test")).trim(),
      ".env\n.env.test",
    );
  });

  await t.step("regeneration keeps every value, comment and line", async () => {
    const edited = (await Deno.readTextFile(envFile)).replace("PORT=8000", "PORT=8123") +
      "\n# mine\nEXTRA=1\n";
    await Deno.writeTextFile(envFile, edited);
    await Deno.chmod(envFile, 0o644);
    const run = await rigInProcess(["env", "generate"], { cwd: dir.path });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /\.env is up to date \(4 keys\); existing values kept/);
    assert.equal(await Deno.readTextFile(envFile), edited);
    assert.equal((await Deno.stat(envFile)).mode! & 0o777, 0o600);
    const gitignore = await Deno.readTextFile(dir.join(".gitignore"));
    assert.equal(gitignore.match(/^\.env$/gm)?.length, 1);
  });

  await t.step("--force needs a confirmation", async () => {
    const refused = await rigInProcess(["env", "generate", "--force"], { cwd: dir.path });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Did not regenerate secrets: not confirmed/);
    assert.match(refused.stderr, /rig env generate --force -y/);
    assert.equal(valueOf(await Deno.readTextFile(envFile), "SECRET_KEY"), secret);

    const declined = await rigInProcess(["env", "generate", "--force"], {
      cwd: dir.path,
      answers: ["n"],
    });
    assert.equal(declined.code, 1);
    assert.equal(valueOf(await Deno.readTextFile(envFile), "SECRET_KEY"), secret);
  });

  await t.step("--force -y regenerates generated secrets only", async () => {
    const before = await Deno.readTextFile(envFile);
    const run = await rigInProcess(["env", "generate", "--force", "-y", "--json"], {
      cwd: dir.path,
    });
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(doc.regenerated, ["SECRET_KEY", "INSTANCE_ID"]);
    assert.deepEqual(doc.added, []);
    const after = await Deno.readTextFile(envFile);
    const fresh = valueOf(after, "SECRET_KEY");
    assert.match(fresh, /^[0-9a-f]{64}$/);
    assert.notEqual(fresh, secret);
    assert.equal(valueOf(after, "PORT"), "8123");
    assert.equal(after.split("\n").length, before.split("\n").length);
    assertAbsent(run, fresh);
  });
});

Deno.test("rig env never prints secrets in show, --json, check or errors", async () => {
  await using dir = await fixture();
  assert.equal((await rigInProcess(["env", "generate", "-q"], { cwd: dir.path })).code, 0);
  const text = await Deno.readTextFile(dir.join(".env"));
  const secret = valueOf(text, "SECRET_KEY");
  const password = "pa55-w0rd-xyz";
  const env = {
    DATABASE_URL: `postgresql://app:${password}@db.internal:5432/app`,
    API_TOKEN: "tok-1234567890",
  };
  await Deno.writeTextFile(
    dir.join(".env"),
    text + "DATABASE_URL=sqlite:///local.db\nCACHE=memcache://${SECRET_KEY}/0\n",
  );

  const show = await rigInProcess(["env", "show"], { cwd: dir.path, env });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^SECRET_KEY +\*\*\*\* +\.env line 6 +Signs tokens and sessions$/m);
  assert.match(show.stdout, /^LOG_LEVEL +debug +\.env line \d+ +Verbose$/m);
  assertAbsent(show, secret);

  const json = await rigInProcess(["--json", "env", "show"], { cwd: dir.path });
  assert.equal(json.code, 0);
  const doc = JSON.parse(json.stdout);
  const key = doc.keys.find((k: { key: string }) => k.key === "SECRET_KEY");
  assert.equal(key.value, "****");
  assert.equal(key.secret, true);
  assert.equal(key.source, ".env line 6");
  assertAbsent(json, secret);
  const cache = doc.keys.find((k: { key: string }) => k.key === "CACHE");
  assert.deepEqual([cache.value, cache.secret, cache.inTemplate], [
    "memcache://****/0",
    false,
    false,
  ]);

  await Deno.writeTextFile(
    dir.join("config/development.env.template"),
    "LOG_LEVEL=debug\n# type: url\nDATABASE_URL=sqlite:///x.db\n",
  );
  const url = await rigInProcess(["env", "show", "--json"], {
    cwd: dir.path,
    env,
  });
  const database = JSON.parse(url.stdout).keys.find((k: { key: string }) =>
    k.key === "DATABASE_URL"
  );
  assert.equal(database.value, "postgresql://app:****@db.internal:5432/app");
  assert.equal(database.source, "environment");
  assertAbsent(url, password);

  // An invalid secret value is reported without its value.
  await Deno.writeTextFile(
    dir.join("config/development.env.template"),
    "# type: int\nSECRET_KEY=1\n",
  );
  const check = await rigInProcess(["env", "check"], { cwd: dir.path, env });
  assert.equal(check.code, 3);
  assert.match(check.stdout, /✗ SECRET_KEY: "SECRET_KEY" in "\.env" line 6: expected an integer/);
  assert.match(check.stdout, /got "\*\*\*\*"/);
  assertAbsent(check, secret);
  const checkJson = await rigInProcess(["env", "check", "--json"], { cwd: dir.path, env });
  assert.equal(checkJson.code, 3);
  assert.equal(JSON.parse(checkJson.stdout).ok, false);
  assertAbsent(checkJson, secret);
  assertAbsent(checkJson, password);

  const reveal = await rigInProcess(["env", "show", "--reveal", "-y"], { cwd: dir.path });
  assert.equal(reveal.code, 0);
  assert.ok(reveal.stdout.includes(secret));
  const refused = await rigInProcess(["env", "show", "--reveal"], { cwd: dir.path });
  assert.equal(refused.code, 1);
  assertAbsent(refused, secret);
});

Deno.test("rig env check reports required keys, types and unknown keys with fixes", async () => {
  await using dir = await fixture();
  const generate = await rigInProcess(["env", "generate", "--env", "production"], {
    cwd: dir.path,
  });
  assert.equal(generate.code, 0, generate.stderr);
  assert.match(
    generate.stderr,
    /warning: SECRET_KEY is required and has no value yet\nhint: Add SECRET_KEY=\.\.\. to \.env\.production or export SECRET_KEY/,
  );
  const text = await Deno.readTextFile(dir.join(".env.production"));
  assert.match(text, /# Required: set a value here or export SECRET_KEY\nSECRET_KEY=\n/);

  const missing = await rigInProcess(["env", "check", "--env", "production"], { cwd: dir.path });
  assert.equal(missing.code, 3);
  assert.match(
    missing.stdout,
    /✗ SECRET_KEY: "SECRET_KEY" is required but empty\n {4}Signs tokens and sessions; from the secret store\n {4}fix: add SECRET_KEY=\.\.\. to \.env\.production or export SECRET_KEY/,
  );
  assert.match(missing.stdout, /✗ DATABASE_URL: /);
  assert.match(missing.stderr, /error: Environment "production" has 2 missing or invalid keys/);
  assert.match(
    missing.stderr,
    /hint: Fix the keys above, then run: rig env check --env production/,
  );

  await Deno.writeTextFile(
    dir.join(".env.production"),
    text.replace("DEBUG=false", "DEBUG=perhaps") + "STRAY=1\n",
  );
  const env = { SECRET_KEY: "s3cret-from-vault", DATABASE_URL: "not a url" };
  const invalid = await rigInProcess(["env", "check", "--env", "production", "--json"], {
    cwd: dir.path,
    env,
  });
  assert.equal(invalid.code, 3);
  const doc = JSON.parse(invalid.stdout);
  const byKey = Object.fromEntries(
    doc.problems.map((p: { key: string; kind: string }) => [p.key, p]),
  );
  assert.equal(byKey.DEBUG.kind, "invalid");
  assert.equal(byKey.DEBUG.file, ".env.production");
  assert.match(byKey.DEBUG.message, /line \d+: expected a boolean/);
  assert.match(byKey.DATABASE_URL.message, /from the environment: expected a URL/);
  assert.equal(byKey.STRAY.kind, "unknown");
  assert.match(
    invalid.stderr,
    /warning: Key "STRAY" in \.env\.production line \d+ is in no template/,
  );
  assertAbsent(invalid, "s3cret-from-vault");

  await Deno.writeTextFile(dir.join(".env.production"), text);
  const ok = await rigInProcess(["env", "check", "--env", "production"], {
    cwd: dir.path,
    env: { ...env, DATABASE_URL: "postgresql://app:pw12345@db/app" },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /All 6 keys of "production" are set and valid/);
});

Deno.test("rig env reports a malformed template line with file and line", async () => {
  await using dir = await fixture();
  await dir.write({ "config/test.env.template": "A=1\n# type: integer\nB=2\n" });
  const run = await rigInProcess(["env", "check", "--env", "test"], { cwd: dir.path });
  assert.equal(run.code, 3);
  assert.match(run.stderr, /error: "config\/test\.env\.template" line 2: unknown type "integer"/);
  assert.match(run.stderr, /hint: Use one of: string, int, bool, url, port, enum\(a\|b\)/);
  await dir.write({ "config/test.env.template": "A=1\nB={{secret:abc}}\n" });
  const generator = await rigInProcess(["env", "generate", "--env", "test"], { cwd: dir.path });
  assert.equal(generator.code, 3);
  assert.match(generator.stderr, /"config\/test\.env\.template" line 2: invalid secret length/);
  await assert.rejects(Deno.stat(dir.join(".env.test")));
});

Deno.test("rig env generate offers rig's default templates when the project has none", async () => {
  await using dir = await tempDirWith({
    "server/requirements.txt": "fastapi\n",
    ".gitignore": ".env*\n",
  });
  const refused = await rigInProcess(["env", "generate"], { cwd: dir.path });
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /No environment templates in "config"/);
  assert.match(refused.stderr, /rig env generate -y/);

  const run = await rigInProcess(["env", "generate", "-y", "--env", "test"], { cwd: dir.path });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /Wrote config\/base\.env\.template, config\/development\.env\.template/);
  const text = await Deno.readTextFile(dir.join(".env.test"));
  assert.match(valueOf(text, "SECRET_KEY"), /^[0-9a-f]{64}$/);
  assert.equal(valueOf(text, "DATABASE_URL"), "sqlite:///data/test.db");
  assert.equal(await Deno.readTextFile(dir.join(".gitignore")), ".env*\n");
  const check = await rigInProcess(["env", "check", "--env", "test"], { cwd: dir.path });
  assert.equal(check.code, 0, check.stderr);
  const production = await rigInProcess(["env", "check", "--env", "production"], {
    cwd: dir.path,
  });
  assert.equal(production.code, 3);
});

Deno.test("rig env works on the reference project's templates", async () => {
  await using dir = await tempDir();
  await copyReferenceProject(dir.path);
  const generate = await rigInProcess(["env", "generate"], { cwd: dir.path });
  assert.equal(generate.code, 0, generate.stderr);
  const secret = valueOf(await Deno.readTextFile(dir.join(".env")), "SECRET_KEY");
  assert.match(secret, /^[0-9a-f]{64}$/);
  const check = await rigInProcess(["env", "check", "--json"], { cwd: dir.path });
  assert.equal(check.code, 0, check.stdout);
  const show = await rigInProcess(["env", "show", "--json"], { cwd: dir.path });
  assert.equal(show.code, 0);
  const values = Object.fromEntries(
    JSON.parse(show.stdout).keys.map((k: { key: string; value: string }) => [k.key, k.value]),
  );
  assert.equal(values.SECRET_KEY, "****");
  assert.equal(values.DATABASE_URL, "sqlite:///data/dev.db");
  assert.equal(values.PUBLIC_URL, "http://127.0.0.1:8000");
  assert.equal(values.LOG_LEVEL, "debug");
  assertAbsent(show, secret);
  assertAbsent(check, secret);

  const test = await rigInProcess(["env", "show", "--env", "test", "--json"], { cwd: dir.path });
  const testValues = Object.fromEntries(
    JSON.parse(test.stdout).keys.map((k: { key: string; value: string }) => [k.key, k.value]),
  );
  assert.equal(testValues.DATABASE_URL, "sqlite:///data/test.db");

  const production = await rigInProcess(["env", "check", "--env", "production"], {
    cwd: dir.path,
  });
  assert.equal(production.code, 3);
  assert.match(production.stdout, /✗ SECRET_KEY: .*\n {4}Key used to sign JWTs/);
  assert.match(production.stdout, /✗ DATABASE_URL: /);
  const deployed = await rigInProcess(["env", "check", "--env", "production"], {
    cwd: dir.path,
    env: {
      SECRET_KEY: "prod-secret-0123456789",
      DATABASE_URL: "postgresql+psycopg://auth:db-pass-987@db:5432/auth",
    },
  });
  assert.equal(deployed.code, 0, deployed.stdout + deployed.stderr);
  assertAbsent(deployed, "prod-secret-0123456789");
  assertAbsent(deployed, "db-pass-987");
});

Deno.test("rig env rejects bad usage", async () => {
  await using dir = await fixture();
  const none = await rigInProcess(["env"], { cwd: dir.path });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /needs a subcommand: generate, check, show/);
  const typo = await rigInProcess(["env", "shwo"], { cwd: dir.path });
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /Did you mean "rig env show"/);
  const env = await rigInProcess(["env", "check", "--env", "prodution"], { cwd: dir.path });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /Did you mean --env production/);
  const flag = await rigInProcess(["env", "check", "--reveal"], { cwd: dir.path });
  assert.equal(flag.code, 2);
  const help = await rigInProcess(["env", "--help"], { cwd: dir.path });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /rig env generate --force -y/);
});

Deno.test("rig env check exits 3 as a separate process and names the fix", async () => {
  await using dir = await fixture();
  const run = await rigProcess(["env", "check", "--env", "production"], { cwd: dir.path });
  assert.equal(run.code, 3);
  assert.match(run.stdout, /fix: add SECRET_KEY=\.\.\. to \.env\.production or export SECRET_KEY/);
  assert.match(
    run.stdout,
    /✗ INSTANCE_ID: "INSTANCE_ID" has not been generated yet\n.*\n {4}fix: run: rig env generate --env production/,
  );
  assert.match(run.stderr, /^error: Environment "production" has 3 missing or invalid keys$/m);
});
