/**
 * Keeping secrets out of output: which keys and values are secret, the masker
 * built from them (the one redaction step lives in redact.ts), and hashing
 * values for cache keys so no secret is ever stored in clear.
 *
 * A value is a secret when its key is generated (`{{secret}}`), marked
 * `# secret` in a template, or named like one (SECRET, PASSWORD, TOKEN, KEY,
 * PRIVATE, CREDENTIAL…) — but numbers, booleans, durations and short enum
 * words (`1000`, `true`, `30m`, `INFO`) are settings, never secrets.
 */
import { sha256Hex } from "../hash.ts";
import { MASK, maskUrlPassword, Redactor, urlPasswords } from "./redact.ts";

export { MASK, maskUrlPassword, Redactor, urlPasswords };

const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|KEY|PRIVATE|CREDENTIAL/i;
// Names that say "this is a secret" outright: even a short word stored there is masked.
const STRONG_SECRET_NAME = /SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL/i;

/** True when a key's name says it holds a secret (SECRET, PASSWORD, TOKEN, KEY, PRIVATE…). */
export function isSecretKey(name: string): boolean {
  return SECRET_NAME.test(name);
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const BOOLEAN = /^(?:true|false|yes|no|on|off|enabled?|disabled?)$/i;
const DURATION =
  /^(?:\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?))+$/i;
const SHORT_ENUM = /^(?:[a-z][a-z0-9_.-]{0,11}|[A-Z][A-Z0-9_.-]{0,11})$/;

/** True for values that are settings rather than secrets: numbers, booleans, durations. */
export function isSettingValue(value: string): boolean {
  const v = value.trim();
  return v === "" || NUMBER.test(v) || BOOLEAN.test(v) || DURATION.test(v);
}

/**
 * Whether the value of `key` is a secret to mask: always for generated or
 * marked keys (unless empty); for keys named like secrets unless the value is a
 * number, boolean, duration, or (for TOKEN/KEY names) a short enum word, or the
 * template types it as int, bool, port or enum.
 */
export function isSecretValue(
  key: string,
  value: string,
  opts: { generated?: boolean; marked?: boolean; type?: string } = {},
): boolean {
  if (value.trim() === "") return false;
  if (opts.generated || opts.marked) return true;
  if (!isSecretKey(key)) return false;
  if (opts.type && ["int", "bool", "port", "enum"].includes(opts.type)) return false;
  if (isSettingValue(value)) return false;
  if (!STRONG_SECRET_NAME.test(key) && SHORT_ENUM.test(value.trim())) return false;
  return true;
}

/** The secrets among process environment variables (names like secrets, values not settings). */
export function environmentSecrets(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (isSecretValue(key, value)) out.push(value);
    out.push(...urlPasswords(value));
  }
  return out;
}

/** Returns a function that masks every given secret (see Redactor for what is masked). */
export function createMasker(secrets: Iterable<string>): (text: string) => string {
  const redactor = new Redactor(secrets);
  return (text) => redactor.redact(text);
}

/** SHA-256 of each named value (name → hex; `unset` when absent), for cache keys. */
export async function hashEnvValues(
  values: Record<string, string>,
  keys: Iterable<string>,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of [...new Set(keys)].sort()) {
    const value = values[key];
    out[key] = value === undefined ? "unset" : await sha256Hex(`${key}\0${value}`);
  }
  return out;
}
