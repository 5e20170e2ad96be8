/**
 * The decision memo: a command's whole answer, remembered with the stat data
 * of everything that decided it, as git's index trusts stat data. A cached
 * `rig test` reads the project model, the configuration, the input listing,
 * the stat cache, tool versions and the cache records: a few hundred paths.
 * When none of them changed since the last run of the same command line (same
 * arguments, folder, environment and output mode, same rig), the answer is
 * the same, and the memo replays it: it stats those paths (a few µs each),
 * repeats the run's effects (cache records marked used, hit events appended)
 * and shows the remembered report with this run's time.
 *
 * An answer is remembered only when stat data can vouch for it:
 *
 * - the run was observed (observe.ts) and started no process or worker, used
 *   no network and wrote nothing but declared effects;
 * - nothing it read changed within `RACY_WINDOW_MS` before it began, by mtime
 *   or ctime (git's "racy" rule: a second change in the same tick would keep
 *   the times); the identity holds the ctime and inode too, so a file edited
 *   with its mtime set back (`cp -p`, `tar`) or replaced counts as changed;
 * - replaying it into a twin of the run's Ui printed exactly what the run
 *   printed.
 *
 * Memos live in `.rig/cache/decisions/`, the newest `KEEP` of them, signed like
 * cache records (signing.ts), and their effects may only touch this project's
 * records and event log; `rig cache clean` removes them with the rest, and
 * `RIG_NO_MEMO=1` turns them off.
 */
import * as path from "../path.ts";
import { readDirSyncIfPresent } from "../fs.ts";
import { changedSince, firstChanged, statId, type Watched, type WatchedMemo } from "./watched.ts";
import { sha256Hex } from "../hash.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { ensureRigDir, projectCacheDir } from "../cache_paths.ts";
import { formatDuration, HeldOutput, type Stream, type Ui } from "../ui.ts";
import type { Replayer } from "../command.ts";
import { mark } from "../trace.ts";
import { type CacheEvent, CacheEventLog } from "./cache_events.ts";
import { existingSigner, signerFromEnv } from "./signing.ts";
import { type Effect, type Observation, observe, touch } from "./observe.ts";

const VERSION = 1;
const encoder = new TextEncoder();
/** Paths changed this close before a run began are not trusted (git's racy entries). */
const RACY_WINDOW_MS = 2000;
/** Memos kept per project (one per command line and environment). */
const KEEP = 32;
/**
 * Run times a replay is rendered at to find where it shows its time: unlike
 * real ones (no run takes days), and of other widths ("16460m54s", "2m08s"),
 * so output aligned to the time's width is seen to vary in more than the time.
 */
const PROBE_TIMES = [987654321, 7654321] as const;

/**
 * A remembered answer as text: each chunk of one stream, and where its run's
 * time goes (between the two parts) when it shows one.
 */
export type TextChunk = [stream: Stream, text: string] | [
  stream: Stream,
  before: string,
  after: string,
];

/** A command's answer and, in `watched`, what it read, as it was when remembered. */
interface Memo extends WatchedMemo {
  key: string;
  exitCode: number;
  /** Paths the effects write (cache records), with `touchedId` identities. */
  touched: Watched;
  effects: Effect[];
  /** What the command's replayer shows. */
  data: unknown;
  /** What the replayer shows as text, when only the run's time varies in it (no replayer needed). */
  text?: TextChunk[];
}

/** What makes two runs the same question. */
export interface DecisionIdentity {
  root: string;
  /** rig's whole argument list. */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** How output is shown: the same answer prints differently in another mode. */
  mode: Record<string, boolean>;
  /** The module rig runs from (its code is watched like an input). */
  entry: string;
}

/** One command line's memo: replay it, or record a run into it. */
export class DecisionMemo {
  private constructor(
    readonly root: string,
    readonly file: string,
    readonly key: string,
    readonly entry: string,
    readonly env: Record<string, string>,
  ) {}

  /** The memo of `identity` (which may not exist yet). */
  static async of(identity: DecisionIdentity): Promise<DecisionMemo> {
    const env = Object.keys(identity.env).sort().map((k) => [k, identity.env[k]]);
    const key = await sha256Hex(JSON.stringify([
      VERSION,
      identity.root,
      identity.args,
      identity.cwd,
      env,
      identity.mode,
      identity.entry,
    ]));
    const file = path.join(projectCacheDir(identity.root), "decisions", `${key}.json`);
    return new DecisionMemo(identity.root, file, key, identity.entry, identity.env);
  }

  /**
   * Shows the remembered answer when nothing it depends on changed, and
   * returns its exit code; undefined when there is none to trust.
   */
  async replay(ui: Ui, replayer: () => Promise<Replayer>, startedAt: number): Promise<
    number | undefined
  > {
    const memo = await this.#read();
    if (!memo) return undefined;
    mark("decision memo read and verified");
    const changed = firstChanged(memo.watched) ?? firstChanged(memo.touched, touchedId);
    if (changed !== undefined) {
      mark(`decision memo: ${changed} changed`);
      return undefined;
    }
    mark(`${memo.watched.length + memo.touched.length} watched paths unchanged`);
    if (memo.text) {
      perform(memo.effects);
      const time = formatDuration(performance.now() - startedAt);
      for (const [stream, before, after] of memo.text) {
        ui[stream].write(after === undefined ? before : before + time + after);
      }
    } else {
      const show = await replayer();
      perform(memo.effects);
      show(ui, memo.data, performance.now() - startedAt);
    }
    mark("decision memo replayed");
    return memo.exitCode;
  }

  /**
   * Runs `work` observed. When it offers its answer (`remember`) and stat
   * data can vouch for it, the answer is remembered for the next run.
   */
  async record(
    ui: Ui,
    replayer: () => Promise<Replayer>,
    work: (remember: (data: unknown) => void) => Promise<number>,
  ): Promise<number> {
    // The memo's folder first: creating it later would change folders the work looked at.
    const writable = await ensureRigDir(this.root)
      .then(() => Deno.mkdir(path.dirname(this.file), { recursive: true }))
      .then(() => true, () => false);
    if (!writable) return await work(() => {});
    let offered: { data: unknown } | undefined;
    const shown = { stdout: "", stderr: "" };
    const untap = ui.tap((stream, text) => shown[stream] += text);
    let observed: { value: number; observation: Observation };
    try {
      observed = await observe(() => work((data) => offered = { data }));
    } finally {
      untap();
    }
    const { value: exitCode, observation } = observed;
    if (offered) {
      const why = await this.#remember(observation, exitCode, offered.data, {
        ui,
        shown,
        replayer,
      });
      mark(why ? `decision not remembered: ${why}` : "decision remembered");
    }
    return exitCode;
  }

  /** Writes the memo; returns why not when the answer cannot be trusted. */
  async #remember(
    observation: Observation,
    exitCode: number,
    data: unknown,
    run: { ui: Ui; shown: Record<Stream, string>; replayer: () => Promise<Replayer> },
  ): Promise<string | undefined> {
    if (observation.spoiled) return observation.spoiled;
    const effectPaths = observation.effectPaths();
    for (const effect of observation.effects) {
      if (effect.kind === "event" && observation.paths.has(effect.file)) {
        return `read ${effect.file}, which it also appends to`;
      }
    }
    const replayer = await run.replayer();
    const shown = (elapsedMs?: number) => replayed(run.ui, replayer, data, elapsedMs);
    const same = shown();
    const text = (stream: Stream) => same.filter((c) => c[0] === stream).map((c) => c[1]).join("");
    if (text("stdout") !== run.shown.stdout || text("stderr") !== run.shown.stderr) {
      return "its replay would not print the same";
    }
    const watched = new Map<string, string>();
    // rig's own code is watched like an input (a replay finds it in `watched`).
    for (const file of new Set([...observation.paths, ...rigCodeFiles(this.entry)])) {
      if (effectPaths.has(file)) continue;
      // A missing path stays missing while its nearest folder is unchanged (creating a file
      // changes its folder's mtime), and a folder costs one stat where a missing path's
      // stat costs a thrown error.
      let watch = file;
      let id = statId(watch);
      while (id === "-" && path.dirname(watch) !== watch) {
        watch = path.dirname(watch);
        id = statId(watch);
      }
      if (watched.has(watch)) continue;
      if (changedSince(id, observation.startedAt - RACY_WINDOW_MS, { ctime: true })) {
        return `${watch} changed just before the run`;
      }
      watched.set(watch, id);
    }
    const touched: Watched = observation.effects
      .filter((e) => e.kind === "touch")
      .map((e) => [e.path, touchedId(e.path)]);
    const memo: Memo = {
      version: VERSION,
      key: this.key,
      exitCode,
      watched: [...watched],
      touched,
      effects: observation.effects,
      data,
    };
    const template = textTemplate(PROBE_TIMES.map((ms) => ({ ms, chunks: shown(ms) })));
    if (template) memo.text = template;
    try {
      // The store's key signs it: someone who can write .rig/ cannot forge a passing answer.
      const text = JSON.stringify(memo);
      const signer = signerFromEnv(this.env, { os: Deno.build.os });
      const signature = await signer.sign(encoder.encode(text));
      await writeFileAtomic(this.file, JSON.stringify({ signature, memo: text }));
    } catch (error) {
      return `cannot write ${this.file}: ${(error as Error).message}`;
    }
    pruneMemos(path.dirname(this.file));
    return undefined;
  }

  /**
   * The memo when it exists, is well formed and carries the HMAC of its JSON
   * under this user's cache signing key (read synchronously: the replay path).
   */
  async #read(): Promise<Memo | undefined> {
    let memo: Memo;
    try {
      const stored = JSON.parse(Deno.readTextFileSync(this.file));
      const signer = existingSigner(this.env, { os: Deno.build.os });
      if (typeof stored?.memo !== "string" || typeof stored.signature !== "string") return;
      if (!signer || !(await signer.verify(encoder.encode(stored.memo), stored.signature))) {
        mark(`decision memo: ${this.file} is not signed with this user's key`);
        return undefined;
      }
      memo = JSON.parse(stored.memo);
    } catch {
      // None yet, or unreadable: the command answers in full.
      return undefined;
    }
    const cache = projectCacheDir(this.root);
    const [records, events] = [path.join(cache, "tasks"), path.join(cache, "events.jsonl")];
    const valid = memo?.version === VERSION && memo.key === this.key &&
      Number.isInteger(memo.exitCode) && Array.isArray(memo.watched) &&
      Array.isArray(memo.touched) && Array.isArray(memo.effects) &&
      (memo.text === undefined || Array.isArray(memo.text) && memo.text.every(isTextChunk)) &&
      [...memo.watched, ...memo.touched].every((pair) =>
        Array.isArray(pair) && typeof pair[0] === "string" && typeof pair[1] === "string"
      ) &&
      // Effects write only where a hit writes: records and the event log of this project's store.
      memo.effects.every((e) =>
        e?.kind === "touch"
          ? typeof e.path === "string" && path.dirname(e.path) === records
          : e?.kind === "event" && e.file === events &&
            typeof e.event === "object"
      );
    return valid ? memo : undefined;
  }
}

/** The chunks a replay writes, shown in a twin of `ui` (as the next run reads it: through JSON). */
function replayed(
  ui: Ui,
  replayer: Replayer,
  data: unknown,
  elapsedMs?: number,
): [Stream, string][] {
  const held = new HeldOutput();
  const twin = ui.sibling(held.writer("stdout"), held.writer("stderr"));
  replayer(twin, JSON.parse(JSON.stringify(data)), elapsedMs);
  twin.close();
  return held.chunks;
}

/**
 * The text of a replay with a slot for the run's time, from the replay shown
 * at two times: when the two differ only in that time, printed at most once
 * per chunk; undefined otherwise (the replayer shows it).
 */
export function textTemplate(
  probes: { ms: number; chunks: [Stream, string][] }[],
): TextChunk[] | undefined {
  const [a, b] = probes;
  if (!a || !b || a.chunks.length !== b.chunks.length) return undefined;
  const [timeA, timeB] = [formatDuration(a.ms), formatDuration(b.ms)];
  const template: TextChunk[] = [];
  for (let i = 0; i < a.chunks.length; i++) {
    const [stream, textA] = a.chunks[i]!;
    const [streamB, textB] = b.chunks[i]!;
    if (stream !== streamB) return undefined;
    const partsA = textA.split(timeA);
    const partsB = textB.split(timeB);
    if (partsA.length === 1 && textA === textB) template.push([stream, textA]);
    else if (
      partsA.length === 2 && partsB.length === 2 && partsA[0] === partsB[0] &&
      partsA[1] === partsB[1]
    ) {
      template.push([stream, partsA[0]!, partsA[1]!]);
    } else return undefined;
  }
  return template;
}

function isTextChunk(chunk: unknown): boolean {
  return Array.isArray(chunk) && (chunk[0] === "stdout" || chunk[0] === "stderr") &&
    (chunk.length === 2 || chunk.length === 3) &&
    chunk.slice(1).every((p) => typeof p === "string");
}

/**
 * The identity of a path a replay touches (a cache record, marked used): its
 * size and inode, as its times change with every use. Records are written
 * whole into new files (temp file and rename), so a record rewritten, pruned
 * or deleted is a change; the replay never reads one, so it stays right.
 */
function touchedId(file: string): string {
  const id = statId(file);
  if (id === "-") return id;
  const [size, , , ino] = id.slice(1).split("|");
  return `${id[0]}${size}|${ino}`;
}

/** Repeats a remembered run's writes, at the time of this run: one append per event log. */
function perform(effects: Effect[]): void {
  const now = Date.now();
  const events = new Map<string, CacheEvent[]>();
  for (const effect of effects) {
    if (effect.kind === "touch") touch(effect.path, new Date(now));
    else {
      const list = events.get(effect.file) ?? [];
      list.push({ ...effect.event as CacheEvent, at: now });
      events.set(effect.file, list);
    }
  }
  for (const [file, list] of events) {
    new CacheEventLog(file, { now: () => now, debug: () => {} }).append(...list);
  }
}

/**
 * rig's own code, watched like an input: the Deno (or compiled rig) binary,
 * and the bundle rig runs from, or every source module when it runs from main.ts.
 */
export function rigCodeFiles(entry: string): string[] {
  const files = [Deno.execPath()];
  const file = path.fromFileUrl(entry);
  if (!file) return files;
  files.push(file);
  if (!file.endsWith(".ts")) return files;
  const dir = path.dirname(file);
  files.push(path.join(dir, "deno.json"));
  const folders = ["lib", "commands", "templates"].map((name) => path.join(dir, name));
  while (folders.length) {
    const folder = folders.pop()!;
    for (const entry of readDirSyncIfPresent(folder) ?? []) {
      const child = path.join(folder, entry.name);
      if (entry.isDirectory) folders.push(child);
      else files.push(child);
    }
  }
  return files;
}

/** Keeps the newest `KEEP` memos of a project. */
function pruneMemos(dir: string): void {
  const memos = (readDirSyncIfPresent(dir) ?? [])
    .filter((e) => e.isFile && e.name.endsWith(".json"))
    .map((e) => {
      const file = path.join(dir, e.name);
      try {
        return { file, at: Deno.statSync(file).mtime?.getTime() ?? 0 };
      } catch {
        return { file, at: 0 };
      }
    });
  if (memos.length <= KEEP) return;
  memos.sort((a, b) => b.at - a.at);
  for (const { file } of memos.slice(KEEP)) {
    try {
      Deno.removeSync(file);
    } catch {
      // Another rig pruned it.
    }
  }
}
