/**
 * Keeping secrets out of output: which keys are secret, masking URL passwords,
 * scrubbing known secret values from text, and hashing values for cache keys
 * so no secret is ever stored in clear.
 */
import { sha256Hex } from "../hash.ts";

/** What masked text shows instead of a secret. */
export const MASK = "****";

const SECRET_NAME = /SECRET|PASSWORD|TOKEN|KEY|PRIVATE/i;
// scheme://user:password@host — the password is everything between ":" and the last "@".
const URL_PASSWORD = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s/@]+)@/g;

/** True when a key's name says it holds a secret (SECRET, PASSWORD, TOKEN, KEY, PRIVATE). */
export function isSecretKey(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Masks the password part of every URL in text: `postgresql://user:****@host/db`. */
export function maskUrlPassword(url: string): string {
  return url.replace(URL_PASSWORD, `$1${MASK}@`);
}

/** The password parts of the URLs in a value (for masking them elsewhere). */
export function urlPasswords(value: string): string[] {
  return [...value.matchAll(URL_PASSWORD)].map((m) => m[2]!);
}

// Values this short would mask ordinary words; they are not real secrets.
const MIN_SECRET_LENGTH = 4;

/** Returns a function that replaces every given secret (and its URL-encoded form) with ****. */
export function createMasker(secrets: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    needles.add(secret);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) needles.add(encoded);
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = maskUrlPassword(text);
    for (const needle of sorted) out = out.replaceAll(needle, MASK);
    return out;
  };
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
