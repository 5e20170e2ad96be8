/**
 * turborepo-remote-cache (npm; .ci/run installs it) on 127.0.0.1 for tests: a
 * real Turborepo remote-cache server with local storage, stopped on dispose.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { freePort } from "./helpers.ts";

/** The server's executable on PATH, or undefined when it is not installed. */
export const TURBO_BIN: string | undefined = which("turborepo-remote-cache");

/**
 * turborepo-remote-cache on 127.0.0.1 with local storage in `dir` (and artifact
 * signatures when `signatureKey` is given); token `turbo-token`, team `team_rig`.
 */
export async function turboServer(dir: string, signatureKey?: string) {
  if (!TURBO_BIN) return undefined;
  const port = freePort();
  const child = new Deno.Command(TURBO_BIN, {
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOST: "127.0.0.1",
      PORT: String(port),
      STORAGE_PROVIDER: "local",
      STORAGE_PATH: dir,
      STORAGE_PATH_USE_TMP_FOLDER: "false",
      TURBO_TOKEN: "turbo-token",
      ...(signatureKey ? { TURBO_REMOTE_CACHE_SIGNATURE_KEY: signatureKey } : {}),
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
    },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`${url}/v8/artifacts/status`, {
      headers: { authorization: "Bearer turbo-token" },
    }).then((r) => (r.body?.cancel(), true), () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async get(key: string) {
      const r = await fetch(`${url}/v8/artifacts/${key}?teamId=team_rig`, {
        headers: { authorization: "Bearer turbo-token" },
      });
      return { status: r.status, tag: r.headers.get("x-artifact-tag"), body: await r.bytes() };
    },
    async put(key: string, body: Uint8Array, tag?: string) {
      const headers: Record<string, string> = {
        authorization: "Bearer turbo-token",
        "content-type": "application/octet-stream",
      };
      if (tag) headers["x-artifact-tag"] = tag;
      const r = await fetch(`${url}/v8/artifacts/${key}?teamId=team_rig`, {
        method: "PUT",
        headers,
        body: body as BodyInit,
      });
      await r.body?.cancel();
      assert.ok(r.ok, `PUT ${r.status}`);
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel().catch(() => {});
    },
  };
}

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    const file = path.join(dir, name);
    try {
      if (Deno.statSync(file).isFile) return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
