/** Python package names as PEP 503 compares them. */

/** PEP 503 name normalization: lower case, runs of `-`, `_` and `.` become one `-`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}
