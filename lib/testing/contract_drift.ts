/**
 * Contract drift: is a generated API client still what its generator makes
 * from the server's current OpenAPI document? rig copies the component into a
 * temp folder (node_modules linked, not copied), puts the exported document
 * where the generator reads it (a file path, or a URL served on 127.0.0.1),
 * runs the project's own generator script there, and compares what it wrote
 * with the committed files. The work tree is never touched. A pass is
 * remembered by the contract hash, the generator command and the hashes of the
 * generated files, so an unchanged API costs nothing.
 */
import { HOST_OS, prependPath } from "../os.ts";
import * as path from "../path.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { sha256File, sha256Hex } from "../hash.ts";
import type { ApiClientInfo } from "../node/api_client.ts";
import { managerEnv, sameBytes, type Toolchain } from "../node/managers.ts";
import { run, tail } from "../proc.ts";
import { listInputs } from "../task/input_listing.ts";

/** What the drift check found. */
export interface DriftResult {
  status: "passed" | "failed" | "skipped";
  detail: string;
  hint?: string;
  output?: string;
  /** Files (relative to the component) that differ from a fresh generation. */
  stale?: string[];
  /** True when the answer came from the memo. */
  remembered?: boolean;
}

/** Options of `checkDrift`. */
export interface DriftOptions {
  root: string;
  /** The component folder, posix and relative to the root. */
  componentPath: string;
  client: ApiClientInfo;
  toolchain: Toolchain;
  /** The server's current OpenAPI document (JSON text) and its hash. */
  contract: { document: string; hash: string };
  server: string;
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Where passes are remembered (e.g. `.rig/cache/drift`). */
  memoDir?: string;
  /** The command that regenerates the client in the work tree, for the hint. */
  regenerate: string;
}

/** Regenerates the client in a temp copy and compares it with the committed one. */
export async function checkDrift(opts: DriftOptions): Promise<DriftResult> {
  const { client } = opts;
  if (!client.script) {
    return {
      status: "skipped",
      detail: `no package.json script runs ${client.generator}`,
      hint: `Add a script such as "generate" that runs the generator, so rig can check the client`,
    };
  }
  const componentDir = path.join(opts.root, ...opts.componentPath.split("/"));
  const memoKey = await sha256Hex(
    [opts.contract.hash, client.script.command, client.spec ?? "", opts.componentPath].join("\0"),
  );
  const remembered = opts.memoDir ? await readMemo(opts.memoDir, memoKey) : undefined;
  if (remembered && await outputsMatch(componentDir, remembered)) {
    return {
      status: "passed",
      detail: `up to date with the API (remembered for contract ${
        opts.contract.hash.slice(0, 12)
      })`,
      remembered: true,
    };
  }
  const temp = await Deno.makeTempDir({ prefix: "rig-drift-" });
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    const copyDir = path.join(temp, ...opts.componentPath.split("/"));
    const files = await listInputs(opts.root, { dirs: [opts.componentPath], env: opts.env });
    for (const file of files) {
      const to = path.join(temp, ...file.split("/"));
      await Deno.mkdir(path.dirname(to), { recursive: true });
      await Deno.copyFile(path.join(opts.root, ...file.split("/")), to).catch(() => {});
    }
    await linkNodeModules(componentDir, copyDir);
    const installRel = path.relative(opts.root, opts.toolchain.installDir);
    if (opts.toolchain.installDir !== componentDir && !installRel.startsWith("..")) {
      await linkNodeModules(opts.toolchain.installDir, path.join(temp, installRel));
      const rootPkg = path.join(opts.toolchain.installDir, "package.json");
      await Deno.copyFile(rootPkg, path.join(temp, installRel, "package.json")).catch(() => {});
    }
    let command = client.script.command;
    let specRel: string | undefined;
    const spec = client.spec;
    if (!spec) {
      return {
        status: "skipped",
        detail: `cannot tell which OpenAPI document "${client.script.name}" reads`,
        hint:
          `Name the document in the script (e.g. openapi-typescript ../backend/openapi.json -o …)`,
      };
    }
    if (/^https?:\/\//.test(spec)) {
      // The generator fetches the API: serve the current document in its place.
      server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        () =>
          new Response(opts.contract.document, { headers: { "content-type": "application/json" } }),
      );
      const local = `http://127.0.0.1:${server.addr.port}/openapi.json`;
      command = command.replaceAll(spec, local);
      if (client.config) {
        const config = path.join(copyDir, client.config);
        const text = await Deno.readTextFile(config).catch(() => "");
        await Deno.writeTextFile(config, text.replaceAll(spec, local));
      }
    } else {
      const target = path.resolve(copyDir, spec);
      const rel = path.relative(temp, target);
      if (rel.startsWith("..") || path.isAbsolute(rel)) {
        return {
          status: "skipped",
          detail: `the generator reads "${spec}", outside the project`,
          hint: "Point the generator at a document inside the project",
        };
      }
      await Deno.mkdir(path.dirname(target), { recursive: true });
      await Deno.writeTextFile(target, pretty(opts.contract.document));
      specRel = path.relative(copyDir, target).split(path.sep).join("/");
    }
    const before = await snapshot(copyDir);
    const bins = [
      path.join(componentDir, "node_modules", ".bin"),
      path.join(opts.toolchain.installDir, "node_modules", ".bin"),
    ];
    const env = managerEnv(opts.toolchain, {
      env: bins.reduceRight((env, bin) => prependPath(env, bin), opts.env),
    });
    const shell = HOST_OS === "windows" ? ["cmd", "/d", "/s", "/c"] : ["sh", "-c"];
    const result = await run([...shell, command], {
      cwd: copyDir,
      env,
      signal: opts.signal,
      timeoutMs: 180_000,
    });
    if (!result.success) {
      return {
        status: "failed",
        detail: `the generator failed in a scratch copy ("${client.script.name}": ${command})`,
        hint: `Run it by hand to see why: ${opts.regenerate}`,
        output: tail(`${result.stdout}\n${result.stderr}`.trim(), 25),
      };
    }
    const after = await snapshot(copyDir);
    const written = [...after.keys()].filter((f) =>
      f !== specRel && after.get(f) !== before.get(f)
    );
    const removed = [...before.keys()].filter((f) => f !== specRel && !after.has(f));
    const stale: string[] = [];
    for (const file of written) {
      const fresh = await Deno.readFile(path.join(copyDir, file));
      const committed = await Deno.readFile(path.join(componentDir, file)).catch(() => undefined);
      if (!committed || !sameBytes(fresh, committed)) stale.push(file);
    }
    stale.push(...removed);
    // A committed copy of the document inside the component must match the API too.
    if (specRel) {
      const committed = await Deno.readTextFile(path.resolve(componentDir, specRel)).catch(() =>
        undefined
      );
      if (committed !== undefined && canonical(committed) !== canonical(opts.contract.document)) {
        stale.push(specRel);
      }
    }
    if (stale.length) {
      const shown = stale.slice(0, 4).map((f) => `"${f}"`).join(", ");
      return {
        status: "failed",
        detail: `the generated client is out of date with the server's API: ${shown}${
          stale.length > 4 ? ` and ${stale.length - 4} more` : ""
        } differ from what ${client.generator} makes from "${opts.server}"'s current OpenAPI document`,
        hint: `Regenerate the client and commit it: ${opts.regenerate}`,
        stale: stale.sort(),
      };
    }
    if (opts.memoDir) {
      const outputs: Record<string, string> = {};
      for (const file of written) outputs[file] = await sha256File(path.join(componentDir, file));
      await writeFileAtomic(
        path.join(opts.memoDir, `${memoKey}.json`),
        JSON.stringify({ outputs }),
      ).catch(() => {});
    }
    return {
      status: "passed",
      detail: `${written.length} generated file${written.length === 1 ? "" : "s"} match the API`,
    };
  } finally {
    await server?.shutdown();
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
}

async function linkNodeModules(from: string, to: string): Promise<void> {
  const source = path.join(from, "node_modules");
  try {
    await Deno.stat(source);
  } catch {
    return;
  }
  await Deno.mkdir(to, { recursive: true });
  await Deno.symlink(source, path.join(to, "node_modules"), { type: "dir" }).catch(() => {});
}

/** File → size:mtime:hash of a folder's files, node_modules left out. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (folder: string, rel: string) => {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.name === "node_modules" || entry.name === ".git") continue;
      const full = path.join(folder, entry.name);
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory) await walk(full, child);
      else if (entry.isFile) out.set(child, await sha256File(full));
    }
  };
  await walk(dir, "");
  return out;
}

interface Memo {
  outputs: Record<string, string>;
}

async function readMemo(dir: string, key: string): Promise<Memo | undefined> {
  try {
    const data = JSON.parse(await Deno.readTextFile(path.join(dir, `${key}.json`)));
    return data && typeof data.outputs === "object" ? data as Memo : undefined;
  } catch {
    return undefined;
  }
}

async function outputsMatch(dir: string, memo: Memo): Promise<boolean> {
  for (const [file, hash] of Object.entries(memo.outputs)) {
    const now = await sha256File(path.join(dir, ...file.split("/"))).catch(() => "");
    if (now !== hash) return false;
  }
  return true;
}

function pretty(document: string): string {
  try {
    return JSON.stringify(JSON.parse(document), null, 2) + "\n";
  } catch {
    return document;
  }
}

function canonical(text: string): string {
  try {
    const sort = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sort) : v && typeof v === "object"
        ? Object.fromEntries(
          Object.keys(v as object).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]),
        )
        : v;
    return JSON.stringify(sort(JSON.parse(text)));
  } catch {
    return text;
  }
}
