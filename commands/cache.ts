import { type Command, type Context, defineCommand, subcommandOf } from "../lib/command.ts";
import { UsageError } from "../lib/errors.ts";
import type { CacheStore } from "../lib/task/cache.ts";
import { openCacheStore } from "../lib/task/cache_open.ts";
import type { TaskRecord } from "../lib/task/cache_record.ts";
import { cacheMaxBytes, parseDuration, parseSize } from "../lib/task/cache_limits.ts";
import { userCacheDir } from "../lib/cache_paths.ts";
import { findRoot } from "../lib/project/root.ts";
import { describeExplanation, explain } from "../lib/task/task_key.ts";
import { formatBytes, formatDuration } from "../lib/ui.ts";

const SUBCOMMANDS = [
  { name: "stats", summary: "Entries, size, hits and misses, time saved (per task kind)" },
  { name: "prune", summary: "Remove least recently used entries over a size or age limit" },
  { name: "clean", summary: "Delete the whole project cache (asks first; -y to skip)" },
  { name: "diff", summary: "Show what differs between the inputs of two cache entries" },
  { name: "show", summary: "Show one cache entry: task, inputs, env names, artifacts, log" },
];

/** Which options each subcommand accepts. */
const ALLOWED: Record<string, string[]> = {
  stats: ["list"],
  prune: ["max-size", "max-age"],
  clean: [],
  diff: [],
  show: ["log"],
};

/** `rig cache`: inspect and trim the project's task cache. */
export const cache: Command = defineCommand({
  name: "cache",
  summary: "Inspect and trim the task cache: stats | prune | clean | diff | show",
  usage: [
    "cache stats [--list] [--json]",
    "cache prune [--max-size SIZE] [--max-age DURATION]",
    "cache clean [-y]",
    "cache diff KEY_A KEY_B",
    "cache show KEY [--log]",
  ],
  description: "rig caches task results (test, lint, build) in .rig/cache/ under the project " +
    "root, keyed by a SHA-256 over the task, its command, the component's config, every input " +
    "file's content, lock files, tool versions, declared env vars (hashed) and the keys of the " +
    "components it depends on. A hit replays the log and restores the artifacts. KEY may be any " +
    "unique prefix of at least 4 hex digits. SIZE takes KB, MB, GB (powers of 1024); DURATION " +
    "takes s, m, h, d, w (e.g. 7d, 12h). Without limits, prune applies the default size limit " +
    "(2G, or RIG_CACHE_MAX_SIZE).",
  options: {
    list: { type: "boolean", description: "stats: list every entry" },
    "max-size": {
      type: "string",
      value: "SIZE",
      description: "prune: remove least recently used entries until the cache fits",
    },
    "max-age": {
      type: "string",
      value: "DURATION",
      description: "prune: remove entries not used for longer than this",
    },
    log: { type: "boolean", description: "show: print the entry's stored log" },
  },
  subcommands: SUBCOMMANDS,
  examples: [
    "rig cache stats",
    "rig cache stats --list --json",
    "rig cache prune --max-size 500MB",
    "rig cache prune --max-age 7d",
    "rig cache clean -y",
    "rig cache diff 3fa2 9c41",
    "rig cache show 3fa2c1 --log",
  ],
  takesArguments: true,
  async action(ctx, args) {
    const [sub, rest] = subcommandOf(cache, args);
    for (const [flag, value] of Object.entries(args.values)) {
      if (value !== undefined && !ALLOWED[sub]!.includes(flag)) {
        const owner = Object.entries(ALLOWED).find(([, flags]) => flags.includes(flag))?.[0];
        throw new UsageError(
          `Option "--${flag}" only works with "rig cache ${owner}"`,
          "Run: rig cache --help",
        );
      }
    }
    const wanted = sub === "diff" ? 2 : sub === "show" ? 1 : 0;
    if (rest.length !== wanted) {
      const usage = cache.usage.find((u) => u.startsWith(`cache ${sub}`));
      throw new UsageError(
        rest.length > wanted
          ? `Unexpected argument "${rest[wanted]}" for "rig cache ${sub}"`
          : `"rig cache ${sub}" needs ${wanted === 2 ? "two cache keys" : "a cache key"}`,
        `Usage: rig ${usage}`,
      );
    }
    const root = findRoot(ctx.cwd);
    // No remote here: stats, prune and clean are about this machine's store.
    const store = openCacheStore(root, { env: ctx.env, ui: ctx.ui });
    switch (sub) {
      case "stats":
        return await statsCommand(ctx, store, args.values.list === true);
      case "prune":
        return await pruneCommand(ctx, store, {
          maxSize: args.values["max-size"] as string | undefined,
          maxAge: args.values["max-age"] as string | undefined,
        });
      case "clean":
        return await cleanCommand(ctx, store);
      case "diff":
        return await diffCommand(ctx, store, [rest[0]!, rest[1]!]);
      default:
        return await showCommand(ctx, store, rest[0]!, args.values.log === true);
    }
  },
});

async function statsCommand(ctx: Context, store: CacheStore, list: boolean): Promise<number> {
  const stats = await store.stats();
  const entries = list ? (await store.entries()).sort((a, b) => b.lastUsedMs - a.lastUsedMs) : [];
  const userDir = userCacheDir(ctx.env, Deno.build.os);
  const lookups = stats.hits + stats.misses;
  const hitRate = lookups ? Math.round((stats.hits / lookups) * 100) : 0;
  if (ctx.flags.json) {
    ctx.ui.result({
      ...stats,
      userCacheDir: userDir,
      hitRate: lookups ? stats.hits / lookups : null,
      ...(list
        ? {
          list: entries.map((e) => ({
            key: e.key,
            task: e.task,
            component: e.component,
            durationMs: e.durationMs,
            createdAt: e.createdAt,
            lastUsedAt: new Date(e.lastUsedMs).toISOString(),
          })),
        }
        : {}),
    });
    return 0;
  }
  const ui = ctx.ui;
  ui.print(`${ui.style("bold", "Cache".padEnd(9))} ${stats.dir}`);
  ui.print(
    `${ui.style("bold", "Entries".padEnd(9))} ${stats.entries} (${formatBytes(stats.bytes)} in ${
      plural(stats.blobs, "blob")
    })`,
  );
  ui.print(
    `${ui.style("bold", "Lookups".padEnd(9))} ${stats.hits} ${
      stats.hits === 1 ? "hit" : "hits"
    }, ${stats.misses} ${stats.misses === 1 ? "miss" : "misses"}${
      lookups ? ` (${hitRate}% hit rate)` : ""
    }`,
  );
  ui.print(`${ui.style("bold", "Saved".padEnd(9))} ${formatDuration(stats.savedMs)} of task time`);
  ui.print(
    `${ui.style("bold", "Downloads".padEnd(9))} ${userDir} (pip and npm, shared by all projects)`,
  );
  const tasks = Object.entries(stats.byTask);
  if (tasks.length) {
    ui.print();
    ui.print(ui.table(
      ["TASK", "ENTRIES", "SIZE", "HITS", "MISSES", "SAVED"],
      tasks.map(([task, s]) => [
        task,
        String(s.entries),
        formatBytes(s.bytes),
        String(s.hits),
        String(s.misses),
        formatDuration(s.savedMs),
      ]),
    ));
  }
  if (list && entries.length) {
    ui.print();
    ui.print(ui.table(
      ["KEY", "TASK", "COMPONENT", "DURATION", "LAST USED"],
      entries.map((e) => [
        e.key.slice(0, 12),
        e.task,
        e.component,
        formatDuration(e.durationMs),
        new Date(e.lastUsedMs).toISOString().replace("T", " ").slice(0, 19),
      ]),
    ));
  }
  return 0;
}

async function pruneCommand(
  ctx: Context,
  store: CacheStore,
  opts: { maxSize?: string; maxAge?: string },
): Promise<number> {
  const maxBytes = opts.maxSize !== undefined
    ? parseSize(opts.maxSize)
    : opts.maxAge === undefined
    ? cacheMaxBytes(ctx.env)
    : undefined;
  const maxAgeMs = opts.maxAge !== undefined ? parseDuration(opts.maxAge) : undefined;
  const result = await store.prune({ maxBytes, maxAgeMs });
  if (ctx.flags.json) {
    ctx.ui.result({ ...result, maxBytes: maxBytes ?? null, maxAgeMs: maxAgeMs ?? null });
    return 0;
  }
  const limits = [
    maxBytes !== undefined ? `size ${formatBytes(maxBytes)}` : "",
    maxAgeMs !== undefined ? `age ${opts.maxAge}` : "",
  ].filter(Boolean).join(", ");
  ctx.ui.print(
    `Removed ${plural(result.removedEntries, "entry", "entries")} (${
      formatBytes(result.freedBytes)
    }), kept ${plural(result.keptEntries, "entry", "entries")} (${
      formatBytes(result.bytesAfter)
    }); limits: ${limits}`,
  );
  return 0;
}

async function cleanCommand(ctx: Context, store: CacheStore): Promise<number> {
  const bytes = await store.size();
  const count = (await store.entries()).length;
  if (count === 0 && bytes === 0) {
    if (ctx.flags.json) ctx.ui.result({ removedEntries: 0, freedBytes: 0, dir: store.dir });
    else ctx.ui.print(`The cache is already empty (${store.dir})`);
    return 0;
  }
  const yes = await ctx.confirm(
    `Delete the project cache "${store.dir}" (${plural(count, "entry", "entries")}, ${
      formatBytes(bytes)
    })?`,
  );
  if (!yes) {
    ctx.ui.warn("Cache not cleaned", "Run: rig cache clean -y");
    if (ctx.flags.json) ctx.ui.result({ removedEntries: 0, freedBytes: 0, dir: store.dir });
    return 1;
  }
  const result = await store.clean();
  if (ctx.flags.json) {
    ctx.ui.result({ removedEntries: result.entries, freedBytes: result.bytes, dir: store.dir });
  } else {
    ctx.ui.print(
      `Deleted ${plural(result.entries, "entry", "entries")} (${formatBytes(result.bytes)})`,
    );
  }
  return 0;
}

async function readEntry(store: CacheStore, prefix: string): Promise<TaskRecord> {
  const key = await store.resolveKey(prefix);
  const record = await store.read(key);
  if (!record) {
    throw new UsageError(
      `Cache entry "${prefix}" is unreadable (corrupt) and was removed`,
      "Run: rig cache stats --list",
    );
  }
  return record;
}

async function diffCommand(
  ctx: Context,
  store: CacheStore,
  prefixes: [string, string],
): Promise<number> {
  const a = await readEntry(store, prefixes[0]);
  const b = await readEntry(store, prefixes[1]);
  const difference = explain(a, b);
  if (ctx.flags.json) {
    ctx.ui.result({ from: a.key, to: b.key, ...difference });
    return 0;
  }
  const label = (r: TaskRecord) => `${r.key.slice(0, 12)} (${r.task} ${r.component})`;
  ctx.ui.print(`${label(a)} → ${label(b)}`);
  for (const line of describeExplanation(difference, { limit: ctx.flags.verbose ? 1e9 : 20 })) {
    ctx.ui.print(`  ${line}`);
  }
  return 0;
}

async function showCommand(
  ctx: Context,
  store: CacheStore,
  prefix: string,
  withLog: boolean,
): Promise<number> {
  const record = await readEntry(store, prefix);
  const log = withLog ? await store.readLog(record) : undefined;
  if (ctx.flags.json) {
    ctx.ui.result({ ...record, ...(log !== undefined ? { logText: log } : {}) });
    return 0;
  }
  const ui = ctx.ui;
  const m = record.manifest;
  const rows: [string, string][] = [
    ["Key", record.key],
    ["Task", `${record.task} ${record.component}`],
    ["Command", m.command.join(" ")],
    ["Exit code", String(record.exitCode)],
    ["Duration", formatDuration(record.durationMs)],
    ["Created", record.createdAt],
    ["Last used", record.lastUsedAt],
    ["rig", record.rigVersion],
    ["Inputs", `${plural(Object.keys(m.inputs).length, "file")}`],
    ["Lock files", Object.keys(m.lockFiles).join(", ") || "-"],
    ["Tools", Object.entries(record.tools).map(([k, v]) => `${k} ${v}`).join(", ") || "-"],
    ["Env vars", Object.keys(m.env).join(", ") || "-"],
    ["Depends on", Object.keys(m.dependencies).join(", ") || "-"],
    [
      "Artifacts",
      record.artifacts.map((a) => `${a.path} (${formatBytes(a.size)})`).join(", ") || "-",
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [name, value] of rows) ui.print(`${ui.style("bold", name.padEnd(width))}  ${value}`);
  if (ctx.flags.verbose) {
    ui.print();
    for (const [file, hash] of Object.entries(m.inputs)) {
      ui.print(`  ${hash.slice(0, 12)}  ${file}`);
    }
  }
  if (log !== undefined) {
    ui.print();
    ui.print(log.trimEnd());
  }
  return 0;
}

function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}
