/**
 * Which quality checks a Python component uses, from its own configuration:
 * ruff (`[tool.ruff]`, ruff.toml, or ruff among its dev dependencies) runs
 * `ruff check` and `ruff format --check`; black, isort, flake8 and mypy run
 * when configured, declared or installed; alembic when alembic.ini exists.
 * Never a fixed list: a tool the project does not use is never run or suggested.
 */
import * as path from "../path.ts";
import { parsePyproject } from "./pyproject.ts";
import { exists } from "../fs.ts";
import { normalizeName } from "./names.ts";

/** One check: the program in the venv and its arguments. */
export interface PythonCheck {
  /** Check name in reports: ruff, ruff-format, black, isort, flake8, mypy, alembic. */
  name: string;
  /** The console script in the venv (`ruff` for ruff-format). */
  tool: string;
  args: string[];
}

/** The names of every dependency a pyproject or requirements-dev file declares (normalized). */
export function declaredDependencyNames(
  dir: string,
  configTexts: Record<string, string>,
): Set<string> {
  const names = new Set<string>();
  const add = (spec: unknown) => {
    if (typeof spec !== "string") return;
    const m = spec.trim().match(/^([A-Za-z0-9][A-Za-z0-9._-]*)/);
    if (m) names.add(normalizeName(m[1]!));
  };
  const text = configTexts["pyproject.toml"];
  if (text) {
    try {
      // deno-lint-ignore no-explicit-any
      const data = parsePyproject(text) as Record<string, any>;
      for (const list of Object.values(data.project?.["optional-dependencies"] ?? {})) {
        if (Array.isArray(list)) list.forEach(add);
      }
      for (const list of Object.values(data["dependency-groups"] ?? {})) {
        if (Array.isArray(list)) list.forEach(add);
      }
      (data.tool?.uv?.["dev-dependencies"] ?? []).forEach?.(add);
      const poetry = data.tool?.poetry ?? {};
      for (const key of Object.keys(poetry["dev-dependencies"] ?? {})) add(key);
      for (const group of Object.values(poetry.group ?? {})) {
        for (const key of Object.keys((group as { dependencies?: object }).dependencies ?? {})) {
          add(key);
        }
      }
    } catch {
      // Malformed: install reports it; no checks are inferred from it.
    }
  }
  for (const file of ["requirements-dev.txt", "requirements-test.txt", "dev-requirements.txt"]) {
    try {
      for (const line of Deno.readTextFileSync(path.join(dir, file)).split("\n")) {
        if (!line.trim().startsWith("-")) add(line);
      }
    } catch {
      // Absent.
    }
  }
  return names;
}

function configured(
  dir: string,
  configTexts: Record<string, string>,
  opts: { toml?: string; ini?: string; files?: string[] },
): boolean {
  if (opts.files?.some((f) => exists(path.join(dir, f)))) return true;
  const tomlHeader = opts.toml
    ? new RegExp(`^\\s*\\[${opts.toml.replace(".", "\\.")}[\\].]`, "m")
    : undefined;
  if (tomlHeader && tomlHeader.test(configTexts["pyproject.toml"] ?? "")) return true;
  if (opts.ini) {
    const header = new RegExp(`^\\s*\\[${opts.ini}\\]`, "m");
    for (const name of ["setup.cfg", "tox.ini"]) {
      if (header.test(configTexts[name] ?? "")) return true;
    }
  }
  return false;
}

/** The checks a Python component uses, in the order they run. */
export function pythonChecks(
  dir: string,
  configTexts: Record<string, string>,
  installed: Record<string, string>,
): PythonCheck[] {
  const declared = declaredDependencyNames(dir, configTexts);
  const uses = (name: string) => declared.has(name) || name in installed;
  const out: PythonCheck[] = [];
  const ruff = configured(dir, configTexts, {
    toml: "tool.ruff",
    files: ["ruff.toml", ".ruff.toml"],
  }) || uses("ruff");
  if (ruff) {
    out.push({ name: "ruff", tool: "ruff", args: ["check", "."] });
    out.push({ name: "ruff-format", tool: "ruff", args: ["format", "--check", "."] });
  }
  if (configured(dir, configTexts, { toml: "tool.black" }) || uses("black")) {
    out.push({ name: "black", tool: "black", args: ["--check", "."] });
  }
  if (
    configured(dir, configTexts, { toml: "tool.isort", ini: "isort", files: [".isort.cfg"] }) ||
    uses("isort")
  ) {
    out.push({ name: "isort", tool: "isort", args: ["--check-only", "--diff", "."] });
  }
  if (configured(dir, configTexts, { ini: "flake8", files: [".flake8"] }) || uses("flake8")) {
    out.push({ name: "flake8", tool: "flake8", args: [] });
  }
  const mypyConfigured = configured(dir, configTexts, {
    toml: "tool.mypy",
    ini: "mypy",
    files: ["mypy.ini", ".mypy.ini"],
  });
  if (mypyConfigured || uses("mypy")) {
    const files = Object.values(configTexts).some((t) =>
      /^\[(tool\.mypy|mypy)\][^[]*^\s*files\s*=/m.test(t)
    ) || exists(path.join(dir, "mypy.ini"));
    out.push({ name: "mypy", tool: "mypy", args: files ? [] : ["."] });
  }
  if (exists(path.join(dir, "alembic.ini"))) {
    out.push({ name: "alembic", tool: "alembic", args: ["check"] });
  }
  return out;
}
