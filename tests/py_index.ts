/**
 * Test packages for Python installs: tiny wheels built here (make_wheels.py)
 * served as a PEP 503 simple index on 127.0.0.1 — never PyPI's live contents.
 */
import * as path from "node:path";
import { parse as parseToml } from "smol-toml";
import assert from "node:assert/strict";
import { REPO_ROOT, type RigRun } from "./helpers.ts";
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
