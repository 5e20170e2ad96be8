/**
 * Coverage thresholds decided by rig itself. pytest-cov compares a *rounded*
 * total with `fail_under` (98.5% passes 99 at precision 0), so rig reads the
 * exact total from coverage.py's JSON report and the threshold from rig.toml
 * or coverage.py's own configuration, and compares the two.
 */
import { parsePyproject } from "../python/pyproject.ts";

/** The coverage configuration files coverage.py reads, in its order of precedence. */
const INI_SECTIONS: Record<string, string> = {
  ".coveragerc": "report",
  "setup.cfg": "coverage:report",
  "tox.ini": "coverage:report",
};

/**
 * The `fail_under` of coverage.py's configuration among a component's config
 * texts (.coveragerc `[report]`, setup.cfg / tox.ini `[coverage:report]`,
 * pyproject.toml `[tool.coverage.report]`); undefined when none sets it.
 */
export function configuredFailUnder(configTexts: Record<string, string>): number | undefined {
  for (const [file, section] of Object.entries(INI_SECTIONS)) {
    const text = configTexts[file];
    if (text === undefined) continue;
    const value = iniValue(text, section, "fail_under");
    if (value !== undefined && Number.isFinite(Number(value))) return Number(value);
    // coverage.py reads only the first of these files that exists with its sections.
    if (file === ".coveragerc") break;
  }
  const pyproject = configTexts["pyproject.toml"];
  if (pyproject !== undefined) {
    try {
      const toml = parsePyproject(pyproject) as {
        tool?: { coverage?: { report?: { fail_under?: unknown } } };
      };
      const value = toml.tool?.coverage?.report?.fail_under;
      if (typeof value === "number") return value;
    } catch {
      // A broken pyproject.toml is reported by the tools that need it.
    }
  }
  return undefined;
}

/** The exact total line coverage (not rounded) from coverage.py's JSON report. */
export function coverageTotal(reportJson: string): number | undefined {
  try {
    const value = JSON.parse(reportJson)?.totals?.percent_covered;
    return typeof value === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A failure reason when `total` is under `failUnder` (compared exactly), else undefined. */
export function coverageShortfall(
  total: number,
  failUnder: number | undefined,
): string | undefined {
  if (failUnder === undefined || total >= failUnder) return undefined;
  // Enough digits that the shown figure is visibly under the threshold.
  let digits = 1;
  while (digits < 4 && Number(total.toFixed(digits)) >= failUnder) digits++;
  return `coverage ${total.toFixed(digits)}% under ${failUnder}%`;
}

function iniValue(text: string, section: string, key: string): string | undefined {
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s[;#].*$/, "").trim();
    const header = line.match(/^\[([^\]]+)\]$/);
    if (header) {
      current = header[1]!.trim();
      continue;
    }
    if (current !== section) continue;
    const pair = line.match(/^([A-Za-z_][\w-]*)\s*[=:]\s*(.*)$/);
    if (pair && pair[1] === key) return pair[2]!.trim();
  }
  return undefined;
}
