/**
 * `rig install PKG...`: add packages to one component as one transaction —
 * resolve and install them, record them in the component's dependency files
 * (requirements*.txt, pyproject.toml, package.json), and restore every file
 * and the environment when any step fails (install_journal.ts).
 */
import { isFile, posixRelative } from "../fs.ts";
import * as path from "../path.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { type Component, type Project } from "../project/project.ts";
import { ConfigError, InterruptedError, RigError, UsageError } from "../errors.ts";
import { defaultVenvDir, findVenv, installedDistributions, venvLayout } from "../python/venv.ts";
import { ensureVenv } from "../python/venv_ensure.ts";
import { normalizeName } from "../python/names.ts";
import { chooseInstaller, installArgv, installWithFallback, pipCheck } from "../python/pip.ts";
import { detectManager } from "../python/managers.ts";
import { addManaged } from "./add_managed.ts";
import { addArgv, detectToolchain, requireManager, runManager } from "../node/managers.ts";
import {
  appendLine,
  appendTomlItem,
  findTomlArray,
  formatRequirement,
  parseRequirement,
  parseRequirements,
  replaceSpecifier,
  replaceTomlItem,
  type Requirement,
  requirementsOf,
  RequirementSyntaxError,
  specifiersDisjoint,
  type TomlArrayItem,
} from "../python/requirements.ts";
import {
  beginJournal,
  endJournal,
  finishInterrupted,
  noteChild,
  rollBackAfter,
} from "./install_journal.ts";
import { installerOptions, type InstallOptions, userCacheDir } from "./install.ts";
import { isPython, recordNode, recordPython } from "./install_state.ts";
import { planArgs, pythonPlan } from "./python_plan.ts";
import { projectTable, readPyproject } from "../python/pyproject.ts";
/** Names that go to requirements-dev.txt / the dev extra without `--dev`. */
const DEV_TOOL = /^(pytest.*|black|flake8.*|ruff|mypy|coverage|isort|pre-commit|types-.+)$/;

/** Whether a package is a development tool (pytest*, black, ruff, mypy, types-*, …). */
export function isDevTool(name: string): boolean {
  return DEV_TOOL.test(normalizeName(name));
}

/** Options of `addPackages`. */
export interface AddOptions extends InstallOptions {
  /** Record as development dependencies (`--dev`); `false` forces production (`--prod`). */
  dev?: boolean;
  /** uv/Poetry/PEP 735: the dependency group to record the packages in (`--group G`). */
  group?: string;
  dryRun?: boolean;
}

/** One edit of a file. */
export interface FileChange {
  /** Path relative to the project root, `/` separators. */
  file: string;
  /** 1-based line (absent for a new line at the end or a pyproject array). */
  line?: number;
  before?: string;
  after: string;
}

/** What `addPackages` did (or would do with dryRun). */
export interface AddResult {
  component: string;
  dryRun: boolean;
  /** The pip/uv/npm command line. */
  command: string[];
  changes: FileChange[];
  /** Installed versions of the requested packages (after the install). */
  installed: Record<string, string>;
  durationMs: number;
}

interface PlannedPackage {
  requirement: Requirement;
  dev: boolean;
  /** Existing entry to update, if the package is already required. */
  existing?: { file: string; requirement: Requirement; item?: TomlArrayItem };
  /** Write `name>=installed` after the install (no user specifier). */
  pin: boolean;
}

/** Adds packages to one component (Python or node): the contract of addPackages and its two kinds. */
type AddStep = (
  project: Project,
  component: Component,
  packages: string[],
  opts: AddOptions,
) => Promise<AddResult>;

/** Adds packages to a component: checks conflicts, installs, records them; rolls back on failure. */
export const addPackages: AddStep = async (project, component, packages, opts) => {
  await finishInterrupted(project.root, opts);
  if (isPython(component)) return await addPython(project, component, packages, opts);
  return await addNode(project, component, packages, opts);
};

/** Where a Python component records its dependencies. */
type DependencyFiles =
  | { mode: "requirements"; prod: string; dev: string }
  | { mode: "pyproject"; file: string };

function dependencyFiles(component: Component): DependencyFiles {
  const pyproject = path.join(component.dir, "pyproject.toml");
  const prod = path.join(component.dir, "requirements.txt");
  const dev = path.join(component.dir, "requirements-dev.txt");
  if (!isFile(prod) && !isFile(dev) && projectTable(readPyproject(component.dir))) {
    return { mode: "pyproject", file: pyproject };
  }
  return { mode: "requirements", prod, dev };
}

interface ExistingEntry {
  file: string;
  requirement: Requirement;
  item?: TomlArrayItem;
}

function readExisting(files: DependencyFiles, rel: (file: string) => string): ExistingEntry[] {
  const out: ExistingEntry[] = [];
  if (files.mode === "requirements") {
    for (const file of [files.prod, files.dev]) {
      if (!isFile(file)) continue;
      const entries = parseRequirements(Deno.readTextFileSync(file), rel(file));
      for (const requirement of requirementsOf(entries)) out.push({ file, requirement });
    }
    return out;
  }
  const text = Deno.readTextFileSync(files.file);
  for (
    const [table, key] of [["project", "dependencies"], ["project.optional-dependencies", "dev"]]
  ) {
    const array = findTomlArray(text, table!, key!);
    for (const item of array?.items ?? []) {
      try {
        out.push({ file: files.file, requirement: parseRequirement(item.value), item });
      } catch (error) {
        if (error instanceof RequirementSyntaxError) {
          const line = text.slice(0, item.start).split("\n").length;
          throw new ConfigError(
            rel(files.file),
            line,
            error.message,
            "Fix the dependency, then run: rig install",
          );
        }
        throw error;
      }
    }
  }
  return out;
}

const addPython: AddStep = async (project, component, packages, opts) => {
  const started = performance.now();
  const rel = (file: string) => posixRelative(project.root, file);
  const requested = packages.map((text) => {
    let requirement: Requirement;
    try {
      requirement = parseRequirement(text);
    } catch (error) {
      throw new UsageError(
        `Cannot read "${text}" as a package requirement: ${(error as Error).message}`,
        'Examples: rig install httpx, rig install "httpx>=0.27", rig install "uvicorn[standard]"',
      );
    }
    if (!requirement.name) {
      throw new UsageError(
        `"${text}" has no package name`,
        `Write it as NAME @ URL, e.g. rig install "mypkg @ ${text}"`,
      );
    }
    return requirement;
  });
  const info = detectManager(component.dir, project.root);
  if (info.manager !== "pip") {
    return await addManaged(project, component, info, requested, { ...opts, isDevTool });
  }
  if (opts.group) {
    throw new UsageError(
      `Option "--group" needs a uv or Poetry project, and "${component.name}" uses pip`,
      "Use --dev (requirements-dev.txt or the dev extra)",
    );
  }
  const files = dependencyFiles(component);
  const existing = readExisting(files, rel);
  refuseHashPinned(files, existing, rel);
  const planned: PlannedPackage[] = [];
  for (const requirement of requested) {
    const same = existing.filter((e) => e.requirement.key === requirement.key);
    for (const entry of same) {
      if (requirement.url || entry.requirement.url) continue;
      if (await specifiersDisjoint(entry.requirement.specifier, requirement.specifier)) {
        const where = `${rel(entry.file)}:${entry.requirement.line || lineOf(entry)}`;
        throw new RigError(
          `Cannot add "${
            formatRequirement(requirement)
          }": ${where} already requires "${entry.requirement.text.trim()}", and no version satisfies both`,
          `Ask for a version that fits (rig install "${requirement.name}${entry.requirement.specifier}"), ` +
            `or edit ${where} first`,
        );
      }
    }
    const dev = opts.dev ?? isDevTool(requirement.name!);
    const first = same[0];
    planned.push({
      requirement,
      dev,
      existing: first,
      pin: !requirement.specifier && !requirement.url && !first,
    });
  }

  const installer = chooseInstaller(opts.env);
  const venvForCommand = findVenv(component, opts) ?? {
    ...venvLayout(defaultVenvDir(component)),
  };
  const installArgs = [
    ...planArgs(pythonPlan(component, project.root)),
    ...planned.map((p) =>
      formatRequirement({
        ...p.requirement,
        specifier: p.requirement.specifier || p.existing?.requirement.specifier || "",
      })
    ),
  ];
  const command = installArgv(venvForCommand, installArgs, installer);
  const touched = files.mode === "requirements" ? [files.prod, files.dev] : [files.file];

  if (opts.dryRun) {
    const preview = editFiles(files, planned, {}, rel);
    return {
      component: component.name,
      dryRun: true,
      command,
      changes: preview.changes,
      installed: {},
      durationMs: performance.now() - started,
    };
  }

  const step = opts.ui.step(
    `install ${planned.map((p) => p.requirement.name).join(" ")} into ${component.name}`,
  );
  let journalStarted = false;
  try {
    step.update("checking the virtual environment");
    const venv = await ensureVenv(component, { ...opts, root: project.root });
    const before = installedDistributions(venv);
    const journal = await beginJournal(project.root, {
      component: component.name,
      kind: "python",
      action: `${installer} install ${
        planned.map((p) => formatRequirement(p.requirement)).join(" ")
      }`,
      files: touched,
      venvDir: venv.dir,
      before,
      installer,
    });
    journalStarted = true;
    step.update(`${installer} install`);
    const used = await installWithFallback(venv, installArgs, {
      ...installerOptions(component, installer, opts),
      warn: (text) => opts.ui.warn(text, "Set RIG_INSTALLER=pip to skip uv"),
      onStart: (pid) => void noteChild(project.root, journal, pid).catch(() => {}),
    });
    await noteChild(project.root, journal, undefined);
    const after = installedDistributions(venv);
    const installed: Record<string, string> = {};
    for (const p of planned) {
      const version = after[p.requirement.key!];
      if (version) installed[p.requirement.name!] = version;
    }
    const edited = editFiles(files, planned, installed, rel);
    for (const [file, text] of Object.entries(edited.texts)) await writeFileAtomic(file, text);
    step.update("pip check");
    const problems = await pipCheck(venv, {
      env: opts.env,
      installer,
      cacheDir: userCacheDir(opts.env),
      signal: opts.signal,
    });
    if (opts.signal?.aborted) throw new InterruptedError();
    if (problems.length) {
      throw new RigError(
        `"pip check" found broken requirements after installing:\n${problems.join("\n")}`,
        "Ask for versions that fit together, then run rig install again",
      );
    }
    await recordPython(project, component, venv, { env: opts.env, installer: used, started });
    await endJournal(project.root);
    step.done(
      Object.entries(installed).map(([n, v]) => `${n} ${v}`).join(", "),
    );
    return {
      component: component.name,
      dryRun: false,
      command,
      changes: edited.changes,
      installed,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    step.fail();
    if (journalStarted) await rollBackAfter(project, error, opts);
    throw error;
  }
};

/** pip's hash-checking mode would reject an added line without hashes: refuse before touching anything. */
function refuseHashPinned(
  files: DependencyFiles,
  existing: ExistingEntry[],
  rel: (file: string) => string,
): void {
  if (files.mode !== "requirements") return;
  const hashed = existing.find((e) => e.requirement.options.some((o) => o.startsWith("--hash")));
  const forced = [files.prod, files.dev].find((file) =>
    isFile(file) &&
    parseRequirements(Deno.readTextFileSync(file), rel(file)).some((e) =>
      e.kind === "option" && e.option === "--require-hashes"
    )
  );
  if (!hashed && !forced) return;
  const where = hashed ? `${rel(hashed.file)}:${hashed.requirement.line}` : rel(forced!);
  throw new RigError(
    `Cannot add packages to "${
      where.split(":")[0]
    }": it pins hashes (${where}), and pip would reject a line without them`,
    "Regenerate the file with its hashes (e.g. pip-compile --generate-hashes), then run: rig install",
  );
}

function lineOf(entry: ExistingEntry): number | undefined {
  if (!entry.item) return undefined;
  const text = Deno.readTextFileSync(entry.file);
  return text.slice(0, entry.item.start).split("\n").length;
}

/** Computes the new file texts for the planned packages (pure; used by dry runs too). */
function editFiles(
  files: DependencyFiles,
  planned: PlannedPackage[],
  installed: Record<string, string>,
  rel: (file: string) => string,
): { texts: Record<string, string>; changes: FileChange[] } {
  const texts: Record<string, string> = {};
  const changes: FileChange[] = [];
  const read = (file: string) => texts[file] ?? (isFile(file) ? Deno.readTextFileSync(file) : "");
  const wanted = (p: PlannedPackage) => {
    if (p.requirement.specifier || p.requirement.url) return formatRequirement(p.requirement);
    const version = installed[p.requirement.name!];
    return formatRequirement({
      ...p.requirement,
      specifier: `>=${version ?? "<installed version>"}`,
    });
  };
  for (const p of planned) {
    const existing = p.existing;
    if (existing && !p.requirement.specifier && !p.requirement.url) continue; // Already required.
    if (files.mode === "requirements") {
      if (existing) {
        const text = read(existing.file);
        const before = text.split("\n")[existing.requirement.line - 1] ?? "";
        let updated: string;
        if (existing.requirement.url || p.requirement.url) {
          const lines = text.split("\n");
          lines[existing.requirement.line - 1] = wanted(p);
          updated = lines.join("\n");
        } else {
          updated = replaceSpecifier(text, existing.requirement, p.requirement.specifier);
        }
        const after = updated.split("\n")[existing.requirement.line - 1] ?? "";
        if (after === before) continue;
        texts[existing.file] = updated;
        changes.push({ file: rel(existing.file), line: existing.requirement.line, before, after });
        continue;
      }
      const target = p.dev ? files.dev : files.prod;
      let text = read(target);
      if (!text && p.dev && target === files.dev && isFile(files.prod)) {
        text = "-r requirements.txt\n";
      }
      const line = wanted(p);
      texts[target] = appendLine(text, line);
      changes.push({
        file: rel(target),
        line: texts[target]!.replace(/\r?\n$/, "").split("\n").length,
        after: line,
      });
      continue;
    }
    // pyproject.toml
    const text = read(files.file);
    const line = wanted(p);
    if (existing?.item) {
      const updated = replaceTomlItem(text, existing.item, line);
      texts[files.file] = updated;
      changes.push({ file: rel(files.file), before: existing.item.value, after: line });
      continue;
    }
    const [table, key] = p.dev
      ? ["project.optional-dependencies", "dev"]
      : ["project", "dependencies"];
    const array = findTomlArray(text, table, key);
    if (!array) {
      throw new RigError(
        `Cannot find "${key} = [...]" in [${table}] of ${rel(files.file)}`,
        `Add ${key} = ["${line}"] under [${table}] by hand, then run: rig install`,
      );
    }
    texts[files.file] = appendTomlItem(text, array, line);
    changes.push({ file: rel(files.file), after: `${table}.${key} += "${line}"` });
  }
  return { texts, changes };
}

const addNode: AddStep = async (project, component, packages, opts) => {
  const started = performance.now();
  const dev = opts.dev === true;
  const tc = detectToolchain(component.dir, project.root);
  const command = addArgv(tc, packages, dev);
  const args = command.slice(1);
  const manifest = path.join(component.dir, "package.json");
  const lock = tc.lockfile ?? path.join(tc.installDir, "package-lock.json");
  const rel = (file: string) => posixRelative(project.root, file);
  if (opts.dryRun) {
    return {
      component: component.name,
      dryRun: true,
      command,
      changes: [
        {
          file: rel(manifest),
          after: `${dev ? "devDependencies" : "dependencies"} += ${packages.join(", ")}`,
        },
        { file: rel(lock), after: `updated by ${tc.manager}` },
      ],
      installed: {},
      durationMs: performance.now() - started,
    };
  }
  const step = opts.ui.step(`install ${packages.join(" ")} into ${component.name}`);
  const before = Deno.readTextFileSync(manifest);
  const journal = await beginJournal(project.root, {
    component: component.name,
    kind: "node",
    action: command.join(" "),
    files: [manifest, lock],
    dir: component.dir,
  });
  try {
    step.update(command.join(" "));
    requireManager(tc, { env: opts.env, component: component.name });
    await runManager(tc, component.dir, args, {
      env: opts.env,
      cacheDir: userCacheDir(opts.env),
      signal: opts.signal,
      onLine: (line) => opts.ui.debug(`  ${component.name} │ ${line}`),
      onStart: (pid) => void noteChild(project.root, journal, pid).catch(() => {}),
    });
    await recordNode(project, component, { env: opts.env, started });
    await endJournal(project.root);
    const installed = nodeVersions(component.dir, packages);
    step.done(Object.entries(installed).map(([n, v]) => `${n} ${v}`).join(", "));
    const after = Deno.readTextFileSync(manifest);
    return {
      component: component.name,
      dryRun: false,
      command,
      changes: before === after ? [] : [{ file: rel(manifest), after: "dependencies updated" }],
      installed,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    step.fail();
    await rollBackAfter(project, error, opts);
    throw error;
  }
};

function nodeVersions(dir: string, packages: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of packages) {
    const name = spec.startsWith("@") ? "@" + spec.slice(1).split("@")[0] : spec.split("@")[0]!;
    try {
      const pkg = JSON.parse(
        Deno.readTextFileSync(path.join(dir, "node_modules", name, "package.json")),
      ) as { version?: string };
      if (pkg.version) out[name] = pkg.version;
    } catch {
      // A file: or git spec, or not installed under that name.
    }
  }
  return out;
}
