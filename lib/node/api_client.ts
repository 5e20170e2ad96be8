/**
 * Generated API clients: a node component that generates code from the
 * server's OpenAPI document (with @hey-api/openapi-ts, openapi-typescript,
 * orval, openapi-typescript-codegen or @openapitools/openapi-generator-cli, or
 * a script naming an `openapi.json`) depends on the server's contract, wherever
 * it lives. This module finds the generator, the script that runs it and the
 * document it reads.
 */
import { isFile, readTextIfPresent } from "../fs.ts";
import * as path from "../path.ts";
import { dependencyNames, scriptsOf } from "./app.ts";
import { readPackageJson } from "./managers.ts";

/** A known generator: its npm package, its programs and its config files. */
interface Generator {
  pkg: string;
  bins: string[];
  configs: string[];
}

const GENERATORS: Generator[] = [
  {
    pkg: "@hey-api/openapi-ts",
    bins: ["openapi-ts"],
    configs: [
      "openapi-ts.config.ts",
      "openapi-ts.config.mts",
      "openapi-ts.config.js",
      "openapi-ts.config.mjs",
      "openapi-ts.config.cjs",
    ],
  },
  { pkg: "openapi-typescript", bins: ["openapi-typescript"], configs: ["redocly.yaml"] },
  {
    pkg: "orval",
    bins: ["orval"],
    configs: ["orval.config.ts", "orval.config.js", "orval.config.mjs", "orval.config.cjs"],
  },
  { pkg: "openapi-typescript-codegen", bins: ["openapi"], configs: [] },
  {
    pkg: "@openapitools/openapi-generator-cli",
    bins: ["openapi-generator-cli"],
    configs: ["openapitools.json"],
  },
];

/** What rig found about a component's generated API client. */
export interface ApiClientInfo {
  /** The generator's npm package, or `script` when only a script names an OpenAPI file. */
  generator: string;
  /** Why the component depends on the server's contract (for `rig info`). */
  reason: string;
  /** The package.json script that regenerates the client, when there is one. */
  script?: { name: string; command: string };
  /** The config file of the generator, relative to the component. */
  config?: string;
  /** The OpenAPI document the generator reads: a path relative to the component, or a URL. */
  spec?: string;
}

const SPEC_FILE =
  /(?:^|[\s"'=])((?:\.{0,2}\/)?[\w@./-]*(?:openapi|swagger|schema|api)[\w.-]*\.(?:json|ya?ml))(?=$|[\s"'&|;])/i;
const SPEC_URL = /\bhttps?:\/\/[^\s"'&|;]*(?:openapi|swagger)[^\s"'&|;]*/i;

/** The OpenAPI document a command or config text names (a path or URL), if any. */
export function specIn(text: string): string | undefined {
  const flag = text.match(/(?:^|\s)(?:-i|--input|--spec|-s)[=\s]+["']?([^\s"'&|;]+)/);
  if (flag && /\.(json|ya?ml)$|^https?:/.test(flag[1]!)) return flag[1];
  const config = text.match(
    /\b(?:input|target|inputSpec|spec)\s*:\s*(?:\{[^}]*?\bpath\s*:\s*)?["'`]([^"'`]+\.(?:json|ya?ml)|https?:[^"'`]+)["'`]/,
  );
  if (config) return config[1];
  const url = text.match(SPEC_URL);
  if (url) return url[0];
  return text.match(SPEC_FILE)?.[1];
}

/** Finds how a node component generates an API client, or undefined when it does not. */
export function detectApiClient(dir: string): ApiClientInfo | undefined {
  const pkg = readPackageJson(dir);
  if (!pkg) return undefined;
  const deps = new Set(dependencyNames(pkg));
  const scripts = scriptsOf(pkg);
  const runs = (command: string, bin: string) =>
    new RegExp(`(^|[\\s;&|(/])${bin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\s|$)`).test(
      command,
    );
  for (const generator of GENERATORS) {
    const config = generator.configs.find((name) => isFile(path.join(dir, name)));
    const script = Object.entries(scripts).find(([, command]) =>
      generator.bins.some((bin) => runs(command, bin))
    );
    if (!deps.has(generator.pkg) && !script) continue;
    if (!script && !config && !deps.has(generator.pkg)) continue;
    const configText = config ? readTextIfPresent(path.join(dir, config)) ?? "" : "";
    const spec = (script && specIn(script[1])) ?? (configText ? specIn(configText) : undefined);
    const via = [
      deps.has(generator.pkg) ? `depends on ${generator.pkg}` : undefined,
      config ? `has ${config}` : undefined,
      script ? `its "${script[0]}" script runs ${script[1].split(/\s+/)[0]}` : undefined,
    ].filter(Boolean).join(", ");
    return {
      generator: generator.pkg,
      reason: `generates an API client from the OpenAPI document (${via})`,
      script: script ? { name: script[0], command: script[1] } : undefined,
      config,
      spec,
    };
  }
  const named = Object.entries(scripts).find(([, command]) =>
    /openapi\.(json|ya?ml)\b/.test(command)
  );
  if (named) {
    return {
      generator: "script",
      reason: `its "${named[0]}" script reads an OpenAPI document (${
        specIn(named[1]) ?? "openapi.json"
      })`,
      script: { name: named[0], command: named[1] },
      spec: specIn(named[1]),
    };
  }
  return undefined;
}
