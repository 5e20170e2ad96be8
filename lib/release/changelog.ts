/**
 * The changelog section of a release: the commits since the last release,
 * Conventional Commits (https://www.conventionalcommits.org) grouped by type
 * with breaking changes first, every other commit listed as it is; and its
 * insertion at the top of CHANGELOG.md (below the title and intro).
 */
import type { CommitInfo } from "./git_ops.ts";

const GROUPS: [string, string][] = [
  ["feat", "Features"],
  ["fix", "Bug Fixes"],
  ["perf", "Performance"],
  ["revert", "Reverts"],
  ["refactor", "Refactoring"],
  ["docs", "Documentation"],
  ["test", "Tests"],
  ["build", "Build"],
  ["ci", "Continuous Integration"],
  ["style", "Style"],
  ["chore", "Chores"],
];

const CONVENTIONAL = /^(?<type>[a-z]+)(?:\((?<scope>[^)]+)\))?(?<bang>!)?: (?<text>.+)$/;

/** A commit as the changelog sees it. */
export interface ChangelogEntry {
  sha: string;
  /** Conventional type (`feat`, `fix`, …), undefined for other commits. */
  type?: string;
  scope?: string;
  breaking: boolean;
  text: string;
}

/** Parses commit subjects and bodies into changelog entries (skipping earlier release commits). */
export function changelogEntries(commits: CommitInfo[]): ChangelogEntry[] {
  const out: ChangelogEntry[] = [];
  for (const commit of commits) {
    // rig's own release commits, and reverts of them left by a rollback.
    if (/^(Revert ")?(chore\()?release\)?:? v?\d+\.\d+\.\d+/.test(commit.subject)) continue;
    const match = CONVENTIONAL.exec(commit.subject.trim());
    const footer = /^BREAKING[ -]CHANGE: (.+)$/m.exec(commit.body);
    if (match?.groups) {
      out.push({
        sha: commit.sha,
        type: match.groups.type,
        scope: match.groups.scope,
        breaking: !!match.groups.bang || !!footer,
        text: footer && !match.groups.bang
          ? `${match.groups.text} (${footer[1]})`
          : match.groups.text!,
      });
    } else {
      out.push({ sha: commit.sha, breaking: !!footer, text: commit.subject.trim() });
    }
  }
  return out;
}

/** Renders one release's section: `## X.Y.Z (date)` then the groups. */
export function renderSection(
  version: string,
  entries: ChangelogEntry[],
  options: { date: string; apiChanges?: string[] },
): string {
  const line = (e: ChangelogEntry) =>
    `- ${e.scope ? `**${e.scope}:** ` : ""}${e.text} (${e.sha.slice(0, 7)})`;
  const lines = [`## ${version} (${options.date})`, ""];
  const section = (title: string, items: string[]) => {
    if (!items.length) return;
    lines.push(`### ${title}`, "", ...items, "");
  };
  section("Breaking Changes", entries.filter((e) => e.breaking).map(line));
  section("API Changes", (options.apiChanges ?? []).map((c) => `- ${c}`));
  const known = new Set(GROUPS.map(([type]) => type));
  for (const [type, title] of GROUPS) {
    section(title, entries.filter((e) => e.type === type && !e.breaking).map(line));
  }
  section(
    "Other Changes",
    entries.filter((e) => !e.breaking && (!e.type || !known.has(e.type))).map(line),
  );
  if (lines.length === 2) lines.push("No changes since the last release.", "");
  return lines.join("\n");
}

/** The changelog text with `section` inserted above the newest entry (title kept on top). */
export function prependSection(existing: string | undefined, section: string): string {
  const body = section.trimEnd() + "\n";
  if (!existing?.trim()) return `# Changelog\n\n${body}`;
  const firstEntry = existing.search(/^## /m);
  if (firstEntry >= 0) {
    return existing.slice(0, firstEntry) + body + "\n" + existing.slice(firstEntry);
  }
  if (/^# /.test(existing)) return `${existing.trimEnd()}\n\n${body}`;
  return `${body}\n${existing}`;
}
