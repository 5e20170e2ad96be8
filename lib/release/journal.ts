/**
 * The release journal, `.rig/release/journal.json`: what a running release
 * has done and how to undo each step. Every step is recorded *before* it
 * starts (with the information its undo needs) and again when it is done, so
 * after a crash or `kill -9` the next `rig release` or `rig doctor` knows
 * exactly what may have happened and can finish the rollback.
 */
import * as path from "../path.ts";
import { ensureRigDir, rigDir } from "../cache_paths.ts";
import { writeJsonAtomic } from "../fs_atomic.ts";

/** How to undo one step (data only, so it survives the process). */
export type UndoAction =
  | { kind: "restore-files"; files: { path: string; backup?: string }[] }
  | { kind: "reset-commit"; commit: string; base: string }
  | { kind: "delete-local-tags"; tags: string[] }
  | { kind: "push"; remote: string; branch: string; commit: string; tags: string[] }
  | {
    kind: "github-release";
    apiUrl: string;
    repo: string;
    tokenEnv: string;
    tag: string;
    id?: number;
  }
  | { kind: "npm-unpublish"; name: string; version: string; registry: string; userconfig?: string }
  | { kind: "irreversible"; what: string; next: string }
  | {
    kind: "pypi-upload";
    indexUrl: string;
    name: string;
    version: string;
    files: string[];
    repositoryUrl: string;
  }
  | { kind: "none" };

/** Where a step stands. */
export type StepState = "started" | "done" | "undone" | "failed-undo" | "kept";

/** One journaled step. */
export interface JournalStep {
  id: string;
  title: string;
  state: StepState;
  undo: UndoAction;
  /** What happened (an id, a URL, an error). */
  detail?: string;
}

/** The whole journal. */
export interface Journal {
  formatVersion: 1;
  pid: number;
  startedAt: string;
  version: string;
  tags: string[];
  branch: string;
  remote: string;
  /** HEAD before the release. */
  base: string;
  status: "running" | "failed" | "rolled-back" | "released";
  steps: JournalStep[];
  /** Why the release failed, when it did. */
  error?: string;
  /** What `rig release --resume` needs to continue: the components and flags, the notes. */
  components?: string[];
  push?: boolean;
  publish?: boolean;
  section?: string;
}

/** `.rig/release/`. */
export function releaseDir(root: string): string {
  return path.join(rigDir(root), "release");
}

/** The journal file of a project. */
export function journalFile(root: string): string {
  return path.join(releaseDir(root), "journal.json");
}

/** Reads the journal, or undefined when there is none (or it is unreadable). */
export async function readJournal(root: string): Promise<Journal | undefined> {
  try {
    const data = JSON.parse(await Deno.readTextFile(journalFile(root)));
    return data?.formatVersion === 1 && Array.isArray(data.steps) ? data as Journal : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the journal atomically. */
export async function writeJournal(root: string, journal: Journal): Promise<void> {
  await ensureRigDir(root);
  await Deno.mkdir(releaseDir(root), { recursive: true });
  await writeJsonAtomic(journalFile(root), journal);
}

/** Moves a finished journal aside (`last.json`), so the next release starts clean. */
export async function archiveJournal(root: string, journal: Journal): Promise<void> {
  await writeJsonAtomic(path.join(releaseDir(root), "last.json"), journal);
  await Deno.remove(journalFile(root)).catch(() => {});
}

/** True when the journal belongs to a release that is not running any more (crashed or killed). */
export function isInterrupted(journal: Journal, alive: (pid: number) => boolean): boolean {
  return (journal.status === "running" && !alive(journal.pid)) || journal.status === "failed";
}

/** Whether a process is running (signal 0). */
export function processRunning(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}
