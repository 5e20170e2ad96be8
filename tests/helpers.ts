/** Shared test helpers: disposable temp dirs, running rig in-process or as a user would. */
import * as path from "node:path";
import { main } from "../main.ts";
import { BufferWriter } from "../lib/ui.ts";

/** A temp directory that removes itself (use with `await using`). */
export interface TempDir extends AsyncDisposable {
  path: string;
  /** Writes files given as { "relative/path": "content" }, creating folders. */
  write(files: Record<string, string>): Promise<void>;
  join(...parts: string[]): string;
}

/**
 * Deno.test for a test that starts rig, servers or tools as child processes: Deno's resource
 * and op sanitizers are off, since children, their pipes and timers outlive the steps that
 * start them.
 */
export function testWithProcesses(
  definition: Omit<Deno.TestDefinition, "sanitizeResources" | "sanitizeOps">,
): void {
  Deno.test({ ...definition, sanitizeResources: false, sanitizeOps: false });
}

/** Creates a disposable temp directory. */
export async function tempDir(prefix = "rig-test-"): Promise<TempDir> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix }));
  return {
    path: dir,
    join: (...parts) => path.join(dir, ...parts),
    async write(files) {
      await writeFiles(dir, files);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Creates a disposable temp directory holding `files` ({ "relative/path": "content" }). */
export async function tempDirWith(
  files: Record<string, string>,
  prefix?: string,
): Promise<TempDir> {
  const dir = await tempDir(prefix);
  await dir.write(files);
  return dir;
}

/** Writes files given as { "relative/path": "content" } below `root`. */
export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name);
    await Deno.mkdir(path.dirname(file), { recursive: true });
    await Deno.writeTextFile(file, content);
  }
}

/** What a rig invocation printed and returned. */
export interface RigRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs rig in this process (fast; for command behaviour and output tests).
 * With RIG_UNDER_TEST set, runs that rig as a process instead, so the suite
 * tests the bundle or a binary; only runs that answer confirmation questions
 * (`answers`) stay in this process, as no terminal can be faked for a child.
 */
export async function rigInProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; answers?: string[] } = {},
): Promise<RigRun> {
  if (UNDER_TEST && options.answers === undefined) {
    return await rigProcess(args, { cwd: options.cwd, env: options.env });
  }
  const stdout = new BufferWriter();
  const stderr = new BufferWriter();
  const answers = [...(options.answers ?? [])];
  const code = await main(args, {
    stdout,
    stderr,
    cwd: options.cwd,
    env: { ...baseEnv(), NO_COLOR: "1", ...options.env },
    tty: false,
    interactive: options.answers !== undefined,
    readLine: () => Promise.resolve(answers.shift() ?? null),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const MAIN = path.resolve(import.meta.dirname!, "..", "main.ts");

/**
 * The rig the suite tests: main.ts, or what RIG_UNDER_TEST names — a bundle
 * (`RIG_UNDER_TEST=dist/rig.js deno task test`) or a compiled binary.
 */
const UNDER_TEST = Deno.env.get("RIG_UNDER_TEST")
  ? path.resolve(import.meta.dirname!, "..", Deno.env.get("RIG_UNDER_TEST")!)
  : undefined;
if (UNDER_TEST) {
  try {
    Deno.statSync(UNDER_TEST);
  } catch {
    throw new Error(
      `RIG_UNDER_TEST names "${UNDER_TEST}", which does not exist: build it first (deno task bundle)`,
    );
  }
}

/** The argv that starts the rig under test with `args`. */
export function rigCommand(args: string[], entry = UNDER_TEST ?? MAIN): string[] {
  if (/\.(ts|js|mjs)$/.test(entry)) {
    const config = entry.endsWith(".ts") ? [] : ["--no-config"];
    return [Deno.execPath(), "run", "-A", "--quiet", ...config, entry, ...args];
  }
  return [entry, ...args];
}

/** Starts rig as a separate process with piped output, for tests that signal or kill it mid-run. */
export function spawnRig(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; signal?: AbortSignal } = {},
): Deno.ChildProcess {
  const [program, ...argv] = rigCommand(args);
  return new Deno.Command(program!, {
    args: argv,
    cwd: options.cwd,
    env: { ...baseEnv(), NO_COLOR: "1", ...options.env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).spawn();
}

/** Runs rig as a separate process, the way a user would (for end-to-end tests). */
export async function rigProcess(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<RigRun> {
  const output = await spawnRig(args, options).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A rig started as a child process, its output collected as it arrives. */
export interface LiveRig {
  pid: number;
  /** stdout and stderr interleaved, as lines arrive. */
  output(): string;
  /** stdout alone. */
  stdout(): string;
  /** Waits until the output matches; fails with the output so far. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves once rig exited and its output is read to the end. */
  status: Promise<Deno.CommandStatus>;
  /** True once `status` resolved. */
  exited(): boolean;
  /** Sends a signal; a rig already gone is no error. */
  kill(signal: Deno.Signal): void;
}

/** Starts rig (see spawnRig) and reads its output as it arrives, for tests that wait on lines. */
export function liveRig(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): LiveRig {
  const child = spawnRig(args, options);
  let text = "";
  let stdout = "";
  const pump = async (stream: ReadableStream<Uint8Array>, isStdout: boolean) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      if (isStdout) stdout += piece;
    }
  };
  const pumps = Promise.all([pump(child.stdout, true), pump(child.stderr, false)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    await pumps;
    exited = true;
    return s;
  });
  return {
    pid: child.pid,
    output: () => text,
    stdout: () => stdout,
    status,
    exited: () => exited,
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    },
    async waitFor(pattern, timeoutMs = options.timeoutMs ?? 60_000) {
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline) {
        const match = text.match(pattern);
        if (match) return match;
        if (exited) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`rig ${args.join(" ")} never printed ${pattern}:\n${text}`);
    },
  };
}

/**
 * Runs a program with exactly `env` and NO_COLOR=1, no stdin and its output read:
 * for tests that run rig's own artefacts (a bundle, a launcher, a published package).
 */
export async function runProgram(
  argv: string[],
  opts: { cwd?: string; env: Record<string, string> },
): Promise<RigRun> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: { ...opts.env, NO_COLOR: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** The full path of the python3 on PATH (what `sys.executable` says). */
export async function python3Executable(): Promise<string> {
  const out = await new Deno.Command("python3", {
    args: ["-c", "import sys; print(sys.executable)"],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** The environment tests give rig: the caller's, minus variables that would leak state. */
export function baseEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.VIRTUAL_ENV;
  delete env.RIG_CACHE_DIR;
  delete env.NO_COLOR;
  return env;
}

/** Replaces a temp dir's path with `<TMP>` so output can be compared. */
export function scrub(text: string, dir: string): string {
  return text.replaceAll(dir, "<TMP>");
}

/** The repository's root folder. */
export const REPO_ROOT = path.resolve(import.meta.dirname!, "..");

/**
 * Copies a reference project (examples/authserver by default; `example` picks another)
 * without venvs, node_modules, caches and local .env files — tracked ones (a `!.env` line in
 * the example's .gitignore, as examples/fullstack has) are copied.
 */
export async function copyReferenceProject(dest: string, example = "authserver"): Promise<string> {
  const source = path.join(REPO_ROOT, "examples", example);
  let ignore = "";
  try {
    ignore = await Deno.readTextFile(path.join(source, ".gitignore"));
  } catch {
    // No .gitignore.
  }
  const trackedEnv = /^!\.env$/m.test(ignore);
  const skip = new Set([
    ".venv",
    "venv",
    "node_modules",
    "dist",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".rig",
    "data",
    ".coverage",
  ]);
  const copy = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      const env = entry.name.startsWith(".env") && entry.name !== ".env.example" &&
        !(trackedEnv && entry.name === ".env");
      if (skip.has(entry.name) || env) {
        continue;
      }
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory) await copy(src, dst);
      else if (entry.isFile) await Deno.copyFile(src, dst);
    }
  };
  await copy(source, dest);
  return dest;
}

/** Runs git in a folder (for tests that need a repository). */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=rig-test", "-c", "user.email=rig@test.invalid", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Makes `root` a git repository (on `branch`, else git's default) with everything in it committed. */
export async function gitRepository(
  root: string,
  options: { branch?: string; message?: string } = {},
): Promise<void> {
  await git(root, "init", "-q", ...(options.branch ? ["-b", options.branch] : []));
  await git(root, "add", "-A");
  await git(root, "commit", "-qm", options.message ?? "init");
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** True while a process runs (a zombie waiting to be reaped counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || Deno.build.os === "linux") return false;
  }
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Live processes in the process group `pgid` (Linux /proc). */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry.name));
    } catch {
      // Gone while we looked.
    }
  }
  return members;
}

/** Live processes whose command line mentions `text` (e.g. a temp project's path). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(text) && processAlive(Number(entry.name))) {
        found.push(Number(entry.name));
      }
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

/** A git repository of small npm packages (npm pack is rig's quickest real build). */
export async function npmProject(root: string, libs: string[], rigToml = ""): Promise<void> {
  const files: Record<string, string> = { "rig.toml": `[project]\nname = "fx"\n${rigToml}` };
  for (const lib of libs) {
    files[`libs/${lib}/package.json`] = JSON.stringify({
      name: lib,
      version: "1.0.0",
      main: "index.js",
    });
    files[`libs/${lib}/index.js`] = `module.exports = ${JSON.stringify(lib)};\n`;
  }
  await writeFiles(root, files);
  await gitRepository(root, { branch: "main" });
}
