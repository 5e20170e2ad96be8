/**
 * The hermetic environment of a cached task: only allow-listed and declared
 * variables of the caller reach it, so what a task sees is what its key says.
 */

/** Environment variables every hermetic task may see (besides declared ones). */
export const ALLOWED_ENV: readonly (string | RegExp)[] = [
  "PATH",
  "HOME",
  "LANG",
  "LANGUAGE",
  /^LC_[A-Z_]+$/,
  "TZ",
  "TMPDIR",
  "TEMP",
  "TMP",
  "TERM",
  // Windows needs these to start anything.
  "SYSTEMROOT",
  "SystemRoot",
  "COMSPEC",
  "PATHEXT",
  "WINDIR",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
  // Package indexes, proxies and certificates.
  /^PIP_(INDEX_URL|EXTRA_INDEX_URL|TRUSTED_HOST|CERT|FIND_LINKS|NO_INDEX)$/,
  /^UV_(INDEX_URL|EXTRA_INDEX_URL|INDEX|DEFAULT_INDEX)$/,
  /^(npm_config|NPM_CONFIG)_(registry|REGISTRY|cafile|CAFILE|strict_ssl|STRICT_SSL|proxy|PROXY|https_proxy|HTTPS_PROXY)$/,
  /^(HTTP|HTTPS|NO|ALL)_PROXY$/i,
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "REQUESTS_CA_BUNDLE",
  "NODE_EXTRA_CA_CERTS",
];

/** True when a variable passes the hermetic allow-list. */
export function isAllowedEnv(name: string): boolean {
  return ALLOWED_ENV.some((rule) => typeof rule === "string" ? rule === name : rule.test(name));
}

/**
 * The environment of a hermetic task: the allow-listed variables of the
 * caller, the declared ones (project.settings.env, component.env) and the test
 * configuration's values, nothing else.
 */
export function hermeticEnv(
  callerEnv: Record<string, string>,
  options: { declared: string[]; values: Record<string, string> },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(callerEnv)) {
    if (isAllowedEnv(name) || options.declared.includes(name)) env[name] = value;
  }
  Object.assign(env, options.values);
  return env;
}

const COMMON_PREFIXES = ["APP_", "AUTH_", "DATABASE_", "DB_", "TEST_", "PYTEST_", "NODE_", "API_"];

/**
 * Variables of the caller's environment that a failed task did not see but
 * might have needed: names mentioned in the component's source text, or with a
 * common or component-specific prefix.
 */
export function undeclaredVariables(
  callerEnv: Record<string, string>,
  options: { passed: Record<string, string>; sourceText: string; component: string },
): string[] {
  const words = new Set(options.sourceText.match(/\b[A-Z][A-Z0-9_]{2,}\b/g) ?? []);
  const own = options.component.toUpperCase().replace(/[^A-Z0-9]+/g, "_") + "_";
  const out: string[] = [];
  for (const name of Object.keys(callerEnv).sort()) {
    if (name in options.passed) continue;
    if (words.has(name) || [...COMMON_PREFIXES, own].some((p) => name.startsWith(p))) {
      out.push(name);
    }
  }
  return out;
}
