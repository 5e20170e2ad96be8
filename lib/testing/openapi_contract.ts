/**
 * The server's API contract: its OpenAPI document, exported by importing the
 * app in the server's venv and fingerprinted with SHA-256. Clients depend on
 * this hash rather than on the server's code, so a server change that keeps the
 * API leaves the clients' unit tests cached. Each export is a task entry of the
 * store (task "openapi", keyed by the server's inputs, tools and variables), so
 * an unchanged server never starts Python again, and `rig cache stats`, prune
 * and the remote cache see the entries.
 */
import { RigError } from "../errors.ts";
import type { TaskEngine, TaskKey } from "../task/task.ts";
import { sha256Hex } from "../hash.ts";
import { run, tail } from "../proc.ts";

/** An exported contract. */
export interface Contract {
  /** SHA-256 of the canonical JSON document. */
  hash: string;
  /** The JSON document (sorted keys; the app's own order when `natural` is set). */
  document: string;
  /** The document in the app's own key order (what a client generator sees from the app). */
  natural?: string;
  /** True when it came from the memo rather than a fresh export. */
  remembered: boolean;
}

// Imports the app (module:attribute, a factory is called) and writes its OpenAPI JSON to argv[2].
const EXPORT_SNIPPET = `
import importlib, json, os, sys
sys.path.insert(0, os.getcwd())
module, _, attr = sys.argv[1].partition(":")
app = getattr(importlib.import_module(module), attr or "app")
if not hasattr(app, "openapi") and callable(app):
    app = app()
document = app.openapi()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(json.dumps(document, sort_keys=True))
with open(sys.argv[2] + ".natural.json", "w", encoding="utf-8") as out:
    out.write(json.dumps(document))
`;

/** Options for exporting a contract. */
export interface ContractOptions {
  /** The server venv's python. */
  python: string;
  /** The ASGI app, e.g. `app.main:app`. */
  app: string;
  /** The environment the app is imported with (it may need SECRET_KEY and friends). */
  env: Record<string, string>;
  signal?: AbortSignal;
}

/** The store's name for contract entries. */
export const CONTRACT_TASK = "openapi";

/** The contract stored for a server's current state (its task key), without running anything. */
export async function rememberedContract(
  engine: TaskEngine,
  task: TaskKey,
  server: string,
): Promise<Contract | undefined> {
  // Read even with --force: an export is a pure function of the key's inputs.
  const record = await engine.store.get(task.key, { task: CONTRACT_TASK, component: server });
  const summary = record?.summary as { hash?: unknown; natural?: unknown } | null;
  const hash = summary?.hash;
  // Entries from before the natural-order document are exported again once.
  if (!record || typeof hash !== "string" || summary?.natural !== true) return undefined;
  const document = await engine.store.readLog(record).catch(() => undefined);
  return document === undefined
    ? undefined
    : { hash, document, natural: document, remembered: true };
}

/** Stores an exported contract as the server's "openapi" task entry. */
export async function rememberContract(
  engine: TaskEngine,
  task: TaskKey,
  server: string,
  contract: Contract & { durationMs: number },
): Promise<void> {
  await engine.save(task, { task: CONTRACT_TASK, component: server }, {
    exitCode: 0,
    durationMs: contract.durationMs,
    summary: { hash: contract.hash, natural: contract.natural !== undefined },
    log: contract.natural ?? contract.document,
  }).catch(() => false);
}

/** Exports the server's OpenAPI document by importing its app, and hashes it. */
export async function exportContract(
  serverDir: string,
  options: ContractOptions,
): Promise<Contract> {
  const out = await Deno.makeTempFile({ prefix: "rig-openapi-", suffix: ".json" });
  try {
    const result = await run([options.python, "-c", EXPORT_SNIPPET, options.app, out], {
      cwd: serverDir,
      env: { ...options.env, PYTHONDONTWRITEBYTECODE: "1" },
      signal: options.signal,
      timeoutMs: 120_000,
    });
    if (!result.success) {
      throw new RigError(
        `Cannot export the API contract of "${options.app}": the app failed to import\n${
          tail(result.stderr || result.stdout, 15)
        }`,
        "Fix the error above, then run: rig test --changed",
      );
    }
    const document = await Deno.readTextFile(out);
    const natural = await Deno.readTextFile(`${out}.natural.json`).catch(() => undefined);
    return { hash: await sha256Hex(document), document, natural, remembered: false };
  } finally {
    await Deno.remove(out).catch(() => {});
    await Deno.remove(`${out}.natural.json`).catch(() => {});
  }
}

/** The contract stored for `task`, else a fresh export of the app in `serverDir`, then stored. */
export async function contractFor(
  engine: TaskEngine,
  task: TaskKey,
  server: string,
  options: ContractOptions & { serverDir: string },
): Promise<Contract> {
  const known = await rememberedContract(engine, task, server);
  if (known) return known;
  const started = performance.now();
  const contract = await exportContract(options.serverDir, options);
  await rememberContract(engine, task, server, {
    ...contract,
    durationMs: performance.now() - started,
  });
  return contract;
}
