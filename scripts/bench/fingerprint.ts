/** Bench section "fingerprint": cold and warm hashing of 10,000 small files and one 200 MB file. */
import * as path from "node:path";
import { fingerprint } from "../../lib/task/fingerprint.ts";
import { listInputs } from "../../lib/task/input_listing.ts";
import { StatCache } from "../../lib/task/stat_cache.ts";
import type { BenchSection } from "./section.ts";

const FILES = 10_000;
const PER_DIR = 100;
const BIG_MB = 200;

/** A tiny deterministic PRNG so every run generates the same tree. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function generate(root: string): Promise<{ smallBytes: number; bigBytes: number }> {
  const random = mulberry32(42);
  const pool = new Uint8Array(200 * 1024);
  for (let i = 0; i < pool.length; i++) pool[i] = 32 + Math.floor(random() * 90);
  let smallBytes = 0;
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(root, "src", `pkg${Math.floor(i / PER_DIR)}`);
    if (i % PER_DIR === 0) await Deno.mkdir(dir, { recursive: true });
    const size = 1024 + Math.floor(random() * 99 * 1024);
    const offset = Math.floor(random() * (pool.length - size));
    const bytes = pool.slice(offset, offset + size);
    bytes.set(new TextEncoder().encode(`file ${i}\n`));
    await Deno.writeFile(path.join(dir, `module${i}.py`), bytes);
    smallBytes += size;
  }
  const chunk = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = Math.floor(random() * 256);
  using big = await Deno.open(path.join(root, "data.bin"), { write: true, create: true });
  for (let written = 0; written < BIG_MB * 1024 * 1024; written += chunk.length) {
    chunk[0] = written & 0xff;
    await big.write(chunk);
  }
  return { smallBytes, bigBytes: BIG_MB * 1024 * 1024 };
}

function ms(t: number): string {
  return `${t.toFixed(0)} ms`;
}

/** The "fingerprint" bench section. */
export const fingerprintSection: BenchSection = {
  name: "fingerprint",
  description: `${FILES} files of 1–100 KB plus one ${BIG_MB} MB file, cold vs warm`,
  async run({ tmp, log }) {
    const root = path.join(tmp, "tree");
    let started = performance.now();
    const { smallBytes, bigBytes } = await generate(root);
    log(
      `generated ${FILES + 1} files (${((smallBytes + bigBytes) / 2 ** 20).toFixed(0)} MB) in ${
        ms(performance.now() - started)
      }`,
    );
    // Files written less than a second before hashing are "racy" and never trusted from the
    // stat cache (as in git); let the tree settle so the warm run measures the normal case.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    started = performance.now();
    const files = await listInputs(root, { dirs: ["."], useGit: false });
    log(
      `listInputs (walk + .gitignore, no git): ${files.length} files in ${
        ms(performance.now() - started)
      }`,
    );
    const small = files.filter((f) => f !== "data.bin");

    const cacheFile = path.join(root, ".rig", "cache", "stat-cache.json");
    let counters = { hashed: 0, reused: 0 };
    started = performance.now();
    await fingerprint(root, small, { statCache: await StatCache.load(cacheFile), counters });
    const coldSmall = performance.now() - started;
    log(
      `cold, ${small.length} small files: ${ms(coldSmall)}, ${
        (smallBytes / 2 ** 20 / (coldSmall / 1000)).toFixed(0)
      } MB/s, ${
        (small.length / (coldSmall / 1000)).toFixed(0)
      } files/s (hashed ${counters.hashed})`,
    );

    counters = { hashed: 0, reused: 0 };
    started = performance.now();
    await fingerprint(root, ["data.bin"], { statCache: await StatCache.load(cacheFile), counters });
    const coldBig = performance.now() - started;
    log(
      `cold, one ${BIG_MB} MB file: ${ms(coldBig)}, ${
        (bigBytes / 2 ** 20 / (coldBig / 1000)).toFixed(0)
      } MB/s`,
    );

    const coldAll = coldSmall + coldBig;
    log(
      `cold total: ${ms(coldAll)}, ${
        ((smallBytes + bigBytes) / 2 ** 20 / (coldAll / 1000)).toFixed(0)
      } MB/s`,
    );

    counters = { hashed: 0, reused: 0 };
    started = performance.now();
    const statCache = await StatCache.load(cacheFile);
    const loaded = performance.now() - started;
    await fingerprint(root, files, { statCache, counters });
    const warm = performance.now() - started;
    log(
      `warm, all ${files.length} files (nothing changed): ${ms(warm)} (stat cache load ${
        ms(loaded)
      }; reused ${counters.reused}, hashed ${counters.hashed}), ${
        (files.length / (warm / 1000)).toFixed(0)
      } files/s`,
    );
    log(`warm/cold ratio: ${(warm / coldAll).toFixed(4)} (${(coldAll / warm).toFixed(0)}x faster)`);
  },
};
