/**
 * pypiserver (https://pypi.org/project/pypiserver/) on 127.0.0.1: a PEP 503
 * simple index at `/simple/` and the legacy upload API at `/`, with upload
 * authentication from an htpasswd file (written with passlib).
 */
import * as path from "node:path";
import { freePort, type RunningServer, stopChild, waitUntilServing } from "./common.ts";

/** A running pypiserver. */
export interface PypiServer extends RunningServer {
  /** The upload URL (twine --repository-url). */
  uploadUrl: string;
  /** The simple index (pip --index-url). */
  indexUrl: string;
  username: string;
  password: string;
  /** The folder it stores packages in. */
  packagesDir: string;
}

/** True when pypiserver and passlib can be imported by python3. */
export async function hasPypiServer(): Promise<boolean> {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import pypiserver, passlib"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Starts pypiserver in `dir` with one user allowed to upload. */
export async function startPypiServer(dir: string): Promise<PypiServer> {
  const packagesDir = path.join(dir, "packages");
  await Deno.mkdir(packagesDir, { recursive: true });
  const htpasswd = path.join(dir, "htpasswd");
  const username = "rig";
  const password = "s3cret-upload";
  const write = await new Deno.Command("python3", {
    args: [
      "-c",
      "import sys; from passlib.apache import HtpasswdFile as H; f = H(sys.argv[1], new=True); " +
      "f.set_password(sys.argv[2], sys.argv[3]); f.save()",
      htpasswd,
      username,
      password,
    ],
  }).output();
  if (!write.success) throw new Error(new TextDecoder().decode(write.stderr));
  const port = freePort();
  const child = new Deno.Command("python3", {
    args: [
      "-m",
      "pypiserver",
      "run",
      "--host",
      "127.0.0.1",
      "-p",
      String(port),
      "-P",
      htpasswd,
      "-a",
      "update",
      "--disable-fallback",
      packagesDir,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitUntilServing(url, child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  const stop = () => stopChild(child);
  return {
    url,
    uploadUrl: url,
    indexUrl: `${url}simple/`,
    username,
    password,
    packagesDir,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
