/**
 * A Python component's build step: a wheel and an sdist by `python -m build`
 * (in the component's venv, else a venv of rig's in `.rig/build/venv`), each
 * validated, and the wheel installed and imported in a scratch venv.
 */
import * as path from "../path.ts";
import { RigError } from "../errors.ts";
import { exists } from "../fs.ts";
import { pythonInHome } from "../os.ts";
import { run, runChecked, tail } from "../proc.ts";
import type { Component, Project } from "../project/project.ts";
import { readPyproject } from "../python/pyproject.ts";
import { defaultPython, findVenv, readPyvenvCfg, venvLayout } from "../python/venv.ts";
import { smokeTestWheel, validateSdist, validateWheel, wheelSources } from "../python/wheel.ts";
import { workDir } from "./artifacts.ts";
import type { ComponentContext, PackageStep } from "./build_plan.ts";

/** The interpreter that runs `python -m build`, and whether `build` is there. */
interface Builder {
  python: string;
  hasBuild: boolean;
  where: string;
}

async function pythonBuilder(
  project: Project,
  component: Component,
  options: ComponentContext,
): Promise<Builder> {
  const env = pythonEnv(options.env);
  const hasBuild = async (python: string) =>
    (await run([python, "-c", "import build"], { env, signal: options.signal })).success;
  const own = findVenv(component, { env: options.env });
  if (own && await hasBuild(own.python)) {
    return { python: own.python, hasBuild: true, where: "the component's venv" };
  }
  const dir = path.join(project.root, ".rig", "build", "venv");
  const venv = venvLayout(dir);
  if (exists(venv.python) && await hasBuild(venv.python)) {
    return { python: venv.python, hasBuild: true, where: ".rig" };
  }
  const hasPip = async (python: string) =>
    (await run([python, "-m", "pip", "--version"], { env, signal: options.signal })).success;
  if (exists(venv.python) && !(await hasPip(venv.python))) {
    // A venv cut short (rig killed while "python -m venv" ran) has no pip: make it again.
    options.ui.debug(`Recreating ${path.relative(project.root, dir)}: it has no pip`);
    await Deno.remove(dir, { recursive: true });
  }
  if (!exists(venv.python)) {
    const creator = (own && venvBase(own.dir)) ?? defaultPython(options.env);
    await runChecked([creator, "-m", "venv", dir], {
      env,
      signal: options.signal,
      failureHint: "On Debian/Ubuntu install the venv module: apt-get install python3-venv",
    });
  }
  if (await hasBuild(venv.python)) return { python: venv.python, hasBuild: true, where: ".rig" };
  const install = await run(
    [venv.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "build"],
    { env, signal: options.signal },
  );
  if (install.success) return { python: venv.python, hasBuild: true, where: ".rig" };
  options.ui.warn(
    `Cannot install "build" into ${path.relative(project.root, dir)} (${
      tail(install.stderr || install.stdout, 1)
    }); falling back to pip wheel and the setuptools sdist hook`,
    "Make the package index reachable (or pre-install build: pip install build) for python -m build",
  );
  return { python: venv.python, hasBuild: false, where: ".rig" };
}

function venvBase(dir: string): string | undefined {
  const cfg = readPyvenvCfg(dir);
  if (!cfg.home) return undefined;
  const candidate = pythonInHome(cfg.home);
  return exists(candidate) ? candidate : undefined;
}

function pythonEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {
    ...env,
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  delete out.VIRTUAL_ENV;
  delete out.PYTHONPATH;
  delete out.PYTHONHOME;
  return out;
}

/** Builds and validates the wheel and sdist into the staging folder. */
export const pythonStep: PackageStep = async (project, component, result, options) => {
  const { ui } = options;
  const pyproject = readPyproject(component.dir);
  const declared = (pyproject?.project ?? {}) as Record<string, unknown>;
  const name = typeof declared.name === "string" ? declared.name : component.name;
  const env = pythonEnv(options.env);
  const out = path.join(options.staging, "python");
  let builder: Builder | undefined;
  await ui.task(`${component.name}: wheel + sdist`, async (step) => {
    builder = await pythonBuilder(project, component, options);
    step.update(`python -m build (${builder.where})`);
    if (builder.hasBuild) {
      await runChecked([builder.python, "-m", "build", "--outdir", out, component.dir], {
        env,
        signal: options.signal,
        cwd: component.dir,
        failureHint: `Fix the packaging of "${component.path}" (pyproject.toml), then: rig build`,
      });
    } else {
      await runChecked(
        [builder.python, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", out, component.dir],
        { env, signal: options.signal, cwd: component.dir },
      );
      await runChecked(
        [
          builder.python,
          "-c",
          "import sys; from setuptools import build_meta as b; b.build_sdist(sys.argv[1])",
          out,
        ],
        { env, signal: options.signal, cwd: component.dir },
      );
    }
  });
  const produced = [...Deno.readDirSync(out)].map((e) => path.join(out, e.name));
  const wheel = produced.find((f) => f.endsWith(".whl"));
  const sdist = produced.find((f) => f.endsWith(".tar.gz"));
  if (!wheel || !sdist) {
    throw new RigError(
      `Building "${component.name}" made ${
        produced.map((f) => `"${path.basename(f)}"`).join(", ") || "nothing"
      }; expected a wheel and an sdist`,
      `Check the build backend in ${component.path}/pyproject.toml`,
    );
  }
  const expected = { name, version: options.version };
  await ui.task(`${component.name}: validate ${path.basename(wheel)}`, async (step) => {
    const report = await validateWheel(wheel, expected);
    result.checks.push(
      `${
        path.basename(wheel)
      }: METADATA ${report.name} ${report.version}, RECORD ${report.filesChecked} files`,
    );
    const sources = await wheelSources(wheel);
    await validateSdist(sdist, { ...expected, sources });
    result.checks.push(
      `${path.basename(sdist)}: PKG-INFO, pyproject.toml and ${sources.length} sources`,
    );
    if (!options.noSmokeTest) {
      step.update("install + import in a scratch venv");
      const smoke = await smokeTestWheel(wheel, {
        python: builder!.python,
        venvDir: path.join(workDir(project.root, component.name), "scratch-venv"),
        modules: report.topLevel,
        env,
        signal: options.signal,
      });
      if (smoke.skipped) {
        ui.warn(
          `${path.basename(wheel)} installs, but the import check was skipped: ${smoke.skipped}`,
          "Make the package index reachable to check imports too",
        );
        result.checks.push(`installs (--no-deps); import skipped: ${smoke.skipped}`);
      } else result.checks.push(`installs and imports ${smoke.imported.join(", ")}`);
    }
  });
  return [{ file: wheel, type: "wheel" }, { file: sdist, type: "sdist" }];
};
