/**
 * npm packages: `npm publish` of the validated tarball to the configured
 * registry, verification (`npm view` the version, then install it from the
 * registry into a scratch folder), and `npm unpublish` of that version on
 * rollback (registries allow it within a window: 72 hours on npmjs.com).
 *
 * Authentication comes from `.npmrc` (the component's, the project's or the
 * user's) or from NPM_TOKEN, which rig references from a generated userconfig
 * as `${NPM_TOKEN}` so the token itself is never written to disk.
 */
import * as path from "../path.ts";
import { exists } from "../fs.ts";
import { RigError } from "../errors.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { npmEnv } from "../node/npm.ts";
import { run, type SpawnScope, tail } from "../proc.ts";
import { sleep } from "../net.ts";

/** `//host[:port]/path/`: the key prefix npm uses for a registry's credentials. */
export function nerfDart(registry: string): string {
  const url = new URL(registry);
  return `//${url.host}${url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`}`;
}

/** The user's npm config file (NPM_CONFIG_USERCONFIG, else ~/.npmrc). */
export function userNpmrc(env: Record<string, string>): string | undefined {
  const explicit = env.NPM_CONFIG_USERCONFIG ?? env.npm_config_userconfig;
  if (explicit) return explicit;
  const home = env.HOME ?? env.USERPROFILE;
  return home ? path.join(home, ".npmrc") : undefined;
}

/** Where credentials for `registry` come from, or undefined when there are none. */
export async function npmAuthSource(
  registry: string,
  dirs: string[],
  env: Record<string, string>,
): Promise<string | undefined> {
  if (env.NPM_TOKEN) return "NPM_TOKEN";
  const prefix = nerfDart(registry);
  const files = [...dirs.map((d) => path.join(d, ".npmrc")), userNpmrc(env)].filter((f) =>
    f !== undefined
  ) as string[];
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch {
      continue;
    }
    for (const line of text.split(/\r?\n/)) {
      const match = /^\s*([^=#;\s]+)\s*=/.exec(line);
      const key = match?.[1];
      if (key?.startsWith(prefix) && /:(_authToken|_auth|_password)$/.test(key)) return file;
    }
  }
  return undefined;
}

/** Writes the userconfig npm runs with: the user's own plus `${NPM_TOKEN}` for the registry. */
export async function writeUserconfig(
  file: string,
  registry: string,
  env: Record<string, string>,
): Promise<string | undefined> {
  if (!env.NPM_TOKEN) return undefined;
  const own = userNpmrc(env);
  const base = own && exists(own) ? await Deno.readTextFile(own) : "";
  const lines = [base.trimEnd(), `${nerfDart(registry)}:_authToken=\${NPM_TOKEN}`].filter(Boolean);
  await writeFileAtomic(file, lines.join("\n") + "\n");
  await Deno.chmod(file, 0o600).catch(() => {});
  return file;
}

/** Options of npm release calls. */
export interface NpmReleaseOptions extends SpawnScope {
  /** The component folder (its .npmrc applies). */
  cwd: string;
  registry: string;
  /** The generated userconfig, when NPM_TOKEN is used. */
  userconfig?: string;
  /** The user-level download cache folder. */
  cacheDir?: string;
}

function env(options: NpmReleaseOptions): Record<string, string> {
  const out = npmEnv({ env: options.env, cacheDir: options.cacheDir });
  if (options.userconfig) out.npm_config_userconfig = options.userconfig;
  return out;
}

async function npmRun(args: string[], options: NpmReleaseOptions) {
  return await run(["npm", ...args, "--registry", options.registry], {
    cwd: options.cwd,
    env: env(options),
    signal: options.signal,
    timeoutMs: 300_000,
    missingHint: "Install Node.js 18+ (npm ships with it)",
  });
}

/** `npm publish <tarball>`; throws a RigError with npm's message when the registry refuses. */
export async function publishNpm(
  tarball: string,
  options: NpmReleaseOptions & { access: string; tag: string },
): Promise<void> {
  const result = await npmRun(
    ["publish", tarball, "--access", options.access, "--tag", options.tag],
    options,
  );
  if (!result.success) {
    const output = tail(result.stderr || result.stdout, 12);
    throw new RigError(
      `npm publish of "${path.basename(tarball)}" to ${options.registry} failed:\n${output}`,
      /E401|E403|ENEEDAUTH|Unauthorized|authentication/i.test(output)
        ? `The registry refused the credentials: set NPM_TOKEN or add ${
          nerfDart(options.registry)
        }:_authToken to .npmrc`
        : "Read npm's message above; fix it and run rig release again",
    );
  }
}

/** True when the registry already has `name@version` (a resumed release skips the publish). */
export async function npmHasVersion(
  name: string,
  version: string,
  options: NpmReleaseOptions,
): Promise<boolean> {
  const view = await npmRun(["view", `${name}@${version}`, "version", "--json"], options);
  return view.success && view.stdout.includes(JSON.stringify(version));
}

/** Checks `npm view` reports the version, then installs it from the registry into `scratch`. */
export async function verifyNpm(
  name: string,
  version: string,
  options: NpmReleaseOptions & { scratch: string; attempts?: number },
): Promise<string> {
  const spec = `${name}@${version}`;
  let viewed = "";
  const attempts = options.attempts ?? 6;
  for (let attempt = 1; attempt <= attempts && viewed !== version; attempt++) {
    const view = await npmRun(["view", spec, "version", "--json"], options);
    try {
      viewed = view.success ? String(JSON.parse(view.stdout.trim() || '""')) : "";
    } catch {
      viewed = view.stdout.trim();
    }
    if (viewed !== version && attempt < attempts) await sleep(2000 * attempt, options.signal);
  }
  if (viewed !== version) {
    throw new RigError(
      `Verification failed: npm view ${spec} on ${options.registry} does not show it`,
    );
  }
  await Deno.remove(options.scratch, { recursive: true }).catch(() => {});
  await Deno.mkdir(options.scratch, { recursive: true });
  await Deno.writeTextFile(
    path.join(options.scratch, "package.json"),
    JSON.stringify({ name: "rig-release-verify", private: true }) + "\n",
  );
  const install = await npmRun(
    ["install", spec, "--no-save", "--no-package-lock", "--prefer-online", "--ignore-scripts"],
    { ...options, cwd: options.scratch },
  );
  if (!install.success) {
    throw new RigError(
      `Verification failed: ${spec} does not install from ${options.registry}: ${
        tail(install.stderr || install.stdout, 4)
      }`,
    );
  }
  const installed = JSON.parse(
    await Deno.readTextFile(
      path.join(options.scratch, "node_modules", ...name.split("/"), "package.json"),
    ),
  );
  if (installed.version !== version) {
    throw new RigError(
      `Verification failed: the registry served ${name} ${installed.version}, expected ${version}`,
    );
  }
  return `npm view ${spec} answers and the tarball installs from ${options.registry}`;
}

/** `npm unpublish name@version` (already absent counts as done). */
export async function unpublishNpm(
  name: string,
  version: string,
  options: NpmReleaseOptions,
): Promise<void> {
  const result = await npmRun(["unpublish", `${name}@${version}`, "--force"], options);
  if (!result.success && !/E404|not found|no such package/i.test(result.stderr)) {
    throw new RigError(
      `npm unpublish ${name}@${version} failed: ${tail(result.stderr || result.stdout, 4)}`,
      `Unpublish it by hand within the registry's window (npm unpublish ${name}@${version}), or deprecate it: npm deprecate ${name}@${version} "broken release"`,
    );
  }
}
