/**
 * A remembered answer (lib/task/decision_memo.ts) asked for first, before the
 * rest of a run starts: main.ts asks here, and so does the bundle's entry
 * (bundle_main.ts), which then never loads the rest of rig. What
 * the full path does first must then have nothing to do: no run records left
 * to reap (`.rig/run/`), and no notice about an older committed rig pending.
 */
import * as path from "./path.ts";
import type { GlobalFlags, Replayer } from "./command.ts";
import type { Ui } from "./ui.ts";
import { runDir } from "./cache_paths.ts";
import { mark } from "./trace.ts";
import { type DecisionIdentity, DecisionMemo } from "./task/decision_memo.ts";
import { noticeOptions, noticePending } from "./ship/launcher_notice.ts";

/** One command line, as a remembered answer is looked up by. */
export interface Question {
  /** The project root (lib/project/root.ts). */
  root: string;
  /** rig's whole argument list. */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  flags: GlobalFlags;
  /** The Ui the answer is shown in: its mode is part of the question. */
  ui: Ui;
  /** The module rig runs from. */
  entry: string;
}

/** What identifies `question`'s memo. */
export function decisionIdentity(question: Question): DecisionIdentity {
  const { ui } = question;
  return {
    root: question.root,
    args: question.args,
    cwd: question.cwd,
    env: question.env,
    mode: { tty: ui.tty, color: ui.color, json: ui.json, verbose: ui.verbose, quiet: ui.quiet },
    entry: question.entry,
  };
}

/** The memo that answers `question`, or records the run that answers it. */
export function memoFor(question: Question): Promise<DecisionMemo> {
  return DecisionMemo.of(decisionIdentity(question));
}

/** False when the caller turned remembered answers off (--no-cache, RIG_NO_MEMO). */
export function memoAllowed(question: Pick<Question, "flags" | "env">): boolean {
  return !question.flags.noCache && !question.env.RIG_NO_MEMO;
}

/**
 * Shows the remembered answer to `question` and returns its exit code, or
 * undefined when the run must go the full way.
 */
export async function rememberedAnswer(
  question: Question,
  replayer: () => Promise<Replayer>,
  startedAt: number,
): Promise<number | undefined> {
  if (!memoAllowed(question)) return undefined;
  if (hasEntries(runDir(question.root))) {
    mark("no remembered answer: run records to reap");
    return undefined;
  }
  if (noticePending(question.cwd, noticeOptions(question.env))) {
    mark("no remembered answer: a notice is pending");
    return undefined;
  }
  mark("nothing to reap, no notice pending");
  const memo = await memoFor(question);
  return await memo.replay(question.ui, replayer, startedAt);
}

/** True when `dir` exists and holds anything (listed, never probed by a throwing stat). */
function hasEntries(dir: string): boolean {
  const parent = path.dirname(dir);
  try {
    if (![...Deno.readDirSync(parent)].some((e) => e.name === path.basename(dir))) return false;
    for (const _ of Deno.readDirSync(dir)) return true;
  } catch {
    // Unreadable: the full path decides.
    return true;
  }
  return false;
}
