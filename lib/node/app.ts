/**
 * Node applications (`node-app`): telling an app from a library, its
 * framework, the folder its build writes (the artifact), the URL its dev
 * server prints, and the variables through which it reads the API's URL.
 */
import * as path from "../path.ts";
import { isDir, isFile, readDirSyncIfPresent } from "../fs.ts";
import { readPackageJson } from "./managers.ts";

/** Frameworks rig recognises, by the dependency that marks them. */
export type Framework = "vite" | "next" | "nuxt" | "astro" | "sveltekit" | "remix" | "cra";

const FRAMEWORK_DEPS: [RegExp, Framework][] = [
  [/^next$/, "next"],
  [/^nuxt3?$/, "nuxt"],
  [/^astro$/, "astro"],
  [/^@sveltejs\/kit$/, "sveltekit"],
  [/^@remix-run\//, "remix"],
  [/^react-scripts$/, "cra"],
  [/^vite$/, "vite"],
];

/** Every dependency name of a package.json (dependencies and devDependencies). */
export function dependencyNames(pkg: Record<string, unknown>): string[] {
  const names: string[] = [];
  for (const field of ["dependencies", "devDependencies", "optionalDependencies"]) {
    const deps = pkg[field];
    if (deps && typeof deps === "object") names.push(...Object.keys(deps));
  }
  return names;
}

/** The framework of a package (next before vite: many apps use both). */
export function frameworkOf(pkg: Record<string, unknown>): Framework | undefined {
  const names = dependencyNames(pkg);
  for (const [pattern, framework] of FRAMEWORK_DEPS) {
    if (names.some((n) => pattern.test(n))) return framework;
  }
  return undefined;
}

/** The package.json scripts of a package. */
export function scriptsOf(pkg: Record<string, unknown> | undefined): Record<string, string> {
  const scripts = pkg?.scripts;
  if (!scripts || typeof scripts !== "object") return {};
  return Object.fromEntries(
    Object.entries(scripts).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

/**
 * Whether a package is an application: private with a `dev` or `build` script,
 * or built on an application framework. A library that merely uses vite to
 * build (it has `exports`/`main` and is not private) stays a library.
 */
export function isNodeApp(pkg: Record<string, unknown>): boolean {
  const scripts = scriptsOf(pkg);
  if (pkg.private === true && (scripts.dev || scripts.build)) return true;
  const framework = frameworkOf(pkg);
  if (!framework) return false;
  if (framework !== "vite") return true;
  const publishes = pkg.private !== true && (pkg.main || pkg.exports || pkg.module);
  return !publishes;
}

/** The kind of a folder's package.json: `node-app` or `node-lib`. */
export function nodeKind(dir: string): "node-app" | "node-lib" {
  const pkg = readPackageJson(dir);
  return pkg && isNodeApp(pkg) ? "node-app" : "node-lib";
}

/** Where an app's build writes and whether it must hold an `index.html`. */
export interface AppOutput {
  /** Folder relative to the component, `/` separators. */
  dir: string;
  /** A static single-page build: `index.html` must be at the top. */
  spa: boolean;
  /** How rig found it (`vite.config.ts outDir`, `--outDir in the build script`, default). */
  source: string;
}

const CONFIG_NAMES = (base: string) =>
  ["ts", "mts", "js", "mjs", "cjs"].map((ext) => `${base}.config.${ext}`);

function readConfig(dir: string, base: string): { name: string; text: string } | undefined {
  for (const name of CONFIG_NAMES(base)) {
    try {
      return { name, text: Deno.readTextFileSync(path.join(dir, name)) };
    } catch {
      // Try the next extension.
    }
  }
  return undefined;
}

function stringOption(text: string, key: string): string | undefined {
  return text.match(new RegExp(`\\b${key}\\s*:\\s*["'\`]([^"'\`]+)["'\`]`))?.[1];
}

/** The output folder a build script names (`--outDir x`, `--out-dir=x`, `-o x`). */
export function scriptOutDir(script: string): string | undefined {
  const match = script.match(/(?:--outDir|--out-dir|--outdir|--dist-dir)[=\s]+["']?([^\s"'&|;]+)/);
  return match?.[1];
}

/** Works out the folder an app's build writes, from its script and framework config. */
export function appOutput(dir: string, options: { buildScript?: string } = {}): AppOutput {
  const pkg = readPackageJson(dir) ?? {};
  const framework = frameworkOf(pkg);
  const script = options.buildScript ?? scriptsOf(pkg).build ?? "";
  const fromScript = scriptOutDir(script);
  const clean = (p: string) => p.replace(/^\.\//, "").replace(/\/+$/, "");
  switch (framework) {
    case "next": {
      const config = readConfig(dir, "next");
      const distDir = config && stringOption(config.text, "distDir");
      const exported = /\bnext\s+export\b/.test(script) ||
        /\boutput\s*:\s*["']export["']/.test(config?.text ?? "");
      if (exported) return { dir: "out", spa: true, source: "next export" };
      return {
        dir: clean(distDir ?? ".next"),
        spa: false,
        source: distDir ? config!.name : "next",
      };
    }
    case "nuxt": {
      const generate = /\bnux[ti]\s+generate\b/.test(script);
      return generate
        ? { dir: ".output/public", spa: true, source: "nuxt generate" }
        : { dir: ".output", spa: false, source: "nuxt build" };
    }
    case "astro": {
      const config = readConfig(dir, "astro");
      const out = config && stringOption(config.text, "outDir");
      const server = /\boutput\s*:\s*["'](server|hybrid)["']/.test(config?.text ?? "");
      return { dir: clean(out ?? "dist"), spa: !server, source: out ? config!.name : "astro" };
    }
    case "sveltekit": {
      const config = readConfig(dir, "svelte");
      const isStatic = /@sveltejs\/adapter-static/.test(config?.text ?? "");
      const pages = config && stringOption(config.text, "pages");
      if (isStatic) {
        return { dir: clean(pages ?? "build"), spa: true, source: "adapter-static" };
      }
      const node = /@sveltejs\/adapter-node/.test(config?.text ?? "");
      return node
        ? { dir: "build", spa: false, source: "adapter-node" }
        : { dir: ".svelte-kit/output", spa: false, source: "@sveltejs/kit" };
    }
    case "remix":
      return { dir: "build", spa: false, source: "remix" };
    case "cra":
      return { dir: clean(fromScript ?? "build"), spa: true, source: "react-scripts" };
    default: {
      if (fromScript) {
        return {
          dir: clean(fromScript),
          spa: framework === "vite" || isFile(path.join(dir, "index.html")),
          source: "script",
        };
      }
      const config = readConfig(dir, "vite");
      const out = config && stringOption(config.text, "outDir");
      const ssr = /\bssr\s*:/.test(config?.text ?? "") || /--ssr\b/.test(script);
      // A Vite app, or any app with an index.html shell at its root, builds a single page.
      const shell = framework === "vite" || isFile(path.join(dir, "index.html"));
      const spa = shell && !ssr && !/\blib\s*:/.test(config?.text ?? "");
      if (out) return { dir: clean(out), spa, source: `${config!.name} outDir` };
      return { dir: "dist", spa, source: framework === "vite" ? "vite" : "default" };
    }
  }
}

/** Why a built output folder is not a usable artifact, or undefined when it is. */
export function outputProblem(dir: string, output: AppOutput): string | undefined {
  const full = path.join(dir, ...output.dir.split("/"));
  if (!isDir(full)) return `the build wrote no "${output.dir}/" folder`;
  let empty = true;
  for (const _ of Deno.readDirSync(full)) {
    empty = false;
    break;
  }
  if (empty) return `"${output.dir}/" is empty`;
  if (output.spa && !isFile(path.join(full, "index.html"))) {
    return `"${output.dir}/" has no index.html, which a static single-page build must have`;
  }
  return undefined;
}

/** The local URL a dev server prints when it listens (`Local: http://localhost:5173/`). */
export const DEV_URL = /\bhttps?:\/\/(?:localhost|127\.0\.0\.1|\[::1?\]|0\.0\.0\.0):(\d{2,5})\b/;

/** The URL a dev server printed in a line, or undefined. */
export function devServerUrl(line: string): string | undefined {
  // deno-lint-ignore no-control-regex
  const plain = line.replace(/\u001b\[[0-9;]*m/g, "");
  const match = plain.match(DEV_URL);
  return match ? match[0].replace("0.0.0.0", "127.0.0.1") : undefined;
}

/** Framework prefixes of variables exposed to browser code. */
const PUBLIC_PREFIX = /^(VITE_|NEXT_PUBLIC_|NUXT_PUBLIC_|PUBLIC_|REACT_APP_|EXPO_PUBLIC_)/;
const API_WORD = /(API|SERVER|BACKEND|BASE_URL|ENDPOINT|ORIGIN)/;

/**
 * The browser-visible variables through which an app reads the API's URL: the
 * `VITE_*`, `NEXT_PUBLIC_*`, `NUXT_PUBLIC_*` (…) names in its `.env*` files whose
 * value is a URL or whose name says API/SERVER/BACKEND, plus such names its
 * sources read through `import.meta.env` / `process.env`.
 */
export function apiUrlVariables(dir: string): string[] {
  const names = new Set<string>();
  const entries = readDirSyncIfPresent(dir);
  if (!entries) return [];
  for (const entry of entries) {
    if (!entry.isFile || !/^\.env(\..+)?$/.test(entry.name)) continue;
    let text = "";
    try {
      text = Deno.readTextFileSync(path.join(dir, entry.name));
    } catch {
      continue;
    }
    for (const m of text.matchAll(/^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)\s*=\s*(.*)$/gm)) {
      const [name, value] = [m[1]!, m[2]!.trim().replace(/^["']|["']$/g, "")];
      if (!PUBLIC_PREFIX.test(name)) continue;
      if (/^https?:\/\//.test(value) || API_WORD.test(name.replace(PUBLIC_PREFIX, ""))) {
        names.add(name);
      }
    }
  }
  for (const name of sourceVariables(dir)) {
    if (API_WORD.test(name.replace(PUBLIC_PREFIX, ""))) names.add(name);
  }
  return [...names].sort();
}

function sourceVariables(dir: string): string[] {
  const found = new Set<string>();
  const scan = (file: string) => {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      return;
    }
    for (const m of text.matchAll(/\b(?:import\.meta\.env|process\.env)\.([A-Z][A-Z0-9_]*)/g)) {
      if (PUBLIC_PREFIX.test(m[1]!)) found.add(m[1]!);
    }
  };
  const source = /\.(m?[jt]sx?|vue|svelte|astro)$/;
  const visit = (folder: string, depth: number) => {
    const entries = readDirSyncIfPresent(folder);
    if (!entries) return;
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = path.join(folder, entry.name);
      if (entry.isDirectory) {
        if (depth < 4 && !/^(dist|build|out|coverage)$/.test(entry.name)) visit(full, depth + 1);
      } else if (source.test(entry.name)) scan(full);
    }
  };
  for (const sub of ["src", "app", "pages", "lib"]) {
    if (isDir(path.join(dir, sub))) visit(path.join(dir, sub), 0);
  }
  return [...found];
}
