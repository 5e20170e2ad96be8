/**
 * The server's API contract: its OpenAPI document, exported by importing the
 * app in the server's venv and fingerprinted with SHA-256. Clients depend on
 * this hash rather than on the server's code, so a server change that keeps the
 * API leaves the clients' unit tests cached. Exports are remembered per server
 * input hash, so an unchanged server never starts Python again.
 */
import * as path from "node:path";
import { RigError } from "../errors.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { sha256Hex } from "../hash.ts";
import { run, tail } from "../proc.ts";

/** An exported contract. */
export interface Contract {
  /** SHA-256 of the canonical JSON document. */
  hash: string;
  /** The canonical JSON document (keys sorted). */
  document: string;
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
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(json.dumps(app.openapi(), sort_keys=True))
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
  /** Where exports are remembered (e.g. `.rig/cache/contracts`). */
  memoDir?: string;
  /** A hash of everything the contract can depend on (server inputs, dependencies). */
  inputsHash?: string;
}

/** The contract remembered for `inputsHash`, without running anything. */
export async function rememberedContract(
  memoDir: string,
  inputsHash: string,
): Promise<Contract | undefined> {
  try {
    const data = JSON.parse(await Deno.readTextFile(path.join(memoDir, `${inputsHash}.json`)));
    if (typeof data?.hash === "string" && typeof data?.document === "string") {
      return { hash: data.hash, document: data.document, remembered: true };
    }
  } catch {
    // Missing or corrupt: export again.
  }
  return undefined;
}

/** Exports the server's OpenAPI document (or returns the remembered one) and hashes it. */
export async function exportContract(
  serverDir: string,
  options: ContractOptions,
): Promise<Contract> {
  if (options.memoDir && options.inputsHash) {
    const known = await rememberedContract(options.memoDir, options.inputsHash);
    if (known) return known;
  }
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
    const contract = { hash: await sha256Hex(document), document, remembered: false };
    if (options.memoDir && options.inputsHash) {
      await writeFileAtomic(
        path.join(options.memoDir, `${options.inputsHash}.json`),
        JSON.stringify({ hash: contract.hash, document }),
      ).catch(() => {});
    }
    return contract;
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}
