/**
 * Validates a built image the way a reviewer would: its command starts the
 * app with uvicorn on the expected port, it runs as a non-root user, the
 * app's packages import inside it, and no layer rig added carries a `.env`,
 * a `.git` folder or a secret value of the project.
 */
import * as path from "../path.ts";
import { decompress, readTar } from "../archive.ts";
import { RigError } from "../errors.ts";
import { run, type SpawnScope } from "../proc.ts";
import type { Engine } from "../container_engine.ts";

/** A built image that fails validation; the message lists every problem. */
export class ImageValidationError extends RigError {}

/** The parts of an image's configuration rig checks. */
export interface ImageConfig {
  id: string;
  user: string;
  cmd: string[];
  entrypoint: string[];
  exposedPorts: string[];
  labels: Record<string, string>;
  env: string[];
  workingDir: string;
  /** Layer diff ids, base image layers first. */
  layers: string[];
}

/** Reads an image's configuration through `<engine> image inspect`. */
export async function inspectImage(
  engine: Engine,
  ref: string,
  env: Record<string, string>,
): Promise<ImageConfig | undefined> {
  const result = await run([engine.program, "image", "inspect", ref], { env });
  if (!result.success) return undefined;
  const doc = (JSON.parse(result.stdout) as Record<string, unknown>[])[0] ?? {};
  const config = (doc.Config ?? {}) as Record<string, unknown>;
  const list = (v: unknown) => Array.isArray(v) ? v.map(String) : [];
  const rootFs = (doc.RootFS ?? {}) as { Layers?: unknown };
  return {
    id: String(doc.Id ?? "").replace(/^sha256:/, ""),
    user: String(config.User ?? ""),
    cmd: list(config.Cmd),
    entrypoint: list(config.Entrypoint),
    exposedPorts: Object.keys((config.ExposedPorts ?? {}) as object),
    labels: (config.Labels ?? {}) as Record<string, string>,
    env: list(config.Env),
    workingDir: String(config.WorkingDir ?? ""),
    layers: list(rootFs.Layers),
  };
}

/** What an image's app is checked with: the configuration it imports with, the secrets it hides. */
export interface ImageAppConfig {
  /** The configuration the app reads at import (passed through a 0600 env file, never argv). */
  appEnv: Record<string, string>;
  /** Secret values that must not appear in any layer rig added. */
  secrets: string[];
}

/** What to expect of an image; the engine runs with the scope's environment and signal. */
export interface ImageExpectations extends SpawnScope, ImageAppConfig {
  /** The ASGI app, e.g. `app.main:app`. */
  app: string;
  port: number;
  /** How many layers belong to the base image (not scanned for project files). */
  baseLayers: number;
  /** A scratch folder for the saved image. */
  workDir: string;
}

/** Validates `image`; returns the checks that passed, throws ImageValidationError listing failures. */
export async function checkImage(
  engine: Engine,
  config: ImageConfig,
  expect: ImageExpectations,
): Promise<string[]> {
  const passed: string[] = [];
  const problems: string[] = [];
  const command = [...config.entrypoint, ...config.cmd].join(" ");
  const portPattern = new RegExp(`--port[ =]${expect.port}\\b`);
  if (!/\buvicorn\b/.test(command) || !command.includes(expect.app)) {
    problems.push(`its command does not start "${expect.app}" with uvicorn: ${command || "none"}`);
  } else if (!portPattern.test(command)) {
    problems.push(`its command does not serve on port ${expect.port}: ${command}`);
  } else passed.push(`starts uvicorn ${expect.app} on port ${expect.port}`);
  if (config.exposedPorts.length && !config.exposedPorts.includes(`${expect.port}/tcp`)) {
    problems.push(`it exposes ${config.exposedPorts.join(", ")}, not ${expect.port}/tcp`);
  }
  const user = config.user.split(":")[0] ?? "";
  if (!user || user === "root" || user === "0") {
    problems.push(`it runs as root (add a USER instruction)`);
  } else passed.push(`runs as user ${user}`);

  const module = expect.app.split(":")[0]!;
  const imported = await importInImage(engine, config, module, expect);
  if (imported.ok) passed.push(`imports ${module}`);
  else problems.push(`"import ${module}" fails inside it: ${imported.detail}`);

  const found = await scanLayers(engine, config, expect);
  if (found.length) problems.push(...found);
  else {
    passed.push(
      `no .env, .git or secret in its ${config.layers.length - expect.baseLayers} own layer(s)`,
    );
  }
  if (problems.length) {
    throw new ImageValidationError(
      `Image ${config.id.slice(0, 12)} is invalid:\n  - ${problems.join("\n  - ")}`,
      "Fix the Dockerfile (or its .dockerignore), then: rig build --docker",
    );
  }
  return passed;
}

/**
 * Runs `python -c "import <module>"` in the image: with `<engine> run` where
 * containers can run, else (podman as root) in the mounted root file system
 * with chroot, which needs no container runtime.
 */
async function importInImage(
  engine: Engine,
  config: ImageConfig,
  module: string,
  expect: ImageExpectations,
): Promise<{ ok: boolean; detail: string }> {
  const { env, signal } = expect;
  const code = `import ${module}`;
  await Deno.mkdir(expect.workDir, { recursive: true });
  const envFile = path.join(expect.workDir, "app.env");
  await Deno.writeTextFile(
    envFile,
    Object.entries(expect.appEnv).filter(([, v]) => !v.includes("\n")).map(([k, v]) =>
      `${k}=${v}\n`
    )
      .join(""),
    { mode: 0o600 },
  );
  let viaRun;
  try {
    viaRun = await run([
      engine.program,
      "run",
      "--rm",
      "--network",
      "none",
      "--env-file",
      envFile,
      "--entrypoint",
      "python3",
      config.id,
      "-c",
      code,
    ], { env, signal, timeoutMs: 60_000 });
  } finally {
    await Deno.remove(envFile).catch(() => {});
  }
  if (viaRun.success) return { ok: true, detail: "" };
  // 125-127: the engine could not start the container; anything else is Python's verdict.
  if (![125, 126, 127].includes(viaRun.code) || engine.name !== "podman") {
    return { ok: false, detail: lastLine(viaRun.stderr || viaRun.stdout) };
  }
  const mount = await run([engine.program, "image", "mount", config.id], { env, signal });
  if (!mount.success) {
    return {
      ok: false,
      detail: `no container can run here (${
        lastLine(viaRun.stderr)
      }) and the image cannot be mounted (${lastLine(mount.stderr)})`,
    };
  }
  try {
    const root = mount.stdout.trim();
    const imageEnv = Object.fromEntries(
      config.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    const script = `cd "${config.workingDir || "/"}" && exec python3 -c "$RIG_CODE"`;
    const inRoot = await run(["chroot", root, "/bin/sh", "-c", script], {
      env: {
        PATH: imageEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin",
        ...imageEnv,
        ...expect.appEnv,
        RIG_CODE: code,
      },
      signal,
      timeoutMs: 60_000,
    });
    return inRoot.success
      ? { ok: true, detail: "" }
      : { ok: false, detail: lastLine(inRoot.stderr || inRoot.stdout) };
  } finally {
    await run([engine.program, "image", "unmount", config.id], { env });
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).at(-1) ?? "no output";
}

const ENV_FILE = /(^|\/)\.env(\.[^/]+)?$/;
const ENV_EXAMPLE = /(^|\/)\.env\.(example|sample|template|dist)$/;
const GIT_DIR = /(^|\/)\.git\//;

/** Saves the image and walks every layer above the base for files that must not be there. */
async function scanLayers(
  engine: Engine,
  config: ImageConfig,
  expect: ImageExpectations,
): Promise<string[]> {
  await Deno.mkdir(expect.workDir, { recursive: true });
  const archive = path.join(expect.workDir, "image.tar");
  await Deno.remove(archive).catch(() => {});
  const saveArgs = engine.name === "podman" ? ["--format", "docker-archive"] : [];
  const saved = await run(
    [engine.program, "save", ...saveArgs, "-o", archive, config.id],
    { env: expect.env, signal: expect.signal },
  );
  if (!saved.success) return [`it cannot be saved for inspection: ${lastLine(saved.stderr)}`];
  const problems: string[] = [];
  try {
    const outer = readTar(await Deno.readFile(archive), "image archive");
    const byName = new Map(outer.map((e) => [e.name, e]));
    const manifest = JSON.parse(
      new TextDecoder().decode(await byName.get("manifest.json")!.read()),
    ) as { Layers: string[] }[];
    const layers = manifest[0]?.Layers ?? [];
    const encoder = new TextEncoder();
    const needles = expect.secrets.filter((s) => s.length >= 8).map((s) => encoder.encode(s));
    for (const [index, name] of layers.entries()) {
      if (index < expect.baseLayers) continue;
      let bytes = await byName.get(name)?.read();
      if (!bytes) continue;
      if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await decompress(bytes, "gzip");
      for (const entry of readTar(bytes, `layer ${index + 1}`)) {
        const file = entry.name.replace(/^\.\//, "");
        if (ENV_FILE.test(file) && !ENV_EXAMPLE.test(file)) {
          problems.push(`layer ${index + 1} contains "/${file}"`);
        } else if (GIT_DIR.test(file)) {
          problems.push(`layer ${index + 1} contains a .git folder ("/${file}")`);
        } else if (needles.length && entry.size < 8 * 1024 * 1024) {
          const data = await entry.read();
          if (needles.some((needle) => indexOf(data, needle) >= 0)) {
            problems.push(`layer ${index + 1}: "/${file}" contains a secret value of the project`);
          }
        }
      }
    }
  } finally {
    await Deno.remove(archive).catch(() => {});
  }
  // One line per folder is enough to act on.
  return [
    ...new Set(problems.map((p) => p.replace(/(\.git folder \("\/[^"]*?\.git\/).*"\)/, '$1…")'))),
  ];
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  outer: for (let i = haystack.indexOf(first!); i >= 0; i = haystack.indexOf(first!, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
