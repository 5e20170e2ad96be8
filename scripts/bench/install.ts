/**
 * Bench section "install": `rig install` on a fresh copy of the reference
 * project (venvs created, requirements installed through the shared download
 * cache, npm ci), then again with nothing changed (the fast path), each run as
 * a separate rig process the way a user would.
 */
import * as path from "node:path";
import type { BenchSection } from "./section.ts";
import { copyReferenceProject } from "../../tests/helpers.ts";
import { timedRig } from "./timed_rig.ts";
import { benchUvInstall } from "./install_uv.ts";

async function rigInstall(root: string): Promise<{ ms: number; summary: string }> {
  const { ms, doc } = await timedRig<
    { components: { name: string; skipped: boolean; installer: string }[] }
  >(root, ["install"]);
  const summary = doc.components.map((c) => `${c.name}=${c.skipped ? "skipped" : c.installer}`)
    .join(" ");
  return { ms, summary };
}

/** The "install" bench section. */
export const installSection: BenchSection = {
  name: "install",
  description:
    "rig install on examples/authserver (fresh vs no-change second run) and on the uv workspace examples/fullstack (vs plain uv sync)",
  async run({ tmp, log }) {
    const root = await copyReferenceProject(path.join(tmp, "authserver"));
    const first = await rigInstall(root);
    log(
      `first rig install (fresh venvs, pip, npm ci): ${
        (first.ms / 1000).toFixed(1)
      }s  ${first.summary}`,
    );
    const second = await rigInstall(root);
    log(
      `second rig install (nothing changed):          ${second.ms.toFixed(0)}ms  ${second.summary}`,
    );
    const ratio = second.ms / first.ms;
    log(`ratio second/first: ${(ratio * 100).toFixed(2)}% (target: under 10%)`);
    await benchUvInstall(tmp, log);
  },
};
