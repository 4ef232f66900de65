// `txlake start` (what `npm start` runs): on an empty lake, generate a sample and ingest it; then serve.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { inspectLake, isEmptyLake } from '../../lake/lake-state.js';
import { LakeLayout } from '../../lake/layout.js';
import { defaultUsers, generateTransactionsFile, heaviestUserId, MAX_ROWS } from '../../sample/generator.js';
import { DEFAULTS, resolveHost, resolveLakeDir, resolvePort } from '../config.js';
import { parseIntegerFlag } from '../flags.js';
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
      const rows = parseIntegerFlag('--rows', flags.rows, 1, MAX_ROWS);
      // The example URL names a user that exists in the generated sample (the busiest one).
      let exampleUser = '1';
      // Only a lake with nothing in it gets a sample: one that lost its pointer is the server's to report.
      if (isEmptyLake(await inspectLake(new LakeLayout(lake)))) {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-sample-'));
        const file = path.join(dir, 'sample.csv');
        try {
          process.stderr.write(`the lake ${path.resolve(lake)} is empty: generating ${rows} sample rows…\n`);
          const sample = { rows, seed: 1, users: defaultUsers(rows) };
          await generateTransactionsFile(sample, file);
          exampleUser = String(heaviestUserId(sample));
          const { ingest } = await import('../../etl/ingest.js');
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
          `  ${base}/ in a browser: the explorer (a user's transactions, a merchant category's daily net)`,
          `  curl ${base}/api/v1/data/transactions/${exampleUser}`,
          `  curl ${base}/api/v1/data/netAmount/5732`,
          `  ${base}/docs in a browser: interactive API docs (OpenAPI at ${base}/openapi.json)`,
          'Stop with Ctrl-C.',
          '',
        ].join('\n'),
      );
      await serveUntilSignalled({
        backend: { kind: 'embedded', lake },
        host,
        port,
        version: packageVersion(),
      });
    });
}
