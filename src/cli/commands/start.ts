// `txlake start` (what `npm start` runs): on an empty lake, generate a sample and ingest it; then serve.

import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { ingest } from '../../etl/ingest.js';
import { LakeLayout } from '../../lake/layout.js';
import { readCurrentSnapshotId } from '../../lake/snapshots.js';
import { defaultUsers, generateTransactionsFile } from '../../sample/generator.js';
import { DEFAULTS, resolveHost, resolveLakeDir, resolvePort } from '../config.js';
import { packageVersion } from '../version.js';
import { serveUntilSignalled } from './serve.js';

const SAMPLE_ROWS = 100_000;

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('serve the lake, first filling an empty one with a generated sample (what `npm start` runs)')
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .option('--host <host>', `address to listen on (default ${DEFAULTS.host})`)
    .option('--port <port>', `port to listen on (default ${DEFAULTS.port})`)
    .option('--rows <n>', 'rows of the sample generated for an empty lake', String(SAMPLE_ROWS))
    .action(async (flags: { lake?: string; host?: string; port?: string; rows: string }) => {
      const lake = resolveLakeDir(flags.lake);
      const host = resolveHost(flags.host);
      const port = resolvePort(flags.port);
      if ((await readCurrentSnapshotId(new LakeLayout(lake))) === null) {
        const rows = Number(flags.rows);
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-sample-'));
        const file = path.join(dir, 'sample.csv');
        try {
          process.stderr.write(`the lake ${path.resolve(lake)} is empty: generating ${rows} sample rows…\n`);
          await generateTransactionsFile({ rows, seed: 1, users: defaultUsers(rows) }, file);
          const result = await ingest({
            lake,
            files: [file],
            mode: 'append',
            maxRejectRate: DEFAULTS.maxRejectRate,
            partitionBy: 'transaction_type',
            force: false,
          });
          process.stderr.write(`ingested ${result.rows_committed} rows as snapshot ${result.snapshot}\n`);
        } finally {
          await fs.rm(dir, { recursive: true, force: true });
        }
      }
      const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      process.stderr.write(
        [
          '',
          `txlake is serving ${path.resolve(lake)} — try:`,
          `  curl ${base}/api/v1/data/transactions/1`,
          `  curl ${base}/api/v1/data/netAmount/5411`,
          `  open ${base}/docs   (interactive API docs; OpenAPI at ${base}/openapi.json)`,
          'Stop with Ctrl-C.',
          '',
        ].join('\n'),
      );
      await serveUntilSignalled({ lake, host, port, version: packageVersion() });
    });
}
