/**
 * How rig serves a FastAPI app: the one default app path and the one uvicorn
 * command line, shared by `rig run`, `rig test`'s live server and images.
 */

/** The ASGI app rig serves when rig.toml names none and detection finds none. */
export const DEFAULT_ASGI_APP = "app.main:app";

/** A python-app's ASGI app, `module:variable`. */
export function asgiApp(component: { app?: string }): string {
  return component.app ?? DEFAULT_ASGI_APP;
}

/** Options of `uvicornArgv`. */
export interface UvicornOptions {
  app: string;
  host: string;
  port: number;
  /** Restart on source changes (`--reload`), watching only these folders when given. */
  reload?: boolean;
  reloadDirs?: string[];
}

/** The argv that serves `opts.app` with uvicorn through `python` (a venv's interpreter). */
export function uvicornArgv(python: string, opts: UvicornOptions): string[] {
  const argv = [
    python,
    "-m",
    "uvicorn",
    opts.app,
    "--host",
    opts.host,
    "--port",
    String(opts.port),
  ];
  if (opts.reload) {
    argv.push("--reload");
    for (const dir of opts.reloadDirs ?? []) argv.push("--reload-dir", dir);
  }
  return argv;
}
