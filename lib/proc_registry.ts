/**
 * Children never outlive rig. While a command runs, every process group rig
 * starts (lib/proc.ts) and every temp folder it makes is recorded in
 * `<project>/.rig/run/<rig pid>-<n>.json`. When rig dies without cleaning up
 * (kill -9, a crash, a lost machine), the next rig that starts in the project
 * reaps what that file names: it stops the groups that are still running and
 * removes the temp folders. Temp folders are named `rig-<pid>-<purpose>-…`, so
 * a dead rig's folders are found even when its record was never written.
 *
 * A process is identified by its pid *and* its start time (Linux
 * `/proc/<pid>/stat`), so a reused pid is never mistaken for ours.
 */
import * as path from "./path.ts";
import { rigDir, runDir } from "./cache_paths.ts";

/** One process group rig started. */
export interface GroupRecord {
  pid: number;
  pgid: number;
  argv: string[];
  /** ISO time the group was started. */
  started: string;
  /** The leader's start time in clock ticks since boot (Linux), to tell reused pids apart. */
  ticks?: string;
}

/** What one rig process left in `.rig/run/`. */
export interface RigRecord {
  rig: { pid: number; ticks?: string; argv: string[]; started: string };
  groups: GroupRecord[];
  temp: string[];
}

/** What a reap found and did. */
export interface ReapReport {
  /** Pids of the rigs that were gone. */
  rigs: number[];
  /** How many processes were stopped. */
  stopped: number;
  /** Temp folders removed. */
  removed: string[];
}

const IS_LINUX = Deno.build.os === "linux";
/**
 * The registry of the command running now. One rig runs one command per
 * process, so a variable is enough (node's AsyncLocalStorage would wake
 * Deno's Node layer, about 13 ms of every start-up); a run restores the one
 * before it when it ends.
 */
let current: ProcRegistry | undefined;
let counter = 0;

/** The start time of a process in clock ticks since boot; undefined when gone or not on Linux. */
export function processTicks(pid: number): string | undefined {
  const fields = procStat(pid);
  return fields?.[19];
}

/** Fields of /proc/<pid>/stat after the command name (index 0 is the state). */
function procStat(pid: number): string[] | undefined {
  if (!IS_LINUX) return undefined;
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** True while `pid` runs and (when `ticks` is known) is the same process that was recorded. */
export function isAlive(pid: number, ticks?: string): boolean {
  if (IS_LINUX) {
    const fields = procStat(pid);
    if (!fields || fields[0] === "Z") return false;
    return ticks === undefined || fields[19] === ticks;
  }
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** The records of one running rig: where its groups and temp folders are written down. */
export class ProcRegistry {
  readonly file: string;
  readonly #record: RigRecord;
  #broken = false;

  constructor(readonly root: string, readonly tmp: string, argv: string[]) {
    this.file = path.join(runDir(root), `${Deno.pid}-${++counter}.json`);
    this.#record = {
      rig: { pid: Deno.pid, ticks: processTicks(Deno.pid), argv, started: now() },
      groups: [],
      temp: [],
    };
  }

  /** Runs `fn` with this registry as the one the spawn site records into. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = current;
    current = this;
    try {
      return await fn();
    } finally {
      current = previous;
    }
  }

  /** Writes down a process group that just started. */
  started(pid: number, argv: string[]): void {
    this.#record.groups.push({ pid, pgid: pid, argv, started: now(), ticks: processTicks(pid) });
    this.#save();
  }

  /** Forgets a group that has exited (and whose members were stopped). */
  exited(pid: number): void {
    const before = this.#record.groups.length;
    this.#record.groups = this.#record.groups.filter((g) => g.pid !== pid);
    if (this.#record.groups.length !== before) this.#save();
  }

  /** Creates a temp folder named after this rig (`rig-<pid>-<purpose>-…`) and records it. */
  async tempDir(purpose: string): Promise<string> {
    await Deno.mkdir(this.tmp, { recursive: true }).catch(() => {});
    const dir = await Deno.makeTempDir({ dir: this.tmp, prefix: `rig-${Deno.pid}-${purpose}-` });
    this.#record.temp.push(dir);
    this.#save();
    return dir;
  }

  /** Removes a temp folder made by `tempDir` and forgets it. */
  async removeTempDir(dir: string): Promise<void> {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    this.#record.temp = this.#record.temp.filter((d) => d !== dir);
    this.#save();
  }

  /** Removes this rig's record (at a normal exit, after its children are stopped). */
  close(): void {
    try {
      Deno.removeSync(this.file);
    } catch {
      // Never written, or already gone.
    }
  }

  #save(): void {
    if (this.#broken) return;
    const empty = !this.#record.groups.length && !this.#record.temp.length;
    try {
      if (empty) {
        Deno.removeSync(this.file);
        return;
      }
      ensureRigDirSync(this.root);
      Deno.mkdirSync(path.dirname(this.file), { recursive: true });
      const temp = `${this.file}.tmp`;
      Deno.writeTextFileSync(temp, JSON.stringify(this.#record));
      Deno.renameSync(temp, this.file);
    } catch (error) {
      if (empty && error instanceof Deno.errors.NotFound) return;
      // A read-only project: the children still watch rig themselves (see proc.ts).
      this.#broken = true;
    }
  }
}

/** The registry of the command running now, if any. */
export function currentRegistry(): ProcRegistry | undefined {
  return current;
}

/**
 * Creates a temp folder `rig-<pid>-<purpose>-…` (recorded when a registry is
 * active, so the reaper removes it if rig dies); `tmp` defaults to the system's.
 */
export async function makeRunTempDir(purpose: string, tmp?: string): Promise<string> {
  const registry = currentRegistry();
  if (registry) return await registry.tempDir(purpose);
  return await Deno.makeTempDir({ dir: tmp, prefix: `rig-${Deno.pid}-${purpose}-` });
}

/** Removes a folder made by `makeRunTempDir`. */
export async function removeRunTempDir(dir: string): Promise<void> {
  const registry = currentRegistry();
  if (registry) await registry.removeTempDir(dir);
  else await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/**
 * Stops the process groups and removes the temp folders of rigs that are gone
 * (their records in `<root>/.rig/run/`, and `rig-<pid>-*` folders in `tmp`
 * whose pid no longer runs). Never throws.
 */
export async function reapOrphans(
  root: string,
  opts: { tmp: string; graceMs?: number },
): Promise<ReapReport> {
  const report: ReapReport = { rigs: [], stopped: 0, removed: [] };
  const dir = runDir(root);
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
  } catch {
    // No records: nothing ran here, or nothing was left.
  }
  const records: { file: string; record: RigRecord }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    if (name.endsWith(".tmp")) {
      // A save cut short; its rig's next save or the reaper of its record replaces it.
      if (olderThan(file, 60_000)) Deno.removeSync(file);
      continue;
    }
    let record: RigRecord;
    try {
      record = JSON.parse(Deno.readTextFileSync(file));
    } catch {
      continue;
    }
    if (isAlive(record.rig.pid, record.rig.ticks)) continue;
    records.push({ file, record });
  }
  const victims: number[] = [];
  for (const { record } of records) {
    report.rigs.push(record.rig.pid);
    for (const group of record.groups) victims.push(...groupMembers(group));
  }
  report.stopped = await stopAll(victims, opts.graceMs ?? 2000);
  for (const { file, record } of records) {
    for (const temp of record.temp) {
      if (await removeIfPresent(temp)) report.removed.push(temp);
    }
    try {
      Deno.removeSync(file);
    } catch {
      // Another rig reaped it at the same moment.
    }
  }
  // Folders of rigs whose record was never written (or written elsewhere).
  try {
    for (const entry of Deno.readDirSync(opts.tmp)) {
      const match = entry.isDirectory && entry.name.match(/^rig-(\d+)-[a-z]+-/);
      if (!match) continue;
      const pid = Number(match[1]);
      if (pid === Deno.pid || isAlive(pid)) continue;
      const folder = path.join(opts.tmp, entry.name);
      if (await removeIfPresent(folder)) {
        report.removed.push(folder);
        if (!report.rigs.includes(pid)) report.rigs.push(pid);
      }
    }
  } catch {
    // No temp dir to look in.
  }
  return report;
}

/** One line that says what a reap did; undefined when there was nothing to do. */
export function describeReap(report: ReapReport): string | undefined {
  if (!report.stopped && !report.removed.length) return undefined;
  const parts: string[] = [];
  if (report.stopped) {
    parts.push(`stopped ${report.stopped} process${report.stopped === 1 ? "" : "es"}`);
  }
  if (report.removed.length) {
    const n = report.removed.length;
    parts.push(`removed ${n} temp folder${n === 1 ? "" : "s"}`);
  }
  const rigs = report.rigs.map((p) => `pid ${p}`).join(", ");
  const text = parts.join(" and ");
  return `${text[0]!.toUpperCase()}${text.slice(1)} left by rig ${rigs}, which ended ` +
    `without cleaning up`;
}

/**
 * The live members of a recorded group. A process whose pid equals the pgid
 * but started at another time leads a different group (the pid was reused).
 */
function groupMembers(group: GroupRecord): number[] {
  if (!IS_LINUX) return isAlive(group.pid) ? [-group.pgid] : [];
  const leader = procStat(group.pgid);
  if (leader && group.ticks !== undefined && leader[19] !== group.ticks) return [];
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    const fields = procStat(pid);
    if (!fields || fields[0] === "Z" || Number(fields[2]) !== group.pgid) continue;
    if (pid !== Deno.pid) members.push(pid);
  }
  return members;
}

/** SIGTERM, then SIGKILL after the grace period to what still runs; returns how many there were. */
async function stopAll(pids: number[], graceMs: number): Promise<number> {
  if (!pids.length) return 0;
  const signal = (sig: Deno.Signal) => {
    for (const pid of pids) {
      try {
        Deno.kill(pid, sig);
      } catch {
        // Already gone.
      }
    }
  };
  const alive = () => pids.filter((p) => p < 0 ? isAlive(-p) : isAlive(p));
  signal("SIGTERM");
  const deadline = performance.now() + graceMs;
  while (alive().length && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (alive().length) signal("SIGKILL");
  return pids.length;
}

async function removeIfPresent(dir: string): Promise<boolean> {
  try {
    await Deno.remove(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

function olderThan(file: string, ms: number): boolean {
  try {
    const mtime = Deno.statSync(file).mtime;
    return !mtime || Date.now() - mtime.getTime() > ms;
  } catch {
    return false;
  }
}

/** Like `ensureRigDir`: `.rig/` always carries its `.gitignore` of `*`. */
function ensureRigDirSync(root: string): void {
  const file = path.join(rigDir(root), ".gitignore");
  try {
    Deno.statSync(file);
  } catch {
    Deno.mkdirSync(rigDir(root), { recursive: true });
    Deno.writeTextFileSync(file, "# Written by rig: its caches and records are local.\n*\n");
  }
}

function now(): string {
  return new Date().toISOString();
}
