// `txlake ingest --watch DIR`: the drop folder (etl/drop-folder.ts) with the real ingest, a JSON log on
// stdout (pino, like the server's), an audit record per batch, and SIGTERM/SIGINT finishing the batch in
// hand before the process exits 0 (a second signal exits at once: an interrupted ingest commits nothing).

import path from 'node:path';
import pino from 'pino';
import { TxlakeError } from '../../domain/errors.js';
import { type BatchOutcome, DropFolder } from '../../etl/drop-folder.js';
import type { IngestOptions } from '../../etl/ingest.js';
import { type AuditRecord, appendAudit, currentActor } from '../../lake/audit.js';
import { LakeLayout } from '../../lake/layout.js';

export const DEFAULT_SETTLE_MS = 2_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `2s`, `500ms`, `5m`, `1h`, `1.5` (seconds): the settle time in milliseconds. */
export function parseSettle(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match)
    throw new TxlakeError('usage', `--settle must be a time such as 2s, 500ms or 5m, got "${text}"`);
  const ms = Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1_000);
  if (ms > 24 * 3_600_000) throw new TxlakeError('usage', `--settle must be at most 24h, got "${text}"`);
  return Math.round(ms);
}

export interface WatchSettings {
  dir: string;
  lake: string;
  settleMs: number;
  /** The ingest's own options but for the files (append, reject rate, memory). */
  ingest: Omit<IngestOptions, 'files' | 'lake'>;
}

export async function watchDropFolder(settings: WatchSettings): Promise<void> {
  const { ingest } = await import('../../etl/ingest.js');
  const log = pino({ level: process.env.TXLAKE_LOG_LEVEL ?? 'info' }).child({ role: 'watch' });
  const layout = new LakeLayout(settings.lake);
  const dir = path.resolve(settings.dir);
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(1); // the lake is crash-safe: nothing half-committed stays
    log.info({ signal }, 'stopping: finishing the file in hand');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const audit = async (outcome: BatchOutcome, detail: Record<string, unknown>, error: string | null) => {
    const record: AuditRecord = {
      time: new Date().toISOString(),
      actor: currentActor(),
      pid: process.pid,
      operation: 'ingest',
      result: error === null ? 'ok' : 'refused',
      exit_code: error === null ? 0 : outcome.result === 'rejected' ? 2 : 1,
      detail: { lake: layout.root, watch: dir, files: outcome.files, ...detail },
      ...(error === null ? {} : { error }),
    };
    await appendAudit(layout, record).catch((failure: unknown) =>
      log.error({ error: String(failure) }, 'the audit log could not be written'),
    );
  };

  const folder = new DropFolder({
    dir,
    settleMs: settings.settleMs,
    log,
    signal: stop.signal,
    ingest: async (files) => {
      const notices: string[] = [];
      try {
        const result = await ingest({
          ...settings.ingest,
          lake: settings.lake,
          files: [...files],
          onNotice: (message) => notices.push(message),
        });
        for (const notice of notices) log.info({ notice }, 'ingest notice');
        await audit(
          {
            files: files.map((f) => path.basename(f)),
            result: result.committed ? 'committed' : 'unchanged',
            snapshot: result.snapshot,
          },
          {
            snapshot: result.committed ? result.snapshot : null,
            rows_read: result.rows_read,
            rows_committed: result.rows_committed,
            rows_rejected: result.rows_rejected,
            already_committed: !result.committed,
          },
          null,
        );
        return result;
      } catch (error) {
        for (const notice of notices) log.info({ notice }, 'ingest notice');
        if (
          files.length === 1 &&
          error instanceof TxlakeError &&
          (error.kind === 'input' || error.kind === 'reject_rate')
        ) {
          await audit(
            { files: [path.basename(files[0] as string)], result: 'rejected', snapshot: null },
            {},
            error.message.split('\n')[0] ?? '',
          );
        }
        throw error;
      }
    },
  });
  try {
    await folder.run();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
