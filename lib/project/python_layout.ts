/**
 * What a Python component's own files say about its place in the project: a
 * uv workspace member uses the workspace's `.venv`, its `[tool.uv.sources]
 * x = { workspace = true }` entries are dependencies on those components, and
 * a FastAPI app is looked for in components declared in rig.toml too.
 */
import * as path from "../path.ts";
import type { Component } from "./project.ts";
import { findFastApiApp } from "./detect.ts";
import { findUvWorkspace, workspaceSources } from "../python/managers.ts";
import { posixRelative } from "../fs.ts";

/** Applies workspace environments, workspace dependency edges and app detection. */
export async function applyPythonLayout(components: Component[], root: string): Promise<void> {
  const byDir = new Map(components.map((c) => [path.resolve(c.dir), c]));
  for (const c of components) {
    if (c.kind !== "python-app" && c.kind !== "python-lib") continue;
    // Detection found an app before rig.toml declared the components nested in this one:
    // look again without their folders (and for declared components, look at all).
    const nested = components.filter((o) => o !== c && isInside(o.dir, c.dir)).map((o) => o.dir);
    if (c.kind === "python-app" && c.config.app === undefined && (!c.app || nested.length)) {
      c.app = await findFastApiApp(c.dir, nested);
    }
    let workspace;
    try {
      workspace = findUvWorkspace(c.dir, root);
    } catch {
      continue; // A malformed pyproject.toml: rig install reports it with its line.
    }
    if (!workspace) continue;
    if (c.venv === undefined && path.resolve(c.dir) !== workspace.root) {
      c.venv = posixRelative(c.dir, path.join(workspace.root, ".venv"));
    }
    if (c.config.depends_on !== undefined) continue;
    for (const dir of workspaceSources(c.dir, root)) {
      const dep = byDir.get(path.resolve(dir));
      if (dep && dep !== c && !c.dependsOn.includes(dep.name)) c.dependsOn.push(dep.name);
    }
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}
