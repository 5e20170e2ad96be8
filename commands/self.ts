import * as path from "../lib/path.ts";
import {
  type Command,
  type CommandEntry,
  type Context,
  defineCommand,
  renderGlobalHelp,
  subcommandOf,
} from "../lib/command.ts";
import { Ui } from "../lib/ui.ts";
import { UsageError } from "../lib/errors.ts";
import { runningBundle } from "../lib/ship/bundle.ts";
import {
  type CommittedRigResult,
  committedVersion,
  DENO_VERSION,
  TOOL_DIR,
  writeCommittedRig,
} from "../lib/ship/committed.ts";
import { RIG_VERSION } from "../lib/version.ts";

const SUBCOMMANDS = [
  {
    name: "install",
    summary: "Write ./rig, rig.cmd and .rig-tool/ (this rig's bundle) into the current folder",
  },
  { name: "update", summary: "Replace the committed copy with the rig running now" },
];

/** `rig self`: commit rig into a repository so a newcomer runs ./rig with nothing installed. */
export const self: Command = defineCommand({
  name: "self",
  summary: "Commit rig into this repository (./rig launcher) or update the committed copy",
  usage: ["self install [--binaries DIR]", "self update [--binaries DIR]"],
  description: "rig self install writes the launchers ./rig (POSIX sh) and rig.cmd (Windows) " +
    `and ${TOOL_DIR}/ — this rig as one bundled file, its version and SHA256SUMS, and with ` +
    "--binaries the compiled rig for each OS — plus the matching .gitattributes lines. Commit " +
    "them: ./rig then runs, in order, the compiled binary for this OS (after checking its " +
    `checksum), the bundle with deno on PATH, with npx deno@${DENO_VERSION}, or with uvx ` +
    `deno@${DENO_VERSION}; with none of them it says how to get one. rig self update ` +
    "replaces the committed copy with the rig running now.",
  options: {
    binaries: {
      type: "string",
      value: "DIR",
      description: "Also commit the compiled binaries in DIR (deno task compile writes dist/bin)",
    },
  },
  subcommands: SUBCOMMANDS,
  examples: [
    "rig self install",
    "rig self install --binaries dist/bin",
    "rig self update",
  ],
  takesArguments: true,
  async action(ctx, args) {
    const [sub, rest] = subcommandOf(self, args, "Example: rig self install");
    if (rest.length) throw new UsageError(`Unexpected argument "${rest[0]}" for "rig self ${sub}"`);
    const existing = committedVersion(ctx.cwd);
    if (sub === "update" && !existing) {
      throw new UsageError(
        `No committed rig in "${ctx.cwd}" (no ${TOOL_DIR}/version)`,
        "Commit one first: rig self install",
      );
    }
    const binaries = typeof args.values.binaries === "string"
      ? path.resolve(ctx.cwd, args.values.binaries)
      : undefined;
    const step = ctx.ui.step(`bundle rig ${RIG_VERSION}`);
    const bundle = await runningBundle(ctx.entry, { deno: Deno.execPath(), env: ctx.env });
    step.done();
    const result = await writeCommittedRig(ctx.cwd, {
      bundle,
      help: launcherHelp(ctx.commands),
      ...(binaries ? { binaries } : {}),
    });
    report(ctx, sub, result);
    return 0;
  },
});

/** `rig --help` as this rig prints it, without and with colours, for the launcher to answer. */
export function launcherHelp(commands: CommandEntry[]): { plain: string; color: string } {
  const page = (color: boolean) => renderGlobalHelp(new Ui({ color }), commands) + "\n";
  return { plain: page(false), color: page(true) };
}

function report(ctx: Context, sub: string, result: CommittedRigResult): void {
  if (ctx.flags.json) {
    ctx.ui.result({
      ok: true,
      version: RIG_VERSION,
      previousVersion: result.previousVersion ?? null,
      written: result.written,
      removed: result.removed,
    });
    return;
  }
  const from = result.previousVersion && result.previousVersion !== RIG_VERSION
    ? ` (was ${result.previousVersion})`
    : "";
  ctx.ui.success(
    `${sub === "update" ? "Updated" : "Wrote"} the committed rig ${RIG_VERSION}${from}`,
  );
  for (const file of result.written) ctx.ui.print(`  ${file}`);
  for (const file of result.removed) ctx.ui.print(`  removed ${file}`);
  ctx.ui.print(`Commit them: git add rig rig.cmd ${TOOL_DIR} .gitattributes`);
}
