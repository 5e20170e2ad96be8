/**
 * Verdaccio 6 (https://verdaccio.org), a private npm registry, on 127.0.0.1:
 * no uplinks unless asked for one, htpasswd auth, publish and unpublish for logged-in users. It is
 * installed once into the user cache (`rig-test-tools/verdaccio`) with the
 * node-fetch override Node 20 needs, and reused.
 */
import * as path from "node:path";
import {
  freePort,
  type RunningServer,
  stopChild,
  testToolsDir,
  waitUntilServing,
} from "./common.ts";

/** A running verdaccio with one user. */
export interface Verdaccio extends RunningServer {
  /** A token of the user, for NPM_TOKEN. */
  token: string;
  /** The folder it stores packages in. */
  storage: string;
}

/** The verdaccio program, installing it into the test tools cache when missing. */
export async function ensureVerdaccio(): Promise<string | undefined> {
  const dir = path.join(testToolsDir(), "verdaccio");
  const bin = path.join(dir, "node_modules", ".bin", "verdaccio");
  try {
    await Deno.stat(bin);
    return bin;
  } catch {
    // Install below.
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    path.join(dir, "package.json"),
    JSON.stringify({
      name: "rig-test-verdaccio",
      private: true,
      dependencies: { verdaccio: "^6" },
      overrides: { "node-fetch": "2.7.0" },
    }),
  );
  try {
    const out = await new Deno.Command("npm", {
      args: ["install", "--no-audit", "--no-fund", "--loglevel=error"],
      cwd: dir,
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Options for `startVerdaccio`. */
export interface VerdaccioOptions {
  /**
   * A registry to fetch what was not published here from (e.g. the npm
   * registry, for a published package's dependencies); none by default.
   */
  uplink?: string;
}

/** Starts verdaccio with its storage in `dir` and logs a user in. */
export async function startVerdaccio(
  bin: string,
  dir: string,
  opts: VerdaccioOptions = {},
): Promise<Verdaccio> {
  const storage = path.join(dir, "storage");
  await Deno.mkdir(storage, { recursive: true });
  const port = freePort();
  const config = path.join(dir, "config.yaml");
  await Deno.writeTextFile(
    config,
    [
      `storage: ${storage}`,
      "auth:",
      "  htpasswd:",
      `    file: ${path.join(dir, "htpasswd")}`,
      "    max_users: 100",
      ...(opts.uplink ? ["uplinks:", "  upstream:", `    url: ${opts.uplink}`] : ["uplinks: {}"]),
      "packages:",
      "  '@*/*':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      ...(opts.uplink ? ["    proxy: upstream"] : []),
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      ...(opts.uplink ? ["    proxy: upstream"] : []),
      "log: { type: stdout, format: pretty, level: error }",
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(bin, {
    args: ["--config", config, "--listen", `127.0.0.1:${port}`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitUntilServing(`${url}-/ping`, child, 60_000);
    const response = await fetch(`${url}-/user/org.couchdb.user:rig`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "rig", password: "rig-password-1" }),
    });
    const body = await response.json();
    if (!body.token) throw new Error(`verdaccio did not log in: ${JSON.stringify(body)}`);
    const stop = () => stopChild(child);
    return { url, token: body.token, storage, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}
