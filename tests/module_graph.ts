/** The static import graph of a module, as `deno info --json` reports it (for start-up tests). */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

interface InfoDependency {
  specifier: string;
  code?: { specifier?: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
  /** Why the module cannot be loaded (a missing file). */
  error?: string;
}

interface ModuleInfo {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

/** `deno info --json` of `entry`: every module it can reach, dynamic imports too. */
async function moduleInfo(root: string, entry: string): Promise<ModuleInfo> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path.join(root, entry)],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout)) as ModuleInfo;
}

/**
 * The modules `entry` names, statically or by a literal `import()`, that
 * cannot be loaded, with why: `deno check` passes a dynamic import of a
 * missing file, which fails only when that path runs.
 */
export async function unloadableImports(root: string, entry: string): Promise<string[]> {
  const info = await moduleInfo(root, entry);
  return info.modules.filter((m) => m.error).map((m) =>
    `${displayName(root, m.specifier)}: ${m.error}`
  );
}

/**
 * Every module that evaluating `entry` evaluates before its first line runs:
 * static value imports, transitively (type-only and dynamic imports excluded).
 * Local files are given relative to `root`; npm packages as `npm:name`; node
 * built-ins as `node:name`.
 */
export async function staticImports(root: string, entry: string): Promise<Set<string>> {
  const info = await moduleInfo(root, entry);
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const names = new Set<string>();
  const visit = (url: string) => {
    const target = info.redirects[url] ?? url;
    if (seen.has(target)) return;
    seen.add(target);
    names.add(displayName(root, target));
    for (const dep of byUrl.get(target)?.dependencies ?? []) {
      if (dep.isDynamic || !dep.code?.specifier) continue;
      visit(dep.code.specifier);
    }
  };
  visit(info.roots[0]!);
  return names;
}

function displayName(root: string, url: string): string {
  if (url.startsWith("file:")) return path.relative(root, fileURLToPath(url)).replaceAll("\\", "/");
  const npm = url.match(/^npm:\/?(@?[^@/]+(?:\/[^@/]+)?)/);
  if (npm) return `npm:${npm[1]!.startsWith("@") ? npm[1] : npm[1]!.split("/")[0]}`;
  return url;
}
