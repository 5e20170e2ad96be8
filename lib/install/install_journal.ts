/**
 * The install journal: before `rig install PKG` touches anything it records
 * the files it will edit (their content) and the installed distributions in
 * `.rig/install/journal.json`. Success removes the journal; a failure rolls back
 * from it; an interrupted run leaves it behind and the next `rig install` (or
 * `rig doctor`) finishes the rollback.
 */
import * as path from "../path.ts";
import { ensureRigDir, userCacheDir } from "../cache_paths.ts";
import { InterruptedError, RigError } from "../errors.ts";
import { writeFileAtomic, writeJsonAtomic } from "../fs_atomic.ts";
import type { Ui } from "../ui.ts";
import { installedDistributions, venvLayout } from "../python/venv.ts";
import { type Installer, pipInstall, pipUninstall } from "../python/pip.ts";
import { posixRelative } from "../fs.ts";
import type { SpawnScope } from "../proc.ts";

/** What an in-flight `rig install PKG` may have changed. */
export interface Journal {
  version: 1;
  component: string;
  kind: "python" | "node";
  /** The rig process that wrote it. */
  pid: number;
  /** The pip/uv/npm child it started, while it runs. */
  childPid?: number;
  startedAt: string;
  /** What was being done, for messages (`pip install rigdemo-a>=2`). */
  action: string;
  /** Files with their content before the change (null: the file did not exist). */
  files: { path: string; content: string | null }[];
  /** Python: the venv and its distributions before the change. */
  venvDir?: string;
  before?: Record<string, string>;
  installer?: Installer;
  /** Node: the component folder (npm reinstalls from the restored lockfile). */
  dir?: string;
  /**
   * uv/Poetry: the locked sync that brings the environment back to the restored lock
   * (argv, folder, and the variables it needs on top of the caller's environment).
   */
  resync?: { argv: string[]; cwd: string; env: Record<string, string> };
}

/** Options of journal operations: a rollback's tools run in the scope's environment. */
export interface JournalOptions extends SpawnScope {
  ui: Ui;
}

/** Where the journal lives. */
export function journalFile(root: string): string {
  return path.join(root, ".rig", "install", "journal.json");
}

/** Reads the journal, when one is there. */
export function readJournal(root: string): Journal | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(journalFile(root))) as Journal;
  } catch {
    return undefined;
  }
}

/** Starts a journal: backs up `files` (content) before anything changes. */
export async function beginJournal(
  root: string,
  entry: Omit<Journal, "version" | "pid" | "startedAt" | "files"> & { files: string[] },
): Promise<Journal> {
  const journal: Journal = {
    ...entry,
    version: 1,
    pid: Deno.pid,
    startedAt: new Date().toISOString(),
    files: entry.files.map((file) => ({ path: file, content: readOrNull(file) })),
  };
  await ensureRigDir(root);
  await writeJsonAtomic(journalFile(root), journal);
  return journal;
}

/** Records the child process currently changing the environment. */
export async function noteChild(
  root: string,
  journal: Journal,
  pid: number | undefined,
): Promise<void> {
  journal.childPid = pid;
  await writeJsonAtomic(journalFile(root), journal);
}

/** Removes the journal after success or a finished rollback. */
export async function endJournal(root: string): Promise<void> {
  await Deno.remove(journalFile(root)).catch(() => {});
}

/** Whether a process is still running. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid || pid === Deno.pid) return false;
  if (Deno.build.os === "linux") {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return !/^\d+ \(.*\) Z /.test(stat);
    } catch {
      return false;
    }
  }
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/**
 * Restores the journal's files and environment, removes the journal, then says what it
 * restored ("Rolled back: ...").
 */
async function rollback(
  root: string,
  journal: Journal,
  opts: JournalOptions,
): Promise<void> {
  const notes: string[] = [];
  await stopChild(journal.childPid);
  for (const file of journal.files) {
    const now = readOrNull(file.path);
    if (now === file.content) continue;
    if (file.content === null) await Deno.remove(file.path).catch(() => {});
    else await writeFileAtomic(file.path, file.content);
    notes.push(`restored ${posixRelative(root, file.path)}`);
  }
  if (journal.resync) {
    const { runChecked } = await import("../proc.ts");
    try {
      await runChecked(journal.resync.argv, {
        cwd: journal.resync.cwd,
        env: { ...opts.env, ...journal.resync.env },
      });
      notes.push(
        `re-synced the environment (${path.basename(journal.resync.argv[0]!)} ${
          journal.resync.argv[1]
        })`,
      );
    } catch (error) {
      opts.ui.warn(
        `Could not re-sync the environment: ${(error as Error).message.split("\n")[0]}`,
        "Run: rig install --force",
      );
    }
  } else if (journal.kind === "python" && journal.venvDir && journal.before) {
    const venv = venvLayout(journal.venvDir);
    const now = installedDistributions(venv);
    const added = Object.keys(now).filter((n) => !(n in journal.before!)).sort();
    const changed = Object.keys(now).filter((n) =>
      n in journal.before! && journal.before![n] !== now[n]
    ).sort();
    const removed = Object.keys(journal.before).filter((n) => !(n in now)).sort();
    const pipOpts = {
      env: opts.env,
      installer: journal.installer ?? "pip",
      cacheDir: userCacheDir(opts.env, Deno.build.os),
    } as const;
    if (added.length) {
      await pipUninstall(venv, added, pipOpts);
      notes.push(`uninstalled ${added.join(", ")}`);
    }
    const reinstall = [...changed, ...removed].map((n) => `${n}==${journal.before![n]}`);
    if (reinstall.length) {
      try {
        await pipInstall(venv, ["--no-deps", ...reinstall], pipOpts);
        notes.push(`reinstalled ${reinstall.join(", ")}`);
      } catch (error) {
        opts.ui.warn(
          `Could not reinstall ${reinstall.join(", ")}: ${(error as Error).message.split("\n")[0]}`,
          "Run: rig install --force",
        );
      }
    }
  } else if (journal.kind === "node" && journal.dir) {
    const { detectToolchain, installFrozen } = await import("../node/managers.ts");
    try {
      await installFrozen(detectToolchain(journal.dir, root), {
        env: opts.env,
        cacheDir: userCacheDir(opts.env, Deno.build.os),
        root,
        component: journal.component,
      });
      notes.push("reinstalled node_modules from the restored lockfile");
    } catch (error) {
      opts.ui.warn(
        `Could not restore node_modules: ${(error as Error).message.split("\n")[0]}`,
        "Run: rig install --force",
      );
    }
  }
  // The install state stays: the next run's fingerprint and installed-version check tell
  // whether the rollback brought everything back to what was recorded.
  await endJournal(root);
  opts.ui.info(`Rolled back: ${notes.length ? notes.join("; ") : "nothing had changed"}`);
}

/** Finishes the rollback an interrupted `rig install PKG` left behind (no-op without a journal). */
export async function finishInterrupted(root: string, opts: JournalOptions): Promise<boolean> {
  const journal = readJournal(root);
  if (!journal) return false;
  if (isAlive(journal.pid)) {
    throw new RigError(
      `Another rig (pid ${journal.pid}) is installing into component "${journal.component}"`,
      `Wait for it to finish, or stop it; if it is gone, remove ${
        path.relative(root, journalFile(root))
      }`,
    );
  }
  opts.ui.warn(
    `An earlier "rig install" (${journal.action}) of component "${journal.component}" was interrupted; rolling it back`,
  );
  await rollback(root, journal, opts);
  return true;
}

async function stopChild(pid: number | undefined): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    Deno.kill(Deno.build.os === "windows" ? pid! : -pid!, "SIGTERM");
  } catch {
    try {
      Deno.kill(pid!, "SIGTERM");
    } catch {
      return;
    }
  }
  for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) {
    try {
      Deno.kill(pid!, "SIGKILL");
    } catch {
      // Gone.
    }
  }
}

function readOrNull(file: string): string | null {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return null;
  }
}

/** Rolls back from the journal after a failed or interrupted add, saying what it restored. */
export async function rollBackAfter(
  project: { root: string },
  error: unknown,
  opts: JournalOptions,
): Promise<void> {
  const journal = readJournal(project.root);
  if (!journal) return;
  const what = error instanceof InterruptedError ? "Interrupted" : "Install failed";
  opts.ui.warn(`${what}; rolling back ${journal.component}`);
  try {
    await rollback(project.root, journal, { env: opts.env, ui: opts.ui });
  } catch (rollbackError) {
    opts.ui.warn(
      `Rollback did not finish: ${(rollbackError as Error).message.split("\n")[0]}`,
      "Run rig install again to finish it (the journal is kept in .rig/install/journal.json)",
    );
  }
}
