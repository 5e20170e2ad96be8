import assert from "node:assert/strict";
import { bumpCovers, bumpLevel, diffOpenApi, requiredBump } from "../lib/release/api_diff.ts";
import { changelogEntries, prependSection, renderSection } from "../lib/release/changelog.ts";
import { defaultIndexUrl, githubRepoFromUrl } from "../lib/release/config.ts";
import { nerfDart, npmAuthSource } from "../lib/release/publish_npm.ts";
import { tempDir } from "./helpers.ts";

const BASE = {
  openapi: "3.1.0",
  paths: {
    "/users/me": {
      get: {
        responses: {
          "200": {
            content: { "application/json": { schema: { $ref: "#/components/schemas/UserRead" } } },
          },
        },
      },
    },
    "/auth/register": {
      post: {
        requestBody: {
          required: true,
          content: {
            "application/json": { schema: { $ref: "#/components/schemas/UserCreate" } },
          },
        },
        responses: { "201": { description: "ok" } },
      },
    },
  },
  components: {
    schemas: {
      UserRead: {
        type: "object",
        required: ["id", "email"],
        properties: {
          id: { type: "integer" },
          email: { type: "string" },
          full_name: { anyOf: [{ type: "string" }, { type: "null" }] },
        },
      },
      UserCreate: {
        type: "object",
        required: ["email", "password"],
        properties: { email: { type: "string" }, password: { type: "string" } },
      },
    },
  },
};

function clone(): typeof BASE & Record<string, unknown> {
  return structuredClone(BASE);
}

Deno.test("diffOpenApi calls a removed response field breaking and names it", () => {
  const after = clone();
  delete (after.components.schemas.UserRead.properties as Record<string, unknown>).email;
  const changes = diffOpenApi(BASE, after);
  assert.deepEqual(changes, [
    { level: "breaking", description: `GET /users/me response 200: field "email" removed` },
  ]);
  assert.equal(requiredBump(changes, "1.4.0"), "major");
  assert.equal(requiredBump(changes, "0.1.0"), "minor");
});

Deno.test("diffOpenApi calls a new required request field breaking and an optional one an addition", () => {
  const after = clone();
  const create = after.components.schemas.UserCreate as {
    required: string[];
    properties: Record<string, unknown>;
  };
  create.properties.invite = { type: "string" };
  create.required.push("invite");
  create.properties.locale = { type: "string" };
  const changes = diffOpenApi(BASE, after);
  assert.deepEqual(changes.map((c) => c.description), [
    `POST /auth/register request: new required field "invite"`,
    `POST /auth/register request: optional field "locale" added`,
  ]);
  assert.equal(changes[0]!.level, "breaking");
});

Deno.test("diffOpenApi sees removed paths and operations as breaking, new ones as additions", () => {
  const after = clone() as Record<string, unknown> & { paths: Record<string, unknown> };
  delete after.paths["/auth/register"];
  after.paths["/info"] = { get: { responses: { "200": { description: "ok" } } } };
  const changes = diffOpenApi(BASE, after);
  assert.deepEqual(changes, [
    { level: "breaking", description: "path /auth/register removed" },
    { level: "addition", description: "path /info added" },
  ]);
  const added = diffOpenApi(BASE, { ...clone(), paths: { ...BASE.paths, "/x": { get: {} } } });
  assert.equal(requiredBump(added, "1.0.0"), "minor");
  assert.equal(requiredBump([], "1.0.0"), "none");
});

Deno.test("bumpLevel and bumpCovers compare versions by their first differing part", () => {
  assert.equal(bumpLevel("0.1.0", "0.1.1"), "patch");
  assert.equal(bumpLevel("0.1.0", "0.2.0"), "minor");
  assert.equal(bumpLevel("1.9.3", "2.0.0"), "major");
  assert.ok(bumpCovers("minor", "patch"));
  assert.ok(!bumpCovers("patch", "minor"));
  assert.ok(bumpCovers("patch", "none"));
});

Deno.test("the changelog groups Conventional Commits and lists other commits as they are", () => {
  const entries = changelogEntries([
    { sha: "a".repeat(40), subject: "feat(api): add /info", body: "" },
    { sha: "b".repeat(40), subject: "fix: refresh tokens expire on time", body: "" },
    { sha: "c".repeat(40), subject: "Tidy the README", body: "" },
    { sha: "d".repeat(40), subject: "feat!: drop created_at", body: "" },
    { sha: "e".repeat(40), subject: "refactor: split routers", body: "BREAKING CHANGE: new paths" },
    { sha: "f".repeat(40), subject: "chore(release): v0.1.0", body: "" },
  ]);
  const section = renderSection("0.2.0", entries, { date: "2026-12-02" });
  assert.equal(
    section,
    [
      "## 0.2.0 (2026-12-02)",
      "",
      "### Breaking Changes",
      "",
      "- drop created_at (ddddddd)",
      "- split routers (new paths) (eeeeeee)",
      "",
      "### Features",
      "",
      "- **api:** add /info (aaaaaaa)",
      "",
      "### Bug Fixes",
      "",
      "- refresh tokens expire on time (bbbbbbb)",
      "",
      "### Other Changes",
      "",
      "- Tidy the README (ccccccc)",
      "",
    ].join("\n"),
  );
});

Deno.test("prependSection keeps the title and puts the new release above the last one", () => {
  const old = "# Changelog\n\nAll notable changes.\n\n## 0.1.0 (2026-01-01)\n\n- first\n";
  const text = prependSection(old, "## 0.2.0 (2026-12-02)\n\n- second\n");
  assert.equal(
    text,
    "# Changelog\n\nAll notable changes.\n\n## 0.2.0 (2026-12-02)\n\n- second\n\n## 0.1.0 (2026-01-01)\n\n- first\n",
  );
  assert.equal(prependSection(undefined, "## 1.0.0\n"), "# Changelog\n\n## 1.0.0\n");
});

Deno.test("release config helpers derive the index, the GitHub repo and npm's credential key", () => {
  assert.equal(defaultIndexUrl("https://upload.pypi.org/legacy/"), "https://pypi.org/simple/");
  assert.equal(defaultIndexUrl("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/simple/");
  assert.equal(githubRepoFromUrl("git@github.com:acme/auth.git"), "acme/auth");
  assert.equal(githubRepoFromUrl("https://github.com/acme/auth"), "acme/auth");
  assert.equal(githubRepoFromUrl("/srv/git/auth.git"), undefined);
  assert.equal(nerfDart("http://127.0.0.1:4873"), "//127.0.0.1:4873/");
});

Deno.test("npm credentials are found in NPM_TOKEN or an .npmrc line for the registry", async () => {
  await using dir = await tempDir();
  const registry = "http://127.0.0.1:4873/";
  const env = { HOME: dir.path };
  assert.equal(await npmAuthSource(registry, [dir.join("pkg")], env), undefined);
  assert.equal(await npmAuthSource(registry, [], { ...env, NPM_TOKEN: "x" }), "NPM_TOKEN");
  await dir.write({ "pkg/.npmrc": "//127.0.0.1:4873/:_authToken=${TOKEN}\n" });
  assert.equal(await npmAuthSource(registry, [dir.join("pkg")], env), dir.join("pkg", ".npmrc"));
  assert.equal(
    await npmAuthSource("https://registry.npmjs.org/", [dir.join("pkg")], env),
    undefined,
  );
});
