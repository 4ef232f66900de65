// Durable file operations: the crash-safety of a commit rests on "write, fsync, rename, fsync the directory".

import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export async function fsyncPath(target: string): Promise<void> {
  const handle = await fs.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Put `content` in place of `target` through a temporary file that is complete and fsynced first, so that
 * `target` is never seen torn; `place` moves it in (rename: replace; link: only if absent). The directory is
 * fsynced last, so after return the new name survives a power loss.
 */
async function writeThroughTemporary(
  target: string,
  content: string,
  place: (temporary: string, target: string) => Promise<void>,
  beforePlace?: () => void,
): Promise<void> {
  const temporary = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    const handle = await fs.open(temporary, 'w');
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    beforePlace?.();
    await place(temporary, target);
  } finally {
    await fs.rm(temporary, { force: true });
  }
  await fsyncPath(path.dirname(target));
}

/** Replace `target` with `content` atomically: readers see the old file or the new one, never a torn one. */
export async function writeFileAtomic(
  target: string,
  content: string,
  beforeRename?: () => void,
): Promise<void> {
  await writeThroughTemporary(target, content, fs.rename, beforeRename);
}

export interface FileDigest {
  bytes: number;
  sha256: string;
}

/**
 * Size and sha256 of a file, read in a plain loop into one reused buffer: it often runs beside the engine
 * (hashing a source while DuckDB validates it), so its CPU time counts.
 */
export async function digestFile(file: string, chunkBytes = 4 << 20): Promise<FileDigest> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let bytes = 0;
  const handle = await fs.open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * `mkdir -p` that survives a power loss: each directory it creates is fsynced into its parent, so a file
 * made durable inside it is also reachable after a crash.
 */
export async function ensureDirectory(directory: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = path.resolve(directory); ; dir = path.dirname(dir)) {
    try {
      await fs.access(dir);
      break;
    } catch {
      missing.unshift(dir);
      if (path.dirname(dir) === dir) break;
    }
  }
  await fs.mkdir(directory, { recursive: true });
  for (const dir of missing) await fsyncPath(path.dirname(dir));
}

/**
 * Write `content` to `target` durably and only if `target` does not exist yet: a hard link fails when the
 * name is taken (EEXIST), where a rename would replace it.
 */
export async function writeFileExclusive(target: string, content: string): Promise<void> {
  await writeThroughTemporary(target, content, fs.link);
}
