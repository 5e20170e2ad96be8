/**
 * The files rig writes into projects, read through imports rather than the
 * file system, so `deno bundle` inlines them and neither the bundle nor a
 * compiled binary needs anything beside it. tests/startup_test.ts checks that
 * every file in this folder is listed here.
 */
import baseEnv from "./base.env.template" with { type: "text" };
import developmentEnv from "./development.env.template" with { type: "text" };
import dockerfilePythonApp from "./Dockerfile.python-app" with { type: "text" };
import launcherCmd from "./launcher.cmd" with { type: "text" };
import launcherSh from "./launcher.sh" with { type: "text" };
import npmBin from "./npm_bin.cjs" with { type: "text" };
import pypiMain from "./pypi_main.py" with { type: "text" };
import productionEnv from "./production.env.template" with { type: "text" };
import testEnv from "./test.env.template" with { type: "text" };

/** Every template by its file name in templates/. */
export const TEMPLATES: Readonly<Record<string, string>> = {
  "base.env.template": baseEnv,
  "development.env.template": developmentEnv,
  "production.env.template": productionEnv,
  "test.env.template": testEnv,
  "Dockerfile.python-app": dockerfilePythonApp,
  "launcher.sh": launcherSh,
  "launcher.cmd": launcherCmd,
  "npm_bin.cjs": npmBin,
  "pypi_main.py": pypiMain,
};

/** The text of the template `name`; throws for a name that is not a template (a bug). */
export function template(name: string): string {
  const text = TEMPLATES[name];
  if (text === undefined) throw new Error(`No template "${name}" in templates/mod.ts`);
  return text;
}
