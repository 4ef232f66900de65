// One writer at a time: an exclusive lock file recording its holder. A lock whose holder process is gone
// (same host, pid not alive) is stale and taken over; on another host we cannot tell, so we refuse.

import fs from 'node:fs/promises';
import os from 'node:os';
import { TxlakeError } from '../domain/errors.js';
import type { LakeLayout } from './layout.js';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
}

export interface WriterLock {
  holder: LockHolder;
  /** Set when the lock was taken over from a dead writer. */
  recoveredFrom: LockHolder | null;
  release(): Promise<void>;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

export async function acquireWriterLock(layout: LakeLayout, command: string): Promise<WriterLock> {
  await fs.mkdir(layout.metadataDir, { recursive: true });
  const holder: LockHolder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), command };
  let recoveredFrom: LockHolder | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(layout.lockFile, `${JSON.stringify(holder)}\n`, { flag: 'wx' });
      const release = async () => {
        const current = await readHolder(layout.lockFile);
        if (current && current.pid === holder.pid && current.started === holder.started) {
          await fs.rm(layout.lockFile, { force: true });
        }
      };
      return { holder, recoveredFrom, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const other = await readHolder(layout.lockFile);
    if (other === null) {
      // A lock file being written this instant, or a torn one from a crash: give the writer a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await readHolder(layout.lockFile);
      if (again === null) {
        await fs.rm(layout.lockFile, { force: true });
        continue;
      }
      throwLocked(layout, again);
    } else if (other.host === os.hostname() && !processIsAlive(other.pid)) {
      recoveredFrom = other;
      await fs.rm(layout.lockFile, { force: true });
      continue;
    } else {
      throwLocked(layout, other);
    }
  }
  throw new TxlakeError('lake', `could not take the writer lock ${layout.lockFile}; try again`);
}

function throwLocked(layout: LakeLayout, other: LockHolder): never {
  throw new TxlakeError(
    'lake',
    `the lake ${layout.root} is locked by another writer (pid ${other.pid} on ${other.host}, ` +
      `running "${other.command}" since ${other.started}); wait for it to finish`,
  );
}
