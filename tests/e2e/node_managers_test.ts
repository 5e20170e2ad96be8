/**
 * JavaScript package managers end to end: each lockfile installs with its own
 * manager (frozen, offline: the one dependency is a tarball in the fixture),
 * lockfiles are never rewritten, a missing manager is exit 3, and node
 * scripts run as they are in `rig test` without ever changing the work tree.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  git,
  gitRepository,
  REPO_ROOT,
  rigProcess,
  type TempDir,
  tempDir,
  tempDirWith,
} from "../helpers.ts";
import { sha256File } from "../../lib/hash.ts";
import { which } from "../../lib/proc.ts";

const FIXTURES = path.join(REPO_ROOT, "tests", "testdata", "node");
const LOCKS = ["package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock", "bun.lockb"];
const env = Deno.env.toObject();

/** Copies a manager's fixture into `<dir>/app` (with its vendored tarball) in a git repository. */
async function fixture(dir: TempDir, manager: string, extra: Record<string, string> = {}) {
  const app = dir.join("app");
  await Deno.mkdir(path.join(app, "vendor"), { recursive: true });
  for await (const entry of Deno.readDir(path.join(FIXTURES, manager))) {
    await Deno.copyFile(path.join(FIXTURES, manager, entry.name), path.join(app, entry.name));
  }
  await Deno.copyFile(
    path.join(FIXTURES, "vendor", "tiny-dep-1.0.0.tgz"),
    path.join(app, "vendor", "tiny-dep-1.0.0.tgz"),
  );
  await dir.write({ ".gitignore": "node_modules/\n.rig/\n", ...extra });
  await gitRepository(dir.path, { message: "fixture" });
  return app;
}

/** sha256 of every file outside node_modules, .git and .rig, by path. */
async function treeHashes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if ([".git", "node_modules", ".rig", ".venv"].includes(entry.name)) continue;
      // What an install writes (and .gitignore hides) is not the user's.
      if (entry.name.endsWith(".egg-info")) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory) await walk(full);
      else out[path.relative(root, full)] = await sha256File(full);
    }
  };
  await walk(root);
  return out;
}

/** A test that runs only where `tool` is on PATH, in a temporary folder of its own. */
function testNeeding(tool: string, name: string, fn: (dir: TempDir) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !which(tool, env),
    async fn() {
      await using dir = await tempDir();
      await fn(dir);
    },
  });
}

const MARKERS: Record<string, string | undefined> = {
  npm: "node_modules/.package-lock.json",
  pnpm: "node_modules/.modules.yaml",
  yarn: "node_modules/.yarn-integrity",
  bun: undefined,
};

for (const manager of ["npm", "pnpm", "yarn", "bun"]) {
  const missing = !which(manager, env);
  if (missing) console.log(`ignoring the ${manager} fixture: ${manager} is not installed`);
  testNeeding(
    manager,
    `a ${manager} lockfile installs with ${manager}, frozen, and stays byte for byte`,
    async (dir) => {
      const app = await fixture(dir, manager);
      const before = await treeHashes(dir.path);
      const first = await rigProcess(["-C", dir.path, "install"]);
      assert.equal(first.code, 0, first.stderr + first.stdout);
      assert.match(first.stdout + first.stderr, new RegExp(`install app\\s+${manager}\\b`));
      const dep = await Deno.readTextFile(path.join(app, "node_modules", "tiny-dep", "index.js"))
        .catch(() => "");
      assert.match(dep, /module\.exports = 42/);
      const marker = MARKERS[manager];
      if (marker) await Deno.stat(path.join(app, marker));
      // No file changed and no other manager's lockfile appeared.
      assert.deepEqual(await treeHashes(dir.path), before);
      for (const lock of LOCKS) {
        const present = Object.keys(before).includes(path.join("app", lock));
        if (!present) await assert.rejects(() => Deno.stat(path.join(app, lock)));
      }
      const second = await rigProcess(["-C", dir.path, "install"]);
      assert.equal(second.code, 0);
      assert.match(second.stdout + second.stderr, /install app\s+up to date/);
    },
  );
}

for (const manager of ["npm", "pnpm"]) {
  testNeeding(
    manager,
    `a ${manager} lockfile that no longer matches package.json is an error and nothing is modified`,
    async (dir) => {
      const app = await fixture(dir, manager);
      const pkg = JSON.parse(await Deno.readTextFile(path.join(app, "package.json")));
      pkg.dependencies["left-pad"] = "1.3.0";
      await Deno.writeTextFile(path.join(app, "package.json"), JSON.stringify(pkg, null, 2));
      const before = await treeHashes(dir.path);
      const status = await git(dir.path, "status", "--porcelain");
      const result = await rigProcess(["-C", dir.path, "install"]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const lock = manager === "npm" ? "package-lock.json" : "pnpm-lock.yaml";
      assert.match(
        result.stderr,
        new RegExp(`"app/${lock.replace(".", "\\.")}" does not match package\\.json`),
      );
      assert.match(result.stderr, new RegExp(`hint: .*cd app && ${manager} install`));
      assert.deepEqual(await treeHashes(dir.path), before);
      assert.equal(await git(dir.path, "status", "--porcelain"), status);
    },
  );
}

testNeeding(
  "node",
  "a missing package manager is exit 3 naming it and how to get it",
  async (dir) => {
    await fixture(dir, "pnpm");
    // A PATH with node, npm and git but no pnpm.
    const bin = dir.join("bin");
    await Deno.mkdir(bin);
    for (const tool of ["node", "npm", "git"]) {
      const found = which(tool, env);
      if (found) await Deno.symlink(found, path.join(bin, tool));
    }
    const result = await rigProcess(["-C", dir.path, "install"], { env: { PATH: bin } });
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stderr, /Cannot find "pnpm" on PATH/);
    assert.match(
      result.stderr,
      /"app" uses pnpm \(app\/pnpm-lock\.yaml\).*corepack enable pnpm.*npm i -g pnpm/,
    );
  },
);

const SCRIPTS_PACKAGE = (scripts: Record<string, string>) =>
  JSON.stringify({ name: "web", version: "1.0.0", private: true, scripts }, null, 2);

Deno.test({
  name:
    "rig test runs node scripts once, reports no test script as no tests, and never changes the work tree",
  ignore: !which("npm", env),
  async fn() {
    await using dir = await tempDirWith({
      ".gitignore": "node_modules/\n.rig/\n.venv/\n*.egg-info/\n",
      // No test script; a lint that rewrites a tracked file and creates another.
      "web/package.json": SCRIPTS_PACKAGE({
        dev: "node server.js",
        lint:
          "node -e \"require('fs').writeFileSync('src/a.js','formatted\\n');require('fs').writeFileSync('lint.cache','x')\"",
      }),
      "web/src/a.js": "const a=1\n",
      // A Python component whose rig.toml lint writes too: the same guarantee.
      "lib/pyproject.toml": '[project]\nname = "lib"\nversion = "0.1.0"\n',
      "lib/lib/__init__.py": "X = 1\n",
      "rig.toml":
        "[components.lib]\nlint = [\"python3\", \"-c\", \"open('lib/__init__.py','w').write('X=2\\\\n')\"]\n",
    });
    await gitRepository(dir.path, { message: "fixture" });
    const before = await treeHashes(dir.path);
    const status = await git(dir.path, "status", "--porcelain");
    const result = await rigProcess(["-C", dir.path, "test", "--lint-only"]);
    const output = result.stdout + result.stderr;
    assert.equal(result.code, 1, output);
    assert.match(
      output,
      /lint: this check modifies files: "web\/lint\.cache" \(created\), "web\/src\/a\.js" \(modified\) \(rig put them back\)/,
    );
    assert.match(output, /lint: this check modifies files: "lib\/lib\/__init__\.py" \(modified\)/);
    assert.match(
      output,
      /hint: Give rig a check-only command: lint = ".*" under \[components\.web\] in rig\.toml/,
    );
    assert.deepEqual(await treeHashes(dir.path), before);
    assert.equal(await git(dir.path, "status", "--porcelain"), status);

    // Without the writing lint: no test script is "no tests", and that passes.
    await Deno.writeTextFile(
      dir.join("web/package.json"),
      SCRIPTS_PACKAGE({ dev: "node server.js" }),
    );
    const quiet = await rigProcess(["-C", dir.path, "test", "--web"]);
    assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
    assert.match(quiet.stdout + quiet.stderr, /✓ web no tests/);
  },
});

testNeeding(
  "npm",
  "node tests run non-interactively, counts are parsed and a missing program is exit 3",
  async (dir) => {
    // A vitest-style runner that would watch on a terminal: it insists on CI=true and no stdin.
    const runner = [
      "if (process.env.CI !== 'true' || process.stdin.isTTY) { console.error('would watch'); process.exit(1); }",
      "console.log(' Test Files  1 passed (1)');",
      "console.log('      Tests  3 passed | 1 skipped (4)');",
    ].join("\n");
    await dir.write({
      ".gitignore": "node_modules/\n.rig/\n",
      "web/package.json": SCRIPTS_PACKAGE({ dev: "node x.js", test: "node runner.js" }),
      "web/runner.js": runner,
      "tool/package.json": SCRIPTS_PACKAGE({ dev: "node x.js", test: "vitest-not-installed run" }),
    });
    await gitRepository(dir.path, { message: "fixture" });
    const ok = await rigProcess(["-C", dir.path, "test", "--web", "--json"]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const doc = JSON.parse(ok.stdout);
    const web = JSON.stringify(doc);
    assert.match(web, /"passed":3/);
    assert.match(web, /"skipped":1/);
    const missing = await rigProcess(["-C", dir.path, "test", "--tool"]);
    assert.equal(missing.code, 3, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /Cannot find "vitest-not-installed" on PATH/);
    assert.match(
      missing.stderr,
      /The "test" script of "tool" runs "vitest-not-installed".*rig install --tool/,
    );
  },
);

testNeeding(
  "npm",
  "rig build records an app's output folder, rejects a build without index.html or one that edits sources",
  async (dir) => {
    const build = (extra: string) =>
      `node -e "const f=require('fs');f.mkdirSync('dist',{recursive:true});f.writeFileSync('dist/app.js','x');${extra}"`;
    await dir.write({
      ".gitignore": "node_modules/\n.rig/\ndist/\n",
      "web/package.json": SCRIPTS_PACKAGE({
        dev: "node x.js",
        build: build("f.writeFileSync('dist/index.html','<!doctype html>')"),
      }),
      "web/index.html": "<!doctype html>",
      "web/src/main.js": "console.log(1)\n",
      "web/vite.config.js": "export default {}\n",
    });
    await gitRepository(dir.path, { message: "fixture" });
    const ok = await rigProcess(["-C", dir.path, "build", "--skip-tests"]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /web\s+web\/dist\s+1\.0\.0\s+.*built/);
    const manifest = JSON.parse(await Deno.readTextFile(dir.join("dist", "manifest.json")));
    assert.equal(manifest.artifacts[0].type, "app");
    assert.equal(manifest.artifacts[0].path, "web/dist");
    // No npm pack for an app.
    await assert.rejects(() => Deno.stat(dir.join("dist", "web")));

    await Deno.writeTextFile(
      dir.join("web/package.json"),
      SCRIPTS_PACKAGE({ dev: "x", build: build("") }),
    );
    const noIndex = await rigProcess(["-C", dir.path, "build", "--skip-tests"]);
    assert.equal(noIndex.code, 1, noIndex.stdout + noIndex.stderr);
    assert.match(
      noIndex.stderr,
      /"dist\/" has no index\.html, which a static single-page build must have/,
    );

    await Deno.writeTextFile(
      dir.join("web/package.json"),
      SCRIPTS_PACKAGE({
        dev: "x",
        build: build(
          "f.writeFileSync('dist/index.html','');f.writeFileSync('src/main.js','rewritten')",
        ),
      }),
    );
    await git(dir.path, "commit", "-qam", "a build that edits sources");
    // Build output (web/dist, dist/manifest.json) may change; the sources may not.
    const sources = async () =>
      Object.fromEntries(
        Object.entries(await treeHashes(dir.path)).filter(([file]) => !/(^|\/)dist\//.test(file)),
      );
    const before = await sources();
    const edits = await rigProcess(["-C", dir.path, "build", "--skip-tests"]);
    assert.equal(edits.code, 1, edits.stdout + edits.stderr);
    assert.match(
      edits.stderr,
      /The build of "web" modifies files: "web\/src\/main\.js" \(modified\); rig put them back/,
    );
    assert.deepEqual(await sources(), before);
    assert.equal(await git(dir.path, "status", "--porcelain"), "");
  },
);

testNeeding(
  "npm",
  "npm workspace members install once, at the workspace root, from its one lockfile",
  async (dir) => {
    const source = path.join(FIXTURES, "npm-workspace");
    const copy = async (from: string, to: string) => {
      await Deno.mkdir(to, { recursive: true });
      for await (const entry of Deno.readDir(from)) {
        if (entry.isDirectory) await copy(path.join(from, entry.name), path.join(to, entry.name));
        else await Deno.copyFile(path.join(from, entry.name), path.join(to, entry.name));
      }
    };
    await copy(source, dir.path);
    await Deno.mkdir(dir.join("vendor"));
    await Deno.copyFile(
      path.join(FIXTURES, "vendor", "tiny-dep-1.0.0.tgz"),
      dir.join("vendor", "tiny-dep-1.0.0.tgz"),
    );
    await dir.write({ ".gitignore": "node_modules/\n.rig/\n" });
    await gitRepository(dir.path, { message: "fixture" });
    const before = await treeHashes(dir.path);
    const result = await rigProcess(["-C", dir.path, "-v", "install"]);
    const output = result.stdout + result.stderr;
    assert.equal(result.code, 0, output);
    for (const member of ["a", "b", "c"]) {
      assert.match(
        output,
        new RegExp(`install ${member}\\s+npm: .*installed at the workspace root \\.`),
      );
    }
    // One `npm ci` ran: npm reports what it added once.
    assert.equal(output.match(/│ added \d+ packages?/g)?.length, 1, output);
    await Deno.stat(dir.join("node_modules", "tiny-dep", "index.js"));
    assert.deepEqual(await treeHashes(dir.path), before);
    const again = await rigProcess(["-C", dir.path, "install"]);
    assert.equal(again.code, 0);
    assert.equal(again.stdout.concat(again.stderr).match(/install [abc]\s+up to date/g)?.length, 3);
  },
);

testNeeding(
  "pnpm",
  "rig install PKG adds a package with the component's own manager and keeps its lockfile kind",
  async (dir) => {
    const app = await fixture(dir, "pnpm");
    await dir.write({
      "src/extra/package.json": JSON.stringify({ name: "extra-dep", version: "2.0.0" }),
    });
    const packed = await new Deno.Command("npm", {
      args: ["pack", "--silent", "--pack-destination", path.join(app, "vendor")],
      cwd: dir.join("src", "extra"),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(packed.success, new TextDecoder().decode(packed.stderr));
    const result = await rigProcess([
      "-C",
      dir.path,
      "install",
      "--app",
      "--dev",
      "file:./vendor/extra-dep-2.0.0.tgz",
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const pkg = JSON.parse(await Deno.readTextFile(path.join(app, "package.json")));
    assert.ok(pkg.devDependencies["extra-dep"], JSON.stringify(pkg));
    assert.match(await Deno.readTextFile(path.join(app, "pnpm-lock.yaml")), /extra-dep/);
    await assert.rejects(() => Deno.stat(path.join(app, "package-lock.json")));
  },
);
