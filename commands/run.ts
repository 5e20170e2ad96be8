import { type Command, defineCommand } from "../lib/command.ts";
import { parsePort, startDev } from "../lib/run/dev_env.ts";
import { loadProject } from "../lib/project/load_project.ts";

/** `rig run`: the whole development environment from one command. */
export const run: Command = defineCommand({
  name: "run",
  summary: "Start the dev environment: .env, dependencies, database, migrations, server",
  usage: ["run [--env NAME] [--db URL] [--host HOST] [--port PORT] [options]"],
  description: "Gets the project ready and starts it, skipping every step that is already done: " +
    "loads (or generates) the .env of the environment, installs what changed, creates the " +
    "database (SQLite folder, or the PostgreSQL database on a running server; from DATABASE_URL " +
    "or POSTGRES_*/DB_* parts), applies Alembic migrations (a SQLite file is backed up first and restored when an upgrade fails), runs the server's prestart steps, then " +
    "starts the server with uvicorn --reload plus every component that declares a dev command " +
    "in rig.toml, in dependency order. Output is prefixed with the component name. Ctrl-C stops " +
    "everything in reverse order, gracefully, then forcefully. Relative SQLite paths resolve " +
    "against the server folder.",
  options: {
    env: {
      type: "string",
      value: "NAME",
      description: "Environment to start (default development: .env from config/)",
    },
    db: {
      type: "string",
      value: "URL",
      description: "Use this database instead of .env's DATABASE_URL or POSTGRES_* parts",
    },
    host: { type: "string", value: "HOST", description: "Interface to bind (default .env HOST)" },
    port: { type: "string", value: "PORT", description: "Port to listen on (default .env PORT)" },
    "no-reload": { type: "boolean", description: "Do not restart the server on code changes" },
    "no-migrate": { type: "boolean", description: "Do not apply Alembic migrations" },
    "no-install": { type: "boolean", description: "Do not check or install dependencies" },
    "no-prestart": {
      type: "boolean",
      description: "Do not run the server's prestart steps (rig.toml prestart)",
    },
  },
  examples: [
    "rig run",
    "rig run --port 8001",
    "rig run --db postgresql+psycopg://postgres@127.0.0.1:5432/auth",
    "rig run --env test --no-reload",
    "rig -C examples/authserver run --json",
  ],
  async action(ctx, args) {
    const flags = args.values;
    return await startDev(await loadProject(ctx.cwd), {
      ui: ctx.ui,
      env: ctx.env,
      signal: ctx.signal,
      environment: (flags.env as string | undefined) ?? "development",
      db: flags.db as string | undefined,
      host: flags.host as string | undefined,
      port: flags.port === undefined ? undefined : parsePort(flags.port as string, "--port"),
      reload: !flags["no-reload"],
      migrate: !flags["no-migrate"],
      install: !flags["no-install"],
      prestart: !flags["no-prestart"],
    });
  },
});
