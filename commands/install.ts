import { type Command, type Options } from "../lib/command.ts";
import { defineComponentCommand } from "../lib/project/component_command.ts";
import { UsageError } from "../lib/errors.ts";
import { type Component, getComponent, type Project } from "../lib/project/project.ts";
import { ensureInstalled } from "../lib/install/install.ts";
import { isPython } from "../lib/install/install_state.ts";
import { addPackages } from "../lib/install/add_packages.ts";
import { formatDuration } from "../lib/ui.ts";

const OPTIONS: Options = {
  component: {
    type: "string",
    value: "NAME",
    description: "The component to install into (or use --<component>, e.g. --server)",
  },
  dev: {
    type: "boolean",
    description:
      "Record the packages as development dependencies (requirements-dev.txt, dev extra, devDependencies)",
    conflicts: ["prod"],
  },
  group: {
    type: "string",
    value: "G",
    description: "uv/Poetry: record the packages in dependency group G (uv add --group G)",
  },
  prod: {
    type: "boolean",
    description: "Record the packages as runtime dependencies, even development tools",
  },
  "dry-run": { type: "boolean", description: "Print what would change and do nothing" },
  force: {
    type: "boolean",
    description: "Install even when nothing changed since the last install",
  },
};

/** `rig install`: set up every component, or add packages to one. */
export const install: Command = defineComponentCommand({
  name: "install",
  verb: "Install into",
  summary: "Set up every component (venvs, pip/uv, npm), or add packages to one",
  usage: [
    "install [COMPONENT...] [--<component>...] [--force]",
    "install PKG[SPEC]... [--<component> | --component NAME] [--dev|--prod] [--dry-run]",
  ],
  description:
    "Without packages: creates or repairs each Python component's virtual environment and installs " +
    "its requirements (requirements*.txt, or the package itself with its dev extra), and runs npm ci " +
    "for node components; components whose inputs did not change since the last install are skipped. " +
    "With packages: checks them against the existing requirements, installs them with uv (when on PATH) " +
    "or pip, then records them in requirements.txt (development tools and --dev in requirements-dev.txt) " +
    "or pyproject.toml, or with npm install for node components. Every detected component has its own " +
    "selection flag, e.g. --server, --python-client, --js-client (see rig info). A failure restores the " +
    "files and uninstalls what was installed; an interrupted run is rolled back by the next rig install.",
  options: OPTIONS,
  examples: [
    "rig install",
    "rig install --server --js-client",
    "rig install httpx",
    'rig install "sqlalchemy>=2.0,<3" --server',
    "rig install pytest-xdist --dev",
    "rig install zod --js-client",
    "rig install fastapi --dry-run",
  ],
  // Packages may also follow "--".
  takesPassthrough: true,
  async action(ctx, { project, values: v, positionals, passthrough }) {
    const componentFlags = install.projectOptions!(project);
    const selected = project.components.filter((c) =>
      v[c.name] === true && c.name in componentFlags
    );
    if (typeof v.component === "string") selected.push(getComponent(project, v.component));
    let packages = [...positionals, ...passthrough];
    // "rig install server" means the component, not a package called "server".
    const names = new Set(project.components.map((c) => c.name));
    if (packages.length && passthrough.length === 0 && packages.every((p) => names.has(p))) {
      selected.push(...packages.map((p) => getComponent(project, p)));
      packages = [];
    }

    if (packages.length === 0) {
      if (v.dev || v.prod) {
        throw new UsageError(
          `Options "--dev" and "--prod" need packages`,
          "Example: rig install pytest-xdist --dev",
        );
      }
      const targets = selected.length ? unique(selected) : project.components;
      if (targets.length === 0) {
        ctx.ui.info("Nothing to install: no components found (see: rig info)");
        ctx.ui.result({ ok: true, components: [] });
        return 0;
      }
      if (v["dry-run"]) {
        const { staleReason } = await import("../lib/install/install_state.ts");
        const rows = [];
        for (const c of targets) {
          const reason = v.force ? "forced" : await staleReason(project, c, { env: ctx.env });
          rows.push({ name: c.name, wouldInstall: !!reason, reason: reason ?? "up to date" });
        }
        if (ctx.flags.json) ctx.ui.result({ ok: true, dryRun: true, components: rows });
        else {
          ctx.ui.print(ctx.ui.table(
            ["COMPONENT", "ACTION"],
            rows.map((
              r,
            ) => [r.name, r.wouldInstall ? `install (${r.reason})` : "skip (up to date)"]),
          ));
        }
        return 0;
      }
      const started = performance.now();
      const results = await ensureInstalled(project, targets, {
        env: ctx.env,
        ui: ctx.ui,
        signal: ctx.signal,
        force: v.force === true,
      });
      const total = performance.now() - started;
      const done = results.filter((r) => !r.skipped).length;
      ctx.ui.success(
        done
          ? `Installed ${done} of ${results.length} component${
            results.length === 1 ? "" : "s"
          } in ${formatDuration(total)}`
          : `Everything is up to date (${formatDuration(total)})`,
      );
      ctx.ui.result({
        ok: true,
        durationMs: Math.round(total),
        components: results.map((r) => ({
          name: r.name,
          skipped: r.skipped,
          durationMs: Math.round(r.durationMs),
          installer: r.installer ?? null,
          reason: r.reason ?? null,
          venv: r.venv?.dir ?? null,
        })),
      });
      return 0;
    }

    if (v.force) throw new UsageError(`Option "--force" is for "rig install" without packages`);
    const target = chooseTarget(project, unique(selected));
    const result = await addPackages(project, target, packages, {
      env: ctx.env,
      ui: ctx.ui,
      signal: ctx.signal,
      dev: v.dev ? true : v.prod ? false : undefined,
      group: typeof v.group === "string" ? v.group : undefined,
      dryRun: v["dry-run"] === true,
    });
    if (ctx.flags.json) {
      ctx.ui.result({ ok: true, ...result, durationMs: Math.round(result.durationMs) });
      return 0;
    }
    const ui = ctx.ui;
    if (result.dryRun) {
      ui.print(`Would run (in ${target.path}): ${result.command.map(shellQuote).join(" ")}`);
      if (result.changes.length === 0) ui.print("Would change no files (already required)");
    }
    for (const change of result.changes) {
      const where = change.line ? `${change.file}:${change.line}` : change.file;
      const verb = result.dryRun ? "would " : "";
      if (change.before !== undefined) {
        ui.print(`${where}  ${verb}change ${quote(change.before)} → ${quote(change.after)}`);
      } else {
        ui.print(`${where}  ${verb}add ${quote(change.after)}`);
      }
    }
    if (!result.dryRun && result.changes.length === 0) {
      ui.print(
        `${
          Object.keys(result.installed).join(", ") || "The packages"
        } already required by ${target.name}; files unchanged`,
      );
    }
    return 0;
  },
});

function chooseTarget(project: Project, selected: Component[]): Component {
  if (selected.length > 1) {
    throw new UsageError(
      `Packages go into one component, but ${
        selected.map((c) => `"${c.name}"`).join(" and ")
      } were selected`,
      "Run rig install once per component",
    );
  }
  if (selected[0]) return selected[0];
  const server = project.components.filter((c) => c.kind === "python-app");
  if (server.length === 1) return server[0]!;
  const python = project.components.filter(isPython);
  if (python.length === 1) return python[0]!;
  const names = project.components.map((c) => `--${c.name}`);
  throw new UsageError(
    project.components.length
      ? `Which component should get the packages? Choose one of: ${names.join(", ")}`
      : "No components found to install packages into",
    project.components.length
      ? `Example: rig install PKG ${names[0]}`
      : "Run rig info to see what rig detects",
  );
}

function unique(components: Component[]): Component[] {
  return [...new Map(components.map((c) => [c.name, c])).values()];
}

function quote(text: string): string {
  return `"${text}"`;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
