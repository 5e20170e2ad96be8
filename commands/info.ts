import type { Command } from "../lib/command.ts";
import { parseFlags, rejectPositionals } from "../lib/command.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { defaultPython } from "../lib/python/venv.ts";
import { detectTools } from "../lib/install/doctor.ts";
import { detectManager } from "../lib/python/managers.ts";
import type { Component } from "../lib/project/project.ts";

/** The package manager shown for a component (uv, poetry, pip from its files; npm). */
function managerName(c: Component, root: string): string {
  if (c.kind === "node-lib") return "npm";
  try {
    return detectManager(c.dir, root).manager;
  } catch {
    return "pip";
  }
}

/** `rig info`: what rig sees in this project. */
export const info: Command = {
  name: "info",
  summary: "Show the project's components, their kinds, dependencies and tools",
  usage: ["info [--json]"],
  description:
    "Prints what rig detected: the project root, each component with its kind, folder and the " +
    "components it depends on (clients depend on the server's API contract), and the versions of " +
    "the tools rig drives. rig.toml can rename, add or override components.",
  options: {},
  examples: [
    "rig info",
    "rig -C examples/authserver info --json",
  ],
  async run(ctx, argv) {
    const args = parseFlags("info", this.options, argv);
    rejectPositionals("info", args);
    const project = await loadProject(ctx.cwd);
    const tools = await detectTools(
      [defaultPython(ctx.env), "pip", "uv", "poetry", "node", "npm", "git"],
      ctx.env,
    );
    const document = {
      root: project.root,
      configFile: project.configFile ?? null,
      name: project.settings.name,
      components: project.components.map((c) => ({
        name: c.name,
        kind: c.kind,
        path: c.path,
        manager: managerName(c, project.root),
        dependsOn: c.dependsOn,
        ...(c.app ? { app: c.app } : {}),
        declared: c.declared,
      })),
      tools: Object.fromEntries(
        tools.map((t) => [t.name, t.path ? { path: t.path, version: t.version ?? null } : null]),
      ),
    };
    if (ctx.flags.json) {
      ctx.ui.result(document);
      return 0;
    }
    const ui = ctx.ui;
    ui.print(
      `${ui.style("bold", "Project")} ${project.settings.name}  ${ui.style("dim", project.root)}`,
    );
    ui.print(
      `${ui.style("bold", "Config")}  ${project.configFile ?? "(none: detected from files)"}`,
    );
    ui.print();
    if (project.components.length === 0) {
      ui.print("No components found.");
      ui.print(
        ui.style(
          "dim",
          "rig looks for package.json, pyproject.toml, requirements*.txt and alembic.ini up to 3 folders deep",
        ),
      );
    } else {
      ui.print(
        ui.table(
          ["COMPONENT", "KIND", "PATH", "MANAGER", "DEPENDS ON"],
          project.components.map((c) => [
            c.name,
            c.kind,
            c.path,
            managerName(c, project.root),
            c.dependsOn.join(", ") || "-",
          ]),
        ),
      );
    }
    ui.print();
    ui.print(
      ui.table(
        ["TOOL", "VERSION", "PATH"],
        tools.map((t) => [t.name, t.path ? (t.version ?? "?") : "not found", t.path ?? "-"]),
      ),
    );
    return 0;
  },
};
