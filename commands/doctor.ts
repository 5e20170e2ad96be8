import { type Command, defineCommand } from "../lib/command.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { diagnose, type Finding } from "../lib/install/doctor.ts";
import { diagnoseRelease } from "../lib/release/doctor.ts";

/** `rig doctor`: tools, versions, venv health, node_modules and configuration, with fixes. */
export const doctor: Command = defineCommand({
  name: "doctor",
  summary: "Check tools, versions, venv health and configuration, with the fix for each problem",
  usage: ["doctor [--json]"],
  description:
    "Checks the tools rig drives (python3, pip, uv, node, npm, git, docker, psql, pg_ctl) and what " +
    "needs them, each Python component's virtual environment (interpreter present and working, Python " +
    "version matching requires-python / .python-version / rig.toml, pip working, installed packages " +
    "matching the last rig install), each node component's node_modules against its lockfile, and the " +
    "development .env against the config templates. It also finishes the rollback of an interrupted " +
    "rig install, and offers to roll back an interrupted rig release (with -y it does). Exits 3 " +
    "when something required is broken, 0 otherwise (warnings included).",
  options: {},
  examples: [
    "rig doctor",
    "rig -C examples/authserver doctor --json",
  ],
  async action(ctx) {
    const project = await loadProject(ctx.cwd);
    const findings = await diagnose(project, { env: ctx.env, ui: ctx.ui, signal: ctx.signal });
    findings.push(
      ...await diagnoseRelease(project, { env: ctx.env, ui: ctx.ui, confirm: ctx.confirm }),
    );
    const errors = findings.filter((f) => f.severity === "error");
    const warnings = findings.filter((f) => f.severity === "warning");
    const code = errors.length ? 3 : 0;
    if (ctx.flags.json) {
      ctx.ui.result({ ok: code === 0, errors: errors.length, warnings: warnings.length, findings });
      return code;
    }
    const ui = ctx.ui;
    const mark = (f: Finding) =>
      f.severity === "ok"
        ? ui.style("green", "✓")
        : f.severity === "warning"
        ? ui.style("yellow", "!")
        : ui.style("red", "✗");
    const section = (title: string, list: Finding[]) => {
      if (!list.length) return;
      ui.print(ui.style("bold", title));
      const width = Math.max(...list.map((f) => f.name.length));
      for (const f of list) {
        ui.print(`  ${mark(f)} ${f.name.padEnd(width)}  ${f.detail}`);
        if (f.fix && f.severity !== "ok") {
          ui.print(`    ${" ".repeat(width)}  ${ui.style("cyan", "fix:")} ${f.fix}`);
        }
      }
      ui.print();
    };
    section("Tools", findings.filter((f) => f.area === "tool"));
    section("Components", findings.filter((f) => f.area === "component" || f.area === "journal"));
    section("Configuration", findings.filter((f) => f.area === "config"));
    ui.print(
      errors.length
        ? `${errors.length} problem${
          errors.length === 1 ? "" : "s"
        } to fix, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}`
        : warnings.length
        ? `No blocking problems; ${warnings.length} warning${warnings.length === 1 ? "" : "s"}`
        : "Everything looks good",
    );
    return code;
  },
});
