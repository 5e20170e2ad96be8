/**
 * pyproject.toml, read once with a TOML parser (smol-toml): the `[project]`
 * table, its extras, and `[tool.*]` tables. A malformed file is a ConfigError
 * naming the file and line, never a silent guess. (In-place edits that must
 * keep formatting — versions, dependency arrays — live with their editors.)
 */
import * as path from "../path.ts";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "../errors.ts";
import { posixRelative } from "../fs.ts";

/** A parsed pyproject.toml document. */
export type Pyproject = Record<string, unknown>;

/** Parses pyproject.toml text; `display` names the file in errors. */
export function parsePyproject(text: string, display = "pyproject.toml"): Pyproject {
  try {
    return parseToml(text) as Pyproject;
  } catch (error) {
    const line = error instanceof TomlError ? error.line : undefined;
    const reason = (error as Error).message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new ConfigError(
      display,
      line,
      `is not valid TOML: ${reason}`,
      "Fix the syntax (https://toml.io), then run rig again",
    );
  }
}

/**
 * The pyproject.toml of a folder, or undefined when it has none. `root` makes
 * the file's name in errors relative to the project (`server/pyproject.toml`).
 */
export function readPyproject(dir: string, opts: { root?: string } = {}): Pyproject | undefined {
  const read = readPyprojectText(dir, opts.root);
  return read && parsePyproject(read.text, read.display);
}

/**
 * The text of a folder's pyproject.toml (undefined when it has none), its path, and its name
 * in errors: relative to `root`, else to the folder's parent.
 */
export function readPyprojectText(
  dir: string,
  root?: string,
): { file: string; text: string; display: string } | undefined {
  const file = path.join(dir, "pyproject.toml");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return undefined;
  }
  return { file, text, display: posixRelative(root ?? path.dirname(dir), file) };
}

/** A nested table, e.g. `tomlTable(data, "tool", "pytest", "ini_options")`; undefined when absent. */
export function tomlTable(data: unknown, ...keys: string[]): Record<string, unknown> | undefined {
  let node = data;
  for (const key of keys) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node && typeof node === "object" && !Array.isArray(node)
    ? node as Record<string, unknown>
    : undefined;
}

/** The `[project]` table (PEP 621), when the document has one. */
export function projectTable(data: Pyproject | undefined): Record<string, unknown> | undefined {
  return tomlTable(data, "project");
}

/** Whether `[project.optional-dependencies]` has a `dev` extra. */
export function hasDevExtra(data: Pyproject | undefined): boolean {
  return tomlTable(data, "project", "optional-dependencies")?.dev !== undefined;
}
