/**
 * The one redaction step for everything rig writes (console, stored logs and
 * records, JSON, JUnit XML, --explain, errors, server and dev process output).
 * Given the secret values, `Redactor.redact` replaces with `****`:
 *
 * - every whole secret, and its URL-encoded, JSON-escaped and base64 forms
 *   (standard with and without padding, base64url);
 * - the password of every URL (`scheme://user:****@host`);
 * - any prefix of a secret of 6 or more characters that ends at a truncation
 *   marker (`...`, `…`), a quote or a line end, and any suffix of 6 or more
 *   that starts at one: what tools that shorten long lines (pytest's summary,
 *   terminal-width cuts) leave of a secret.
 *
 * Which values are secrets: generated (`{{secret}}`) and template-marked
 * (`# secret`) keys, and keys named like secrets (SECRET, PASSWORD, TOKEN, KEY,
 * PRIVATE, CREDENTIAL…) — but numbers, booleans, durations and short enum
 * words (`1000`, `true`, `30m`, `INFO`) are settings, never secrets
 * (`isSecretValue`). This module imports nothing, so main.ts can mask the
 * process environment's secrets before any command loads.
 */

/** What redacted text shows instead of a secret. */
export const MASK = "****";

// scheme://user:password@host — the password is everything between ":" and the last "@".
const URL_PASSWORD = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s/@]+)@/g;

/** Values this short would mask ordinary words; they are not real secrets. */
export const MIN_SECRET_LENGTH = 4;
/** The shortest fragment of a secret (prefix or suffix) that is masked at a boundary. */
export const MIN_FRAGMENT = 6;

/** Masks the password part of every URL in text: `postgresql://user:****@host/db`. */
export function maskUrlPassword(text: string): string {
  // Most text has no URL: the regex's scan costs more than this look.
  if (!text.includes("://")) return text;
  return text.replace(URL_PASSWORD, `$1${MASK}@`);
}

/** The password parts of the URLs in a value (for masking them elsewhere). */
export function urlPasswords(value: string): string[] {
  if (!value.includes("://")) return [];
  return [...value.matchAll(URL_PASSWORD)].map((m) => m[2]!);
}

/** Replaces secrets, their encodings, URL passwords and truncated fragments with ****. */
export class Redactor {
  #needles: string[] = [];
  #known = new Set<string>();
  /** Secrets long enough to have fragments of MIN_FRAGMENT characters. */
  #fragmented: string[] = [];

  constructor(secrets: Iterable<string> = []) {
    this.add(secrets);
  }

  /** True when no secret is known (URL passwords are still masked). */
  get empty(): boolean {
    return this.#known.size === 0;
  }

  /** Adds secret values (too-short values are ignored). */
  add(secrets: Iterable<string>): void {
    let changed = false;
    for (const secret of secrets) {
      if (secret.length < MIN_SECRET_LENGTH || this.#known.has(secret)) continue;
      this.#known.add(secret);
      changed = true;
      for (const form of encodings(secret)) {
        if (form.length >= MIN_SECRET_LENGTH && !this.#needles.includes(form)) {
          this.#needles.push(form);
        }
      }
      if (secret.length > MIN_FRAGMENT) this.#fragmented.push(secret);
    }
    if (changed) this.#needles.sort((a, b) => b.length - a.length);
  }

  /** The text with every secret masked. */
  redact(text: string): string {
    let out = maskUrlPassword(text);
    if (this.#known.size === 0) return out;
    for (const needle of this.#needles) {
      if (out.includes(needle)) out = out.replaceAll(needle, MASK);
    }
    return this.#fragments(out);
  }

  #fragments(text: string): string {
    if (this.#fragmented.length === 0) return text;
    const ranges: [number, number][] = [];
    for (const secret of this.#fragmented) {
      // A prefix of 6+ characters starts with the secret's first 6; search for those only.
      const head = secret.slice(0, MIN_FRAGMENT);
      for (let i = text.indexOf(head); i >= 0; i = text.indexOf(head, i + 1)) {
        let m = MIN_FRAGMENT;
        while (m < secret.length - 1 && text[i + m] === secret[m]) m++;
        for (let k = m; k >= MIN_FRAGMENT; k--) {
          if (endsFragment(text, i + k)) {
            ranges.push([i, i + k]);
            break;
          }
        }
      }
      // A suffix of 6+ characters ends with the secret's last 6.
      const tail = secret.slice(-MIN_FRAGMENT);
      for (let e = text.indexOf(tail); e >= 0; e = text.indexOf(tail, e + 1)) {
        const end = e + MIN_FRAGMENT;
        let m = MIN_FRAGMENT;
        while (
          m < secret.length - 1 && end - m - 1 >= 0 &&
          text[end - m - 1] === secret[secret.length - m - 1]
        ) m++;
        for (let k = m; k >= MIN_FRAGMENT; k--) {
          if (startsFragment(text, end - k)) {
            ranges.push([end - k, end]);
            break;
          }
        }
      }
    }
    if (ranges.length === 0) return text;
    ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const merged: [number, number][] = [];
    for (const [from, to] of ranges) {
      const last = merged.at(-1);
      if (last && from <= last[1]) last[1] = Math.max(last[1], to);
      else merged.push([from, to]);
    }
    let out = "";
    let at = 0;
    for (const [from, to] of merged) {
      out += text.slice(at, from) + MASK;
      at = to;
    }
    return out + text.slice(at);
  }
}

const CUT_AFTER = new Set(["…", "\n", "\r", '"', "'", "`"]);

/** True when a fragment ending at `p` ends where tools cut text: "...", "…", a quote, a line end. */
function endsFragment(text: string, p: number): boolean {
  if (p >= text.length) return true;
  if (CUT_AFTER.has(text[p]!)) return true;
  return text.startsWith("...", p) || text.startsWith("\\n", p) || text.startsWith("\\r", p);
}

/** True when a fragment starting at `q` starts after such a cut (or at the start of the text). */
function startsFragment(text: string, q: number): boolean {
  if (q <= 0) return q === 0;
  if (CUT_AFTER.has(text[q - 1]!)) return true;
  return text.endsWith("...", q) || text.endsWith("\\n", q) || text.endsWith("\\r", q);
}

/** A secret as it may appear in output: as is, URL-encoded, JSON-escaped, base64. */
function encodings(secret: string): string[] {
  const forms = new Set([secret]);
  forms.add(encodeURIComponent(secret));
  forms.add(JSON.stringify(secret).slice(1, -1));
  const bytes = new TextEncoder().encode(secret);
  const base64 = btoa(String.fromCharCode(...bytes));
  forms.add(base64);
  forms.add(base64.replace(/=+$/, ""));
  forms.add(base64.replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_"));
  return [...forms];
}

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
  // A long run of digits is more likely a key or PIN than a setting.
  return v === "" || (v.length <= 12 && NUMBER.test(v)) || BOOLEAN.test(v) || DURATION.test(v);
}

/**
 * Whether the value of `key` is a secret to mask: always for generated or
 * marked keys (unless empty); for keys named like secrets unless the value is a
 * number (up to 12 characters), boolean, duration, or (for TOKEN/KEY names) a
 * short enum word.
 */
export function isSecretValue(
  key: string,
  value: string,
  opts: { generated?: boolean; marked?: boolean } = {},
): boolean {
  if (value.trim() === "") return false;
  if (opts.generated || opts.marked) return true;
  if (!isSecretKey(key)) return false;
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

/** The mask of the secrets of a process environment (`environmentSecrets`), for a Ui. */
export function environmentMasker(
  env: Record<string, string | undefined>,
): (text: string) => string {
  return createMasker(environmentSecrets(env));
}

/** Returns a function that masks every given secret (see Redactor for what is masked). */
export function createMasker(secrets: Iterable<string>): (text: string) => string {
  const redactor = new Redactor(secrets);
  return (text) => redactor.redact(text);
}
