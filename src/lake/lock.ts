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
import path from 'node:path';
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
  if (!holder.process_start) return true;
  const start = processStartTime(holder.pid);
  // A start time we cannot read (hidden /proc, another pid namespace) proves nothing: assume alive.
  return start === null || start === holder.process_start;
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

/**
 * Create `file` holding `holder`, only if it does not exist. The holder is written to a temporary file
 * first and hard-linked into place, so the lock never exists empty (a full disk or a kill mid-write would
 * otherwise leave an unreadable lock that no writer could judge).
 */
async function createExclusive(file: string, holder: LockHolder): Promise<boolean> {
  const temporary = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await fs.writeFile(temporary, `${JSON.stringify(holder)}\n`);
    await fs.link(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(temporary, { force: true });
  }
}

/** An unreadable lock (left empty or torn by an older version, or damaged) older than this is stale. */
const UNREADABLE_LOCK_GRACE_MS = 10_000;

async function isUnreadableAndOld(file: string): Promise<boolean> {
  if ((await readHolder(file)) !== null) return false;
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs > UNREADABLE_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

export function describeRecoveredLock(holder: LockHolder | null): string {
  return holder
    ? `recovered the writer lock left by a writer that died (pid ${holder.pid} on ${holder.host}, ` +
        `"${holder.command}" since ${holder.started})`
    : 'recovered an unreadable writer lock left by a writer that died';
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Take the writer lock of `layout`, waiting for nobody: a live holder is an error naming it. `notice` hears
 * of a recovered stale lock. Holding the lock, the writer then removes the staging directories of writers
 * that died (any there: only the holder of the lock writes).
 */
export async function acquireWriterLock(
  layout: LakeLayout,
  command: string,
  notice: (message: string) => void = () => {},
  /** Another lock of the lake than the writers' (the key file's), which owns no staging to sweep. */
  lockFile: string = layout.lockFile,
): Promise<WriterLock> {
  await fs.mkdir(layout.metadataDir, { recursive: true }).catch((error: unknown) => {
    throw notWritable(layout, error);
  });
  const holder: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date().toISOString(),
    command,
    process_start: processStartTime(process.pid),
  };
  const guardFile = `${lockFile}.takeover`;
  let recoveredFrom: LockHolder | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    const created = await createExclusive(lockFile, holder).catch((error: unknown) => {
      throw notWritable(layout, error);
    });
    if (created) {
      const release = async () => {
        const current = await readHolder(lockFile);
        if (current && current.pid === holder.pid && current.started === holder.started) {
          await fs.rm(lockFile, { force: true });
        }
      };
      if (recoveredFrom) notice(describeRecoveredLock(recoveredFrom));
      if (lockFile === layout.lockFile)
        await sweepStaging(layout).catch(async (error: unknown) => {
          await release();
          throw error;
        });
      return { holder, recoveredFrom, release };
    }
    const other = await readHolder(lockFile);
    if (other === null) {
      if (await isUnreadableAndOld(lockFile)) {
        if (await createExclusive(guardFile, holder)) {
          try {
            if (await isUnreadableAndOld(lockFile)) await fs.rm(lockFile, { force: true });
          } finally {
            await fs.rm(guardFile, { force: true });
          }
          notice(describeRecoveredLock(null));
        }
      }
      await pause(50); // removed meanwhile, or a lock of an older version: look again
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

async function sweepStaging(layout: LakeLayout): Promise<void> {
  const staging = path.dirname(layout.stagingDir('x'));
  await assertOwnDirectory(layout, staging);
  const names = await fs.readdir(staging).catch(() => [] as string[]);
  await Promise.all(names.map((name) => fs.rm(path.join(staging, name), { recursive: true, force: true })));
}

/** A lake a writer cannot write to (read-only mount, permissions) is refused in words, not as an errno. */
function notWritable(layout: LakeLayout, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    EROFS: 'it is on a read-only file system',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOSPC: 'no space left on the device',
    ENOTDIR: 'a part of its path is not a directory',
  };
  const reason = code === undefined ? undefined : reasons[code];
  if (reason === undefined) return error;
  return new TxlakeError(
    'lake',
    `cannot write to the lake ${layout.root}: ${reason}; commands that change the lake need to write to ` +
      `${layout.metadataDir} (reading commands and serve do not)`,
    { cause: error },
  );
}

/**
 * txlake removes what it finds in its scratch directory: that must be a real directory of the lake's, never
 * a link to elsewhere (whose files would be removed) or a file.
 */
export async function assertOwnDirectory(layout: LakeLayout, directory: string): Promise<void> {
  const stat = await fs.lstat(directory).catch(() => null);
  if (stat === null || stat.isDirectory()) return;
  throw new TxlakeError(
    'lake',
    `${layout.relative(directory)} in the lake ${layout.root} is ${stat.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; ` +
      'txlake removes what it finds there, so it will not follow it: remove it (txlake creates the directory it needs)',
  );
}

/** The lock is held by a live writer (the caller may wait and try again). */
export class LakeLocked extends TxlakeError {}

function throwLocked(layout: LakeLayout, other: LockHolder): never {
  throw new LakeLocked(
    'lake',
    `the lake ${layout.root} is locked by another writer (pid ${other.pid} on ${other.host}, ` +
      `running "${other.command}" since ${other.started}); wait for it to finish`,
  );
}
