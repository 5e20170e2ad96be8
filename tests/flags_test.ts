import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { FlagError, type FlagSpec, parseFlagList } from "../lib/flags.ts";
import { type Options, parseFlags, rejectMisusedOptions } from "../lib/command.ts";
import { UsageError } from "../lib/errors.ts";

const OPTIONS: Record<string, FlagSpec> = {
  force: { type: "boolean", short: "f" },
  quiet: { type: "boolean", short: "q" },
  ref: { type: "string", short: "r" },
  tag: { type: "string", multiple: true, short: "t" },
  flag: { type: "boolean", multiple: true },
  "no-lint": { type: "boolean" },
};

/** node's parseArgs on the same input: the oracle (values as a plain object). */
function oracle(args: string[]) {
  const parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  return { values: { ...parsed.values }, positionals: parsed.positionals };
}

const TOKENS = [
  "--force",
  "-f",
  "-fq",
  "-qf",
  "--ref",
  "--ref=main",
  "--ref=",
  "-r",
  "-rmain",
  "-fr",
  "--tag",
  "--tag=a",
  "-t",
  "-ta",
  "--flag",
  "--no-lint",
  "--no-lint=1",
  "--force=yes",
  "main",
  "-",
  "-x",
  "--nope",
  "--nope=1",
  "-fx",
  "v1",
  "--",
];

/** Every argv of one to three tokens. */
function* argvs(): Generator<string[]> {
  for (const a of TOKENS) {
    yield [a];
    for (const b of TOKENS) {
      yield [a, b];
      for (const c of ["main", "-f", "--tag=b"]) yield [a, b, c];
    }
  }
}

Deno.test("parseFlagList parses as node's parseArgs, and refuses what it refuses, for every argv", () => {
  let compared = 0;
  for (const args of argvs()) {
    let expected: ReturnType<typeof oracle> | Error;
    try {
      expected = oracle(args);
    } catch (error) {
      expected = error as Error;
    }
    const show = JSON.stringify(args);
    if (expected instanceof Error) {
      assert.throws(() => parseFlagList(args, OPTIONS), FlagError, `${show}: ${expected.message}`);
    } else {
      assert.deepEqual(parseFlagList(args, OPTIONS), expected, show);
    }
    compared++;
  }
  assert.ok(compared > 2000, `${compared} argvs`);
});

Deno.test("a refused flag says which problem it is and names the option", () => {
  const problem = (args: string[]) => {
    try {
      parseFlagList(args, OPTIONS);
    } catch (error) {
      return (error as FlagError).problem;
    }
    throw new Error(`${JSON.stringify(args)} was accepted`);
  };
  assert.deepEqual(problem(["--nope=1"]), { kind: "unknown", option: "--nope" });
  assert.deepEqual(problem(["-fx"]), { kind: "unknown", option: "-x" });
  assert.deepEqual(problem(["--ref"]), { kind: "missing-value", name: "ref" });
  assert.deepEqual(problem(["--force=yes"]), { kind: "unexpected-value", name: "force" });
  assert.deepEqual(problem(["--ref", "-f"]), { kind: "ambiguous-value", name: "ref", value: "-f" });
});

Deno.test("options given against their declared conflicts or requirements are refused, conflicts first", () => {
  const options: Options = {
    docker: { type: "boolean", description: "", conflicts: ["no-docker"] },
    "no-docker": { type: "boolean", description: "" },
    push: {
      type: "string",
      description: "",
      conflicts: ["no-docker"],
      requires: { option: "docker", hint: "Example: rig build --docker --push R" },
    },
  };
  const refusal = (argv: string[]) => {
    try {
      rejectMisusedOptions(options, parseFlags("build", options, argv));
    } catch (error) {
      assert.ok(error instanceof UsageError);
      return { message: error.message, hint: error.hint };
    }
    return undefined;
  };
  assert.equal(refusal(["--docker", "--push", "R"]), undefined);
  assert.equal(refusal(["--no-docker"]), undefined);
  assert.deepEqual(refusal(["--no-docker", "--docker"]), {
    message: 'Options "--docker" and "--no-docker" cannot be used together',
    hint: undefined,
  });
  assert.deepEqual(refusal(["--push", "R", "--no-docker"]), {
    message: 'Options "--push" and "--no-docker" cannot be used together',
    hint: undefined,
  });
  assert.deepEqual(refusal(["--push", "R"]), {
    message: 'Option "--push" only works with "--docker"',
    hint: "Example: rig build --docker --push R",
  });
});
