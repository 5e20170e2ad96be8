/**
 * Test packages for Python installs: tiny wheels built here (make_wheels.py)
 * served as a PEP 503 simple index on 127.0.0.1 — never PyPI's live contents.
 */
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import assert from "node:assert/strict";
import { REPO_ROOT, rigProcess, type RigRun } from "./helpers.ts";
import { installedDistributions, venvLayout } from "../lib/python/venv.ts";

const MAKE_WHEELS = path.join(REPO_ROOT, "tests", "testdata", "wheels-src", "make_wheels.py");

/** One wheel to build. */
export interface WheelSpec {
  name: string;
  version: string;
  requires?: string[];
  scripts?: Record<string, string>;
}

/** A running index: `url` is the base (`${url}/simple`), stopped on dispose. */
export interface PyIndex extends AsyncDisposable {
  url: string;
  simple: string;
  dir: string;
  /** Wheel downloads whose file name matches wait until `release()`. */
  slow: RegExp | undefined;
  /** Number of slow downloads currently held back. */
  held(): number;
  release(): void;
}

/** Builds the wheels into `dir`. */
export async function buildWheels(dir: string, specs: WheelSpec[]): Promise<void> {
  const child = new Deno.Command("python3", {
    args: [MAKE_WHEELS, dir],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(specs)));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** Serves the wheels in `dir` as a simple index (links carry #sha256= like PyPI's); wheels added later appear. */
export function serveIndex(dir: string): Promise<PyIndex> {
  const listing = () =>
    [...Deno.readDirSync(dir)].map((e) => e.name).filter((f) => f.endsWith(".whl")).sort();
  const project = (file: string) => file.split("-")[0]!.replace(/_/g, "-").toLowerCase();
  const hashes = new Map<string, string>();
  const hashOf = async (f: string) => {
    if (!hashes.has(f)) {
      const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path.join(dir, f)));
      hashes.set(
        f,
        [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""),
      );
    }
    return hashes.get(f)!;
  };
  const controller = new AbortController();
  let waiting: (() => void)[] = [];
  const html = (body: string) =>
    new Response(`<!DOCTYPE html><html><body>\n${body}\n</body></html>`, {
      headers: { "content-type": "text/html" },
    });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const files = listing();
      const parts = new URL(request.url).pathname.split("/").filter(Boolean);
      if (parts[0] === "simple" && parts.length === 1) {
        const names = [...new Set(files.map(project))];
        return html(names.map((n) => `<a href="/simple/${n}/">${n}</a>`).join("\n"));
      }
      if (parts[0] === "simple" && parts.length === 2) {
        const mine = files.filter((f) => project(f) === parts[1]);
        if (!mine.length) return new Response("not found", { status: 404 });
        const links = await Promise.all(
          mine.map(async (f) => `<a href="/files/${f}#sha256=${await hashOf(f)}">${f}</a>`),
        );
        return html(links.join("\n"));
      }
      if (parts[0] === "files" && parts[1] && files.includes(parts[1])) {
        if (index.slow?.test(parts[1])) await new Promise<void>((r) => waiting.push(r));
        return new Response(await Deno.readFile(path.join(dir, parts[1])), {
          headers: { "content-type": "application/octet-stream" },
        });
      }
      return new Response("not found", { status: 404 });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const index: PyIndex = {
    url,
    simple: `${url}/simple`,
    dir,
    slow: undefined,
    held: () => waiting.length,
    release() {
      for (const resolve of waiting) resolve();
      waiting = [];
    },
    async [Symbol.asyncDispose]() {
      index.release();
      controller.abort();
      await server.finished;
    },
  };
  return Promise.resolve(index);
}

/** Creates `dir`, builds `specs` into it and serves them (dispose the index to stop it). */
export async function wheelIndex(dir: string, specs: WheelSpec[] = TEST_WHEELS): Promise<PyIndex> {
  await Deno.mkdir(dir, { recursive: true });
  await buildWheels(dir, specs);
  return await serveIndex(dir);
}

/** The test packages the uv and Poetry tests install. */
export const TEST_WHEELS: WheelSpec[] = [
  { name: "rigdemo-a", version: "1.0" },
  { name: "rigdemo-a", version: "2.0" },
  { name: "rigdemo-b", version: "1.0", requires: ["rigdemo-a<2"] },
  { name: "rigdemo-c", version: "1.0" },
  { name: "rigdemo-d", version: "0.3" },
  { name: "rigdemo-e", version: "1.0", requires: ["rigdemo-a>=2"] },
  { name: "pytest-rigdemo", version: "0.1" },
  { name: "pytest-timeout", version: "9.9" },
];

export function which(tool: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(path.join(dir, tool)).isFile) return true;
    } catch {
      // Not here.
    }
  }
  return false;
}

export function show(run: RigRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

export function demoDists(venvDir: string): Record<string, string> {
  const all = installedDistributions(venvLayout(venvDir));
  return Object.fromEntries(Object.entries(all).filter(([n]) => /rigdemo|pytest-timeout/.test(n)));
}

/** name → version of the registry packages a lock file records. */
export function lockedVersions(lock: string): Record<string, string> {
  const data = parseToml(Deno.readTextFileSync(lock)) as {
    package?: { name: string; version: string; source?: Record<string, unknown> }[];
  };
  const out: Record<string, string> = {};
  for (const p of data.package ?? []) {
    if (
      !p.source || "registry" in p.source || "type" in p.source ||
      Object.keys(p.source).length === 0
    ) {
      out[p.name.toLowerCase().replace(/[-_.]+/g, "-")] = p.version;
    }
  }
  return out;
}

export async function runTool(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<void> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${argv.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Files rig must never touch on a failure, with their bytes. */
export async function snapshot(files: string[]): Promise<Map<string, string>> {
  return new Map(
    await Promise.all(files.map(async (f) => [f, await Deno.readTextFile(f)] as const)),
  );
}

export async function assertUnchanged(before: Map<string, string>, what: string): Promise<void> {
  for (const [file, text] of before) {
    assert.equal(await Deno.readTextFile(file), text, `${what}: ${path.basename(file)} changed`);
  }
}

/** A uv or Poetry project locked against the test index, with the files rig must keep. */
export interface LockedProject {
  root: string;
  env: Record<string, string>;
  pyproject: string;
  lock: string;
  venv: string;
  /** What rig's hint says updates the lock: "uv lock", "poetry lock". */
  lockCommand: string;
}

/** The project in `root` whose lock is `lockName`, run by rig with `env`. */
export function lockedProject(
  root: string,
  lockName: string,
  lockCommand: string,
  env: Record<string, string>,
): LockedProject {
  return {
    root,
    env,
    pyproject: path.join(root, "pyproject.toml"),
    lock: path.join(root, lockName),
    venv: path.join(root, ".venv"),
    lockCommand,
  };
}

/** `rig install` puts exactly the locked versions of `names` into .venv; returns the lock's versions. */
export async function assertInstallsLock(
  project: LockedProject,
  names: string[],
): Promise<{ run: RigRun; locked: Record<string, string> }> {
  const run = await rigProcess(["install"], { cwd: project.root, env: project.env });
  assert.equal(run.code, 0, show(run));
  const locked = lockedVersions(project.lock);
  assert.deepEqual(demoDists(project.venv), Object.fromEntries(names.map((n) => [n, locked[n]])));
  return { run, locked };
}

/**
 * Edits pyproject.toml (`edit`: what to replace, and with what) so the lock is out of date:
 * install and doctor are exit 3 saying `stale` with the fix, and nothing changes.
 */
export async function assertStaleLockRefused(
  project: LockedProject,
  edit: [string, string],
  stale: RegExp,
): Promise<void> {
  const { root, env, pyproject, lock, venv } = project;
  const text = await Deno.readTextFile(pyproject);
  await Deno.writeTextFile(pyproject, text.replace(...edit));
  const before = await snapshot([pyproject, lock]);
  const dists = demoDists(venv);
  const run = await rigProcess(["install"], { cwd: root, env });
  assert.equal(run.code, 3, show(run));
  assert.match(run.stderr, stale);
  assert.match(
    run.stderr,
    new RegExp(`hint: Update the lock with: ${project.lockCommand}, then run: rig install`),
  );
  const doctor = await rigProcess(["doctor"], { cwd: root, env });
  assert.equal(doctor.code, 3, show(doctor));
  assert.match(doctor.stdout + doctor.stderr, stale);
  assert.doesNotMatch(doctor.stdout, /no blocking problems|Everything looks good/);
  await assertUnchanged(before, `stale ${path.basename(lock)}`);
  assert.deepEqual(demoDists(venv), dists);
}

/** A spec disjoint with rigdemo-a>=1,<2, and an add the resolver cannot satisfy, change nothing. */
export async function assertConflictsChangeNothing(project: LockedProject): Promise<void> {
  const { root, env, pyproject, lock, venv } = project;
  const before = await snapshot([pyproject, lock]);
  const dists = demoDists(venv);
  // Disjoint with the declared rigdemo-a>=1,<2: refused before anything runs.
  const disjoint = await rigProcess(["install", "rigdemo-a>=2"], { cwd: root, env });
  assert.equal(disjoint.code, 1, show(disjoint));
  assert.match(
    disjoint.stderr,
    /already requires "rigdemo-a>=1,<2", and no version satisfies both/,
  );
  await assertUnchanged(before, "disjoint spec");
  // rigdemo-e needs rigdemo-a>=2: only the manager's resolver finds the conflict; rig rolls back.
  const conflict = await rigProcess(["install", "rigdemo-e"], { cwd: root, env });
  assert.notEqual(conflict.code, 0, show(conflict));
  await assertUnchanged(before, "unresolvable add");
  assert.deepEqual(demoDists(venv), dists);
}
