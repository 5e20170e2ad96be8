/**
 * Prestart steps: the commands a `python-app` declares in rig.toml
 * (`prestart = ["python -m app.initial_data"]`, `test_prestart = [...]`) that
 * must run after migrations and before the server starts — seeding a first
 * user, warming a cache. They run in the component's folder with its venv
 * activated and the app's own environment; a failing step stops rig with its
 * output.
 */
import { InterruptedError, RigError } from "../errors.ts";
import { run, tail } from "../proc.ts";
import type { Ui } from "../ui.ts";

/** How to run prestart steps. */
export interface PrestartOptions {
  /** The component's folder. */
  cwd: string;
  /** The app's environment, venv activated. */
  env: Record<string, string>;
  signal?: AbortSignal;
  ui: Ui;
  /** Hides secrets in the output shown on failure. */
  mask: (text: string) => string;
  /** rig.toml key, for messages: `prestart` or `test_prestart`. */
  key: string;
  /** The component, for messages. */
  component: string;
  /** How to skip the steps, for the failure hint (e.g. `rig run --no-prestart`). */
  skipHint?: string;
}

/** Runs each step in order; the first that fails throws a RigError carrying its output. */
export async function runPrestart(steps: string[][], opts: PrestartOptions): Promise<number> {
  let ran = 0;
  for (const argv of steps) {
    const shown = opts.mask(argv.join(" "));
    const step = opts.ui.step(`${opts.key} ${shown}`);
    let output = "";
    const result = await run(argv, {
      cwd: opts.cwd,
      env: opts.env,
      signal: opts.signal,
      capture: false,
      missingHint: `Fix "${opts.key}" of component "${opts.component}" in rig.toml ` +
        `(commands run in its folder with its venv activated)`,
      onLine: (line) => {
        output += line + "\n";
        opts.ui.debug(`  ${opts.key} │ ${opts.mask(line)}`);
      },
    }).catch((error) => {
      step.fail();
      throw error;
    });
    if (result.cancelled) {
      step.fail();
      throw new InterruptedError();
    }
    if (!result.success) {
      step.fail(`exit code ${result.code}`);
      const shownOutput = opts.mask(tail(output.trimEnd(), 30));
      throw new RigError(
        `${opts.key} step "${shown}" of "${opts.component}" failed with exit code ${result.code}` +
          (shownOutput ? `:\n${shownOutput.split("\n").map((l) => `  ${l}`).join("\n")}` : ""),
        `Fix the step (rig.toml [components.${opts.component}] ${opts.key})` +
          (opts.skipHint ? `, or skip it: ${opts.skipHint}` : ""),
      );
    }
    step.done();
    ran++;
  }
  return ran;
}
