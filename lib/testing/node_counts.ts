/**
 * Per-file test counts of a Node.js test run. A node client's unit and
 * integration tests come from one `npm test`; to count each test once, rig
 * adds a tiny reporter for `node --test` (through NODE_OPTIONS, beside the
 * usual spec output) that writes one line per finished test with its file,
 * then splits the counts between the unit and the integration task. Runners
 * other than `node --test` write nothing, and the unit task keeps them all.
 */
import * as path from "../path.ts";
import type { TestCounts } from "./junit.ts";

const REPORTER = `// Written by rig: one JSON line per finished test (suites are not tests).
export default async function* rigFileCounts(source) {
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const data = event.data;
    if (data.details && data.details.type === "suite") continue;
    const status = data.skip !== undefined && data.skip !== false ? "skipped"
      : data.todo !== undefined && data.todo !== false ? "skipped"
      : event.type === "test:pass" ? "passed" : "failed";
    yield JSON.stringify({ file: data.file ?? null, status }) + "\\n";
  }
}
`;

/** Where the reporter writes, and the environment that enables it. */
export interface NodeCounting {
  env: Record<string, string>;
  file: string;
}

/** Writes the reporter into `dir` and returns `env` with NODE_OPTIONS enabling it. */
export async function nodeCounting(
  dir: string,
  env: Record<string, string>,
): Promise<NodeCounting> {
  const reporter = path.join(dir, "rig-file-counts.mjs");
  const file = path.join(dir, "node-tests.jsonl");
  await Deno.writeTextFile(reporter, REPORTER);
  const flags = [
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    `--test-reporter=${quote(reporter)}`,
    `--test-reporter-destination=${quote(file)}`,
  ];
  const options = [env.NODE_OPTIONS ?? "", ...flags].filter(Boolean).join(" ");
  return { env: { ...env, NODE_OPTIONS: options }, file };
}

/** Counts per test file from the reporter's output; undefined when it wrote nothing. */
export async function readNodeFileCounts(
  file: string,
): Promise<Map<string, TestCounts> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return undefined;
  }
  const counts = new Map<string, TestCounts>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let entry: { file: string | null; status: "passed" | "failed" | "skipped" };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const key = entry.file ?? "";
    const c = counts.get(key) ?? { passed: 0, failed: 0, skipped: 0, errors: 0 };
    c[entry.status]++;
    counts.set(key, c);
  }
  return counts.size ? counts : undefined;
}

/**
 * Splits per-file counts into the unit and the integration part; a compiled
 * file (`dist-test/test/api.test.js`) belongs to the source file with the same
 * path stem (`test/api.test.ts`).
 */
export function splitNodeCounts(
  perFile: Map<string, TestCounts>,
  integrationFiles: string[],
): { unit: TestCounts; integration: TestCounts } {
  const stems = integrationFiles.map((f) => stem(f.split(path.sep).join("/")));
  const unit: TestCounts = { passed: 0, failed: 0, skipped: 0, errors: 0 };
  const integration: TestCounts = { passed: 0, failed: 0, skipped: 0, errors: 0 };
  for (const [file, counts] of perFile) {
    const own = stem(file.split(path.sep).join("/"));
    const target = stems.some((s) => own === s || own.endsWith(`/${s}`)) ? integration : unit;
    target.passed += counts.passed;
    target.failed += counts.failed;
    target.skipped += counts.skipped;
    target.errors += counts.errors;
  }
  return { unit, integration };
}

function stem(file: string): string {
  return file.replace(/\.(m|c)?(t|j)sx?$/, "");
}

function quote(value: string): string {
  return /\s/.test(value) ? `"${value.replaceAll('"', '\\"')}"` : value;
}
