/**
 * Alembic migrations of a Python component, run through the component's venv
 * Python (`python -m alembic`, cwd = the folder holding alembic.ini): the
 * heads check, a fast "already at head?" status, `upgrade head` with a SQLite
 * backup that is restored when the upgrade fails, and `alembic check`.
 */
import { exists } from "../fs.ts";
import * as path from "../path.ts";
import { EnvironmentError, InterruptedError, RigError } from "../errors.ts";
import { type OutputSink, run, runCombined, tail } from "../proc.ts";
import { isAlive, processTicks } from "../proc_registry.ts";
import { lockFile, withLock } from "../lock.ts";

/** How to run Alembic for one component. */
export interface AlembicOptions {
  /** The venv Python that has alembic (and the app's database driver) installed. */
  python: string;
  /** The complete environment, including DATABASE_URL. */
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Receives Alembic's output lines as they arrive. */
  onLine?: OutputSink;
  /** Hides secrets in output that ends up in error messages. */
  mask?: (text: string) => string;
  /** Receives notices worth a warning (a database restored after an interrupted upgrade). */
  onNotice?: (message: string) => void;
}

/** Where the database is and what is applied. */
export interface MigrationStatus {
  /** Head revisions of the migration scripts. */
  heads: string[];
  /** Revisions stamped in the database (empty for a fresh database). */
  current: string[];
  /** True when the database is at the (single) head, or there are no migrations. */
  upToDate: boolean;
}

/** One "Running upgrade A -> B, message" step from Alembic's log. */
export interface UpgradeStep {
  from: string;
  to: string;
  message: string;
}

/** What `upgrade` did. */
export interface UpgradeResult {
  applied: UpgradeStep[];
  output: string;
  durationMs: number;
}

/** A migration failed; carries the failing step and Alembic's output. */
export class MigrationError extends RigError {
  constructor(
    message: string,
    readonly failed: UpgradeStep | undefined,
    readonly output: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/**
 * The folder holding the component's alembic.ini: its own folder, else the
 * nearest parent up to the project root (a repository-root alembic.ini).
 */
export function findAlembicDir(componentDir: string, root: string): string | undefined {
  let dir = path.resolve(componentDir);
  const top = path.resolve(root);
  while (true) {
    if (hasAlembic(dir)) return dir;
    if (dir === top || !dir.startsWith(top + path.sep)) return undefined;
    dir = path.dirname(dir);
  }
}

/** The migration environment script (`<script_location>/env.py`), relative to `dir`. */
export function envPyPath(dir: string): string {
  try {
    const ini = Deno.readTextFileSync(path.join(dir, "alembic.ini"));
    const location = ini.match(/^\s*script_location\s*=\s*(.+?)\s*$/m)?.[1];
    if (location) {
      const resolved = path.resolve(dir, location.replace("%(here)s", dir));
      return path.join(path.relative(dir, resolved) || ".", "env.py");
    }
  } catch {
    // No readable alembic.ini: name the conventional place.
  }
  return path.join("migrations", "env.py");
}

/** A command that runs Alembic from `dir`: the venv's `alembic` script, else `python -m alembic`. */
export function alembicCommand(dir: string, python: string): string {
  const script = path.join(path.dirname(python), "alembic");
  const shown = (file: string) => {
    const relative = path.relative(dir, file);
    return relative.split(path.sep).filter((p) => p === "..").length > 2 ? file : relative;
  };
  if (exists(script)) return shown(script);
  return `${shown(python)} -m alembic`;
}

/** True when the folder holds an alembic.ini. */
export function hasAlembic(dir: string): boolean {
  try {
    return Deno.statSync(path.join(dir, "alembic.ini")).isFile;
  } catch {
    return false;
  }
}

// Reads the heads from the scripts and the stamped revisions from the database
// in one Python start-up; far cheaper than `alembic heads` + `alembic current`.
const STATUS_SCRIPT = `
import json, os, sys
from alembic.config import Config
from alembic.script import ScriptDirectory
cfg = Config(os.path.join(os.getcwd(), "alembic.ini"))
heads = list(ScriptDirectory.from_config(cfg).get_heads())
current = []
url = os.environ.get("RIG_ALEMBIC_URL", "")
if url:
    from sqlalchemy import create_engine, pool
    from alembic.runtime.migration import MigrationContext
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    try:
        engine = create_engine(url, poolclass=pool.NullPool)
    except ModuleNotFoundError:
        if not url.startswith("postgresql://"):
            raise
        engine = create_engine("postgresql+psycopg://" + url[len("postgresql://"):], poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = list(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
print("RIG-STATUS " + json.dumps({"heads": heads, "current": current}))
`;

/**
 * Heads and current revisions. `databaseUrl` undefined means a database that
 * does not exist yet (nothing applied). Falls back to the Alembic CLI when the
 * quick script cannot answer (e.g. a custom env.py).
 */
export async function migrationStatus(
  dir: string,
  options: AlembicOptions & { databaseUrl?: string; sqliteFile?: string },
): Promise<MigrationStatus> {
  if (options.sqliteFile) {
    const recovered = await recoverInterruptedUpgrade(options.sqliteFile);
    if (recovered) options.onNotice?.(recovered);
    const quick = await quickSqliteStatus(dir, options.sqliteFile);
    if (quick?.upToDate) return quick;
  }
  const quick = await run([options.python, "-c", STATUS_SCRIPT], {
    cwd: dir,
    env: { ...options.env, RIG_ALEMBIC_URL: options.databaseUrl ?? "" },
    signal: options.signal,
  });
  if (quick.cancelled) throw new InterruptedError();
  const line = quick.stdout.split("\n").find((l) => l.startsWith("RIG-STATUS "));
  if (quick.success && line) {
    const parsed = JSON.parse(line.slice("RIG-STATUS ".length)) as {
      heads: string[];
      current: string[];
    };
    return status(parsed.heads, parsed.current);
  }
  const heads = await alembicHeads(dir, options);
  const current = options.databaseUrl === undefined ? [] : await alembicCurrent(dir, options);
  return status(heads, current);
}

/**
 * Heads read from the revision files and the revision stamped in a SQLite
 * database, without starting Python (milliseconds instead of a second).
 * Undefined whenever anything is unusual (custom version locations, a file it
 * cannot read); callers then ask Alembic itself.
 */
export async function quickSqliteStatus(
  dir: string,
  sqliteFile: string,
): Promise<MigrationStatus | undefined> {
  try {
    const ini = await Deno.readTextFile(path.join(dir, "alembic.ini"));
    if (/^\s*version_locations\s*=/m.test(ini)) return undefined;
    const location = ini.match(/^\s*script_location\s*=\s*(.+?)\s*$/m)?.[1];
    if (!location) return undefined;
    const scripts = path.resolve(dir, location.replace("%(here)s", dir));
    const revisions = new Set<string>();
    const downs = new Set<string>();
    for await (const entry of Deno.readDir(path.join(scripts, "versions"))) {
      if (!entry.isFile || !entry.name.endsWith(".py")) continue;
      const text = await Deno.readTextFile(path.join(scripts, "versions", entry.name));
      const revision = text.match(/^revision\s*(?::[^=\n]*)?=\s*["']([^"']+)["']/m)?.[1];
      const down = text.match(/^down_revision\s*(?::[^=\n]*)?=\s*(.+)$/m)?.[1];
      if (!revision || down === undefined) return undefined;
      revisions.add(revision);
      if (!/^None\b/.test(down.trim())) {
        const names = [...down.matchAll(/["']([^"']+)["']/g)].map((m) => m[1]!);
        if (!names.length) return undefined;
        names.forEach((n) => downs.add(n));
      }
    }
    const heads = [...revisions].filter((r) => !downs.has(r)).sort();
    let current: string[] = [];
    if (exists(sqliteFile)) {
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(sqliteFile, { readOnly: true });
      try {
        const table = db.prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
        ).all();
        if (table.length) {
          current = db.prepare("SELECT version_num FROM alembic_version").all()
            .map((row) => String((row as Record<string, unknown>).version_num));
        }
      } finally {
        db.close();
      }
    }
    return status(heads, current);
  } catch {
    return undefined;
  }
}

function status(heads: string[], current: string[]): MigrationStatus {
  const upToDate = heads.length === 0 ||
    (heads.length === 1 && current.length === 1 && current[0] === heads[0]);
  return { heads, current, upToDate };
}

/** `alembic heads`: the head revisions of the migration scripts. */
export async function alembicHeads(dir: string, options: AlembicOptions): Promise<string[]> {
  const out = await alembic(dir, ["heads"], options);
  return parseRevisions(out.stdout);
}

/** `alembic current`: the revisions stamped in the database. */
export async function alembicCurrent(dir: string, options: AlembicOptions): Promise<string[]> {
  const out = await alembic(dir, ["current"], options);
  return parseRevisions(out.stdout);
}

/** Reads revision ids from `alembic heads` / `alembic current` output. */
export function parseRevisions(output: string): string[] {
  const revisions: string[] = [];
  for (const line of output.split("\n")) {
    const match = line.trim().match(/^([0-9A-Za-z_]+)(?:\s+\(|\s*$|\s+->)/);
    if (match && !/^(INFO|WARNI|ERROR|DEBUG)/.test(line.trim())) revisions.push(match[1]!);
  }
  return revisions;
}

/** Throws when the scripts have several heads, listing them and the merge command. */
export function requireSingleHead(
  heads: string[],
  options: { dir: string; root?: string; python?: string },
): void {
  if (heads.length <= 1) return;
  const where = options.root ? path.relative(options.root, options.dir) || "." : options.dir;
  const list = heads.map((h) => `"${h}"`).join(", ");
  throw new MigrationError(
    `Alembic migrations in "${where}" have ${heads.length} heads: ${list}`,
    undefined,
    "",
    `Merge them into one: cd ${where} && ${
      options.python ? alembicCommand(options.dir, options.python) : "alembic"
    } merge -m "merge heads" ${heads.join(" ")}`,
  );
}

/** Reads the "Running upgrade A -> B, message" lines of Alembic's log. */
export function parseUpgradeSteps(output: string): UpgradeStep[] {
  const steps: UpgradeStep[] = [];
  for (const line of output.split("\n")) {
    const match = line.match(/Running upgrade (\S*) -> ([^,\s]+)(?:, (.*))?$/);
    if (match) steps.push({ from: match[1]!, to: match[2]!, message: (match[3] ?? "").trim() });
  }
  return steps;
}

/**
 * `alembic upgrade <target>` (default head). With `sqliteFile`, the database
 * file is copied first and put back when the upgrade fails (a new file is
 * removed), so a failed migration never leaves a half-migrated database. A
 * journal beside the file makes this hold across crashes: an upgrade cut
 * short by kill -9 is undone by the next rig (`recoverInterruptedUpgrade`).
 */
export async function upgrade(
  dir: string,
  options: AlembicOptions & { target?: string; sqliteFile?: string; root?: string },
): Promise<UpgradeResult> {
  if (!options.root || !options.sqliteFile) return await upgradeUnlocked(dir, options);
  // Two rigs migrating one database file would back it up over each other.
  const name = path.basename(options.sqliteFile);
  return await withLock(
    lockFile(options.root, `migrate-${name}`),
    {
      what: `migrating ${name}`,
      signal: options.signal,
      onWait: (message) => options.onNotice?.(message),
    },
    () => upgradeUnlocked(dir, options),
  );
}

async function upgradeUnlocked(
  dir: string,
  options: AlembicOptions & { target?: string; sqliteFile?: string; root?: string },
): Promise<UpgradeResult> {
  if (options.sqliteFile) {
    const recovered = await recoverInterruptedUpgrade(options.sqliteFile);
    if (recovered) options.onNotice?.(recovered);
  }
  const backup = options.sqliteFile ? await backupSqlite(options.sqliteFile) : undefined;
  const started = performance.now();
  const alembic = [options.python, "-m", "alembic", "upgrade", options.target ?? "head"];
  const result = await runCombined(alembic, {
    cwd: dir,
    env: options.env,
    signal: options.signal,
    onLine: options.onLine,
  });
  const output = result.output;
  const steps = parseUpgradeSteps(output);
  if (result.success) {
    await backup?.discard();
    return { applied: steps, output, durationMs: performance.now() - started };
  }
  const restored = backup ? await backup.restore() : undefined;
  if (result.cancelled) throw new InterruptedError();
  const mask = options.mask ?? ((t: string) => t);
  const failed = steps.at(-1);
  const where = options.root ? path.relative(options.root, dir) || "." : dir;
  const what = failed
    ? `Migration "${failed.to}" failed (${failed.from || "base"} -> ${failed.to}${
      failed.message ? `: ${failed.message}` : ""
    })`
    : `Alembic upgrade failed before running a migration (exit code ${result.code})`;
  const lines = [what, "", mask(tail(output, 25))];
  if (restored) lines.push("", restored);
  throw new MigrationError(
    lines.join("\n"),
    failed,
    output,
    failed
      ? `Fix ${migrationFile(dir, failed.to) ?? `revision "${failed.to}"`} and run again; ` +
        `inspect with: cd ${where} && ${alembicCommand(dir, options.python)} history --verbose`
      : `Check alembic.ini and ${path.join(where, envPyPath(dir))}; inspect with: cd ${where} && ` +
        `${alembicCommand(dir, options.python)} history --verbose`,
  );
}

/** `alembic check`: succeeds when the models match the migrations. */
export async function alembicCheck(
  dir: string,
  options: AlembicOptions,
): Promise<{ ok: boolean; output: string }> {
  const result = await run([options.python, "-m", "alembic", "check"], {
    cwd: dir,
    env: options.env,
    signal: options.signal,
    onLine: options.onLine,
  });
  if (result.cancelled) throw new InterruptedError();
  return { ok: result.success, output: (result.stdout + result.stderr).trim() };
}

async function alembic(dir: string, args: string[], options: AlembicOptions) {
  const result = await run([options.python, "-m", "alembic", ...args], {
    cwd: dir,
    env: options.env,
    signal: options.signal,
  });
  if (result.cancelled) throw new InterruptedError();
  if (!result.success) {
    const mask = options.mask ?? ((t: string) => t);
    const output = mask(tail(result.stderr.trim() || result.stdout, 20));
    if (/No module named '?alembic/.test(output)) {
      throw new EnvironmentError(
        `Alembic is not installed in "${options.python}"`,
        "Add alembic to the component's requirements, then run: rig install",
      );
    }
    throw new MigrationError(
      `"alembic ${args.join(" ")}" failed with exit code ${result.code}\n${output}`,
      undefined,
      result.stderr,
      `Check alembic.ini and ${envPyPath(dir)} in "${dir}" (it runs with the app's ` +
        `environment); try: cd ${dir} && ${alembicCommand(dir, options.python)} ${args.join(" ")}`,
    );
  }
  return result;
}

function migrationFile(dir: string, revision: string): string | undefined {
  try {
    const scripts = path.dirname(envPyPath(dir));
    const versions = path.join(dir, scripts, "versions");
    for (const entry of Deno.readDirSync(versions)) {
      if (!entry.name.endsWith(".py")) continue;
      const text = Deno.readTextFileSync(path.join(versions, entry.name));
      if (new RegExp(`^revision\\s*(?::[^=]*)?=\\s*["']${revision}["']`, "m").test(text)) {
        return `"${path.join(scripts, "versions", entry.name)}"`;
      }
    }
  } catch {
    // A non-standard script location: the hint then names the revision only.
  }
  return undefined;
}

const SQLITE_SIDE_FILES = ["-journal", "-wal", "-shm"];

/** The upgrade journal beside a SQLite file: written before the backup, removed last. */
interface UpgradeJournal {
  pid: number;
  /** The rig's start time (see proc_registry.ts), to tell a reused pid apart. */
  ticks?: string;
  /** "upgrading" until Alembic succeeded, then "done" while the backup is removed. */
  phase: "upgrading" | "done";
  /** Whether the database file existed before the upgrade. */
  existed: boolean;
  /** The side files (-wal, -journal) copied with it. */
  sideFiles: string[];
  started: string;
}

function backupPaths(file: string) {
  return { journal: `${file}.rig-upgrade.json`, copy: `${file}.rig-backup` };
}

/**
 * Finishes what an interrupted upgrade of `file` left (rig killed while Alembic
 * ran): the database is put back from the backup taken before it, or removed
 * when the upgrade created it. A backup is never overwritten; it becomes the
 * database again. Returns the sentence to report, undefined when nothing was left.
 */
export async function recoverInterruptedUpgrade(file: string): Promise<string | undefined> {
  const { journal, copy } = backupPaths(file);
  const name = path.basename(file);
  let entry: UpgradeJournal | undefined;
  try {
    entry = JSON.parse(await Deno.readTextFile(journal));
  } catch {
    entry = undefined;
  }
  const hasCopy = exists(copy);
  if (!entry && !hasCopy) return undefined;
  // Another rig upgrading this database right now is not an interruption.
  if (entry && entry.pid !== Deno.pid && isAlive(entry.pid, entry.ticks)) return undefined;
  const by = entry ? ` (rig pid ${entry.pid}, ${entry.started})` : "";
  if (entry?.phase === "done") {
    await removeBackup(file, entry.sideFiles);
    await Deno.remove(journal).catch(() => {});
    return undefined;
  }
  let message: string;
  if (hasCopy) {
    // The broken database's side files would be replayed into the restored one.
    for (const suffix of SQLITE_SIDE_FILES) await Deno.remove(file + suffix).catch(() => {});
    for (const suffix of entry?.sideFiles ?? []) {
      if (exists(copy + suffix)) await Deno.rename(copy + suffix, file + suffix);
    }
    await Deno.rename(copy, file);
    message = `Restored "${name}" from the backup taken before an upgrade that was ` +
      `interrupted${by}`;
  } else if (entry && !entry.existed) {
    for (const suffix of SQLITE_SIDE_FILES) await Deno.remove(file + suffix).catch(() => {});
    const had = exists(file);
    await Deno.remove(file).catch(() => {});
    message = had
      ? `Removed "${name}", partly created by an upgrade that was interrupted${by}`
      : "";
  } else {
    // Interrupted while the backup was being taken: Alembic had not started yet.
    message = "";
  }
  await Deno.remove(`${copy}.tmp`).catch(() => {});
  await Deno.remove(journal).catch(() => {});
  return message || undefined;
}

async function removeBackup(file: string, sideFiles: string[]): Promise<void> {
  const { copy } = backupPaths(file);
  for (const suffix of sideFiles) await Deno.remove(copy + suffix).catch(() => {});
  await Deno.remove(copy).catch(() => {});
  await Deno.remove(`${copy}.tmp`).catch(() => {});
}

async function writeJournal(file: string, entry: UpgradeJournal): Promise<void> {
  const { journal } = backupPaths(file);
  const temp = `${journal}.tmp`;
  await Deno.writeTextFile(temp, JSON.stringify(entry) + "\n");
  await Deno.rename(temp, journal);
}

async function backupSqlite(file: string) {
  const { journal, copy } = backupPaths(file);
  const existed = exists(file);
  const sideFiles = SQLITE_SIDE_FILES.filter((suffix) =>
    suffix !== "-shm" && exists(file + suffix)
  );
  const entry: UpgradeJournal = {
    pid: Deno.pid,
    ticks: processTicks(Deno.pid),
    phase: "upgrading",
    existed,
    sideFiles,
    started: new Date().toISOString(),
  };
  // The journal first: a crash from here on is recognised and undone by the next rig.
  await writeJournal(file, entry);
  if (existed) {
    for (const suffix of sideFiles) await Deno.copyFile(file + suffix, copy + suffix);
    await Deno.copyFile(file, `${copy}.tmp`);
    await Deno.rename(`${copy}.tmp`, copy);
  }
  const name = path.basename(file);
  return {
    async discard() {
      await writeJournal(file, { ...entry, phase: "done" });
      await removeBackup(file, sideFiles);
      await Deno.remove(journal).catch(() => {});
    },
    async restore(): Promise<string> {
      await recoverInterruptedUpgrade(file);
      return existed
        ? `Restored "${name}" from the backup taken before the upgrade`
        : `Removed the partly migrated new database "${name}"`;
    },
  };
}
