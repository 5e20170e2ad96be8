/**
 * JavaScript package managers: which one a node component uses (its lockfile,
 * or `packageManager` in package.json), where it installs (the workspace root
 * for npm/pnpm/yarn/bun workspaces), and the frozen install and script command
 * lines of each. rig never writes another manager's lockfile and never
 * rewrites the project's own: installs are frozen, and a lockfile an install
 * changed anyway is put back byte for byte.
 */
import * as path from "../path.ts";
import { exists, isFile } from "../fs.ts";
import { EnvironmentError, MissingToolError, ProcessError, RigError } from "../errors.ts";
import { globToRegex } from "../ignore.ts";
import { type OutputSink, type ProcResult, run, runChecked, tail, which } from "../proc.ts";

/** The package managers rig drives. */
export type ManagerName = "npm" | "pnpm" | "yarn" | "bun";

/** Lockfiles by manager, in the order rig looks for them. */
export const LOCKFILES: Readonly<Record<ManagerName, readonly string[]>> = {
  pnpm: ["pnpm-lock.yaml"],
  yarn: ["yarn.lock"],
  bun: ["bun.lock", "bun.lockb"],
  npm: ["package-lock.json", "npm-shrinkwrap.json"],
};

/** Every lockfile name rig knows. */
export const ALL_LOCKFILES: readonly string[] = Object.values(LOCKFILES).flat();

/** How a node component installs and runs scripts. */
export interface Toolchain {
  manager: ManagerName;
  /** Yarn 1 (`classic`) or Yarn 2+ (`berry`); undefined for other managers. */
  flavor?: "classic" | "berry";
  /** The version pinned by `packageManager`, if any. */
  version?: string;
  /** Where the install runs: the workspace root, or the component folder. */
  installDir: string;
  /** The lockfile (absolute), when there is one. */
  lockfile?: string;
  /** Why rig chose this manager, for `rig info` and messages. */
  source: string;
  /** True when `installDir` is a workspace root above the component. */
  workspace: boolean;
}

/** Reads a package.json, or undefined when absent or not JSON. */
export function readPackageJson(dir: string): Record<string, unknown> | undefined {
  try {
    const data = JSON.parse(Deno.readTextFileSync(path.join(dir, "package.json")));
    return data && typeof data === "object" && !Array.isArray(data) ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Parses `packageManager` (`pnpm@9.1.0+sha512…`) into a manager and version. */
export function parsePackageManager(
  value: unknown,
): { manager: ManagerName; version?: string } | undefined {
  if (typeof value !== "string") return undefined;
  const match = value.match(/^(npm|pnpm|yarn|bun)(?:@([^+\s]+))?/);
  if (!match) return undefined;
  return { manager: match[1] as ManagerName, version: match[2] };
}

/** The workspace globs a root declares (package.json `workspaces`, pnpm-workspace.yaml). */
export function workspaceGlobs(dir: string): string[] {
  const globs: string[] = [];
  const pkg = readPackageJson(dir);
  const ws = pkg?.workspaces;
  if (Array.isArray(ws)) globs.push(...ws.filter((g): g is string => typeof g === "string"));
  else if (ws && typeof ws === "object") {
    const packages = (ws as { packages?: unknown }).packages;
    if (Array.isArray(packages)) {
      globs.push(...packages.filter((g): g is string => typeof g === "string"));
    }
  }
  try {
    const yaml = Deno.readTextFileSync(path.join(dir, "pnpm-workspace.yaml"));
    const block = yaml.match(/^packages:\s*\n((?:[ \t]*(?:-.*|#.*)?\n?)*)/m)?.[1] ?? "";
    for (const m of block.matchAll(/^[ \t]*-[ \t]*["']?([^"'#\n]+?)["']?[ \t]*(?:#.*)?$/gm)) {
      globs.push(m[1]!);
    }
  } catch {
    // No pnpm workspace.
  }
  return globs;
}

/** True when `rel` (posix, relative to a workspace root) is matched by its globs. */
export function inWorkspace(globs: string[], rel: string): boolean {
  let member = false;
  for (const glob of globs) {
    const negated = glob.startsWith("!");
    const pattern = glob.replace(/^!/, "").replace(/^\.\//, "").replace(/\/+$/, "");
    if (new RegExp(`^${globToRegex(pattern)}$`).test(rel)) member = !negated;
  }
  return member;
}

function lockfileIn(dir: string): { manager: ManagerName; file: string }[] {
  const found: { manager: ManagerName; file: string }[] = [];
  for (const [manager, names] of Object.entries(LOCKFILES) as [ManagerName, string[]][]) {
    for (const name of names) {
      const file = path.join(dir, name);
      if (isFile(file)) found.push({ manager, file });
    }
  }
  return found;
}

/**
 * Works out a node component's toolchain: a workspace root above it (up to
 * `root`) that lists it installs for it; `packageManager` wins over lockfiles;
 * with neither, npm. Yarn berry is told from `.yarnrc.yml`, the lockfile's
 * `__metadata` or `packageManager: yarn@2+`.
 */
export function detectToolchain(dir: string, root: string): Toolchain {
  let installDir = dir;
  let workspace = false;
  const top = path.resolve(root);
  for (let up = path.dirname(dir); up.startsWith(top); up = path.dirname(up)) {
    const rel = path.relative(up, dir).split(path.sep).join("/");
    const globs = workspaceGlobs(up);
    if (globs.length && inWorkspace(globs, rel)) {
      installDir = up;
      workspace = true;
    }
    if (up === top || path.dirname(up) === up) break;
  }
  const pinned = parsePackageManager(readPackageJson(installDir)?.packageManager) ??
    parsePackageManager(readPackageJson(dir)?.packageManager);
  const locks = lockfileIn(installDir);
  const where = path.relative(root, installDir).split(path.sep).join("/") || ".";
  let manager: ManagerName;
  let lockfile: string | undefined;
  let source: string;
  if (pinned) {
    manager = pinned.manager;
    lockfile = locks.find((l) => l.manager === manager)?.file;
    source = `packageManager "${pinned.manager}${pinned.version ? `@${pinned.version}` : ""}"`;
  } else if (locks.length) {
    manager = locks[0]!.manager;
    lockfile = locks[0]!.file;
    source = `${where === "." ? "" : `${where}/`}${path.basename(lockfile)}`;
  } else {
    manager = "npm";
    source = "no lockfile (npm by default)";
  }
  let flavor: Toolchain["flavor"];
  if (manager === "yarn") {
    const major = Number(pinned?.manager === "yarn" ? pinned.version?.split(".")[0] : NaN);
    const lockText = lockfile ? readHead(lockfile) : "";
    flavor = major >= 2 || exists(path.join(installDir, ".yarnrc.yml")) ||
        /^__metadata:/m.test(lockText)
      ? "berry"
      : "classic";
  }
  return {
    manager,
    flavor,
    version: pinned?.manager === manager ? pinned.version : undefined,
    installDir,
    lockfile,
    source,
    workspace,
  };
}

function readHead(file: string): string {
  try {
    return Deno.readTextFileSync(file).slice(0, 4096);
  } catch {
    return "";
  }
}

/** The frozen install command line of a toolchain (never writes a lockfile). */
export function installArgv(tc: Toolchain): string[] {
  const locked = !!tc.lockfile;
  switch (tc.manager) {
    case "npm":
      return locked
        ? ["npm", "ci", "--no-fund", "--no-audit"]
        : ["npm", "install", "--no-package-lock", "--no-fund", "--no-audit"];
    case "pnpm":
      return locked
        ? ["pnpm", "install", "--frozen-lockfile"]
        : ["pnpm", "install", "--config.lockfile=false"];
    case "yarn":
      if (tc.flavor === "berry") return ["yarn", "install", "--immutable"];
      return locked
        ? ["yarn", "install", "--frozen-lockfile", "--non-interactive"]
        : ["yarn", "install", "--pure-lockfile", "--non-interactive"];
    case "bun":
      return locked ? ["bun", "install", "--frozen-lockfile"] : ["bun", "install", "--no-save"];
  }
}

/** The command line that runs a package.json script through the toolchain's manager. */
export function scriptArgv(tc: Toolchain, script: string, args: string[] = []): string[] {
  switch (tc.manager) {
    case "npm":
      return ["npm", "run", script, ...(args.length ? ["--", ...args] : [])];
    case "pnpm":
      return ["pnpm", "run", script, ...args];
    case "yarn":
      return ["yarn", "run", script, ...args];
    case "bun":
      return ["bun", "run", script, ...args];
  }
}

/** How to get a missing manager. */
export function managerHint(tc: Pick<Toolchain, "manager" | "version">): string {
  const pin = tc.version ? `@${tc.version}` : "";
  switch (tc.manager) {
    case "npm":
      return "Install Node.js 18+ (npm ships with it)";
    case "bun":
      return `Install bun: npm i -g bun${pin} (or see https://bun.sh)`;
    default:
      return `Enable it with corepack (ships with Node.js): corepack enable ${tc.manager}, ` +
        `or install it: npm i -g ${tc.manager}${pin}`;
  }
}

/** Throws an EnvironmentError (exit 3) naming the manager when it is not on PATH. */
export function requireManager(
  tc: Toolchain,
  opts: { env: Record<string, string>; component: string },
): void {
  if (which(tc.manager, opts.env)) return;
  throw new MissingToolError(
    tc.manager,
    `"${opts.component}" uses ${tc.manager} (${tc.source}). ${managerHint(tc)}`,
  );
}

/**
 * The environment a manager runs with: downloads shared through the user cache
 * (`npm/`, `pnpm/`, `yarn/`, `bun/` below it), no update or funding chatter,
 * and CI=true so nothing waits for a terminal.
 */
export function managerEnv(
  tc: Pick<Toolchain, "manager" | "flavor">,
  opts: { env: Record<string, string>; cacheDir?: string },
): Record<string, string> {
  const env = { ...opts.env };
  const cache = opts.cacheDir;
  const setDefault = (name: string, value: string) => {
    if (env[name] === undefined && env[name.toUpperCase()] === undefined) env[name] = value;
  };
  if (cache) {
    setDefault("npm_config_cache", path.join(cache, "npm"));
    if (tc.manager === "pnpm") setDefault("npm_config_store_dir", path.join(cache, "pnpm"));
    if (tc.manager === "yarn" && tc.flavor !== "berry") {
      setDefault("YARN_CACHE_FOLDER", path.join(cache, "yarn"));
    }
    if (tc.manager === "yarn" && tc.flavor === "berry") {
      setDefault("YARN_GLOBAL_FOLDER", path.join(cache, "yarn-berry"));
    }
    if (tc.manager === "bun") setDefault("BUN_INSTALL_CACHE_DIR", path.join(cache, "bun"));
  }
  env.npm_config_fund ??= "false";
  env.npm_config_audit ??= "false";
  env.npm_config_update_notifier ??= "false";
  env.YARN_ENABLE_TELEMETRY ??= "0";
  env.YARN_ENABLE_PROGRESS_BARS ??= "false";
  env.CI ??= "true";
  return env;
}

/** The file a manager writes into node_modules after an install (what rig compares). */
export function installMarker(tc: Toolchain): string | undefined {
  const nm = path.join(tc.installDir, "node_modules");
  switch (tc.manager) {
    case "npm":
      return path.join(nm, ".package-lock.json");
    case "pnpm":
      return path.join(nm, ".modules.yaml");
    case "yarn":
      return tc.flavor === "berry"
        ? path.join(tc.installDir, ".yarn", "install-state.gz")
        : path.join(nm, ".yarn-integrity");
    case "bun":
      return undefined;
  }
}

/** Patterns of a frozen install refused because the lockfile does not match package.json. */
const OUT_OF_DATE: RegExp[] = [
  /npm ci` can only install packages when your package\.json and/i,
  /ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_LOCKFILE_CONFIG_MISMATCH/,
  /Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`/i,
  /YN0028|lockfile would have been modified by this install/i,
  /lockfile had changes, but lockfile is frozen/i,
];

/** The command a developer runs to bring a lockfile up to date. */
export function lockUpdateCommand(tc: Toolchain): string {
  return tc.manager === "npm" ? "npm install" : `${tc.manager} install`;
}

/** Options of a package manager's (or npm's own) run. */
export interface ManagerOptions {
  env: Record<string, string>;
  /** The user-level download cache folder; each manager uses its own folder below it. */
  cacheDir?: string;
  signal?: AbortSignal;
  onLine?: OutputSink;
  onStart?: (pid: number) => void;
}

/** Options of `installFrozen`. */
export interface FrozenInstallOptions extends ManagerOptions {
  /** The project root, for the paths in messages. */
  root: string;
  component: string;
}

/**
 * Runs the frozen install of a toolchain. The project's lockfiles are read,
 * never rewritten: every lockfile present before is compared after the install
 * and put back when it changed, and lockfiles that appeared are removed.
 */
export async function installFrozen(
  tc: Toolchain,
  opts: FrozenInstallOptions,
): Promise<ProcResult> {
  requireManager(tc, { env: opts.env, component: opts.component });
  const before = new Map<string, Uint8Array>();
  for (const name of ALL_LOCKFILES) {
    const file = path.join(tc.installDir, name);
    try {
      before.set(file, await Deno.readFile(file));
    } catch {
      // Absent.
    }
  }
  const argv = installArgv(tc);
  let result: ProcResult;
  try {
    result = await run(argv, {
      cwd: tc.installDir,
      env: managerEnv(tc, opts),
      signal: opts.signal,
      onLine: opts.onLine,
      onStart: opts.onStart,
      missingHint: managerHint(tc),
    });
  } finally {
    await restoreLockfiles(tc.installDir, before);
  }
  const where = path.relative(opts.root, tc.installDir).split(path.sep).join("/") || ".";
  if (!result.success) {
    const output = `${result.stdout}\n${result.stderr}`;
    if (tc.lockfile && OUT_OF_DATE.some((p) => p.test(output))) {
      const lock = path.relative(opts.root, tc.lockfile).split(path.sep).join("/");
      throw new RigError(
        `Cannot install "${opts.component}": "${lock}" does not match package.json, ` +
          `and rig installs only what the lockfile says (${argv.join(" ")})\n${
            tail(output.trim(), 12)
          }`,
        `Update the lockfile with the project's manager and commit it: cd ${where} && ${
          lockUpdateCommand(tc)
        }`,
      );
    }
    throw new ProcessError(
      argv,
      result.code,
      tail(result.stderr.trim() ? result.stderr : result.stdout, 40),
      `Read ${tc.manager}'s message above, fix package.json, then run: rig install`,
    );
  }
  return result;
}

async function restoreLockfiles(dir: string, before: Map<string, Uint8Array>): Promise<void> {
  for (const name of ALL_LOCKFILES) {
    const file = path.join(dir, name);
    const old = before.get(file);
    let now: Uint8Array | undefined;
    try {
      now = await Deno.readFile(file);
    } catch {
      now = undefined;
    }
    if (old === undefined && now !== undefined) await Deno.remove(file).catch(() => {});
    else if (old !== undefined && (now === undefined || !sameBytes(old, now))) {
      await Deno.writeFile(file, old);
    }
  }
}

/** True when two byte arrays are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The files whose content decides a node install: package.json files and the lockfile. */
export function installInputs(dir: string, tc: Toolchain): string[] {
  const files = new Set<string>([path.join(dir, "package.json")]);
  if (tc.installDir !== dir) files.add(path.join(tc.installDir, "package.json"));
  if (tc.lockfile) files.add(tc.lockfile);
  for (const name of ["pnpm-workspace.yaml", ".yarnrc.yml", ".npmrc", "bunfig.toml"]) {
    files.add(path.join(tc.installDir, name));
  }
  return [...files].filter(isFile).sort();
}

/**
 * A command that died because a program is missing (`sh: vitest: not found`,
 * exit 127): the program's name, else undefined.
 */
export function missingCommand(code: number, output: string): string | undefined {
  const patterns = [
    /(?:^|\n)(?:sh|bash|zsh|\/bin\/sh)(?::\s*\d+)?:\s*(?:line \d+:\s*)?([^\s:]+):\s*(?:command )?not found/,
    /(?:^|\n)(?:sh|bash)?:?\s*([^\s:]+): command not found/,
    /'([^']+)' is not recognized as an internal or external command/,
    /error: Script not found "([^"]+)"/,
  ];
  for (const pattern of patterns) {
    const match = output.match(pattern);
    if (match) return match[1];
  }
  if (code === 127) return "a command of the script";
  return undefined;
}

/** An EnvironmentError for a script that could not find a program. */
export function missingToolError(
  tool: string,
  opts: { component: string; script: string; install: string },
): EnvironmentError {
  return new MissingToolError(
    tool,
    `The "${opts.script}" script of "${opts.component}" runs "${tool}", which is not installed: ` +
      `add it to devDependencies (then: ${opts.install}) or install it globally`,
  );
}

/** The command line that adds packages to a component with its manager. */
export function addArgv(tc: Toolchain, packages: string[], dev: boolean): string[] {
  switch (tc.manager) {
    case "npm":
      return [
        "npm",
        "install",
        ...(dev ? ["--save-dev"] : []),
        "--no-fund",
        "--no-audit",
        ...packages,
      ];
    case "pnpm":
      return ["pnpm", "add", ...(dev ? ["--save-dev"] : []), ...packages];
    case "yarn":
      return ["yarn", "add", ...(dev ? ["--dev"] : []), ...packages];
    case "bun":
      return ["bun", "add", ...(dev ? ["--dev"] : []), ...packages];
  }
}

/** Runs the toolchain's manager with `args` in `dir`; throws ProcessError on failure. */
export async function runManager(
  tc: Toolchain,
  dir: string,
  args: string[],
  opts: ManagerOptions,
): Promise<ProcResult> {
  return await runChecked([tc.manager, ...args], {
    cwd: dir,
    env: managerEnv(tc, opts),
    signal: opts.signal,
    onLine: opts.onLine,
    onStart: opts.onStart,
    missingHint: managerHint(tc),
    failureHint: `Read ${tc.manager}'s message above, fix package.json, then run: rig install`,
  });
}
