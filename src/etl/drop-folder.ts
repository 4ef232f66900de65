// `txlake ingest --watch DIR` (SPEC §9): a drop folder. Each complete CSV file in DIR becomes part of a
// snapshot exactly once: files that are complete together are ingested together (one snapshot), then moved
// to DIR/ingested/; a file that cannot be ingested (a file-level error, or too many rejected rows) moves to
// DIR/rejected/ beside NAME.error saying why, and never holds up the next one.
//
// Exactly once, also across restarts and crashes, comes from the lake, not from this folder: the lake's
// source log records every committed file's content (size, fingerprints, sha256), and ingest skips content
// already committed. A watcher killed between its commit and its move finds the file again at its next
// start, learns it is committed, and only moves it.
//
// A file is complete when NAME.done exists, or when it has not changed (size and modification time) for
// the settle time. Names starting with `.` or ending in `.tmp`/`.part` are never read, so a writer that
// writes under such a name (or elsewhere) and renames into DIR is safe at any settle time.

import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isTxlakeError, TxlakeError } from '../domain/errors.js';
import type { IngestResult } from './summary.js';

/** Where files go once handled, inside the drop folder. */
export const INGESTED_DIR = 'ingested';
export const REJECTED_DIR = 'rejected';
export const DONE_SUFFIX = '.done';
export const ERROR_SUFFIX = '.error';

/** Files of more than this many at once are taken in turns: a snapshot per batch, each one bounded. */
export const MAX_BATCH_FILES = 64;

const INGESTIBLE = /\.csv(\.gz)?$/i;

/** Whether the watcher may read a file of this name (not what it is writing, not its own marks). */
export function isCandidateName(name: string): boolean {
  if (name.startsWith('.') || /\.(tmp|part)$/i.test(name)) return false;
  if (name.endsWith(DONE_SUFFIX) || name.endsWith(ERROR_SUFFIX)) return false;
  return INGESTIBLE.test(name);
}

/** What the watcher hands each batch to: the real ingest in the CLI. */
export type IngestFiles = (files: readonly string[]) => Promise<IngestResult>;

export interface WatchLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface DropFolderOptions {
  dir: string;
  /** A file unchanged this long (ms) is complete, as is one with NAME.done beside it. */
  settleMs: number;
  ingest: IngestFiles;
  log: WatchLog;
  /** Aborted: finish the batch in hand, then return. */
  signal: AbortSignal;
  /** How often DIR is listed (ms; default 250). */
  pollMs?: number;
  /** After a failure that is not the file's (a locked or damaged lake, a full disk): first wait (ms). */
  retryMs?: number;
  /** Called after each batch is moved out of DIR (tests wait on it). */
  onBatch?: (outcome: BatchOutcome) => void;
}

export interface WatchCounters {
  files_ingested: number;
  files_already_committed: number;
  files_rejected: number;
  snapshots: number;
  rows_committed: number;
  rows_rejected: number;
}

export interface BatchOutcome {
  files: string[];
  result: 'committed' | 'unchanged' | 'rejected';
  snapshot: number | null;
}

interface Sighting {
  size: number;
  mtimeMs: number;
}

/** Files that can no longer be ingested as they are: wrong in themselves, not in the lake or the machine. */
function isFileLevel(error: unknown): error is TxlakeError {
  return isTxlakeError(error) && (error.kind === 'input' || error.kind === 'reject_rate');
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** `dir/name`, or `dir/name-2`, `-3`… before the extension when taken: nothing handled is overwritten. */
async function freeName(dir: string, name: string): Promise<string> {
  const match = /^(.*?)((\.[a-z0-9]+)*)$/i.exec(name);
  const stem = match?.[1] || name;
  const extension = match?.[1] ? (match[2] ?? '') : '';
  for (let n = 1; ; n++) {
    const candidate = path.join(dir, n === 1 ? name : `${stem}-${n}${extension}`);
    try {
      await fs.access(candidate, fsConstants.F_OK);
    } catch {
      return candidate;
    }
  }
}

export class DropFolder {
  readonly counters: WatchCounters = {
    files_ingested: 0,
    files_already_committed: 0,
    files_rejected: 0,
    snapshots: 0,
    rows_committed: 0,
    rows_rejected: 0,
  };
  private readonly sightings = new Map<string, Sighting>();
  private readonly ingestedDir: string;
  private readonly rejectedDir: string;
  private retryMs: number;

  constructor(private readonly options: DropFolderOptions) {
    this.ingestedDir = path.join(options.dir, INGESTED_DIR);
    this.rejectedDir = path.join(options.dir, REJECTED_DIR);
    this.retryMs = options.retryMs ?? 1_000;
  }

  /** Check the folder, then watch it until the signal is aborted. */
  async run(): Promise<WatchCounters> {
    await this.prepare();
    const { signal } = this.options;
    const pollMs = this.options.pollMs ?? 250;
    this.options.log.info(
      { dir: this.options.dir, settle_ms: this.options.settleMs },
      'watching the drop folder',
    );
    while (!signal.aborted) {
      const complete = await this.completeFiles();
      if (complete.length === 0) {
        await abortableSleep(pollMs, signal);
        continue;
      }
      const waited = await this.handle(complete.slice(0, MAX_BATCH_FILES));
      if (waited) await abortableSleep(this.retryMs, signal);
    }
    this.options.log.info({ ...this.counters }, 'stopped watching the drop folder');
    return this.counters;
  }

  private async prepare(): Promise<void> {
    const { dir } = this.options;
    let stat: Awaited<ReturnType<typeof fs.stat>>;
    try {
      stat = await fs.stat(dir);
    } catch {
      throw new TxlakeError('usage', `--watch: there is no folder ${dir}`);
    }
    if (!stat.isDirectory()) throw new TxlakeError('usage', `--watch: ${dir} is not a folder`);
    try {
      await fs.mkdir(this.ingestedDir, { recursive: true });
      await fs.mkdir(this.rejectedDir, { recursive: true });
      await fs.access(dir, fsConstants.W_OK);
    } catch (error) {
      throw new TxlakeError(
        'usage',
        `--watch: cannot write in ${dir} (${firstLine(error)}); the watcher moves each file it handles`,
      );
    }
  }

  /** The complete candidate files, oldest first (by modification time, then name). */
  private async completeFiles(): Promise<string[]> {
    const { dir, settleMs } = this.options;
    const names = new Set(await fs.readdir(dir));
    const complete: { name: string; mtimeMs: number }[] = [];
    const now = Date.now();
    for (const name of names) {
      if (!isCandidateName(name)) continue;
      let stat: Awaited<ReturnType<typeof fs.stat>>;
      try {
        stat = await fs.stat(path.join(dir, name));
      } catch {
        continue; // moved or removed meanwhile
      }
      if (!stat.isFile()) continue;
      const before = this.sightings.get(name);
      this.sightings.set(name, { size: stat.size, mtimeMs: stat.mtimeMs });
      const marked = names.has(`${name}${DONE_SUFFIX}`);
      // Unchanged since the last look, and not written for the settle time: complete.
      const settled =
        before !== undefined &&
        before.size === stat.size &&
        before.mtimeMs === stat.mtimeMs &&
        now - stat.mtimeMs >= settleMs;
      if (marked || settled) complete.push({ name, mtimeMs: stat.mtimeMs });
    }
    for (const name of this.sightings.keys()) if (!names.has(name)) this.sightings.delete(name);
    complete.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
    return complete.map((file) => path.join(dir, file.name));
  }

  /** Ingest `files` together; on a file-level error, one at a time. True when it must wait and retry. */
  private async handle(files: readonly string[]): Promise<boolean> {
    let result: IngestResult;
    this.options.log.info({ files: files.map((file) => path.basename(file)) }, 'ingesting');
    try {
      result = await this.options.ingest(files);
    } catch (error) {
      if (isFileLevel(error)) {
        if (files.length === 1) {
          await this.reject(files[0] as string, error);
          return false;
        }
        // One of them spoils the batch: each on its own, so only the bad one is rejected.
        for (const file of files) {
          if (await this.handle([file])) return true;
        }
        return false;
      }
      // Not the files' fault (the lake is locked or damaged, the disk full): they stay, and are retried.
      this.options.log.error(
        {
          files: files.map((file) => path.basename(file)),
          error: firstLine(error),
          retry_in_ms: this.retryMs,
        },
        'ingest failed; the files stay in the drop folder and are tried again',
      );
      this.retryMs = Math.min(this.retryMs * 2, 60_000);
      return true;
    }
    this.retryMs = this.options.retryMs ?? 1_000;
    await this.moveAll(files, this.ingestedDir);
    this.count(result);
    const outcome: BatchOutcome = {
      files: files.map((file) => path.basename(file)),
      result: result.committed ? 'committed' : 'unchanged',
      snapshot: result.snapshot,
    };
    this.options.log.info(
      {
        files: outcome.files,
        snapshot: result.committed ? result.snapshot : null,
        rows_read: result.rows_read,
        rows_committed: result.rows_committed,
        rows_rejected: result.rows_rejected,
        rejects_files: result.rejects_files,
        already_committed: result.sources
          .filter((s) => s.already_committed_in !== null)
          .map((s) => path.basename(s.source)),
        seconds: Number(result.seconds.toFixed(3)),
        totals: { ...this.counters },
      },
      result.committed
        ? `committed snapshot ${result.snapshot}`
        : 'already committed: moved without a new snapshot',
    );
    this.options.onBatch?.(outcome);
    return false;
  }

  private count(result: IngestResult): void {
    const already = result.sources.filter((s) => s.already_committed_in !== null).length;
    this.counters.files_already_committed += already;
    this.counters.files_ingested += result.sources.length - already;
    if (result.committed) this.counters.snapshots += 1;
    this.counters.rows_committed += result.rows_committed;
    this.counters.rows_rejected += result.rows_rejected;
  }

  private async reject(file: string, error: TxlakeError): Promise<void> {
    const name = path.basename(file);
    const target = await this.moveAll([file], this.rejectedDir);
    if (target.length === 0) return;
    const lines = [firstLine(error)];
    const rejects = 'result' in error ? (error.result as IngestResult).rejects_file : null;
    if (rejects) {
      const copy = `${target[0]}.rejects.csv`;
      await fs.copyFile(rejects, copy).then(
        () => lines.push(`rejected rows and why: ${path.basename(copy)}`),
        () => lines.push(`rejected rows and why: ${rejects}`),
      );
    }
    await fs.writeFile(`${target[0]}${ERROR_SUFFIX}`, `${lines.join('\n')}\n`);
    this.counters.files_rejected += 1;
    this.options.log.warn(
      {
        file: name,
        error: lines[0],
        moved_to: path.relative(this.options.dir, target[0] as string),
        totals: { ...this.counters },
      },
      'file rejected: nothing of it was committed',
    );
    this.options.onBatch?.({ files: [name], result: 'rejected', snapshot: null });
  }

  /** Move each file (and its .done mark) into `dir`; the paths they now have. */
  private async moveAll(files: readonly string[], dir: string): Promise<string[]> {
    const moved: string[] = [];
    for (const file of files) {
      const target = await freeName(dir, path.basename(file));
      try {
        await fs.rename(file, target);
      } catch (error) {
        // Taken away by hand while it was ingested: what was committed stands, there is nothing to move.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.options.log.warn(
          { file: path.basename(file) },
          'the file left the drop folder before it could be moved',
        );
        continue;
      }
      await fs.rename(`${file}${DONE_SUFFIX}`, `${target}${DONE_SUFFIX}`).catch(() => {});
      this.sightings.delete(path.basename(file));
      moved.push(target);
    }
    return moved;
  }
}
