// Damage done on purpose to a lake's files, as a bad disk, a stray write or a careless hand would.

import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Invert `count` bytes in the middle of `file`, keeping its size. */
export async function flipBytes(file: string, count = 64): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const at = Math.floor(size / 2);
    const buffer = Buffer.alloc(Math.max(0, Math.min(count, size - at)));
    await handle.read(buffer, 0, buffer.length, at);
    for (let i = 0; i < buffer.length; i++) buffer[i] = (buffer[i] as number) ^ 0xff;
    await handle.write(buffer, 0, buffer.length, at);
  } finally {
    await handle.close();
  }
}

const RECORDS = new Set([path.join('_txlake', 'audit.jsonl'), path.join('_txlake', 'last-ingest.json')]);

/**
 * The sha256 of every file under `root`, by path relative to it ("nothing was removed or changed"),
 * leaving out the paths `skip` names and the records of operations: the audit log and the last-ingest
 * record (every lake operation writes them, a refused one too: no part of any snapshot).
 */
export async function fileDigests(
  root: string,
  skip: (relative: string) => boolean = () => false,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const relative = path.relative(root, path.join(entry.parentPath, entry.name));
    if (skip(relative) || RECORDS.has(relative)) continue;
    out[relative] = createHash('sha256')
      .update(await fs.readFile(path.join(root, relative)))
      .digest('hex');
  }
  return out;
}
