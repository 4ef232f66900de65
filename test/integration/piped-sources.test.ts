// Sources that are not regular files — a named pipe, bash's `<(…)`, `/dev/stdin` — report a size of 0: they
// must be spooled like `-`, keep the name the user gave, and be recognised by their content like a file.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { parseCsv } from '../helpers/oracle.js';
import { randomTransactions } from '../helpers/synthetic.js';
import {
  assertBuilt,
  describeRun,
  type IngestSummary,
  ingest,
  parseJsonOutput,
  runProgram,
  runTxlake,
  TempDirs,
  TXLAKE_BIN,
} from '../helpers/txlake.js';

const temp = new TempDirs();
const writers: ChildProcess[] = [];
let dir = '';
/** 120 good rows, then one with a bad amount (line 122 of the file). */
let text = '';
let file = '';

beforeAll(() => {
  assertBuilt();
  dir = temp.make();
  const rows = randomTransactions({ seed: 61, rows: 121, users: 30 });
  rows[120] = { ...(rows[120] as (typeof rows)[number]), amount_cents: 'twelve' };
  text = csvText(rows);
  file = writeCsvFile(path.join(dir, 'piped.csv'), text);
});

afterAll(() => {
  // a writer whose FIFO was never opened for reading would block forever
  for (const writer of writers) if (writer.exitCode === null) writer.kill('SIGKILL');
  temp.cleanup();
});

/** A new FIFO in `dir`, and a writer process that copies `source` into it once a reader opens it. */
function fifoFedFrom(source: string, name: string): { fifo: string; written: Promise<number | null> } {
  const fifo = path.join(dir, name);
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'cat -- "$1" > "$2"', 'sh', source, fifo], { stdio: 'ignore' });
  writers.push(writer);
  const written = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
  return { fifo, written };
}

/** `bash -c SCRIPT` from the repository root, with `$1…` set to `args`. */
function bash(script: string, args: readonly string[]) {
  return runProgram('bash', ['-c', script, 'bash', ...args]);
}

describe('a named pipe (FIFO)', () => {
  let lake = '';
  let first: IngestSummary;

  beforeAll(async () => {
    lake = path.join(dir, 'fifo-lake');
    const { fifo, written } = fifoFedFrom(file, 'feed.fifo');
    ({ summary: first } = await ingest([fifo], lake, ['--max-reject-rate', '1']));
    expect(await written).toBe(0);
  });

  it('is read whole, under the name given, with its rejects at their line', () => {
    expect(first).toMatchObject({ rows_read: 121, rows_committed: 120, rows_rejected: 1 });
    expect((first.sources as Array<{ source: string }>)[0]?.source).toBe(path.join(dir, 'feed.fifo'));
    const rejects = parseCsv(readFileSync(first.rejects_file ?? '', 'utf8')).slice(1);
    expect(rejects.map((r) => r.fields.slice(0, 3))).toEqual([['122', 'amount_cents', 'not_an_integer']]);
    expect(path.basename(first.rejects_file ?? '')).toMatch(/-feed\.fifo\.rejects\.csv$/);
  });

  it('the same content through a pipe again is already committed: a no-op', async () => {
    const { fifo, written } = fifoFedFrom(file, 'again.fifo');
    const { summary } = await ingest([fifo], lake, ['--max-reject-rate', '1']);
    expect(await written).toBe(0);
    expect(summary).toMatchObject({ already_committed: true, rows_committed: 0, snapshot: first.snapshot });
  });

  it('the same content as a regular file is already committed too', async () => {
    const { summary } = await ingest([file], lake, ['--max-reject-rate', '1']);
    expect(summary).toMatchObject({ already_committed: true, snapshot: first.snapshot });
  });
});

describe("bash's process substitution <(…)", () => {
  it('is read whole, also when it carries gzip content', async () => {
    const lake = path.join(dir, 'substitution-lake');
    const args = [file, lake];
    const result = await bash(
      `${TXLAKE_BIN} ingest <(gzip -c "$1") --lake "$2" --json --max-reject-rate 1`,
      args,
    );
    expect(result.code, describeRun(args, result)).toBe(0);
    const summary = parseJsonOutput<IngestSummary>(args, result);
    expect(summary).toMatchObject({ rows_read: 121, rows_committed: 120, rows_rejected: 1 });
    expect((summary.sources as Array<{ source: string }>)[0]?.source).toMatch(/^\/dev\/fd\/[0-9]+$/);
  });

  it('an empty one is refused as empty, naming it (exit 2)', async () => {
    const args = [path.join(dir, 'empty-substitution-lake')];
    const result = await bash(`${TXLAKE_BIN} ingest <(true) --lake "$1"`, args);
    expect(result.code, describeRun(args, result)).toBe(2);
    expect(result.stderr.trim()).toMatch(/^error: \/dev\/fd\/[0-9]+ is empty: expected a header line/);
  });
});

describe('devices', () => {
  it('/dev/stdin named as a file is read like -', async () => {
    const lake = path.join(dir, 'dev-stdin-lake');
    const { summary } = await ingest(['/dev/stdin'], lake, ['--max-reject-rate', '1'], { input: text });
    expect(summary).toMatchObject({ rows_read: 121, rows_committed: 120, rows_rejected: 1 });
    expect((summary.sources as Array<{ source: string }>)[0]?.source).toBe('/dev/stdin');
  });

  it('a Unix socket named by its path is refused with advice (exit 2)', async () => {
    const socket = path.join(dir, 'feed.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const args = ['ingest', socket, '--lake', path.join(dir, 'socket-lake')];
      const result = await runTxlake(args);
      expect(result.code, describeRun(args, result)).toBe(2);
      expect(result.stderr.trim()).toBe(
        `error: cannot read ${socket}: it is a socket, which cannot be opened as a file; pipe its content to ` +
          '`txlake ingest -` instead',
      );
    } finally {
      server.close();
    }
  });

  it('/dev/null is refused as empty (exit 2)', async () => {
    const args = ['ingest', '/dev/null', '--lake', path.join(dir, 'dev-null-lake')];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(2);
    expect(result.stderr.trim()).toBe('error: /dev/null is empty: expected a header line naming the columns');
  });
});
