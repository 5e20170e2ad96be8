/**
 * The build context of a container image: the component's files minus its
 * `.dockerignore` (or rig's default rules when it has none) and minus what
 * must never reach an image (`.git`, `.rig`, `.env*` files, venvs), copied into a
 * folder rig owns. The engine sees exactly the files rig hashed, and the
 * project is never written to.
 */
import * as path from "../path.ts";
import { RigError } from "../errors.ts";
import { sha256File, sha256Hex } from "../hash.ts";
import { compilePattern, type PatternRule } from "../ignore.ts";

/** Rules rig applies when a component has no `.dockerignore` (also what `--write-dockerignore` saves). */
export const DEFAULT_DOCKERIGNORE = [
  "# Written by rig: files that never belong in an image.",
  ".git",
  ".rig",
  ".venv",
  "venv",
  "env",
  "node_modules",
  ".env",
  ".env.*",
  "dist",
  "build",
  "**/__pycache__",
  "**/*.pyc",
  ".pytest_cache",
  ".mypy_cache",
  ".ruff_cache",
  ".coverage",
  "htmlcov",
  "data",
  "*.egg-info",
].join("\n") + "\n";

/** Paths never sent to an engine, whatever the `.dockerignore` says (secrets and state). */
const NEVER_SENT = [
  ".git",
  ".rig",
  "**/.env",
  "**/.env.*",
  "!**/.env.example",
  "!**/.env.sample",
  "!**/.env.template",
];

/** One file of an assembled context. */
export interface ContextFile {
  /** Path relative to the context root, `/`-separated. */
  path: string;
  sha256: string;
  executable: boolean;
}

/** A build context rig assembled. */
export interface ImageContext {
  /** The folder handed to the engine. */
  dir: string;
  files: ContextFile[];
  /** SHA-256 over every file's path, mode and content. */
  hash: string;
  /** True when the component has no `.dockerignore` and rig's default rules applied. */
  defaultIgnore: boolean;
}

/** `.dockerignore` rules compiled: patterns are relative to the context root, last match wins. */
export function compileDockerignore(text: string): PatternRule[] {
  const rules: PatternRule[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    if (negate) line = line.slice(1).trim();
    // Docker cleans every pattern and anchors it at the context root.
    line = path.posix.normalize(line).replace(/^(\.\/|\/)+/, "");
    if (!line || line === ".") continue;
    const rule = compilePattern(`${negate ? "!" : ""}/${line}`);
    if (rule) rules.push(rule);
  }
  return rules;
}

/** True when `file` (relative, `/`-separated) is excluded by the rules or by a parent folder's exclusion. */
export function isDockerignored(rules: readonly PatternRule[], file: string): boolean {
  const parts = file.split("/");
  let excluded = false;
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    for (const rule of rules) {
      if (rule.dirOnly && i === parts.length) continue;
      if (rule.regex.test(prefix)) excluded = !rule.negate;
    }
  }
  return excluded;
}

const neverRules = compileDockerignore(NEVER_SENT.join("\n"));

/**
 * Copies the component's folder into `dest` (emptied first), leaving out
 * ignored files, and hashes what it copied. Symlinks that point outside the
 * component are refused: an image must not pick up files from elsewhere.
 */
export async function assembleContext(
  componentDir: string,
  dest: string,
): Promise<ImageContext> {
  let ignoreText: string | undefined;
  try {
    ignoreText = await Deno.readTextFile(path.join(componentDir, ".dockerignore"));
  } catch {
    ignoreText = undefined;
  }
  const rules = compileDockerignore(ignoreText ?? DEFAULT_DOCKERIGNORE);
  await Deno.remove(dest, { recursive: true }).catch(() => {});
  await Deno.mkdir(dest, { recursive: true });
  const files: ContextFile[] = [];
  const walk = async (relDir: string): Promise<void> => {
    const entries: Deno.DirEntry[] = [];
    for await (const entry of Deno.readDir(path.join(componentDir, relDir))) entries.push(entry);
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const entry of entries) {
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (isDockerignored(neverRules, rel) || isDockerignored(rules, rel)) continue;
      const source = path.join(componentDir, rel);
      if (entry.isSymlink) {
        const real = await Deno.realPath(source).catch(() => undefined);
        const inside = real && !path.relative(componentDir, real).startsWith("..");
        if (!inside) {
          throw new RigError(
            `Cannot build the image context: "${rel}" is a symlink to a file outside the component`,
            `Replace the symlink with the file, or add "${rel}" to the component's .dockerignore`,
          );
        }
      }
      const info = await Deno.stat(source);
      if (info.isDirectory) {
        // A virtual environment is machine-specific whatever its folder is called.
        if (await isVenv(source)) continue;
        await Deno.mkdir(path.join(dest, rel), { recursive: true });
        await walk(rel);
      } else if (info.isFile) {
        const target = path.join(dest, rel);
        await Deno.copyFile(source, target);
        const executable = ((info.mode ?? 0) & 0o111) !== 0;
        files.push({ path: rel, sha256: await sha256File(target), executable });
      }
    }
  };
  await walk("");
  if (ignoreText === undefined) {
    await Deno.writeTextFile(path.join(dest, ".dockerignore"), DEFAULT_DOCKERIGNORE);
  }
  const hash = await sha256Hex(
    files.map((f) => `${f.path}\0${f.executable ? "x" : "-"}\0${f.sha256}\n`).join(""),
  );
  return { dir: dest, files, hash, defaultIgnore: ignoreText === undefined };
}

async function isVenv(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(path.join(dir, "pyvenv.cfg"))).isFile;
  } catch {
    return false;
  }
}

/** A `FROM` line's image, after `ARG` defaults and build arguments are substituted. */
export interface BaseImageRef {
  image: string;
  /** The stage name (`AS name`), when given. */
  stage?: string;
}

/**
 * The external images a Dockerfile builds from (stages referring to earlier
 * stages and `scratch` are left out), with `ARG` defaults before the first
 * `FROM` and `buildArgs` substituted.
 */
export function baseImages(dockerfile: string, buildArgs: Record<string, string> = {}): string[] {
  const args: Record<string, string> = {};
  const stages = new Set<string>();
  const images: string[] = [];
  const lines = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  let seenFrom = false;
  for (const line of lines) {
    const match = /^\s*(ARG|FROM)\s+(.*)$/i.exec(line);
    if (!match) continue;
    const [, instruction, rest] = match;
    if (instruction!.toUpperCase() === "ARG") {
      if (seenFrom) continue;
      const [name, value] = rest!.trim().split("=", 2) as [string, string | undefined];
      args[name] = buildArgs[name] ?? (value ?? "").replace(/^["']|["']$/g, "");
      continue;
    }
    seenFrom = true;
    const words = rest!.trim().split(/\s+/).filter((w) => !w.startsWith("--"));
    const image = (words[0] ?? "").replace(
      /\$\{?(\w+)\}?/g,
      (_, name: string) => buildArgs[name] ?? args[name] ?? "",
    );
    if (words[1]?.toLowerCase() === "as" && words[2]) stages.add(words[2].toLowerCase());
    if (image && image !== "scratch" && !stages.has(image.toLowerCase())) images.push(image);
  }
  return [...new Set(images)];
}
