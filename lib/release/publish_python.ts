/**
 * Python packages: upload the wheel and sdist with `twine upload` (or
 * `uv publish`) to the configured repository, then verify the deployment by
 * installing the published version from the index into a scratch venv and
 * importing it. An upload cannot be undone (PyPI never lets a file name be
 * reused); the way back is to yank the release.
 */
import * as path from "../path.ts";
import { MissingToolError, RigError } from "../errors.ts";
import { run, type SpawnScope, tail, which } from "../proc.ts";
import { sleep } from "../net.ts";
import { defaultPython, findVenv, sitePackages, venvLayout } from "../python/venv.ts";
import type { Component } from "../project/project.ts";
import type { ReleaseConfig } from "./config.ts";

/** The variables a Python upload reads its password/token from, in order. */
export const PYPI_TOKEN_VARS = ["RIG_PYPI_TOKEN", "TWINE_PASSWORD"];

/** The upload program to use, or a MissingToolError naming how to get one. */
export function uploadTool(
  config: ReleaseConfig["python"],
  env: Record<string, string>,
): { tool: "twine" | "uv"; program: string } {
  const twine = which("twine", env);
  const uv = which("uv", env);
  if (config.tool !== "uv" && twine) return { tool: "twine", program: twine };
  if (config.tool !== "twine" && uv) return { tool: "uv", program: uv };
  throw new MissingToolError(
    config.tool === "uv" ? "uv" : "twine",
    config.tool === "uv"
      ? "Run: pip install uv"
      : 'Run: pip install twine (or set [release.python] tool = "uv")',
  );
}

/** The argv (without secrets) and environment (with them) of an upload. */
export function uploadCommand(
  config: ReleaseConfig["python"],
  files: string[],
  env: Record<string, string>,
  tool: { tool: "twine" | "uv"; program: string },
): { argv: string[]; env: Record<string, string> } {
  const password = PYPI_TOKEN_VARS.map((v) => env[v]).find((v) => v) ?? "";
  const username = env.TWINE_USERNAME || config.username;
  if (tool.tool === "twine") {
    return {
      argv: [
        tool.program,
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        config.repositoryUrl,
        ...files,
      ],
      env: { ...env, TWINE_USERNAME: username, TWINE_PASSWORD: password },
    };
  }
  return {
    argv: [
      tool.program,
      "publish",
      "--publish-url",
      config.repositoryUrl,
      ...files,
    ],
    env: { ...env, UV_PUBLISH_USERNAME: username, UV_PUBLISH_PASSWORD: password },
  };
}

/** Uploads the files; throws a RigError with the tool's message when the index refuses them. */
export async function uploadPython(
  config: ReleaseConfig["python"],
  files: string[],
  options: {
    env: Record<string, string>;
    signal?: AbortSignal;
    cwd: string;
    skipExisting?: boolean;
  },
): Promise<void> {
  const tool = uploadTool(config, options.env);
  let pending = files;
  if (options.skipExisting) {
    // A resumed release uploads only what the index does not list yet.
    const there = await filesOnIndex(config.indexUrl, "", files.map((f) => path.basename(f)));
    if (there) pending = files.filter((f) => !there.includes(path.basename(f)));
    if (!pending.length) return;
  }
  const command = uploadCommand(config, pending, options.env, tool);
  const result = await run(command.argv, {
    env: command.env,
    cwd: options.cwd,
    signal: options.signal,
    timeoutMs: 300_000,
  });
  if (!result.success) {
    if (result.cancelled) throw new RigError("Upload interrupted");
    const output = tail(`${result.stdout}\n${result.stderr}`.trim(), 12);
    throw new RigError(
      `${tool.tool} could not upload ${
        files.map((f) => `"${path.basename(f)}"`).join(", ")
      } to ${config.repositoryUrl}:\n${output}`,
      /40[13]/.test(output)
        ? `The index refused the credentials: check ${
          PYPI_TOKEN_VARS.join(" / ")
        } (and TWINE_USERNAME)`
        : "Read the index's answer above; fix it and run rig release again",
    );
  }
}

/**
 * Which of `files` the simple index page of `name` (from the file names when empty) lists;
 * undefined when the index cannot be asked.
 */
export async function filesOnIndex(
  indexUrl: string,
  name: string,
  files: string[],
): Promise<string[] | undefined> {
  const dist = name || files[0]?.split("-")[0] || "";
  const project = dist.toLowerCase().replace(/[-_.]+/g, "-");
  try {
    const response = await fetch(new URL(`${project}/`, indexUrl), {
      headers: { Accept: "text/html" },
    });
    const page = await response.text();
    if (response.status === 404) return [];
    if (!response.ok) return undefined;
    return files.filter((f) => page.includes(f));
  } catch {
    return undefined;
  }
}

/** Options of the Python verification. */
export interface VerifyPythonOptions extends SpawnScope {
  /** Scratch venv folder (recreated). */
  venvDir: string;
  component: Component;
  /** The distribution name and version that were published. */
  name: string;
  version: string;
  /** Top-level modules of the wheel. */
  modules: string[];
  /** Attempts while the index catches up (default 6). */
  attempts?: number;
}

/**
 * Installs `name==version` from the index (only from it: `--index-url`,
 * `--no-deps`) into a fresh venv and imports its modules. Dependencies come
 * from the component's own venv, linked in after the scratch site-packages,
 * so the published package itself is what gets imported.
 */
export async function verifyPython(
  config: ReleaseConfig["python"],
  options: VerifyPythonOptions,
): Promise<string> {
  const env: Record<string, string> = { ...options.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONPATH;
  delete env.PIP_INDEX_URL;
  delete env.PIP_EXTRA_INDEX_URL;
  delete env.PIP_FIND_LINKS;
  await Deno.remove(options.venvDir, { recursive: true }).catch(() => {});
  const own = findVenv(options.component, { env: options.env });
  const created = await run([defaultPython(options.env), "-m", "venv", options.venvDir], {
    env,
    signal: options.signal,
  });
  if (!created.success) {
    throw new RigError(`Cannot create a scratch venv for verification: ${tail(created.stderr, 3)}`);
  }
  const venv = venvLayout(options.venvDir);
  const spec = `${options.name}==${options.version}`;
  let last = "";
  const attempts = options.attempts ?? 6;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const install = await run(
      [
        venv.python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-cache-dir",
        "--no-deps",
        "--index-url",
        config.indexUrl,
        spec,
      ],
      { env, signal: options.signal, timeoutMs: 180_000 },
    );
    if (install.success) {
      last = "";
      break;
    }
    last = tail(install.stderr || install.stdout, 3);
    if (options.signal?.aborted) break;
    if (attempt < attempts) await sleep(2000 * attempt, options.signal).catch(() => {});
  }
  if (last) {
    throw new RigError(
      `Verification failed: "${spec}" does not install from ${config.indexUrl}: ${last}`,
      "Check [release.python] index_url (the simple index that belongs to repository_url)",
    );
  }
  const deps = own ? sitePackages(own) : undefined;
  const scratchSite = sitePackages(venv);
  if (deps && scratchSite) {
    // A .pth line appends the component venv after the scratch site-packages.
    await Deno.writeTextFile(path.join(scratchSite, "zz_rig_release_deps.pth"), `${deps}\n`);
  }
  const script = [
    "import importlib, importlib.metadata as m, sys",
    `print(m.version(${JSON.stringify(options.name)}))`,
    ...options.modules.map((mod) =>
      `print(importlib.import_module(${JSON.stringify(mod)}).__file__)`
    ),
  ].join("\n");
  const checked = await run([venv.python, "-c", script], { env, signal: options.signal });
  if (!checked.success) {
    throw new RigError(
      `Verification failed: "${spec}" installs from ${config.indexUrl} but does not import: ${
        tail(checked.stderr, 3)
      }`,
    );
  }
  const [installed, ...files] = checked.stdout.trim().split("\n");
  if (installed !== options.version) {
    throw new RigError(
      `Verification failed: the index served ${options.name} ${installed}, expected ${options.version}`,
    );
  }
  const outside = files.find((f) => !path.resolve(f).startsWith(path.resolve(options.venvDir)));
  if (outside) {
    throw new RigError(
      `Verification failed: "${outside}" was imported instead of the published package`,
    );
  }
  return `${spec} installs from ${config.indexUrl} and imports ${options.modules.join(", ")}`;
}
