/**
 * What `rig doctor` says about releases: an interrupted release (its journal
 * in .rig/release/), which the doctor offers to roll back on the spot.
 */
import type { Finding } from "../install/doctor.ts";
import type { Project } from "../project/project.ts";
import type { Ui } from "../ui.ts";
import { isInterrupted, processRunning, readJournal } from "./journal.ts";
import { rollbackAndReport } from "./release.ts";

/** Findings about an interrupted release; rolls it back when `confirm` says yes. */
export async function diagnoseRelease(
  project: Project,
  options: { env: Record<string, string>; ui: Ui; confirm: (q: string) => Promise<boolean> },
): Promise<Finding[]> {
  const journal = await readJournal(project.root);
  if (!journal || !isInterrupted(journal, processRunning)) return [];
  const done = journal.steps.filter((s) => s.state === "started" || s.state === "done");
  const what = `release ${journal.version} was interrupted after: ${
    done.map((s) => s.title).join("; ") || "nothing"
  }`;
  if (!await options.confirm(`The ${what}. Roll it back now?`)) {
    return [{
      area: "journal",
      name: "release",
      severity: "error",
      detail: what,
      fix:
        "rig release --rollback --yes (or: rig doctor --yes); to finish it: rig release --resume",
    }];
  }
  const lines = await rollbackAndReport(project, journal, options);
  const failed = lines.filter((l) => l.outcome === "failed");
  const kept = lines.filter((l) => l.outcome === "cannot be undone");
  return [{
    area: "journal",
    name: "release",
    severity: failed.length ? "error" : kept.length ? "warning" : "ok",
    detail: `rolled back the interrupted release ${journal.version}${
      kept.length ? `; cannot be undone: ${kept.map((l) => l.detail).join("; ")}` : ""
    }${failed.length ? `; could not undo: ${failed.map((l) => l.step).join(", ")}` : ""}`,
    fix: [...kept, ...failed].map((l) => l.next).filter(Boolean).join("; ") || undefined,
  }];
}
