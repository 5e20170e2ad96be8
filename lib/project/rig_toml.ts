/**
 * rig.toml: reading and validating it (errors name the file, line and key)
 * and applying its overrides to the detected components.
 */
import { compareNames, isDir, toPosix } from "../fs.ts";
import * as path from "../path.ts";
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "../errors.ts";
import {
  type Component,
  COMPONENT_KINDS,
  type ComponentKind,
  makeComponent,
  type ProjectSettings,
  type Readiness,
  toArgv,
} from "./project.ts";

export interface LoadedConfig {
  file: string;
  settings: ProjectSettings;
  components: Map<string, { table: Record<string, unknown>; line?: number }>;
  locate(section: string, key?: string): number | undefined;
}

const COMPONENT_KEYS: Record<
  string,
  "string" | "string[]" | "command" | "commands" | "bool" | "number" | "ready"
> = {
  path: "string",
  kind: "string",
  depends_on: "string[]",
  inputs: "string[]",
  env: "string[]",
  test: "command",
  dev: "command",
  build: "command",
  lint: "command",
  app: "string",
  python: "string",
  venv: "string",
  system_site_packages: "bool",
  fail_under: "number",
  ready: "ready",
  base_image: "string",
  prestart: "commands",
  test_prestart: "commands",
};

const PROJECT_KEYS = new Set(["name", "config_dir", "env", "remote_cache"]);

/** Reads and validates rig.toml; errors name the file, line and key. */
export async function readConfig(file: string): Promise<LoadedConfig> {
  const text = await Deno.readTextFile(file);
  const display = path.basename(file);
  let data: Record<string, unknown>;
  try {
    data = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        display,
        error.line,
        `invalid TOML: ${reason}`,
        "Fix the syntax (https://toml.io) or remove the file to use detection only",
      );
    }
    throw error;
  }
  const lines = text.split(/\r?\n/);
  const locate = (section: string, key?: string): number | undefined => {
    const header = new RegExp(`^\\s*\\[\\s*${escape(section)}\\s*\\]`);
    let start = lines.findIndex((l) => header.test(l));
    if (start < 0) {
      // Dotted keys or inline tables: look for the key anywhere.
      start = 0;
      if (!key) return undefined;
    }
    if (!key) return start + 1;
    const keyLine = new RegExp(`^\\s*("?)${escape(key)}\\1\\s*=`);
    for (let i = start + (lines[start]?.trim().startsWith("[") ? 1 : 0); i < lines.length; i++) {
      if (i > start && /^\s*\[/.test(lines[i]!)) break;
      if (keyLine.test(lines[i]!)) return i + 1;
    }
    return start + 1;
  };
  const fail = (
    section: string,
    key: string | undefined,
    problem: string,
    hint?: string,
  ): never => {
    throw new ConfigError(display, locate(section, key), problem, hint);
  };

  for (const key of Object.keys(data)) {
    // [release] belongs to rig release, which reads and validates it (lib/release/config.ts).
    if (key !== "project" && key !== "components" && key !== "release") {
      fail(
        key,
        undefined,
        `unknown table "${key}"`,
        `rig.toml has [project], [components.NAME] and [release] tables`,
      );
    }
  }
  const project = (data.project ?? {}) as Record<string, unknown>;
  if (typeof project !== "object" || Array.isArray(project)) {
    fail("project", undefined, `"project" must be a table`);
  }
  for (const key of Object.keys(project)) {
    if (!PROJECT_KEYS.has(key)) {
      fail(
        "project",
        key,
        `unknown key "project.${key}"`,
        `Known keys: ${[...PROJECT_KEYS].join(", ")}`,
      );
    }
  }
  const str = (
    section: string,
    table: Record<string, unknown>,
    key: string,
  ): string | undefined => {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string") fail(section, key, `"${section}.${key}" must be a string`);
    return v as string;
  };
  const strList = (section: string, table: Record<string, unknown>, key: string): string[] => {
    const v = table[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      fail(
        section,
        key,
        `"${section}.${key}" must be a list of strings`,
        `Example: ${key} = ["a", "b"]`,
      );
    }
    return v as string[];
  };
  let remoteCache: ProjectSettings["remoteCache"];
  if (project.remote_cache !== undefined) {
    const rc = project.remote_cache as Record<string, unknown>;
    if (typeof rc !== "object" || Array.isArray(rc) || typeof rc.url !== "string") {
      fail("project", "remote_cache", `"project.remote_cache" must be a table with a "url"`);
    }
    remoteCache = {
      url: rc.url as string,
      team: str("project.remote_cache", rc, "team"),
      tokenEnv: str("project.remote_cache", rc, "token_env"),
    };
    if (rc.read_only !== undefined) {
      if (typeof rc.read_only !== "boolean") {
        fail("project", "remote_cache", `"project.remote_cache.read_only" must be true or false`);
      }
      remoteCache.readOnly = rc.read_only as boolean;
    }
  }
  const settings: ProjectSettings = {
    name: str("project", project, "name") ?? path.basename(path.dirname(path.resolve(file))),
    configDir: str("project", project, "config_dir") ?? "config",
    env: strList("project", project, "env"),
    remoteCache,
  };

  const componentsTable = (data.components ?? {}) as Record<string, unknown>;
  const components = new Map<string, { table: Record<string, unknown>; line?: number }>();
  for (const [name, raw] of Object.entries(componentsTable)) {
    const section = `components.${name}`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      fail(section, undefined, `"${section}" must be a table`);
    }
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) {
      fail(
        section,
        undefined,
        `component name "${name}" may only use letters, digits, "-" and "_"`,
      );
    }
    const table = raw as Record<string, unknown>;
    for (const [key, value] of Object.entries(table)) {
      const type = COMPONENT_KEYS[key];
      if (!type) {
        fail(
          section,
          key,
          `unknown key "${section}.${key}"`,
          `Known keys: ${Object.keys(COMPONENT_KEYS).join(", ")}`,
        );
      }
      const bad = (expected: string) =>
        fail(section, key, `"${section}.${key}" must be ${expected}`);
      if (type === "string" && typeof value !== "string") bad("a string");
      if (type === "bool" && typeof value !== "boolean") bad("true or false");
      if (type === "number" && typeof value !== "number") bad("a number");
      if (
        type === "string[]" && (!Array.isArray(value) || value.some((x) => typeof x !== "string"))
      ) {
        bad("a list of strings");
      }
      if (
        type === "command" && typeof value !== "string" &&
        (!Array.isArray(value) || value.some((x) => typeof x !== "string"))
      ) bad(`a command string or a list of arguments`);
      if (
        type === "commands" && typeof value !== "string" &&
        (!Array.isArray(value) ||
          value.some((x) =>
            typeof x !== "string" && (!Array.isArray(x) || x.some((y) => typeof y !== "string"))
          ))
      ) bad(`a list of commands, e.g. ["python -m app.initial_data"]`);
      if (
        type === "ready" && !isReadiness(value)
      ) {
        bad(`a table such as { http = "/health" }, { port = 8000 } or { log = "ready" }`);
      }
    }
    if (table.kind !== undefined && !COMPONENT_KINDS.includes(table.kind as ComponentKind)) {
      fail(
        section,
        "kind",
        `unknown kind "${table.kind}"`,
        `Use one of: ${COMPONENT_KINDS.join(", ")}`,
      );
    }
    components.set(name, { table, line: locate(section) });
  }
  return { file: display, settings, components, locate };
}

export function applyConfig(
  detected: Component[],
  config: LoadedConfig,
  root: string,
): Component[] {
  const result = [...detected];
  for (const [name, { table }] of config.components) {
    const section = `components.${name}`;
    const wantedPath = typeof table.path === "string"
      ? toPosix(path.normalize(table.path))
      : undefined;
    let component = wantedPath !== undefined
      ? result.find((c) => c.path === wantedPath)
      : result.find((c) => c.name === name);
    if (!component) {
      if (wantedPath === undefined) {
        throw new ConfigError(
          config.file,
          config.locate(section),
          `component "${name}" was not detected and has no "path"`,
          `Add path = "folder" to [${section}], or use one of the detected names: ${
            detected.map((c) => c.name).join(", ") || "(none)"
          }`,
        );
      }
      const dir = path.resolve(root, wantedPath);
      if (!isDir(dir)) {
        throw new ConfigError(
          config.file,
          config.locate(section, "path"),
          `folder "${wantedPath}" of component "${name}" does not exist`,
          "Fix the path (relative to the folder of rig.toml)",
        );
      }
      if (table.kind === undefined) {
        throw new ConfigError(
          config.file,
          config.locate(section),
          `cannot tell the kind of component "${name}" in "${wantedPath}"`,
          `Add kind = "${COMPONENT_KINDS.join('" | "')}"`,
        );
      }
      component = makeComponent(root, dir, table.kind as ComponentKind);
      component.declared = true;
      result.push(component);
    }
    component.name = name;
    component.config = table;
    if (table.kind) component.kind = table.kind as ComponentKind;
    const list = (v: unknown) => (v as string[] | undefined) ?? [];
    if (table.depends_on !== undefined) component.dependsOn = list(table.depends_on);
    if (table.inputs !== undefined) component.inputs = list(table.inputs);
    if (table.env !== undefined) component.env = list(table.env);
    for (const key of ["test", "dev", "build", "lint"] as const) {
      const value = table[key];
      if (value !== undefined) component.commands[key] = toArgv(value as string | string[]);
    }
    if (table.app !== undefined) component.app = table.app as string;
    if (table.python !== undefined) component.python = table.python as string;
    if (table.venv !== undefined) component.venv = table.venv as string;
    if (table.system_site_packages !== undefined) {
      component.systemSitePackages = table.system_site_packages as boolean;
    }
    if (table.fail_under !== undefined) component.failUnder = table.fail_under as number;
    if (table.ready !== undefined) component.ready = { ...(table.ready as Readiness) };
    const prestarts = [["prestart", "prestart"], ["test_prestart", "testPrestart"]] as const;
    for (const [key, field] of prestarts) {
      const value = table[key] as string | (string | string[])[] | undefined;
      if (value === undefined) continue;
      if (component.kind !== "python-app") {
        throw new ConfigError(
          config.file,
          config.locate(section, key),
          `"${key}" only works on a python-app component ("${name}" is ${component.kind})`,
          `Move it to the server's table, e.g. [components.server]`,
        );
      }
      component[field] = (typeof value === "string" ? [value] : value).map((c) => toArgv(c));
    }
  }
  const names = new Map<string, number>();
  for (const c of result) names.set(c.name, (names.get(c.name) ?? 0) + 1);
  for (const [name, count] of names) {
    if (count > 1) {
      throw new ConfigError(
        config.file,
        config.locate(`components.${name}`),
        `two components are named "${name}"`,
        "Give each component its own name in rig.toml",
      );
    }
  }
  return result.sort((a, b) => compareNames(a.path, b.path));
}

function isReadiness(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return entries.length > 0 &&
    entries.every(([k, v]) =>
      (k === "http" && typeof v === "string" && v.startsWith("/")) ||
      (k === "port" && Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536) ||
      (k === "log" && typeof v === "string")
    );
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
