// The audit log, `_txlake/audit.jsonl` (issue 12): one JSON line per lake operation, with who ran it (OS
// user and host), when, what it was asked to do and how it ended. Appended, never rewritten: a record is
// one write(2) on a file opened O_APPEND, fsynced before the command exits, so concurrent commands (a keys
// change beside an ingest) interleave whole lines. A line torn by a crash is reported by `txlake log`,
// and the next record starts on a line of its own.
//
// What a record holds is chosen by each command (cli/audit.ts): counts, snapshot ids, file names, never a
// row's content or an erased user's id, never a key.

import fs from 'node:fs/promises';
import os from 'node:os';
import type { Actor } from '../domain/api-keys.js';
import type { LakeLayout } from './layout.js';

export type AuditResult = 'ok' | 'refused' | 'failed';

export interface AuditRecord {
  time: string;
  actor: Actor & { sudo_user?: string };
  pid: number;
  operation: string;
  result: AuditResult;
  /** The command's exit code. */
  exit_code: number;
  /** What the command did or was asked to do (its options, counts, snapshot ids). */
  detail: Record<string, unknown>;
  /** Why it was refused or failed: the one line the user saw. */
  error?: string;
}

/** The user running this process, as the OS knows them; under sudo, who invoked sudo too. */
export function currentActor(): AuditRecord['actor'] {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = String(process.getuid?.() ?? 'unknown'); // a uid without a passwd entry (containers)
  }
  const sudo = process.env.SUDO_USER;
  return { user, host: os.hostname(), ...(sudo ? { sudo_user: sudo } : {}) };
}

/**
 * Append `record`. A lake that does not exist gets no log (auditing never creates a lake); a failure to
 * write is thrown for the caller to report.
 */
export async function appendAudit(layout: LakeLayout, record: AuditRecord): Promise<boolean> {
  const exists = await fs.stat(layout.metadataDir).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
  if (!exists) return false;
  const handle = await fs.open(layout.auditLog, 'a+');
  try {
    const { size } = await handle.stat();
    let separator = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) separator = '\n'; // a line torn by a crash stays alone on its line
    }
    await handle.write(`${separator}${JSON.stringify(record)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

export interface AuditReading {
  records: AuditRecord[];
  /** 1-based numbers of lines that are not a record (torn by a crash, or damaged). */
  damagedLines: number[];
}

export async function readAudit(layout: LakeLayout): Promise<AuditReading> {
  let text: string;
  try {
    text = await fs.readFile(layout.auditLog, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], damagedLines: [] };
    throw error;
  }
  const records: AuditRecord[] = [];
  const damagedLines: number[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line === '') return;
    try {
      const record = JSON.parse(line) as AuditRecord;
      if (typeof record?.time !== 'string' || typeof record.operation !== 'string') throw new Error();
      records.push(record);
    } catch {
      damagedLines.push(index + 1);
    }
  });
  return { records, damagedLines };
}
