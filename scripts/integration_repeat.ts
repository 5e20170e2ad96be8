/**
 * Runs the reference project's integration suite (the clients' tests against
 * a live server) many times in a row and reports every failure: the check that
 * a flake like the js client's "fetch failed" is gone.
 *
 *   deno run -A scripts/integration_repeat.ts [--runs 30] [--keep DIR]
 *
 * Works on a temp copy of examples/authserver (installed once); --keep DIR
 * reuses (or creates) a copy in DIR. Exit code 1 when any run failed.
 */
import { parseArgs } from "node:util";
import * as path from "node:path";
import { copyReferenceProject } from "../tests/helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "30" }, keep: { type: "string" } },
});
const runs = Number(values.runs);
const main = path.resolve(import.meta.dirname!, "..", "main.ts");
const root = values.keep
  ? path.resolve(values.keep)
  : path.join(await Deno.makeTempDir({ prefix: "rig-integration-" }), "authserver");
const decoder = new TextDecoder();

async function rig(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", main, "-C", root, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

try {
  await Deno.stat(path.join(root, "rig.toml"));
} catch {
  await copyReferenceProject(root);
}
const install = await rig(["install"]);
if (install.code !== 0) {
  console.error(`rig install failed:\n${install.stderr}`);
  Deno.exit(1);
}

interface Task {
  task: string;
  ok: boolean;
  passed: number | null;
  failed: number | null;
}
const failures: string[] = [];
let tests = 0;
for (let i = 1; i <= runs; i++) {
  const started = performance.now();
  const result = await rig([
    "--json",
    "test",
    "--force",
    "--no-lint",
    "--js-client",
    "--python-client",
  ]);
  let doc: { components: { name: string; tasks: Task[] }[] } | undefined;
  try {
    doc = JSON.parse(result.stdout);
  } catch {
    doc = undefined;
  }
  const integration = doc?.components.flatMap((c) =>
    c.tasks.filter((t) =>
      t.task === "integration"
    ).map((t) => ({ ...t, name: c.name }))
  ) ?? [];
  const bad = integration.filter((t) => !t.ok || (t.failed ?? 0) > 0);
  tests += integration.reduce((sum, t) => sum + (t.passed ?? 0), 0);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (result.code !== 0 || !integration.length || bad.length) {
    const what = bad.map((t) => `${t.name}: ${t.failed ?? "?"} failed`).join(", ") ||
      `exit code ${result.code}`;
    failures.push(`run ${i}: ${what}\n${result.stderr.split("\n").slice(-30).join("\n")}`);
    console.log(`run ${i}/${runs}: FAILED (${what}) in ${seconds}s`);
  } else {
    console.log(`run ${i}/${runs}: ok (${
      integration.map((t) => `${t.name} ${t.passed}`).join(", ")
    }) in ${seconds}s`);
  }
}
console.log(
  `\n${runs} runs, ${tests} integration tests passed, ${failures.length} failed run(s)`,
);
for (const failure of failures) console.log(`\n${failure}`);
if (!values.keep) await Deno.remove(path.dirname(root), { recursive: true }).catch(() => {});
Deno.exit(failures.length ? 1 : 0);
