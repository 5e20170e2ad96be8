/**
 * The commands whose answer can be remembered (lib/task/decision_memo.ts),
 * each with the function that shows a remembered answer again. Its own module:
 * the bundle's entry (bundle_main.ts) replays with it and without
 * the registry of commands.
 */
import type { Replayer } from "../lib/command.ts";

/** Command name → its replayer's loader. */
export const REPLAYERS: Record<string, () => Promise<Replayer>> = {
  test: async () => (await import("../lib/testing/report.ts")).replayTestReport,
};
