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
export {
  createMasker,
  environmentSecrets,
  isSecretKey,
  isSecretValue,
  isSettingValue,
  MASK,
  maskUrlPassword,
  Redactor,
  urlPasswords,
} from "./redact.ts";

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
