/**
 * The error hierarchy shared by every command. Each error carries the exit code
 * that `main.ts` returns and an optional hint: the command or step that fixes it.
 *
 * Exit codes (DESIGN.md): 0 ok, 1 the work failed, 2 usage error, 3 environment
 * problem (missing tool, bad config).
 */

/** An expected failure of the work itself (a test, a build): exit code 1. */
export class RigError extends Error {
  /** The process exit code this error maps to. */
  exitCode = 1;
  constructor(message: string, readonly hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user asked for something rig does not understand: exit code 2. */
export class UsageError extends RigError {
  override exitCode = 2;
}

/** The machine or the project's configuration is not fit for the work: exit code 3. */
export class EnvironmentError extends RigError {
  override exitCode = 3;
}

/** A configuration file is malformed or invalid; names the file and, when known, the line. */
export class ConfigError extends EnvironmentError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    problem: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(
      `${line === undefined ? `"${file}"` : `"${file}" line ${line}`}: ${problem}`,
      hint,
      options,
    );
  }
}

/** A required program is not installed or not on PATH. */
export class MissingToolError extends EnvironmentError {
  constructor(readonly tool: string, hint?: string) {
    super(`Cannot find "${tool}" on PATH`, hint ?? installHint(tool));
  }
}

/** A child process exited with a non-zero status where success was required. */
export class ProcessError extends RigError {
  constructor(
    readonly argv: string[],
    readonly code: number,
    readonly output: string,
    hint?: string,
  ) {
    super(
      `Command failed with exit code ${code}: ${argv.join(" ")}${output ? `\n${output}` : ""}`,
      hint,
    );
  }
}

/** A run was cancelled by Ctrl-C or SIGTERM; maps to exit code 130 like a shell. */
export class InterruptedError extends RigError {
  override exitCode = 130;
  constructor() {
    super("Interrupted");
  }
}

const INSTALL_HINTS: Record<string, string> = {
  python3: "Install Python 3.9+ (https://www.python.org/downloads/) or set RIG_PYTHON",
  python: "Install Python 3.9+ (https://www.python.org/downloads/) or set RIG_PYTHON",
  pip: "Run: python3 -m ensurepip --upgrade",
  uv: "Run: pip install uv (optional: rig falls back to pip)",
  node: "Install Node.js 18+ (https://nodejs.org/) or with your package manager",
  npm: "Install Node.js 18+ (npm ships with it)",
  git: "Install git (https://git-scm.com/downloads)",
  docker: "Install Docker (https://docs.docker.com/get-docker/) and start its engine",
  psql: "Install the PostgreSQL client: apt-get install postgresql-client",
  pg_ctl: "Install PostgreSQL: apt-get install postgresql",
};

/** The sentence that tells a user how to install a tool, for error hints. */
export function installHint(tool: string): string {
  return INSTALL_HINTS[tool] ?? `Install "${tool}" and make sure it is on PATH`;
}
