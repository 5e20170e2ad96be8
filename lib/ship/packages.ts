/**
 * rig as packages of the registries people already use: an npm package whose
 * `rig` bin runs the bundle with the `deno` npm package's binary, and a wheel
 * whose `rig` console script runs it with the `deno` PyPI package's binary.
 */
import * as path from "../path.ts";
import { writeZip, type ZipInput } from "../archive.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { recordHash } from "../python/wheel.ts";
import { RIG_VERSION } from "../version.ts";
import { template } from "../../templates/mod.ts";
import { DENO_VERSION } from "./committed.ts";

/** The npm package's name (its bin is `rig`). */
export const NPM_PACKAGE = "rig-cli";
/** The PyPI distribution's name (its console script is `rig`). */
export const PYPI_PACKAGE = "rig-cli";
/** The import name of the wheel's Python package. */
const PY_MODULE = "rig_cli";

const SUMMARY = "rig: run, test, install and build a polyglot repository from a fresh clone";

function render(name: string): string {
  return template(name)
    .replaceAll("{{RIG_VERSION}}", RIG_VERSION)
    .replaceAll("{{PYPI_PACKAGE}}", PYPI_PACKAGE);
}

/** The npm package's package.json. */
export function npmManifest(): Record<string, unknown> {
  return {
    name: NPM_PACKAGE,
    version: RIG_VERSION,
    description: SUMMARY,
    license: "MIT",
    bin: { rig: "bin/rig.cjs" },
    files: ["bin/rig.cjs", "rig.js", "README.md"],
    dependencies: { deno: DENO_VERSION },
    engines: { node: ">=18" },
  };
}

/** Writes the npm package's folder (package.json, bin/rig.cjs, rig.js, README.md) into `dir`. */
export async function writeNpmPackage(dir: string, bundle: string): Promise<string[]> {
  const files: Record<string, string> = {
    "package.json": JSON.stringify(npmManifest(), null, 2) + "\n",
    "bin/rig.cjs": render("npm_bin.cjs"),
    "rig.js": bundle,
    "README.md": readme("npm install -D " + NPM_PACKAGE, "npx rig test"),
  };
  for (const [name, text] of Object.entries(files)) {
    await writeFileAtomic(
      path.join(dir, name),
      text,
      name.startsWith("bin/") ? { mode: 0o755 } : {},
    );
  }
  return Object.keys(files);
}

/** The wheel's file name. */
export function wheelName(): string {
  return `${PY_MODULE}-${RIG_VERSION}-py3-none-any.whl`;
}

/** Builds the wheel into `outDir`; returns its path. Reproducible: same bundle, same bytes. */
export async function writeWheel(outDir: string, bundle: string): Promise<string> {
  const encode = (text: string) => new TextEncoder().encode(text);
  const distInfo = `${PY_MODULE}-${RIG_VERSION}.dist-info`;
  const metadata = [
    "Metadata-Version: 2.1",
    `Name: ${PYPI_PACKAGE}`,
    `Version: ${RIG_VERSION}`,
    `Summary: ${SUMMARY}`,
    "License: MIT",
    // The deno wheel's own floor.
    "Requires-Python: >=3.10",
    `Requires-Dist: deno==${DENO_VERSION}`,
    "Description-Content-Type: text/markdown",
    "",
    readme(`pip install ${PYPI_PACKAGE}`, `uvx --from ${PYPI_PACKAGE} rig test`),
  ].join("\n");
  const files: ZipInput[] = [
    { name: `${PY_MODULE}/__init__.py`, data: encode(`__version__ = "${RIG_VERSION}"\n`) },
    { name: `${PY_MODULE}/__main__.py`, data: encode(render("pypi_main.py")) },
    { name: `${PY_MODULE}/rig.js`, data: encode(bundle) },
    { name: `${distInfo}/METADATA`, data: encode(metadata) },
    {
      name: `${distInfo}/WHEEL`,
      data: encode(
        "Wheel-Version: 1.0\nGenerator: rig\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
      ),
    },
    {
      name: `${distInfo}/entry_points.txt`,
      data: encode(`[console_scripts]\nrig = ${PY_MODULE}.__main__:main\n`),
    },
  ];
  const record = [];
  for (const file of files) {
    record.push(`${file.name},${await recordHash(file.data)},${file.data.length}`);
  }
  record.push(`${distInfo}/RECORD,,`);
  files.push({ name: `${distInfo}/RECORD`, data: encode(record.join("\n") + "\n") });
  const out = path.join(outDir, wheelName());
  await writeFileAtomic(out, await writeZip(files));
  return out;
}

function readme(install: string, example: string): string {
  return [
    `# rig ${RIG_VERSION}`,
    "",
    SUMMARY + ".",
    "",
    "```sh",
    install,
    example,
    "```",
    "",
    `This package runs rig's single-file bundle with Deno ${DENO_VERSION}, which it depends on.`,
    "",
  ].join("\n");
}
