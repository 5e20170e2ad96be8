import { type Command, type Context, defineCommand } from "../lib/command.ts";
import { loadProject } from "../lib/project/load_project.ts";
import { defaultPython } from "../lib/python/venv.ts";
import { detectTools } from "../lib/install/doctor.ts";
import { inspectEnvironment } from "../lib/env/env_config.ts";
import { describeDatabase } from "../lib/db/database.ts";
import { DATABASE_VARIABLES, resolveDatabase } from "../lib/db/db_config.ts";
import { sourceLookup } from "../lib/env/sources.ts";
import { type Component, isNode, type Project } from "../lib/project/project.ts";
import { detectManager } from "../lib/python/managers.ts";
import { detectToolchain } from "../lib/node/managers.ts";

/** The package manager shown for a component (uv, poetry, pip from its files; npm, pnpm, yarn, bun). */
function managerName(c: Component, root: string): string {
  if (isNode(c)) {
    const tc = detectToolchain(c.dir, root);
    return `${tc.manager}${tc.flavor ? ` (${tc.flavor})` : ""}`;
  }
  try {
    return detectManager(c.dir, root).manager;
  } catch {
    return "pip";
  }
}

/** `rig info`: what rig sees in this project. */
export const info: Command = defineCommand({
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
  async action(ctx) {
    const project = await loadProject(ctx.cwd);
    const toolchains = new Map(
      project.components.filter(isNode).map((c) => [c.name, detectToolchain(c.dir, project.root)]),
    );
    const managers = [...new Set([...toolchains.values()].map((t) => t.manager))]
      .filter((m) => m !== "npm");
    const tools = await detectTools(
      [defaultPython(ctx.env), "pip", "uv", "poetry", "node", "npm", ...managers, "git"],
      ctx.env,
    );
    const config = await configuration(project, ctx);
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
        ...(c.dependencyReasons ? { dependencyReasons: c.dependencyReasons } : {}),
        ...(toolchains.has(c.name)
          ? {
            packageManager: {
              name: toolchains.get(c.name)!.manager,
              ...(toolchains.get(c.name)!.flavor ? { flavor: toolchains.get(c.name)!.flavor } : {}),
              source: toolchains.get(c.name)!.source,
              workspace: toolchains.get(c.name)!.workspace,
            },
          }
          : {}),
        ...(c.app ? { app: c.app } : {}),
        declared: c.declared,
      })),
      configuration: config.document,
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
    for (const line of config.lines) ui.print(line);
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
      const reasons = project.components.flatMap((c) =>
        Object.entries(c.dependencyReasons ?? {}).map(([dep, why]) => `${c.name} → ${dep}: ${why}`)
      );
      if (reasons.length) {
        ui.print();
        for (const line of reasons) ui.print(ui.style("dim", line));
      }
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
});

/** Where the development configuration and the database come from (never writes anything). */
async function configuration(project: Project, ctx: Context) {
  const server = project.components.find((c) => c.kind === "python-app");
  try {
    const report = await inspectEnvironment(project, { name: "development", processEnv: ctx.env });
    const sourceOf = sourceLookup(report.sources);
    const resolved = server
      ? resolveDatabase(report.values, { baseDir: server.dir, sourceOf })
      : undefined;
    const database = resolved
      ? {
        description: describeDatabase(resolved.db, { baseDir: server!.dir }),
        kind: resolved.db.kind,
        from: resolved.origin.label,
        variables: [...new Set([...resolved.origin.hostVars, ...resolved.origin.loginVars])],
      }
      : null;
    const sources = report.read;
    return {
      document: { mode: report.mode, sources, database },
      lines: [
        `${ctx.ui.style("bold", "Env")}     development from ${sources.join(" > ") || "(nothing)"}${
          report.mode === "files" ? " (no templates)" : ""
        }`,
        `${ctx.ui.style("bold", "Database")} ${
          database
            ? `${database.description} from ${database.from}`
            : server
            ? `none configured (rig reads ${DATABASE_VARIABLES})`
            : "-"
        }`,
      ],
    };
  } catch (error) {
    const message = (error as Error).message;
    return {
      document: { mode: null, sources: [], database: null, error: message },
      lines: [`${ctx.ui.style("bold", "Env")}     ${ctx.ui.style("yellow", message)}`],
    };
  }
}
