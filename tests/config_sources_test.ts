/**
 * Configuration without templates (.env / .env.example layers, placeholders,
 * never writing tracked files) and databases made of parts (POSTGRES_*, DB_*),
 * their agreement with DATABASE_URL, and the overrides for another database.
 */
import assert from "node:assert/strict";
import {
  configFiles,
  ensureEnvFromExample,
  evaluateFiles,
  isPlaceholder,
  isStrictEnvironment,
} from "../lib/env/sources.ts";
import { databaseOverrides, renameDatabase, resolveDatabase } from "../lib/db/db_config.ts";
import { EnvironmentError } from "../lib/errors.ts";
import { git, tempDir, tempDirWith } from "./helpers.ts";

const NO_SOURCES = () => undefined;

Deno.test("placeholders are the values people leave to be replaced, not ordinary words", () => {
  for (const value of ["changethis", "CHANGEME", "change-me", "change_me", "<your-key>", "xxx"]) {
    assert.ok(isPlaceholder(value), value);
  }
  for (const value of ["localhost", "postgres", "app", "change", "s3cr3t-value", ""]) {
    assert.ok(!isPlaceholder(value), value);
  }
  assert.ok(isStrictEnvironment("production"));
  assert.ok(!isStrictEnvironment("development"));
});

Deno.test("an environment reads .env.NAME over .env over the example, each value with its file and line", async () => {
  await using dir = await tempDirWith({
    ".env.example": "# The port\nPORT=8000\nEXTRA=from-example\nSECRET_KEY=changethis\n",
    ".env": "PORT=9000\nSECRET_KEY=changethis\nLOCAL=1\n",
    ".env.test": "PORT=9100\n",
  });
  assert.deepEqual(configFiles(dir.path, "test").map((f) => f.display), [
    ".env.test",
    ".env",
    ".env.example",
    ".env.sample",
  ]);
  const test = await evaluateFiles(dir.path, { name: "test", processEnv: { LOCAL: "env" } });
  assert.deepEqual(test.read, [".env.test", ".env", ".env.example"]);
  assert.equal(test.values.PORT, "9100");
  assert.deepEqual(test.sources.PORT, { kind: "file", file: ".env.test", line: 1 });
  assert.equal(test.values.EXTRA, "from-example");
  assert.deepEqual(test.sources.EXTRA, { kind: "file", file: ".env.example", line: 3 });
  assert.equal(test.values.LOCAL, "env");
  assert.deepEqual(test.sources.LOCAL, { kind: "process" });
  assert.equal(test.descriptions.PORT, "The port");
  const unknown = test.problems.filter((p) => p.kind === "unknown").map((p) => p.key);
  assert.deepEqual(unknown, ["LOCAL"]);
  // Secrets are masked in anything printed.
  assert.ok(test.secretKeys.has("SECRET_KEY"));

  const dev = await evaluateFiles(dir.path, { name: "development", processEnv: {} });
  assert.deepEqual(dev.read, [".env", ".env.example"]);
  assert.equal(dev.values.PORT, "9000");
  const placeholder = dev.problems.find((p) => p.kind === "placeholder")!;
  assert.equal(placeholder.key, "SECRET_KEY");
  assert.equal(placeholder.severity, "warning");
  assert.match(placeholder.message, /"SECRET_KEY" is still a placeholder value \(\.env line 2\)/);
  assert.doesNotMatch(placeholder.message, /changethis/);

  const production = await evaluateFiles(dir.path, { name: "production", processEnv: {} });
  assert.equal(production.problems.find((p) => p.kind === "placeholder")?.severity, "error");
  const fixed = await evaluateFiles(dir.path, {
    name: "production",
    processEnv: { SECRET_KEY: "a-real-secret" },
  });
  assert.equal(fixed.problems.filter((p) => p.kind === "placeholder").length, 0);
});

Deno.test(".env is created from .env.example only when missing, and never over a tracked file", async () => {
  await using dir = await tempDir();
  const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
  await dir.write({ ".env.example": "PORT=8000\n", ".gitignore": ".env\n" });
  await git(dir.path, "init", "-q");
  const copy = await ensureEnvFromExample(dir.path, { env });
  assert.equal(copy.created, dir.join(".env"));
  assert.equal(copy.from, ".env.example");
  assert.equal(copy.ignored, true);
  assert.equal(await Deno.readTextFile(dir.join(".env")), "PORT=8000\n");
  assert.equal((await Deno.stat(dir.join(".env"))).mode! & 0o777, 0o600);
  await Deno.writeTextFile(dir.join(".env"), "PORT=1\n");
  assert.deepEqual(await ensureEnvFromExample(dir.path, { env }), {});
  assert.equal(await Deno.readTextFile(dir.join(".env")), "PORT=1\n");

  // A tracked .env deleted from the work tree stays deleted: rig does not recreate tracked files.
  await git(dir.path, "add", "-f", ".env");
  await git(dir.path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "env");
  await Deno.remove(dir.join(".env"));
  assert.deepEqual(await ensureEnvFromExample(dir.path, { env }), {});
});

Deno.test("a database made of POSTGRES_* parts is found, with every variable and where it came from", () => {
  const values = {
    POSTGRES_SERVER: "db.local",
    POSTGRES_PORT: "6543",
    POSTGRES_USER: "app",
    POSTGRES_PASSWORD: "changethis",
    POSTGRES_DB: "notes",
  };
  const resolved = resolveDatabase(values, {
    baseDir: "/srv",
    sourceOf: (key) => key === "POSTGRES_PASSWORD" ? "the environment" : `.env line 3`,
  })!;
  assert.equal(resolved.db.kind, "postgresql");
  assert.equal(resolved.db.host, "db.local");
  assert.equal(resolved.db.port, 6543);
  assert.equal(resolved.db.user, "app");
  assert.equal(resolved.db.password, "changethis");
  assert.equal(resolved.db.database, "notes");
  assert.equal(
    resolved.origin.label,
    "POSTGRES_* parts (POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_USER, POSTGRES_DB: .env; " +
      "POSTGRES_PASSWORD: the environment)",
  );
  assert.equal(resolved.origin.placeholderPassword, true);
  assert.equal(resolved.urlKey, undefined);
  // A throwaway database is reached by overriding the parts the app reads.
  const test = renameDatabase(resolved.db, "notes_test_1234");
  assert.deepEqual(databaseOverrides(resolved, test), {
    POSTGRES_SERVER: "db.local",
    POSTGRES_PORT: "6543",
    POSTGRES_USER: "app",
    POSTGRES_PASSWORD: "changethis",
    POSTGRES_DB: "notes_test_1234",
  });
});

Deno.test("the DB_* family and POSTGRES_HOST are read too; special characters survive the URL", () => {
  const db = resolveDatabase({
    DB_HOST: "127.0.0.1",
    DB_USER: "me",
    DB_PASSWORD: "p@ss:w/rd",
    DB_NAME: "shop",
  }, { baseDir: "/", sourceOf: NO_SOURCES })!;
  assert.equal(db.db.port, 5432);
  assert.equal(db.db.password, "p@ss:w/rd");
  assert.equal(db.parts?.family.name, "DB");
  const host = resolveDatabase({ POSTGRES_HOST: "pg", POSTGRES_DB: "x" }, {
    baseDir: "/",
    sourceOf: NO_SOURCES,
  })!;
  assert.equal(host.db.host, "pg");
  assert.equal(host.parts?.hostKey, "POSTGRES_HOST");
  assert.deepEqual(databaseOverrides(host, renameDatabase(host.db, "x_test_1")), {
    POSTGRES_HOST: "pg",
    POSTGRES_PORT: "5432",
    POSTGRES_DB: "x_test_1",
  });
});

Deno.test("a URL project gets a URL override; --db on a parts project sets the parts", () => {
  const url = resolveDatabase({ DATABASE_URL: "postgresql://u:p@h:5432/app" }, {
    baseDir: "/",
    sourceOf: () => ".env line 1",
  })!;
  assert.equal(url.origin.label, "DATABASE_URL (.env line 1)");
  assert.deepEqual(databaseOverrides(url, renameDatabase(url.db, "app_test_9")), {
    DATABASE_URL: "postgresql://u:p@h:5432/app_test_9",
  });
  const flagged = resolveDatabase({ POSTGRES_SERVER: "localhost", POSTGRES_DB: "app" }, {
    baseDir: "/",
    flag: "postgresql://other@10.0.0.5:5433/elsewhere",
    sourceOf: NO_SOURCES,
  })!;
  assert.equal(flagged.origin.label, "--db");
  assert.deepEqual(databaseOverrides(flagged, flagged.db), {
    POSTGRES_SERVER: "10.0.0.5",
    POSTGRES_PORT: "5433",
    POSTGRES_USER: "other",
    POSTGRES_DB: "elsewhere",
  });
  assert.throws(
    () =>
      databaseOverrides(
        flagged,
        resolveDatabase({}, { baseDir: "/", flag: "sqlite:///x.db", sourceOf: NO_SOURCES })!.db,
      ),
    /cannot name a sqlite database/,
  );
  assert.equal(resolveDatabase({}, { baseDir: "/", sourceOf: NO_SOURCES }), undefined);
});

Deno.test("parts that contradict DATABASE_URL are an environment error naming both and the fix", () => {
  assert.throws(
    () =>
      resolveDatabase({
        DATABASE_URL: "postgresql://postgres:secret@127.0.0.1:5432/app",
        POSTGRES_SERVER: "localhost",
        POSTGRES_PORT: "5433",
        POSTGRES_DB: "other",
      }, { baseDir: "/", sourceOf: (key) => `.env line ${key.length}` }),
    (e: unknown) => {
      assert.ok(e instanceof EnvironmentError);
      assert.equal(e.exitCode, 3);
      assert.match(
        e.message,
        /DATABASE_URL \(\.env line 12\) and POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_DB \(\.env\) name different databases: port 5432 vs POSTGRES_PORT=5433; database "app" vs POSTGRES_DB="other"/,
      );
      assert.doesNotMatch(e.message + e.hint, /secret/);
      assert.match(e.hint!, /rig run --db postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/app/);
      return true;
    },
  );
  // localhost and 127.0.0.1 are one host; agreeing settings are fine.
  const agreed = resolveDatabase({
    DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/app",
    POSTGRES_SERVER: "localhost",
    POSTGRES_DB: "app",
  }, { baseDir: "/", sourceOf: NO_SOURCES })!;
  assert.equal(agreed.urlKey, "DATABASE_URL");
  assert.equal(agreed.parts?.family.name, "POSTGRES");
  const overrides = databaseOverrides(agreed, renameDatabase(agreed.db, "app_test_2"));
  assert.equal(overrides.DATABASE_URL, "postgresql://postgres@127.0.0.1:5432/app_test_2");
  assert.equal(overrides.POSTGRES_DB, "app_test_2");
});

Deno.test("a host without a database name says which variable to set", () => {
  assert.throws(
    () =>
      resolveDatabase({ POSTGRES_SERVER: "localhost" }, {
        baseDir: "/",
        sourceOf: () => ".env line 4",
      }),
    /POSTGRES_SERVER is set \(\.env line 4\) but POSTGRES_DB is not/,
  );
});
