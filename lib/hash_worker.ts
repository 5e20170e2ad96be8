/**
 * A hash worker: receives batches of files and answers with their hashes, so
 * cold fingerprints use every core. Started by `fingerprint` (lib/fingerprint.ts).
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { hashFileSync, type TextMode } from "./content_hash.ts";

/** One file to hash. */
export interface HashJob {
  id: number;
  file: string;
  size: number;
  mode: TextMode;
}

/** The answer for one file: its hash, or that it vanished, or why it could not be read. */
export interface HashResult {
  id: number;
  hash?: string;
  missing?: boolean;
  error?: string;
}

self.onmessage = (event: MessageEvent<{ jobs: HashJob[] }>) => {
  const results: HashResult[] = [];
  for (const job of event.data.jobs) {
    try {
      results.push({ id: job.id, hash: hashFileSync(job.file, job) });
    } catch (error) {
      const missing = error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory;
      results.push(
        missing ? { id: job.id, missing } : { id: job.id, error: (error as Error).message },
      );
    }
  }
  self.postMessage({ results });
};
