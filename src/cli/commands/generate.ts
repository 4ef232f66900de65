// `txlake generate`: write a deterministic synthetic transactions CSV with the shape of the real sample.
// Flags are checked here so that a mistake reads as one sentence; the rows come from sample/generator.

import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { TxlakeError } from '../../domain/errors.js';
import { ProgressLine } from '../../etl/progress.js';
import {
  DEFAULT_SEED,
  defaultUsers,
  generateTransactionsFile,
  MAX_ROWS,
  MAX_SEED,
  MAX_USERS,
  ROWS_PER_USER,
} from '../../sample/generator.js';
import { parseIntegerFlag } from '../flags.js';

interface GenerateFlags {
  rows: string;
  out: string;
  seed: string;
  users?: string;
}

/** Fail before generating anything when the output cannot be created, with the reason in words. */
async function assertWritableDestination(out: string): Promise<void> {
  if (out === '-') return;
  const directory = path.dirname(path.resolve(out));
  let isDirectory: boolean;
  try {
    isDirectory = (await fs.stat(directory)).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    throw new TxlakeError('usage', `cannot write ${out}: the directory ${directory} does not exist`);
  }
  try {
    if ((await fs.stat(out)).isDirectory()) {
      throw new TxlakeError('usage', `cannot write ${out}: it is a directory; give a file name to --out`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await fs.access(directory, fs.constants.W_OK);
  } catch {
    throw new TxlakeError('usage', `cannot write ${out}: the directory ${directory} is not writable`);
  }
}

function formatRows(n: number): string {
  return n.toLocaleString('en-US');
}

async function runGenerate(flags: GenerateFlags): Promise<void> {
  const rows = parseIntegerFlag('--rows', flags.rows, 0, MAX_ROWS);
  const seed = parseIntegerFlag('--seed', flags.seed, 0, MAX_SEED);
  const users =
    flags.users === undefined ? defaultUsers(rows) : parseIntegerFlag('--users', flags.users, 1, MAX_USERS);
  const out = flags.out;
  if (out.trim() === '') throw new TxlakeError('usage', '--out must name a file (or - for standard output)');
  await assertWritableDestination(out);

  const progress = new ProgressLine('generating');
  const started = performance.now();
  try {
    await generateTransactionsFile({ rows, seed, users }, out, (written) => progress.update(written, rows));
  } catch (error) {
    progress.clear();
    // `generate --out - | head` closes the pipe early: the reader has what it wanted; that is no error.
    if (out === '-' && (error as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw error;
  }
  progress.clear();
  const seconds = (performance.now() - started) / 1000;
  // With --out -, standard output is the data: the summary goes to stderr.
  const summaryStream = out === '-' ? process.stderr : process.stdout;
  summaryStream.write(
    `generated ${formatRows(rows)} rows (seed ${seed}, at most ${formatRows(users)} users) ` +
      `into ${out === '-' ? 'standard output' : out} in ${seconds.toFixed(2)} s\n`,
  );
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('write a deterministic synthetic transactions CSV with the shape of the real sample')
    .requiredOption('--rows <n>', 'number of data rows (0 writes the header only)')
    .requiredOption(
      '--out <file>',
      'output file; a name ending in .gz is gzip-compressed; - is standard output',
    )
    .option('--seed <s>', 'seed: the same seed and flags give byte-identical output', String(DEFAULT_SEED))
    .option('--users <u>', `at most this many distinct users (default: rows / ${ROWS_PER_USER}, at least 1)`)
    .addHelpText(
      'after',
      `
The rows look like the real sample: a few heavy users and many light ones, merchant codes skewed towards
a few popular ones among about 500 ISO 18245 codes, about 3.4% ReturnActivity, amounts from cents to
thousands of dollars, and datetimes over 180 days of 2023 (UTC, no zone, 4 to 6 fractional digits).

Examples:
  txlake generate --rows 1000000 --out transactions.csv
  txlake generate --rows 10_000_000 --out big.csv.gz --seed 7 --users 200000
  txlake generate --rows 1000 --out - | head`,
    )
    .action(async (flags: GenerateFlags) => {
      await runGenerate(flags);
    });
}
