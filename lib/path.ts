/**
 * Path functions, as `node:path` has them, without waking Deno's Node layer:
 * the first `node:` import of a process costs about 13 ms (measured: an empty
 * script 2 ms after start, one importing `node:path` 15 ms), more than a whole
 * cache hit may spend. The POSIX functions are node's algorithms, ported (and
 * checked against `node:path` case by case in tests/path_test.ts); the win32
 * ones are node's own, loaded on first use, so Windows and the tests that
 * check Windows paths on Linux pay that cost and nobody else does.
 *
 * Use it like `node:path`: `import * as path from "../path.ts"`.
 */

/** The path functions rig uses, for one OS's conventions. */
export interface PathApi {
  readonly sep: string;
  readonly delimiter: string;
  join(...parts: string[]): string;
  resolve(...parts: string[]): string;
  normalize(path: string): string;
  isAbsolute(path: string): boolean;
  relative(from: string, to: string): string;
  dirname(path: string): string;
  basename(path: string, suffix?: string): string;
  extname(path: string): string;
}

const SLASH = 47;
const DOT = 46;

function assertPath(value: unknown, name: string): asserts value is string {
  if (typeof value !== "string") {
    throw new TypeError(`The "${name}" argument must be of type string. Received ${typeof value}`);
  }
}

/** Resolves `.` and `..` segments of a path without its leading slash. */
function normalizeString(path: string, allowAboveRoot: boolean): string {
  let res = "";
  let lastSegmentLength = 0;
  let lastSlash = -1;
  let dots = 0;
  let code = 0;
  for (let i = 0; i <= path.length; ++i) {
    if (i < path.length) code = path.charCodeAt(i);
    else if (code === SLASH) break;
    else code = SLASH;
    if (code === SLASH) {
      if (lastSlash === i - 1 || dots === 1) {
        // An empty or "." segment: nothing to add.
      } else if (dots === 2) {
        if (
          res.length < 2 || lastSegmentLength !== 2 || res.charCodeAt(res.length - 1) !== DOT ||
          res.charCodeAt(res.length - 2) !== DOT
        ) {
          if (res.length > 2) {
            const lastSlashIndex = res.lastIndexOf("/");
            if (lastSlashIndex === -1) {
              res = "";
              lastSegmentLength = 0;
            } else {
              res = res.slice(0, lastSlashIndex);
              lastSegmentLength = res.length - 1 - res.lastIndexOf("/");
            }
            lastSlash = i;
            dots = 0;
            continue;
          } else if (res.length !== 0) {
            res = "";
            lastSegmentLength = 0;
            lastSlash = i;
            dots = 0;
            continue;
          }
        }
        if (allowAboveRoot) {
          res += res.length > 0 ? "/.." : "..";
          lastSegmentLength = 2;
        }
      } else {
        if (res.length > 0) res += `/${path.slice(lastSlash + 1, i)}`;
        else res = path.slice(lastSlash + 1, i);
        lastSegmentLength = i - lastSlash - 1;
      }
      lastSlash = i;
      dots = 0;
    } else if (code === DOT && dots !== -1) {
      ++dots;
    } else {
      dots = -1;
    }
  }
  return res;
}

/** POSIX paths (Linux, macOS), as `node:path`'s `posix`. */
/**
 * Where a POSIX path's last segment starts and ends, trailing slashes left out
 * (`end` is -1 when the path has no segment, e.g. "" or "///").
 */
function lastSegment(path: string): { start: number; end: number } {
  let end = -1;
  for (let i = path.length - 1; i >= 0; --i) {
    if (path.charCodeAt(i) === SLASH) {
      if (end !== -1) return { start: i + 1, end };
    } else if (end === -1) {
      end = i + 1;
    }
  }
  return { start: 0, end };
}

export const posix: PathApi = {
  sep: "/",
  delimiter: ":",

  resolve(...parts: string[]): string {
    let resolved = "";
    let absolute = false;
    for (let i = parts.length - 1; i >= -1 && !absolute; i--) {
      const part = i >= 0 ? parts[i] : Deno.cwd();
      assertPath(part, `paths[${i}]`);
      if (part.length === 0) continue;
      resolved = `${part}/${resolved}`;
      absolute = part.charCodeAt(0) === SLASH;
    }
    resolved = normalizeString(resolved, !absolute);
    if (absolute) return `/${resolved}`;
    return resolved.length > 0 ? resolved : ".";
  },

  normalize(path: string): string {
    assertPath(path, "path");
    if (path.length === 0) return ".";
    const absolute = path.charCodeAt(0) === SLASH;
    const trailing = path.charCodeAt(path.length - 1) === SLASH;
    let out = normalizeString(path, !absolute);
    if (out.length === 0) {
      if (absolute) return "/";
      return trailing ? "./" : ".";
    }
    if (trailing) out += "/";
    return absolute ? `/${out}` : out;
  },

  isAbsolute(path: string): boolean {
    assertPath(path, "path");
    return path.length > 0 && path.charCodeAt(0) === SLASH;
  },

  join(...parts: string[]): string {
    let joined: string | undefined;
    for (const part of parts) {
      assertPath(part, "path");
      if (part.length > 0) joined = joined === undefined ? part : `${joined}/${part}`;
    }
    return joined === undefined ? "." : posix.normalize(joined);
  },

  relative(from: string, to: string): string {
    assertPath(from, "from");
    assertPath(to, "to");
    if (from === to) return "";
    from = posix.resolve(from);
    to = posix.resolve(to);
    if (from === to) return "";
    const fromStart = 1;
    const fromEnd = from.length;
    const fromLen = fromEnd - fromStart;
    const toStart = 1;
    const toLen = to.length - toStart;
    const length = fromLen < toLen ? fromLen : toLen;
    let lastCommonSep = -1;
    let i = 0;
    for (; i < length; i++) {
      const code = from.charCodeAt(fromStart + i);
      if (code !== to.charCodeAt(toStart + i)) break;
      else if (code === SLASH) lastCommonSep = i;
    }
    if (i === length) {
      if (toLen > length) {
        // `from` is the exact base path of `to`, or the root.
        if (to.charCodeAt(toStart + i) === SLASH) return to.slice(toStart + i + 1);
        if (i === 0) return to.slice(toStart + i);
      } else if (fromLen > length) {
        // `to` is the exact base path of `from`, or the root.
        if (from.charCodeAt(fromStart + i) === SLASH) lastCommonSep = i;
        else if (i === 0) lastCommonSep = 0;
      }
    }
    let out = "";
    for (i = fromStart + lastCommonSep + 1; i <= fromEnd; ++i) {
      if (i === fromEnd || from.charCodeAt(i) === SLASH) out += out.length === 0 ? ".." : "/..";
    }
    return `${out}${to.slice(toStart + lastCommonSep)}`;
  },

  dirname(path: string): string {
    assertPath(path, "path");
    if (path.length === 0) return ".";
    const hasRoot = path.charCodeAt(0) === SLASH;
    let end = -1;
    let matchedSlash = true;
    for (let i = path.length - 1; i >= 1; --i) {
      if (path.charCodeAt(i) === SLASH) {
        if (!matchedSlash) {
          end = i;
          break;
        }
      } else {
        matchedSlash = false;
      }
    }
    if (end === -1) return hasRoot ? "/" : ".";
    if (hasRoot && end === 1) return "//";
    return path.slice(0, end);
  },

  basename(path: string, suffix?: string): string {
    assertPath(path, "path");
    const { start, end: nameEnd } = lastSegment(path);
    if (suffix !== undefined && suffix.length > 0 && suffix.length <= path.length) {
      if (suffix === path) return "";
      // The suffix is matched backwards from the segment's end; a mismatch keeps the whole name.
      let extIdx = suffix.length - 1;
      let end = -1;
      for (let i = nameEnd - 1; i >= start && extIdx >= 0; --i) {
        if (path.charCodeAt(i) === suffix.charCodeAt(extIdx)) {
          if (--extIdx === -1) end = i;
        } else {
          extIdx = -1;
          end = nameEnd;
        }
      }
      if (start === end) end = nameEnd;
      else if (end === -1) end = path.length;
      return path.slice(start, end);
    }
    return nameEnd === -1 ? "" : path.slice(start, nameEnd);
  },

  extname(path: string): string {
    assertPath(path, "path");
    const { start: startPart, end } = lastSegment(path);
    let startDot = -1;
    // 0: no dot seen before the last one; 1: one seen; -1: a non-dot character seen.
    let preDotState = 0;
    for (let i = end - 1; i >= startPart; --i) {
      if (path.charCodeAt(i) === DOT) {
        if (startDot === -1) startDot = i;
        else if (preDotState !== 1) preDotState = 1;
      } else if (startDot !== -1) {
        preDotState = -1;
      }
    }
    if (
      startDot === -1 || end === -1 || preDotState === 0 ||
      (preDotState === 1 && startDot === end - 1 && startDot === startPart + 1)
    ) return "";
    return path.slice(startDot, end);
  },
};

let nodeWin32: PathApi | undefined;

/** node's own win32 functions, loaded (synchronously) on first use. */
function loadWin32(): PathApi {
  if (nodeWin32) return nodeWin32;
  const process = (globalThis as unknown as {
    process: { getBuiltinModule(id: "node:path"): { win32: PathApi } };
  }).process;
  return nodeWin32 = process.getBuiltinModule("node:path").win32;
}

/** Windows paths, as `node:path`'s `win32` (node's implementation, loaded on first use). */
export const win32: PathApi = {
  sep: "\\",
  delimiter: ";",
  join: (...parts) => loadWin32().join(...parts),
  resolve: (...parts) => loadWin32().resolve(...parts),
  normalize: (p) => loadWin32().normalize(p),
  isAbsolute: (p) => loadWin32().isAbsolute(p),
  relative: (from, to) => loadWin32().relative(from, to),
  dirname: (p) => loadWin32().dirname(p),
  basename: (p, suffix) => loadWin32().basename(p, suffix),
  extname: (p) => loadWin32().extname(p),
};

const host: PathApi = Deno.build.os === "windows" ? win32 : posix;

/** This OS's separator. */
export const sep: string = host.sep;
/** This OS's PATH separator. */
export const delimiter: string = host.delimiter;
/** Joins parts and normalises the result. */
export const join: PathApi["join"] = (...parts) => host.join(...parts);
/** The absolute path of parts resolved right to left, from the current folder. */
export const resolve: PathApi["resolve"] = (...parts) => host.resolve(...parts);
/** Resolves `.` and `..` and repeated separators. */
export const normalize: PathApi["normalize"] = (p) => host.normalize(p);
/** True for an absolute path. */
export const isAbsolute: PathApi["isAbsolute"] = (p) => host.isAbsolute(p);
/** The path from `from` to `to`. */
export const relative: PathApi["relative"] = (from, to) => host.relative(from, to);
/** The folder part of a path. */
export const dirname: PathApi["dirname"] = (p) => host.dirname(p);
/** The last part of a path, without `suffix` when it ends so. */
export const basename: PathApi["basename"] = (p, suffix) => host.basename(p, suffix);
/** The extension of the last part, with its dot. */
export const extname: PathApi["extname"] = (p) => host.extname(p);

/**
 * The path a `file:` URL names (`C:\\…` for a Windows drive); undefined for
 * another scheme. Not node:url's fileURLToPath, for the reason at the top.
 */
export function fromFileUrl(url: string | URL): string | undefined {
  const parsed = typeof url === "string" ? URL.parse(url) : url;
  if (parsed?.protocol !== "file:") return undefined;
  const pathname = decodeURIComponent(parsed.pathname);
  return /^\/[A-Za-z]:/.test(pathname) ? pathname.slice(1).replaceAll("/", "\\") : pathname;
}

/**
 * The `file:` URL of an absolute path (`file:///C:/…` for a Windows drive),
 * each part percent-encoded as a URL needs: what `import()` takes.
 */
export function toFileUrl(file: string): string {
  const drive = /^[A-Za-z]:[\\/]/.test(file);
  const parts = (drive ? file.replaceAll("\\", "/") : file).split("/");
  const encoded = parts.map((part, i) => drive && i === 0 ? part : encodeURIComponent(part));
  return `file://${drive ? "/" : ""}${encoded.join("/")}`;
}
