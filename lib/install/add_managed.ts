/**
 * `rig install PKG` for uv and Poetry components: `uv add [--dev | --group G]`
 * or `poetry add [--group G]`, so pyproject.toml and the lock file change
 * together. The conflict check runs first; the journal backs up pyproject and
 * the lock; a failure (or an interruption) restores both byte for byte and
 * re-syncs the environment from the restored lock.
 */
import * as path from "../path.ts";
import { InterruptedError, RigError } from "../errors.ts";
import type { Component, Project } from "../project/project.ts";
import { runChecked } from "../proc.ts";
import { ensureTool, findTool, type ManagerInfo } from "../python/managers.ts";
import { mapUvError, uvAddArgv, uvEnv, uvSyncArgv } from "../python/uv.ts";
import { poetryAddArgv, poetryEnv, poetryInstallArgv } from "../python/poetry.ts";
import { installedDistributions, venvEnv, venvLayout } from "../python/venv.ts";
import {
  findTomlArray,
  formatRequirement,
  parseRequirement,
  type Requirement,
  specifiersDisjoint,
} from "../python/requirements.ts";
import { beginJournal, endJournal, noteChild, rollBackAfter } from "./install_journal.ts";
import { type InstallOptions, userCacheDir } from "./install.ts";
import { recordPython } from "./install_state.ts";
import { installManaged, managedVenvDir } from "./python_managed.ts";
import { posixRelative } from "../fs.ts";

/** What `addManaged` returns (the shape of add_packages.ts's AddResult). */
export interface ManagedAddResult {
  component: string;
  dryRun: boolean;
  command: string[];
  changes: { file: string; line?: number; before?: string; after: string }[];
  installed: Record<string, string>;
  durationMs: number;
}

/** Requirements already declared in a pyproject (PEP 621, PEP 735 groups, extras). */
function declaredRequirements(file: string): { where: string; requirement: Requirement }[] {
  const text = Deno.readTextFileSync(file);
  const out: { where: string; requirement: Requirement }[] = [];
  const tables: [string, string][] = [["project", "dependencies"]];
  for (
    const m of text.matchAll(/^\s*\[(dependency-groups|project\.optional-dependencies)\]\s*$/gm)
  ) {
    const body = text.slice(m.index! + m[0].length).split(/^\s*\[/m)[0] ?? "";
    for (const k of body.matchAll(/^\s*"?([A-Za-z0-9_.-]+)"?\s*=\s*\[/gm)) {
      tables.push([m[1]!, k[1]!]);
    }
  }
  for (const [table, key] of tables) {
    for (const item of findTomlArray(text, table, key)?.items ?? []) {
      try {
        const requirement = parseRequirement(item.value);
        const line = text.slice(0, item.start).split("\n").length;
        out.push({ where: `${table}.${key} (line ${line})`, requirement });
      } catch {
        // uv and Poetry validate their own files.
      }
    }
  }
  return out;
}

/** Adds packages to a uv or Poetry component as one transaction. */
export async function addManaged(
  project: Project,
  component: Component,
  info: ManagerInfo,
  requested: Requirement[],
  opts: InstallOptions & {
    dev?: boolean;
    group?: string;
    dryRun?: boolean;
    isDevTool(name: string): boolean;
  },
): Promise<ManagedAddResult> {
  const started = performance.now();
  const rel = (file: string) => posixRelative(project.root, file);
  const pyproject = path.join(component.dir, "pyproject.toml");
  const lock = info.lockFile!;
  for (const requirement of requested) {
    for (const entry of declaredRequirements(pyproject)) {
      if (entry.requirement.key !== requirement.key) continue;
      if (requirement.url || entry.requirement.url) continue;
      if (await specifiersDisjoint(entry.requirement.specifier, requirement.specifier)) {
        throw new RigError(
          `Cannot add "${formatRequirement(requirement)}": ${
            rel(pyproject)
          } ${entry.where} already requires "${entry.requirement.text.trim()}", and no version satisfies both`,
          `Ask for a version that fits (rig install "${requirement.name}${entry.requirement.specifier}"), or edit ${
            rel(pyproject)
          } first`,
        );
      }
    }
  }
  const dev = opts.group ? false : opts.dev ?? requested.every((r) => opts.isDevTool(r.name!));
  const specs = requested.map((r) => formatRequirement(r));
  const cacheDir = userCacheDir(opts.env);
  const tool = info.manager === "uv" ? "uv" : "poetry";
  const program = findTool(tool, { env: opts.env, cacheDir }) ?? tool;
  const command = info.manager === "uv"
    ? uvAddArgv(specs, { uv: program, dev, group: opts.group })
    : poetryAddArgv(specs, { poetry: program, dev, group: opts.group });
  const section = opts.group
    ? `[${
      info.manager === "uv" ? "dependency-groups" : `tool.poetry.group.${opts.group}`
    }] ${opts.group}`
    : dev
    ? info.manager === "uv" ? "[dependency-groups] dev" : "[tool.poetry.group.dev]"
    : "[project] dependencies";
  const changes = [
    { file: rel(pyproject), after: `${section} += ${specs.join(", ")}` },
    { file: rel(lock), after: `updated by ${info.manager}` },
  ];
  if (opts.dryRun) {
    return {
      component: component.name,
      dryRun: true,
      command,
      changes,
      installed: {},
      durationMs: performance.now() - started,
    };
  }

  const step = opts.ui.step(
    `install ${requested.map((r) => r.name).join(" ")} into ${component.name}`,
  );
  let journalStarted = false;
  try {
    // The environment must match the lock before the change, so a rollback can re-sync to it.
    const venv = await installManaged(project, component, info, {
      ...opts,
      cacheDir,
      step,
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
    });
    const bin = await ensureTool(tool, { ...opts, cacheDir, neededFor: `"${rel(lock)}"` });
    const argv = [bin, ...command.slice(1)];
    const venvDir = managedVenvDir(component, info);
    const env = info.manager === "uv"
      ? uvEnv({ env: opts.env, venvDir, cacheDir })
      : poetryEnv({ env: venvEnv(venv, opts.env), cacheDir });
    const resync = info.manager === "uv"
      ? uvSyncArgv(info, { uv: bin })
      : poetryInstallArgv(info, bin, project.root).map((a, i) => i === 1 ? "sync" : a);
    const journal = await beginJournal(project.root, {
      component: component.name,
      kind: "python",
      action: command.slice(1).join(" ").replace(/^/, `${tool} `),
      files: [pyproject, lock],
      venvDir,
      resync: { argv: resync, cwd: info.projectDir, env: extraEnv(env, opts.env) },
    });
    journalStarted = true;
    step.update(`${tool} ${command.slice(1).join(" ")}`);
    // uv: change pyproject and the lock, then one locked sync of the whole workspace.
    const addArgv = info.manager === "uv"
      ? [...argv.slice(0, 2), "--no-sync", ...argv.slice(2)]
      : argv;
    try {
      await runChecked(addArgv, {
        cwd: component.dir,
        env,
        signal: opts.signal,
        onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
        onStart: (pid) => void noteChild(project.root, journal, pid).catch(() => {}),
        failureHint: `Read ${tool}'s message above; nothing was changed`,
      });
      if (info.manager === "uv") {
        step.update("uv sync --locked");
        await runChecked(uvSyncArgv(info, { uv: bin }), {
          cwd: info.projectDir,
          env,
          signal: opts.signal,
          onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
          onStart: (pid) => void noteChild(project.root, journal, pid).catch(() => {}),
        });
      }
    } catch (error) {
      throw mapUvError(error, info, project.root);
    }
    await noteChild(project.root, journal, undefined);
    if (opts.signal?.aborted) throw new InterruptedError();
    const after = installedDistributions(venvLayout(venvDir));
    const installed: Record<string, string> = {};
    for (const r of requested) {
      const version = after[r.key!];
      if (version) installed[r.name!] = version;
    }
    const members = info.workspace
      ? project.components.filter((c) => info.workspace!.members.includes(path.resolve(c.dir)))
      : [component];
    for (const member of members.length ? members : [component]) {
      await recordPython(project, member, venvLayout(venvDir), {
        env: opts.env,
        installer: info.manager,
        started,
      });
    }
    await endJournal(project.root);
    step.done(Object.entries(installed).map(([n, v]) => `${n} ${v}`).join(", "));
    return {
      component: component.name,
      dryRun: false,
      command,
      changes: [
        ...addedLines(
          journal.files[0]?.content ?? "",
          Deno.readTextFileSync(pyproject),
          rel(pyproject),
        ),
        ...(Deno.readTextFileSync(lock) === journal.files[1]?.content
          ? []
          : [{ file: rel(lock), after: `updated by ${info.manager}` }]),
      ],
      installed,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    step.fail();
    if (journalStarted) {
      await rollBackAfter(project, error, opts);
    }
    throw error;
  }
}

/** The variables `env` sets on top of `base` (what a rollback needs to re-run the sync). */
function extraEnv(
  env: Record<string, string>,
  base: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (base[k] !== v) out[k] = v;
  return out;
}

/** The lines of `after` that are new or changed compared with `before` (1-based line numbers). */
function addedLines(before: string, after: string, file: string) {
  const old = new Map<string, number>();
  for (const line of before.split("\n")) old.set(line, (old.get(line) ?? 0) + 1);
  const out: { file: string; line: number; after: string }[] = [];
  after.split("\n").forEach((line, i) => {
    const left = old.get(line) ?? 0;
    if (left > 0) old.set(line, left - 1);
    else {out.push({
        file,
        line: i + 1,
        after: line.trim().replace(/,$/, "").replace(/^"(.*)"$/, "$1"),
      });}
  });
  return out;
}
