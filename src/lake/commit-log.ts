// The commit log: one line per committed snapshot, appended right after the CURRENT swap that commits it.
// CURRENT says which snapshot is current; the log says which snapshots were ever committed, in order, with
// the sha256 of each one's manifest. Together they tell a lost or wrong pointer, a damaged manifest and a
// manifest that was never committed apart, where CURRENT alone would leave txlake guessing
// (docs/lake-format.md, "The commit log").

import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { fsyncPath, writeFileAtomic } from './durable-files.js';
import type { LakeLayout } from './layout.js';
import { OPERATIONS, type Operation, WRITE_MODES, type WriteMode } from './manifest.js';

export interface CommitRecord {
  id: number;
  parent: number | null;
  /** The manifest's `created`: retention is decided from the log, so a damaged manifest cannot hide its age. */
  created: string;
  operation: Operation;
  mode: WriteMode;
  rows: number;
  /** sha256 of the manifest file's bytes as committed. */
  manifest_sha256: string;
}

export interface CommitLog {
  /** Every whole line's record, oldest first (a last line cut short by a crash is not one). */
  records: CommitRecord[];
}

export function sha256Of(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A line's own check: the first 16 hex digits of the sha256 of the line without it. */
function lineCheck(body: string): string {
  return sha256Of(body).slice(0, 16);
}

function formatCommitLine(record: CommitRecord): string {
  const body = JSON.stringify({
    id: record.id,
    parent: record.parent,
    created: record.created,
    operation: record.operation,
    mode: record.mode,
    rows: record.rows,
    manifest_sha256: record.manifest_sha256,
  });
  return `${body.slice(0, -1)},"check":"${lineCheck(body)}"}\n`;
}

/** The record on one line, or null when the line is not one this module wrote (damaged). */
function parseCommitLine(line: string): CommitRecord | null {
  const match = /^(\{.*),"check":"([0-9a-f]{16})"\}$/.exec(line);
  if (match === null) return null;
  const body = `${match[1]}}`;
  if (lineCheck(body) !== match[2]) return null;
  try {
    const r = JSON.parse(body) as CommitRecord;
    const valid =
      Number.isSafeInteger(r.id) &&
      r.id > 0 &&
      (r.parent === null || Number.isSafeInteger(r.parent)) &&
      typeof r.created === 'string' &&
      (OPERATIONS as readonly string[]).includes(r.operation) &&
      (WRITE_MODES as readonly string[]).includes(r.mode) &&
      Number.isSafeInteger(r.rows) &&
      /^[0-9a-f]{64}$/.test(r.manifest_sha256);
    return valid ? r : null;
  } catch {
    return null;
  }
}

function logLocation(layout: LakeLayout): string {
  return `the commit log ${layout.relative(layout.commitLog)}`;
}

/**
 * Parse the whole log. A damaged line, or records out of order (each commit builds on the one before),
 * is an error naming the line; a cut last line is ignored (its snapshot, if committed, is the one CURRENT
 * names, and is logged again from its manifest: lake-state.ts).
 */
function parseCommitLog(text: string, where: string): CommitLog {
  const records: CommitRecord[] = [];
  let offset = 0;
  let lineNumber = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    if (end < 0) break;
    lineNumber++;
    const record = parseCommitLine(text.slice(offset, end));
    const previous = records.at(-1);
    if (record === null) throw new CommitLogDamaged(`${where} is damaged at line ${lineNumber}`);
    if (previous && (record.id <= previous.id || record.parent !== previous.id)) {
      throw new CommitLogDamaged(
        `${where} is damaged at line ${lineNumber}: snapshot ${record.id} does not follow snapshot ${previous.id}`,
      );
    }
    records.push(record);
    offset = end + 1;
  }
  return { records };
}

/** Every line of a log text that passes its own check, in order; damaged lines are left out (repair). */
export function intactCommitLines(text: string): CommitRecord[] {
  return text
    .split('\n')
    .map(parseCommitLine)
    .filter((r): r is CommitRecord => r !== null);
}

/** A commit log that cannot be read as written: only `txlake repair` rewrites it. */
export class CommitLogDamaged extends TxlakeError {
  constructor(message: string) {
    super('lake', message);
  }
}

/** The lake's commit log, or null when it has none (a new lake, or one made before the log existed). */
export async function readCommitLog(layout: LakeLayout): Promise<CommitLog | null> {
  let text: string;
  try {
    text = await fs.readFile(layout.commitLog, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return parseCommitLog(text, logLocation(layout));
}

/** How much of the log's end `readLastCommit` reads: many records, as each line is under 400 bytes. */
const TAIL_BYTES = 16 * 1024;

/** The last TAIL_BYTES of the open log, and where they start. */
async function readTail(handle: fs.FileHandle): Promise<{ tail: Buffer; start: number }> {
  const { size } = await handle.stat();
  const start = Math.max(0, size - TAIL_BYTES);
  const tail = Buffer.alloc(size - start);
  await handle.read(tail, 0, tail.length, start);
  return { tail, start };
}

function tooLongLine(layout: LakeLayout): CommitLogDamaged {
  return new CommitLogDamaged(
    `${logLocation(layout)} is damaged near its end (a line longer than ${TAIL_BYTES} bytes)`,
  );
}

/**
 * The newest record without reading the whole log (a server checks it every second, and the log grows by
 * a line a commit): `absent` when there is no log, null when it holds no whole line yet.
 */
export async function readLastCommit(layout: LakeLayout): Promise<CommitRecord | null | 'absent'> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(layout.commitLog, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
  try {
    const { tail, start } = await readTail(handle);
    const text = tail.toString('utf8');
    const lastNewline = text.lastIndexOf('\n');
    if (lastNewline < 0) return null;
    const lineStart = text.lastIndexOf('\n', lastNewline - 1) + 1;
    if (lineStart === 0 && start > 0) throw tooLongLine(layout);
    const record = parseCommitLine(text.slice(lineStart, lastNewline));
    if (record === null) throw new CommitLogDamaged(`${logLocation(layout)} is damaged at its last line`);
    return record;
  } finally {
    await handle.close();
  }
}

/**
 * Append `record` durably; the caller holds the writer lock. A last line cut short by a writer killed
 * mid-append is cut off first, so that the new line starts on a line of its own (the cut line's snapshot,
 * if any, is the one CURRENT names, and is logged again from its manifest).
 */
export async function appendCommitRecord(layout: LakeLayout, record: CommitRecord): Promise<void> {
  const existed = await fs.access(layout.commitLog).then(
    () => true,
    () => false,
  );
  const handle = await fs.open(layout.commitLog, 'a+');
  try {
    const { tail, start } = await readTail(handle);
    if (tail.length > 0 && tail[tail.length - 1] !== 0x0a) {
      const lastNewline = tail.lastIndexOf(0x0a);
      if (lastNewline < 0 && start > 0) throw tooLongLine(layout);
      await handle.truncate(start + lastNewline + 1);
    }
    await handle.appendFile(formatCommitLine(record));
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (!existed) await fsyncPath(layout.metadataDir);
}

/** Replace the whole log (repair, or a lake given its first log), atomically. */
export async function writeCommitLog(layout: LakeLayout, records: readonly CommitRecord[]): Promise<void> {
  await writeFileAtomic(layout.commitLog, records.map(formatCommitLine).join(''));
}
