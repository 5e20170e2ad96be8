/**
 * `rig env` and `rig info` on a project without templates: a tracked `.env`
 * with placeholders (the way most projects ship), or only a `.env.example`.
 * Values and sources are shown with secrets masked, placeholders warn for
 * development and fail production, and no tracked file is ever written.
 */
import assert from "node:assert/strict";
import { git, gitRepository, rigInProcess, tempDir } from "../helpers.ts";

const DOTENV = `# Local settings; replace the placeholders before deploying.
PROJECT_NAME="Notes"
SECRET_KEY=changethis

# Postgres
POSTGRES_SERVER=localhost
POSTGRES_PORT=5432
POSTGRES_DB=app
POSTGRES_USER=postgres
POSTGRES_PASSWORD=changethis
`;

async function fixture(files: Record<string, string>) {
  const dir = await tempDir();
  await dir.write({
    "backend/pyproject.toml": '[project]\nname = "app"\nversion = "0.1.0"\n',
    "backend/alembic.ini": "[alembic]\nscript_location = app/alembic\n",
    "backend/app/__init__.py": "",
    ...files,
  });
  await gitRepository(dir.path);
  return dir;
}

Deno.test("rig env show and check read a tracked .env with placeholders and never write it", async () => {
  await using dir = await fixture({ ".env": DOTENV });
  const show = await rigInProcess(["-C", dir.path, "env", "show"]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /Environment "development": \.env \(no templates\)/);
  assert.match(show.stdout, /POSTGRES_SERVER +localhost +\.env line 6 +Postgres/);
  assert.match(show.stdout, /POSTGRES_PASSWORD +\*\*\*\* +\.env line 10/);
  assert.doesNotMatch(show.stdout + show.stderr, /changethis/);
  assert.match(show.stderr, /warning: "SECRET_KEY" is still a placeholder value \(\.env line 3\)/);

  const check = await rigInProcess(["-C", dir.path, "env", "check"]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stderr, /warning: "POSTGRES_PASSWORD" is still a placeholder value/);
  assert.match(
    check.stdout + check.stderr,
    /All 7 keys of "development" are set \(2 warnings above\)/,
  );

  const production = await rigInProcess(["-C", dir.path, "env", "check", "--env", "production"]);
  assert.equal(production.code, 3);
  assert.match(production.stdout, /✗ SECRET_KEY: "SECRET_KEY" is still a placeholder value/);
  assert.match(production.stdout, /fix: export SECRET_KEY=<real value>/);
  const fixed = await rigInProcess(["-C", dir.path, "env", "check", "--env", "production"], {
    env: { SECRET_KEY: "k".repeat(40), POSTGRES_PASSWORD: "real-password" },
  });
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);

  const json = await rigInProcess(["-C", dir.path, "--json", "env", "show"]);
  const document = JSON.parse(json.stdout);
  assert.deepEqual(document.sources, [".env"]);
  const password = document.keys.find((k: { key: string }) => k.key === "POSTGRES_PASSWORD");
  assert.equal(password.value, "****");
  assert.equal(password.placeholder, true);

  // generate has nothing to do without templates and must not offer to write any.
  const generate = await rigInProcess(["-C", dir.path, "env", "generate"]);
  assert.equal(generate.code, 0, generate.stderr);
  assert.match(generate.stdout + generate.stderr, /Nothing to generate: no templates in config\//);

  const info = await rigInProcess(["-C", dir.path, "info"]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /Env +development from \.env \(no templates\)/);
  assert.match(
    info.stdout,
    /Database postgresql localhost:5432\/app from POSTGRES_SERVER, POSTGRES_PORT, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB \(\.env\)/,
  );
  assert.equal(await git(dir.path, "status", "--porcelain"), "");
  assert.equal(await Deno.readTextFile(dir.join(".env")), DOTENV);
});

Deno.test("without .env, rig env generate copies .env.example into an untracked .env, once", async () => {
  await using dir = await fixture({
    ".env.example": "DATABASE_URL=postgresql://app:changeme@127.0.0.1:5432/app\nDEBUG=1\n",
    ".gitignore": ".env\n",
  });
  const show = await rigInProcess(["-C", dir.path, "env", "show"]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(
    show.stdout,
    /\.env\.example \(no \.env yet: rig run creates it from \.env\.example\) \(no templates\)/,
  );
  assert.match(show.stdout, /DATABASE_URL +postgresql:\/\/app:\*\*\*\*@127\.0\.0\.1:5432\/app/);
  assert.equal(await git(dir.path, "status", "--porcelain"), "", "show writes nothing");

  const generate = await rigInProcess(["-C", dir.path, "env", "generate"]);
  assert.equal(generate.code, 0, generate.stderr);
  assert.match(
    generate.stdout + generate.stderr,
    /Created \.env \(mode 600\) from \.env\.example: an untracked file/,
  );
  assert.equal(
    await Deno.readTextFile(dir.join(".env")),
    await Deno.readTextFile(dir.join(".env.example")),
  );
  assert.equal(await git(dir.path, "status", "--porcelain"), "", ".env is ignored, nothing else");
  await Deno.writeTextFile(dir.join(".env"), "DEBUG=0\n");
  const again = await rigInProcess(["-C", dir.path, "env", "generate"]);
  assert.match(again.stdout + again.stderr, /Nothing to generate/);
  assert.equal(await Deno.readTextFile(dir.join(".env")), "DEBUG=0\n");
});

Deno.test("a project with no configuration at all says where rig looks", async () => {
  await using dir = await fixture({});
  const show = await rigInProcess(["-C", dir.path, "env", "show"]);
  assert.equal(show.code, 3);
  assert.match(
    show.stderr,
    /error: No configuration found: no config\/\*\.env\.template, \.env, \.env\.example or \.env\.sample/,
  );
});

Deno.test("rig run names only the sources that exist, and copies a missing .env from the example", async () => {
  await using bare = await fixture({});
  const nothing = await rigInProcess(["-C", bare.path, "run", "--no-install"]);
  assert.equal(nothing.code, 3, nothing.stderr);
  assert.match(
    nothing.stderr + nothing.stdout,
    /✓ environment development \(no \.env or templates: the process environment only\)/,
  );
  assert.match(nothing.stderr, /error: The "backend" component has no virtual environment/);

  await using dir = await fixture({
    ".env.example": "PROJECT_NAME=Notes\nDB_HOST=127.0.0.1\nDB_NAME=shop\n",
    ".gitignore": ".env\n",
  });
  const run = await rigInProcess(["-C", dir.path, "run", "--no-install"], {
    env: { DB_PORT: "6000" },
  });
  assert.equal(run.code, 3, run.stderr);
  const out = run.stdout + run.stderr;
  assert.match(out, /Created \.env from \.env\.example \(an untracked file; edit its values\)/);
  assert.match(out, /✓ environment development from \.env \(3 keys\)/);
  assert.doesNotMatch(out, /\.env\.example \(\d+ keys?\)/, "the copy, not the example, is read");
  assert.equal(await git(dir.path, "status", "--porcelain"), "", ".env is ignored; nothing else");
});
