/**
 * Test packages for Python installs: tiny wheels built here (make_wheels.py)
 * served as a PEP 503 simple index on 127.0.0.1 — never PyPI's live contents.
 */
import * as path from "node:path";
import { REPO_ROOT } from "./helpers.ts";

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
        return new Response(await Deno.readFile(path.join(dir, parts[1])), {
          headers: { "content-type": "application/octet-stream" },
        });
      }
      return new Response("not found", { status: 404 });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  return Promise.resolve({
    url,
    simple: `${url}/simple`,
    dir,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
    },
  });
}
