/**
 * Building a node application: its `build` script through the project's
 * package manager (or rig.toml `build`), then the folder the build wrote
 * (`dist/`, `build/`, `.next/` …) is the artifact: it must exist, hold files,
 * and for a static single-page build hold an `index.html`. The sources are
 * guarded: a build that rewrites them is undone and reported.
 */
import { prependPath } from "../os.ts";
import * as path from "../path.ts";
import { RigError } from "../errors.ts";
import { type AppOutput, appOutput, outputProblem, scriptsOf } from "../node/app.ts";
import {
  detectToolchain,
  managerEnv,
  missingCommand,
  missingToolError,
  readPackageJson,
  scriptArgv,
} from "../node/managers.ts";
import { run, tail } from "../proc.ts";
import type { Component, Project } from "../project/project.ts";
import { componentCommand } from "../project/selection.ts";
import { describeChanges, WorktreeGuard } from "../testing/worktree_guard.ts";
import { sha256File, sha256Hex } from "../hash.ts";

/** The output folder of an app component (rig.toml `build` may name it with --outDir). */
export function appOutputOf(component: Component): AppOutput {
  const override = component.commands.build?.join(" ");
  return appOutput(component.dir, override ? { buildScript: override } : {});
}

/** Whether an app has anything to build (a build script or rig.toml `build`). */
export function appBuildCommand(project: Project, component: Component): string[] | undefined {
  if (component.commands.build) return component.commands.build;
  if (!scriptsOf(readPackageJson(component.dir)).build) return undefined;
  return scriptArgv(detectToolchain(component.dir, project.root), "build");
}

/** The built output of an app: its files relative to the project root and a digest. */
export interface AppBundle {
  output: AppOutput;
  /** Posix path of the output folder relative to the project root. */
  folder: string;
  files: string[];
  sha256: string;
  size: number;
}

/** Runs an app's build and validates its output folder. */
export async function buildApp(
  project: Project,
  component: Component,
  options: { env: Record<string, string>; signal?: AbortSignal; onLine?: (line: string) => void },
): Promise<AppBundle> {
  const argv = appBuildCommand(project, component);
  const rebuild = componentCommand(project.components, "build", { component: component.name });
  if (!argv) {
    throw new RigError(
      `Component "${component.name}" has no build script`,
      `Add "build" to the scripts of ${component.path}/package.json (or build = "…" in rig.toml)`,
    );
  }
  const output = appOutputOf(component);
  const folder = path.posix.join(component.path, output.dir);
  const tc = detectToolchain(component.dir, project.root);
  const bin = path.join(component.dir, "node_modules", ".bin");
  const env = managerEnv(tc, {
    env: { ...prependPath(options.env, bin), NODE_ENV: options.env.NODE_ENV ?? "production" },
  });
  await Deno.remove(path.join(component.dir, ...output.dir.split("/")), { recursive: true })
    .catch(() => {});
  await using guard = await WorktreeGuard.capture(project.root, {
    dirs: [component.path],
    allow: [`${folder}/`],
    env: options.env,
  });
  const result = await run(argv, {
    cwd: component.dir,
    env,
    signal: options.signal,
    onLine: options.onLine ? (line) => options.onLine!(line) : undefined,
  });
  const changes = await guard.restore();
  if (!result.success) {
    const text = `${result.stdout}\n${result.stderr}`;
    const missing = missingCommand(result.code, text);
    if (missing) {
      throw missingToolError(missing, {
        component: component.name,
        script: "build",
        install: componentCommand(project.components, "install", { component: component.name }),
      });
    }
    throw new RigError(
      `Building "${component.name}" failed (${argv.join(" ")} exited with code ${result.code})\n${
        tail(text.trim(), 30)
      }`,
      `Fix the error above, then: ${rebuild}`,
    );
  }
  if (changes.length) {
    throw new RigError(
      `The build of "${component.name}" modifies files: ${
        describeChanges(changes)
      }; rig put them back`,
      `Make the build write only to "${output.dir}/" (move generation steps out of "build"), then: ${rebuild}`,
    );
  }
  const problem = outputProblem(component.dir, output);
  if (problem) {
    throw new RigError(
      `The build of "${component.name}" is not a usable artifact: ${problem}`,
      output.source === "default" || output.source === "script"
        ? `Check where "${
          argv.join(" ")
        }" writes (rig looked for "${output.dir}/"), then: ${rebuild}`
        : `rig read "${output.dir}/" from ${output.source}; check that the build writes there, then: ${rebuild}`,
    );
  }
  const files: string[] = [];
  let size = 0;
  const digest: string[] = [];
  const walk = async (dir: string, rel: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory) await walk(full, child);
      else if (entry.isFile) {
        files.push(child);
        size += (await Deno.stat(full)).size;
        digest.push(`${child}\0${await sha256File(full)}`);
      }
    }
  };
  await walk(path.join(project.root, ...folder.split("/")), folder);
  const sha256 = await sha256Hex(digest.join("\n"));
  return { output, folder, files, sha256, size };
}
