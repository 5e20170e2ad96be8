/**
 * Validation of npm tarballs (`npm pack` output): the packed package.json has
 * the expected name and version, every `main` / `module` / `types` / `bin` /
 * `exports` target is inside, and no test files or secrets slipped in.
 */
import * as path from "../path.ts";
import { type ArchiveEntry, openArchive } from "../archive.ts";
import { ValidationError } from "../python/wheel.ts";

/** What validating an npm tarball found. */
export interface NpmPackReport {
  file: string;
  name: string;
  version: string;
  files: number;
  /** Entry points checked (paths inside `package/`). */
  entryPoints: string[];
}

/** Files that must never ship in a package: secrets and tests. */
const FORBIDDEN: { pattern: RegExp; why: string }[] = [
  { pattern: /(^|\/)\.env(\..*)?$/, why: "an environment file (secrets)" },
  { pattern: /(^|\/)\.npmrc$/, why: "an .npmrc (may hold registry tokens)" },
  { pattern: /\.(pem|key|p12|pfx)$/, why: "a private key or certificate" },
  { pattern: /(^|\/)id_(rsa|dsa|ecdsa|ed25519)(\.pub)?$/, why: "an SSH key" },
  { pattern: /(^|\/)(test|tests|__tests__)\//, why: "a test file" },
  { pattern: /\.(test|spec)\.[cm]?[jt]sx?$/, why: "a test file" },
];

/** Collects the file targets of a package.json `exports` value (conditions and subpaths). */
export function exportTargets(exports: unknown): string[] {
  if (typeof exports === "string") return [exports];
  if (Array.isArray(exports)) return exports.flatMap(exportTargets);
  if (exports && typeof exports === "object") {
    return Object.values(exports as Record<string, unknown>).flatMap(exportTargets);
  }
  return [];
}

/** Validates an npm tarball against the package.json it was packed from. */
export async function validateNpmPack(
  file: string,
  expected: { name: string; version: string; rebuild: string },
): Promise<NpmPackReport> {
  const label = path.basename(file);
  const fail = (problem: string, hint?: string): never => {
    throw new ValidationError(
      `Package "${label}" is invalid: ${problem}`,
      hint ?? `Fix package.json, then rebuild: ${expected.rebuild}`,
    );
  };
  let entries: ArchiveEntry[];
  try {
    entries = await openArchive(file);
  } catch (error) {
    return fail((error as Error).message);
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  const manifestEntry = byName.get("package/package.json") ??
    fail(`"package/package.json" is missing`);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(new TextDecoder().decode(await manifestEntry.read()));
  } catch (error) {
    return fail(`"package/package.json" is not JSON: ${(error as Error).message}`);
  }
  if (manifest.name !== expected.name) {
    fail(`package.json name is "${manifest.name}", expected "${expected.name}"`);
  }
  if (manifest.version !== expected.version) {
    fail(`package.json version is "${manifest.version}", expected "${expected.version}"`);
  }
  const targets: string[] = [];
  for (const key of ["main", "module", "types", "typings"]) {
    if (typeof manifest[key] === "string") targets.push(manifest[key] as string);
  }
  if (typeof manifest.bin === "string") targets.push(manifest.bin);
  else if (manifest.bin && typeof manifest.bin === "object") {
    targets.push(...Object.values(manifest.bin as Record<string, string>));
  }
  targets.push(...exportTargets(manifest.exports).filter((t) => !t.includes("*")));
  const checked: string[] = [];
  for (const target of targets) {
    const inside = path.posix.normalize(path.posix.join("package", target));
    if (checked.includes(inside)) continue;
    const found = byName.has(inside) ||
      [".js", ".json", "/index.js"].some((ext) => byName.has(inside + ext));
    if (!found) {
      fail(
        `entry point "${target}" is not in the tarball`,
        `Run the build script (npm run build) and check "files" in package.json, then: ${expected.rebuild}`,
      );
    }
    checked.push(inside);
  }
  for (const entry of entries) {
    const inner = entry.name.replace(/^package\//, "");
    for (const rule of FORBIDDEN) {
      if (rule.pattern.test(inner)) {
        fail(
          `"${inner}" is ${rule.why} and must not be published`,
          `Exclude it with "files" in package.json or an .npmignore, then: ${expected.rebuild}`,
        );
      }
    }
  }
  return {
    file,
    name: expected.name,
    version: expected.version,
    files: entries.length,
    entryPoints: checked,
  };
}
