/**
 * A hash worker: receives batches of files and answers with their hashes, so
 * cold fingerprints use every core. Started by `fingerprint` (lib/fingerprint.ts).
 */
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

// Typed by hand: a `lib="deno.worker"` reference here would leak into every program importing this file's types.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<{ jobs: HashJob[] }>) => void) | null;
  postMessage(message: { results: HashResult[] }): void;
};

scope.onmessage = (event) => {
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
  scope.postMessage({ results });
};
