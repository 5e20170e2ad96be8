/**
 * The blobs of a cache store: artifacts copied in (copy first, then hash the
 * copy, so a blob's name always matches its bytes) and written back out on a
 * restore, each checked against its SHA-256 before and after the copy.
 */
import * as path from "../path.ts";
import { tempSibling } from "../fs_atomic.ts";
import { RigError } from "../errors.ts";
import { hashFile } from "./content_hash.ts";
import {
  type ArtifactEntry,
  corruptBlob,
  missingBlob,
  safeRelative,
  type TaskRecord,
  unwritable,
} from "./cache_record.ts";

/**
 * Writes a record's artifacts below `destRoot` from the blobs `blobPath` names
 * (after the restore policy allowed them): every blob is verified first, then
 * each file is copied to a temp sibling, verified again and renamed into place.
 */
export async function writeArtifacts(
  record: TaskRecord,
  destRoot: string,
  blobPath: (sha256: string) => string,
): Promise<{ files: number; bytes: number; paths: string[] }> {
  for (const artifact of record.artifacts) {
    const source = blobPath(artifact.sha256);
    let actual: string;
    try {
      actual = await hashFile(source);
    } catch (error) {
      throw missingBlob(`"${artifact.path}"`, artifact, error);
    }
    if (actual !== artifact.sha256) {
      await Deno.remove(source).catch(() => {});
      throw corruptBlob(`"${artifact.path}"`, artifact);
    }
  }
  const executable = record.task === "build";
  let bytes = 0;
  const paths: string[] = [];
  for (const artifact of record.artifacts) {
    const relative = safeRelative(artifact.path);
    const dest = path.join(destRoot, ...relative.split("/"));
    const source = blobPath(artifact.sha256);
    try {
      await Deno.mkdir(path.dirname(dest), { recursive: true });
    } catch (error) {
      throw unwritable(artifact.path, error);
    }
    const temp = tempSibling(dest);
    try {
      try {
        await Deno.copyFile(source, temp);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          throw missingBlob(`"${artifact.path}"`, artifact, error);
        }
        throw unwritable(artifact.path, error);
      }
      const actual = await hashFile(temp);
      if (actual !== artifact.sha256) {
        await Deno.remove(source).catch(() => {});
        throw corruptBlob(`"${artifact.path}"`, artifact);
      }
      try {
        const mode = artifact.mode & (executable ? 0o777 : 0o666);
        if (Deno.build.os !== "windows") await Deno.chmod(temp, mode);
        await Deno.rename(temp, dest);
      } catch (error) {
        throw unwritable(artifact.path, error);
      }
    } finally {
      await Deno.remove(temp).catch(() => {});
    }
    bytes += artifact.size;
    paths.push(relative);
  }
  return { files: paths.length, bytes, paths };
}

/** True when a blob of `size` bytes is present; refreshes its mtime for concurrent prunes. */
export async function blobPresent(file: string, size: number, now: number): Promise<boolean> {
  try {
    const info = await Deno.stat(file);
    if (info.size !== size) return false;
    // Refresh its mtime so a concurrent prune's grace period covers it.
    const at = new Date(now);
    await Deno.utime(file, at, at).catch(() => {});
    return true;
  } catch {
    return false;
  }
}

/** Copies an artifact into the store as a blob and returns its entry. */
export async function storeArtifact(
  dir: string,
  blobPath: (sha256: string) => string,
  file: string,
  root: string,
  now: number,
): Promise<ArtifactEntry> {
  const relative = safeRelative(file);
  const source = path.join(root, ...relative.split("/"));
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(source);
  } catch (error) {
    throw new RigError(
      `Cannot cache artifact "${relative}": ${(error as Error).message}`,
      "Check that the task produced the file",
    );
  }
  if (!info.isFile) {
    throw new RigError(`Cannot cache artifact "${relative}": it is not a file`);
  }
  // Copy first, then hash the copy: the blob's name always matches its bytes.
  const staging = path.join(dir, "blobs", `.staging-${Deno.pid}-${crypto.randomUUID()}`);
  await Deno.mkdir(path.dirname(staging), { recursive: true });
  try {
    await Deno.copyFile(source, staging);
    const size = (await Deno.stat(staging)).size;
    const sha256 = await hashFile(staging, { size });
    const target = blobPath(sha256);
    if (!(await blobPresent(target, size, now))) {
      await Deno.mkdir(path.dirname(target), { recursive: true });
      await Deno.rename(staging, target);
    }
    return { path: relative, sha256, size, mode: (info.mode ?? 0o644) & 0o7777 };
  } finally {
    await Deno.remove(staging).catch(() => {});
  }
}
