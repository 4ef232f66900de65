// One writer at a time: an exclusive lock file recording its holder. A lock whose holder is gone (same
// host, and no process with that pid and start time) is stale and taken over; on another host liveness
// cannot be checked, so the lock is honoured.
//
// Taking over is the racy part: two writers may both find the same stale lock. Only the one that creates
// the takeover guard (`LOCK.takeover`, exclusively) may remove a stale lock and create its own; the other
// waits and then finds a live lock. A guard left by a writer that died in those few milliseconds is itself
// recognised by its dead holder.

import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import { TxlakeError } from '../domain/errors.js';
import type { LakeLayout } from './layout.js';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
  /** The kernel's start time of the process (Linux), so that a reused pid is not taken for the holder. */
  process_start?: string | null;
}

export interface WriterLock {
  holder: LockHolder;
  /** Set when the lock was taken over from a dead writer. */
  recoveredFrom: LockHolder | null;
  release(): Promise<void>;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null where there is no /proc. */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function holderIsAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (holder.process_start) return processStartTime(holder.pid) === holder.process_start;
  return true;
}

function isStale(holder: LockHolder): boolean {
  return holder.host === os.hostname() && !holderIsAlive(holder);
}

async function readHolder(file: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

async function createExclusive(file: string, holder: LockHolder): Promise<boolean> {
  try {
    await fs.writeFile(file, `${JSON.stringify(holder)}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function acquireWriterLock(layout: LakeLayout, command: string): Promise<WriterLock> {
  await fs.mkdir(layout.metadataDir, { recursive: true });
  const holder: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    command,
    process_start: processStartTime(process.pid),
  };
  const lockFile = layout.lockFile;
  const guardFile = `${lockFile}.takeover`;
  let recoveredFrom: LockHolder | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await createExclusive(lockFile, holder)) {
      const release = async () => {
        const current = await readHolder(lockFile);
        if (current && current.pid === holder.pid && current.started === holder.started) {
          await fs.rm(lockFile, { force: true });
        }
      };
      return { holder, recoveredFrom, release };
    }
    const other = await readHolder(lockFile);
    if (other === null) {
      await pause(50); // being written this instant, or removed meanwhile: look again
      continue;
    }
    if (!isStale(other)) throwLocked(layout, other);
    if (await createExclusive(guardFile, holder)) {
      try {
        // Under the guard, look again: the stale lock may have been replaced by a live one meanwhile.
        const again = await readHolder(lockFile);
        if (again && isStale(again)) {
          await fs.rm(lockFile, { force: true });
          recoveredFrom = again;
        }
      } finally {
        await fs.rm(guardFile, { force: true });
      }
    } else {
      const guard = await readHolder(guardFile);
      if (guard && isStale(guard)) await fs.rm(guardFile, { force: true });
      await pause(20);
    }
  }
  throw new TxlakeError('lake', `could not take the writer lock ${lockFile}; try again`);
}

function throwLocked(layout: LakeLayout, other: LockHolder): never {
  throw new TxlakeError(
    'lake',
    `the lake ${layout.root} is locked by another writer (pid ${other.pid} on ${other.host}, ` +
      `running "${other.command}" since ${other.started}); wait for it to finish`,
  );
}
