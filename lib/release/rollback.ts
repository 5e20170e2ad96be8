/**
 * Rollback: undoes a journal's steps newest first. A pushed release commit is
 * reverted (never force-pushed away), an unpushed one is reset; tags are
 * deleted locally and remotely; the GitHub release is deleted; npm versions
 * are unpublished. What cannot be undone (a PyPI upload, a pushed image) is
 * listed with the next step. Each undo tolerates a step that never happened,
 * since a journal written before a `kill -9` cannot tell.
 */
import * as path from "../path.ts";
import { deleteRelease, getReleaseByTag } from "./github.ts";
import { git, gitChecked, refExists } from "./git_ops.ts";
import { type Journal, type JournalStep, writeJournal } from "./journal.ts";
import { unpublishNpm } from "./publish_npm.ts";
import { filesOnIndex } from "./publish_python.ts";

/** One line of the rollback report. */
export interface RollbackLine {
  step: string;
  outcome: "undone" | "not needed" | "cannot be undone" | "failed";
  detail: string;
  /** What the user should do next (for "cannot be undone" and "failed"). */
  next?: string;
}

/** Options of a rollback. */
export interface RollbackOptions {
  root: string;
  env: Record<string, string>;
  /** Never the aborted signal of the failed run. */
  signal?: AbortSignal;
  onLine?: (line: RollbackLine) => void;
}

/** Undoes every started or done step of the journal, newest first, and records the outcome. */
export async function rollback(
  journal: Journal,
  options: RollbackOptions,
): Promise<RollbackLine[]> {
  const lines: RollbackLine[] = [];
  const pushed = { reverted: false };
  for (const step of [...journal.steps].reverse()) {
    if (step.state !== "started" && step.state !== "done" && step.state !== "failed-undo") continue;
    let line: RollbackLine;
    try {
      line = await undoStep(step, journal, options, pushed);
    } catch (error) {
      line = {
        step: step.title,
        outcome: "failed",
        detail: error instanceof Error ? error.message : String(error),
        next: (error as { hint?: string }).hint,
      };
    }
    step.state = line.outcome === "failed"
      ? "failed-undo"
      : line.outcome === "cannot be undone"
      ? "kept"
      : "undone";
    step.detail = line.detail;
    lines.push(line);
    options.onLine?.(line);
    await writeJournal(options.root, journal);
  }
  journal.status = "rolled-back";
  await writeJournal(options.root, journal);
  return lines;
}

async function undoStep(
  step: JournalStep,
  journal: Journal,
  options: RollbackOptions,
  pushed: { reverted: boolean },
): Promise<RollbackLine> {
  const gitOptions = { env: options.env, signal: options.signal };
  const root = options.root;
  const undo = step.undo;
  const line = (outcome: RollbackLine["outcome"], detail: string, next?: string) => ({
    step: step.title,
    outcome,
    detail,
    next,
  });
  switch (undo.kind) {
    case "none":
      return line("not needed", "nothing to undo");
    case "irreversible":
      return line("cannot be undone", undo.what, undo.next);
    case "pypi-upload": {
      const yank = `Yank it on the index (PyPI: Manage → Releases → ${undo.version} → Yank), ` +
        `then release a fixed version: rig release patch`;
      // A finished upload is certainly there; an interrupted or refused one may be partly there.
      const landed = step.state === "done"
        ? undo.files
        : await filesOnIndex(undo.indexUrl, undo.name, undo.files) ?? undo.files;
      if (!landed.length) {
        return line("not needed", `nothing of ${undo.name} ${undo.version} reached the index`);
      }
      return line(
        "cannot be undone",
        `${landed.join(", ")} uploaded to ${undo.repositoryUrl} (${undo.name} ${undo.version})`,
        yank,
      );
    }
    case "restore-files": {
      for (const file of undo.files) {
        const target = path.join(root, file.path);
        if (file.backup) await Deno.copyFile(file.backup, target);
        else await Deno.remove(target).catch(() => {});
      }
      return line("undone", `restored ${undo.files.map((f) => f.path).join(", ")}`);
    }
    case "delete-local-tags": {
      const deleted: string[] = [];
      for (const tag of undo.tags) {
        if (await refExists(root, `refs/tags/${tag}`, gitOptions)) {
          await gitChecked(root, ["tag", "-d", tag], gitOptions);
          deleted.push(tag);
        }
      }
      return deleted.length
        ? line("undone", `deleted local tag ${deleted.join(", ")}`)
        : line("not needed", "no local tag was created");
    }
    case "reset-commit": {
      if (pushed.reverted) return line("not needed", "the pushed commit was reverted instead");
      const head = (await git(root, ["rev-parse", "HEAD"], gitOptions)).stdout.trim();
      if (head === undo.base) return line("not needed", "the release commit was never made");
      if (head !== undo.commit) {
        return line(
          "failed",
          `HEAD is ${head.slice(0, 7)}, not the release commit ${undo.commit.slice(0, 7)}`,
          `Reset by hand if you want the branch back at ${
            undo.base.slice(0, 7)
          }: git reset --keep ${undo.base.slice(0, 7)}`,
        );
      }
      await gitChecked(root, ["reset", "--keep", undo.base], gitOptions);
      return line(
        "undone",
        `reset the branch to ${undo.base.slice(0, 7)} (release commit dropped)`,
      );
    }
    case "push": {
      const parts: string[] = [];
      const remoteHead = await git(
        root,
        ["ls-remote", undo.remote, `refs/heads/${undo.branch}`],
        gitOptions,
      );
      const remoteTags = await git(
        root,
        ["ls-remote", "--tags", undo.remote, ...undo.tags.map((t) => `refs/tags/${t}`)],
        gitOptions,
      );
      const tagsThere = undo.tags.filter((t) => remoteTags.stdout.includes(`refs/tags/${t}`));
      if (tagsThere.length) {
        await gitChecked(
          root,
          ["push", undo.remote, ...tagsThere.map((t) => `:refs/tags/${t}`)],
          gitOptions,
        );
        parts.push(`deleted remote tag ${tagsThere.join(", ")}`);
      }
      if (remoteHead.stdout.split(/\s/)[0] === undo.commit) {
        await gitChecked(root, ["revert", "--no-edit", undo.commit], gitOptions);
        await gitChecked(root, ["push", undo.remote, `HEAD:refs/heads/${undo.branch}`], gitOptions);
        pushed.reverted = true;
        parts.push(
          `pushed a revert of ${undo.commit.slice(0, 7)} to ${undo.remote}/${undo.branch}`,
        );
      }
      return parts.length
        ? line("undone", parts.join("; "))
        : line("not needed", "nothing had reached the remote");
    }
    case "github-release": {
      const token = options.env[undo.tokenEnv] ?? "";
      const api = { apiUrl: undo.apiUrl, repo: undo.repo, token, signal: options.signal };
      const id = undo.id ?? (await getReleaseByTag(api, undo.tag))?.id;
      if (id === undefined) return line("not needed", "no GitHub release was created");
      await deleteRelease(api, id);
      return line("undone", `deleted GitHub release ${undo.tag} (id ${id}) of ${undo.repo}`);
    }
    case "npm-unpublish": {
      await unpublishNpm(undo.name, undo.version, {
        env: options.env,
        signal: options.signal,
        cwd: root,
        registry: undo.registry,
        userconfig: undo.userconfig,
      });
      return line("undone", `unpublished ${undo.name}@${undo.version} from ${undo.registry}`);
    }
  }
  return line("not needed", `unknown step ${JSON.stringify(journal.version)}`);
}
