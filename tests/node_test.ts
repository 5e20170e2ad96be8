import assert from "node:assert/strict";
import * as path from "node:path";
import { git, gitRepository, tempDir, tempDirWith } from "./helpers.ts";
import {
  detectToolchain,
  installArgv,
  managerEnv,
  missingCommand,
  parsePackageManager,
  scriptArgv,
  workspaceGlobs,
} from "../lib/node/managers.ts";
import {
  apiUrlVariables,
  appOutput,
  devServerUrl,
  isNodeApp,
  outputProblem,
} from "../lib/node/app.ts";
import { detectApiClient, specIn } from "../lib/node/api_client.ts";
import { componentCommand } from "../lib/project/selection.ts";
import { checkOnlyHint } from "../lib/testing/node_tests.ts";
import { WorktreeGuard } from "../lib/testing/worktree_guard.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { sha256File } from "../lib/hash.ts";
import type { Component } from "../lib/project/project.ts";

const pkg = (data: Record<string, unknown>) => JSON.stringify(data);

Deno.test("the lockfile picks the package manager and its frozen install", async () => {
  await using dir = await tempDirWith({
    "npm/package.json": pkg({ name: "a" }),
    "npm/package-lock.json": "{}",
    "pnpm/package.json": pkg({ name: "b" }),
    "pnpm/pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    "yarn1/package.json": pkg({ name: "c" }),
    "yarn1/yarn.lock": "# yarn lockfile v1\n",
    "berry/package.json": pkg({ name: "d" }),
    "berry/yarn.lock": "__metadata:\n  version: 8\n",
    "bun/package.json": pkg({ name: "e" }),
    "bun/bun.lock": "{}",
    "none/package.json": pkg({ name: "f" }),
  });
  const tc = (name: string) => detectToolchain(dir.join(name), dir.path);
  assert.deepEqual(installArgv(tc("npm")), ["npm", "ci", "--no-fund", "--no-audit"]);
  assert.deepEqual(installArgv(tc("pnpm")), ["pnpm", "install", "--frozen-lockfile"]);
  assert.deepEqual(installArgv(tc("yarn1")), [
    "yarn",
    "install",
    "--frozen-lockfile",
    "--non-interactive",
  ]);
  assert.equal(tc("berry").flavor, "berry");
  assert.deepEqual(installArgv(tc("berry")), ["yarn", "install", "--immutable"]);
  assert.deepEqual(installArgv(tc("bun")), ["bun", "install", "--frozen-lockfile"]);
  // Without a lockfile npm installs without writing one.
  assert.equal(tc("none").manager, "npm");
  assert.deepEqual(installArgv(tc("none")), [
    "npm",
    "install",
    "--no-package-lock",
    "--no-fund",
    "--no-audit",
  ]);
  assert.deepEqual(scriptArgv(tc("npm"), "test", ["-x"]), ["npm", "run", "test", "--", "-x"]);
  assert.deepEqual(scriptArgv(tc("pnpm"), "lint"), ["pnpm", "run", "lint"]);
  assert.deepEqual(scriptArgv(tc("bun"), "dev"), ["bun", "run", "dev"]);
});

Deno.test("packageManager in package.json wins over lockfiles", async () => {
  await using dir = await tempDirWith({
    "app/package.json": pkg({ name: "a", packageManager: "yarn@4.5.0+sha512.abc" }),
    "app/package-lock.json": "{}",
  });
  const tc = detectToolchain(dir.join("app"), dir.path);
  assert.equal(tc.manager, "yarn");
  assert.equal(tc.flavor, "berry");
  assert.equal(tc.version, "4.5.0");
  assert.match(tc.source, /packageManager "yarn@4\.5\.0"/);
  assert.deepEqual(parsePackageManager("pnpm@9.1.0"), { manager: "pnpm", version: "9.1.0" });
  assert.equal(parsePackageManager("deno@2"), undefined);
});

Deno.test("workspace members install once at the workspace root", async () => {
  await using dir = await tempDirWith({
    "package.json": pkg({
      name: "root",
      private: true,
      workspaces: ["packages/*", "!packages/skip"],
    }),
    "package-lock.json": "{}",
    "packages/web/package.json": pkg({ name: "web" }),
    "packages/skip/package.json": pkg({ name: "skip" }),
    "mono/pnpm-workspace.yaml": "packages:\n  - 'apps/*'\n  # comment\n  - \"libs/**\"\n",
    "mono/package.json": pkg({ name: "mono" }),
    "mono/pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    "mono/apps/site/package.json": pkg({ name: "site" }),
  });
  const web = detectToolchain(dir.join("packages/web"), dir.path);
  assert.equal(web.installDir, dir.path);
  assert.equal(web.workspace, true);
  assert.equal(web.manager, "npm");
  const skip = detectToolchain(dir.join("packages/skip"), dir.path);
  assert.equal(skip.installDir, dir.join("packages/skip"));
  assert.deepEqual(workspaceGlobs(dir.join("mono")), ["apps/*", "libs/**"]);
  const site = detectToolchain(dir.join("mono/apps/site"), dir.path);
  assert.equal(site.installDir, dir.join("mono"));
  assert.equal(site.manager, "pnpm");
});

Deno.test("manager environments share downloads through the user cache and set CI", () => {
  const pnpm = managerEnv({ manager: "pnpm" }, { env: { PATH: "/bin" }, cacheDir: "/c" });
  assert.equal(pnpm.npm_config_store_dir, path.join("/c", "pnpm"));
  assert.equal(pnpm.CI, "true");
  const yarn = managerEnv({ manager: "yarn", flavor: "classic" }, { env: {}, cacheDir: "/c" });
  assert.equal(yarn.YARN_CACHE_FOLDER, path.join("/c", "yarn"));
  const bun = managerEnv({ manager: "bun" }, { env: {}, cacheDir: "/c" });
  assert.equal(bun.BUN_INSTALL_CACHE_DIR, path.join("/c", "bun"));
  // The user's own settings win.
  const own = managerEnv({ manager: "npm" }, {
    env: { npm_config_cache: "/mine" },
    cacheDir: "/c",
  });
  assert.equal(own.npm_config_cache, "/mine");
});

Deno.test("a script that dies for a missing program names the program", () => {
  assert.equal(missingCommand(127, "> vitest run\nsh: 1: vitest: not found\n"), "vitest");
  assert.equal(missingCommand(127, "sh: bunx: command not found"), "bunx");
  assert.equal(missingCommand(1, "bash: line 1: eslint: command not found"), "eslint");
  assert.equal(
    missingCommand(1, "'jest' is not recognized as an internal or external command"),
    "jest",
  );
  assert.equal(missingCommand(1, "1 test failed"), undefined);
  assert.equal(missingCommand(127, "weird"), "a command of the script");
});

Deno.test("apps are told from libraries by private scripts and framework dependencies", () => {
  assert.equal(isNodeApp({ private: true, scripts: { dev: "vite" } }), true);
  assert.equal(isNodeApp({ private: true, scripts: { test: "node --test" } }), false);
  assert.equal(isNodeApp({ dependencies: { next: "15" } }), true);
  assert.equal(isNodeApp({ devDependencies: { "@remix-run/dev": "2" } }), true);
  assert.equal(isNodeApp({ devDependencies: { "@sveltejs/kit": "2" } }), true);
  assert.equal(isNodeApp({ devDependencies: { vite: "6" } }), true);
  // A published library that builds with vite stays a library.
  assert.equal(
    isNodeApp({ name: "lib", main: "dist/index.js", devDependencies: { vite: "6" } }),
    false,
  );
  assert.equal(
    isNodeApp({ name: "client", main: "dist/index.js", scripts: { dev: "tsc -w" } }),
    false,
  );
});

Deno.test("the output folder comes from the framework, its config or the build script", async () => {
  await using dir = await tempDir();
  const app = async (name: string, files: Record<string, string>) => {
    await dir.write(Object.fromEntries(Object.entries(files).map(([f, t]) => [`${name}/${f}`, t])));
    return appOutput(dir.join(name));
  };
  assert.deepEqual(
    await app("vite", {
      "package.json": pkg({ devDependencies: { vite: "6" }, scripts: { build: "vite build" } }),
    }),
    { dir: "dist", spa: true, source: "vite" },
  );
  const custom = await app("vite2", {
    "package.json": pkg({ devDependencies: { vite: "6" } }),
    "vite.config.ts": "export default defineConfig({ build: { outDir: 'public/app' } })",
  });
  assert.equal(custom.dir, "public/app");
  assert.equal(
    (await app("flag", {
      "package.json": pkg({
        scripts: { build: "vite build --outDir out" },
        devDependencies: { vite: "6" },
      }),
    })).dir,
    "out",
  );
  assert.deepEqual(
    await app("next", { "package.json": pkg({ dependencies: { next: "15" } }) }),
    { dir: ".next", spa: false, source: "next" },
  );
  const exported = await app("next2", {
    "package.json": pkg({ dependencies: { next: "15" } }),
    "next.config.mjs": "export default { output: 'export' }",
  });
  assert.deepEqual(exported, { dir: "out", spa: true, source: "next export" });
  assert.equal(
    (await app("nuxt", {
      "package.json": pkg({ dependencies: { nuxt: "3" }, scripts: { build: "nuxt generate" } }),
    })).dir,
    ".output/public",
  );
  assert.equal(
    (await app("astro", { "package.json": pkg({ dependencies: { astro: "4" } }) })).dir,
    "dist",
  );
  const kit = await app("kit", {
    "package.json": pkg({ devDependencies: { "@sveltejs/kit": "2" } }),
    "svelte.config.js": "import adapter from '@sveltejs/adapter-static';",
  });
  assert.deepEqual(kit, { dir: "build", spa: true, source: "adapter-static" });
  assert.equal(
    (await app("cra", { "package.json": pkg({ dependencies: { "react-scripts": "5" } }) })).dir,
    "build",
  );
  assert.equal(
    (await app("remix", { "package.json": pkg({ dependencies: { "@remix-run/node": "2" } }) })).spa,
    false,
  );

  // Validation: exists, not empty, index.html for a single-page build.
  const spa = { dir: "dist", spa: true, source: "vite" };
  assert.match(outputProblem(dir.join("vite"), spa)!, /wrote no "dist\/" folder/);
  await Deno.mkdir(dir.join("vite/dist"));
  assert.match(outputProblem(dir.join("vite"), spa)!, /"dist\/" is empty/);
  await dir.write({ "vite/dist/app.js": "" });
  assert.match(outputProblem(dir.join("vite"), spa)!, /no index\.html/);
  await dir.write({ "vite/dist/index.html": "<!doctype html>" });
  assert.equal(outputProblem(dir.join("vite"), spa), undefined);
});

Deno.test("the API URL variables are the framework's public ones in .env files and sources", async () => {
  await using dir = await tempDirWith({
    ".env": "VITE_API_URL=http://localhost:8000\nVITE_TITLE=Notes\nSECRET=x\n",
    ".env.production": "NEXT_PUBLIC_BACKEND=https://api.example.com\n",
    "src/api.ts":
      "const u = import.meta.env.VITE_SERVER_BASE; const t = import.meta.env.VITE_THEME;",
  });
  assert.deepEqual(apiUrlVariables(dir.path), [
    "NEXT_PUBLIC_BACKEND",
    "VITE_API_URL",
    "VITE_SERVER_BASE",
  ]);
});

Deno.test("a dev server is ready once it prints its local URL", () => {
  assert.equal(
    devServerUrl(
      "  \u001b[32m➜\u001b[39m  Local:   \u001b[36mhttp://localhost:\u001b[1m5173\u001b[22m/\u001b[39m",
    ),
    "http://localhost:5173",
  );
  assert.equal(devServerUrl("- Local:        http://0.0.0.0:3000"), "http://127.0.0.1:3000");
  assert.equal(devServerUrl("compiling…"), undefined);
});

Deno.test("generated API clients are found by generator, config or a script naming openapi.json", async () => {
  await using dir = await tempDirWith({
    "a/package.json": pkg({
      devDependencies: { "openapi-typescript": "7" },
      scripts: { "gen": "openapi-typescript ../backend/openapi.json -o src/schema.d.ts" },
    }),
    "b/package.json": pkg({
      devDependencies: { "@hey-api/openapi-ts": "0.60" },
      scripts: { "generate-client": "openapi-ts" },
    }),
    "b/openapi-ts.config.ts": "export default { input: './openapi.json', output: 'src/client' }",
    "c/package.json": pkg({ devDependencies: { orval: "7" } }),
    "c/orval.config.ts":
      "export default { api: { input: { target: 'http://localhost:8000/openapi.json' } } }",
    "d/package.json": pkg({ scripts: { "codegen": "node gen.mjs openapi.json" } }),
    "e/package.json": pkg({ devDependencies: { typescript: "5" } }),
  });
  const a = detectApiClient(dir.join("a"))!;
  assert.equal(a.generator, "openapi-typescript");
  assert.equal(a.spec, "../backend/openapi.json");
  assert.equal(a.script?.name, "gen");
  const b = detectApiClient(dir.join("b"))!;
  assert.equal(b.config, "openapi-ts.config.ts");
  assert.equal(b.spec, "./openapi.json");
  assert.match(b.reason, /@hey-api\/openapi-ts/);
  const c = detectApiClient(dir.join("c"))!;
  assert.equal(c.spec, "http://localhost:8000/openapi.json");
  assert.equal(detectApiClient(dir.join("d"))!.generator, "script");
  assert.equal(detectApiClient(dir.join("e")), undefined);
  assert.equal(
    specIn("openapi-generator-cli generate -i spec/api.yaml -g typescript"),
    "spec/api.yaml",
  );
});

Deno.test("a frontend that generates a client depends on the server wherever it lives", async () => {
  await using dir = await tempDirWith({
    "api/pyproject.toml": '[project]\nname = "api"\nversion = "0.1.0"\n',
    "api/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    "web/package.json": pkg({
      private: true,
      scripts: { dev: "vite", "gen": "openapi-typescript ../api/openapi.json -o src/s.d.ts" },
      devDependencies: { vite: "6", "openapi-typescript": "7" },
    }),
    "tools/package.json": pkg({ name: "tools", version: "1.0.0" }),
  });
  const project = await loadProject(dir.path);
  const web = project.components.find((c) => c.name === "web")!;
  assert.equal(web.kind, "node-app");
  assert.deepEqual(web.dependsOn, ["api"]);
  assert.match(web.dependencyReasons!.api!, /generates an API client.*openapi-typescript/);
  assert.deepEqual(project.components.find((c) => c.name === "tools")!.dependsOn, []);
});

Deno.test("hints name the component flags the project has", () => {
  const components = [{ name: "backend" }, { name: "frontend" }];
  assert.equal(
    componentCommand(components, "build", { component: "frontend" }),
    "rig build --frontend",
  );
  assert.equal(componentCommand(components, "build", { component: "js-client" }), "rig build");
  assert.equal(
    componentCommand(components, "install", { component: "backend", args: ["--dev", "ruff"] }),
    "rig install --backend --dev ruff",
  );
  const c = { name: "frontend" } as Component;
  assert.match(
    checkOnlyHint(c, "prettier --write src"),
    /lint = "prettier --check src" under \[components\.frontend\]/,
  );
  assert.match(checkOnlyHint(c, "biome check --write --unsafe ."), /lint = "biome check \."/);
  assert.match(checkOnlyHint(c, "eslint --fix ."), /lint = "eslint \."/);
});

Deno.test("the work tree guard puts back rewritten, deleted and created files byte for byte", async () => {
  await using dir = await tempDirWith({
    "web/src/a.ts": "const a = 1\n",
    "web/src/b.ts": "export {}\n",
    "web/.env": "VITE_API_URL=http://localhost:8000\n",
    "web/node_modules/x/index.js": "ignored\n",
    ".gitignore": "node_modules/\n.env\n",
    "other/keep.txt": "not guarded\n",
  });
  await gitRepository(dir.path);
  await Deno.chmod(dir.join("web/src/b.ts"), 0o755);
  const files = ["web/src/a.ts", "web/src/b.ts", "web/.env"];
  const before = await Promise.all(files.map((f) => sha256File(dir.join(f))));
  const status = await git(dir.path, "status", "--porcelain");
  await using guard = await WorktreeGuard.capture(dir.path, {
    dirs: ["web"],
    env: Deno.env.toObject(),
  });
  assert.equal(guard.size, 3);
  assert.deepEqual(await guard.restore(), []);
  await Deno.writeTextFile(dir.join("web/src/a.ts"), "const a = 1;\n");
  await Deno.remove(dir.join("web/src/b.ts"));
  await Deno.writeTextFile(dir.join("web/.env"), "VITE_API_URL=changed\n");
  await Deno.mkdir(dir.join("web/generated"));
  await Deno.writeTextFile(dir.join("web/generated/new.ts"), "new\n");
  await Deno.writeTextFile(dir.join("web/node_modules/x/index.js"), "may change\n");
  const changes = await guard.restore();
  assert.deepEqual(changes, [
    { file: "web/.env", change: "modified" },
    { file: "web/generated/new.ts", change: "created" },
    { file: "web/src/a.ts", change: "modified" },
    { file: "web/src/b.ts", change: "deleted" },
  ]);
  assert.deepEqual(await Promise.all(files.map((f) => sha256File(dir.join(f)))), before);
  assert.equal((await Deno.stat(dir.join("web/src/b.ts"))).mode! & 0o777, 0o755);
  assert.equal(await git(dir.path, "status", "--porcelain"), status);
  await assert.rejects(() => Deno.stat(dir.join("web/generated")));
});

Deno.test("an app's output folder is a declared restore root of its build, and only inside the project", async () => {
  const { declaredOutputRoots } = await import("../lib/task/restore_policy.ts");
  assert.deepEqual(declaredOutputRoots("build", "frontend", "frontend", ["frontend/dist/"]), [
    "dist/frontend/",
    "frontend/dist/",
  ]);
  assert.deepEqual(declaredOutputRoots("build", "x", "x", ["../etc/", "/abs/", "x/out"]), [
    "dist/x/",
  ]);
  assert.deepEqual(
    declaredOutputRoots("test", "frontend", "frontend", ["frontend/dist/"]).includes(
      "frontend/dist/",
    ),
    false,
  );
});
