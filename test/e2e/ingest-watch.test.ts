// `txlake ingest --watch DIR` (SPEC §9), as an operator runs it: a real watcher process on a real lake,
// files dropped the ways writers drop them (renamed in, written in place with FILE.done, many at once),
// bad files, a watcher killed at its commit and restarted, SIGTERM in the middle of a file, a server
// following the lake, and the flags it refuses.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/load.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import {
  assertBuilt,
  errorLine,
  REPO_ROOT,
  runExpecting,
  runTxlake,
  TempDirs,
  TXLAKE_BIN,
} from '../helpers/txlake.js';

const temp = new TempDirs();
const watchers: Watcher[] = [];
const servers: RunningServer[] = [];
/** Generated files by rows and seed, made once and copied into drop folders. */
const made = new Map<string, string>();
let work = '';

interface Watcher {
  process: ChildProcess;
  log: () => string;
  /** The log's JSON lines. */
  lines: () => Record<string, unknown>[];
  exited: Promise<number | null>;
}

function startWatcher(dir: string, lake: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Watcher {
  const child = spawn(TXLAKE_BIN, ['ingest', '--watch', dir, '--lake', lake, ...extra], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const watcher: Watcher = {
    process: child,
    log: () => log,
    lines: () =>
      log
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    exited,
  };
  watchers.push(watcher);
  return watcher;
}

async function stopWatcher(watcher: Watcher): Promise<number | null> {
  if (watcher.process.exitCode === null && watcher.process.signalCode === null)
    watcher.process.kill('SIGTERM');
  return watcher.exited;
}

/** A generated CSV of `rows` rows (seed `seed`), as a new file at `to`. */
async function csv(rows: number, seed: number, to: string): Promise<string> {
  const key = `${rows}-${seed}`;
  let file = made.get(key);
  if (!file) {
    file = path.join(work, `gen-${key}.csv`);
    await runExpecting(['generate', '--rows', String(rows), '--seed', String(seed), '--out', file], 0);
    made.set(key, file);
  }
  fs.copyFileSync(file, to);
  return to;
}

async function snapshots(lake: string): Promise<{ id: number; rows: number }[]> {
  const result = await runTxlake(['snapshots', '--lake', lake, '--json']);
  if (result.code !== 0) return [];
  const parsed = JSON.parse(result.stdout) as
    | { snapshots?: { id: number; rows: number }[] }
    | { id: number; rows: number }[];
  return Array.isArray(parsed) ? parsed : (parsed.snapshots ?? []);
}

async function currentRows(lake: string): Promise<number> {
  const result = await runTxlake(['snapshot', '--lake', lake, '--json']);
  return result.code === 0 ? (JSON.parse(result.stdout) as { rows: number }).rows : 0;
}

function folders(): { dir: string; lake: string } {
  const root = temp.make('txlake-watch-');
  const dir = path.join(root, 'incoming');
  fs.mkdirSync(dir);
  return { dir, lake: path.join(root, 'lake') };
}

const listed = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
const committedLines = (watcher: Watcher) =>
  watcher.lines().filter((line) => String(line.msg).startsWith('committed snapshot'));

beforeAll(() => {
  assertBuilt();
  work = temp.make('txlake-watch-files-');
});

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((watcher) => stopWatcher(watcher)));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

afterAll(() => temp.cleanup());

describe('txlake ingest --watch', () => {
  it('ingests a file renamed into the folder once, moves it to ingested/, and never reads a .part', async () => {
    const { dir, lake } = folders();
    const watcher = startWatcher(dir, lake, ['--settle', '300ms']);
    // A writer still writing under .part (and a dotfile, a .tmp, a non-CSV): never read, whatever the settle.
    await csv(2000, 1, path.join(dir, 'day1.csv.part'));
    fs.writeFileSync(path.join(dir, '.hidden.csv'), 'user_id\n');
    fs.writeFileSync(path.join(dir, 'day0.csv.tmp'), 'not yet');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not data');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await snapshots(lake)).toEqual([]);

    fs.renameSync(path.join(dir, 'day1.csv.part'), path.join(dir, 'day1.csv'));
    await waitFor('the renamed file committed', () => committedLines(watcher).length === 1, 10_000);
    expect(await currentRows(lake)).toBe(2000);
    await waitFor('moved', () => listed(path.join(dir, 'ingested')).includes('day1.csv'), 5_000);
    expect(listed(dir)).toEqual(['.hidden.csv', 'day0.csv.tmp', 'ingested', 'notes.txt', 'rejected']);

    // The same content again under another name: already committed, moved, no new snapshot.
    await csv(2000, 1, path.join(dir, 'day1-again.csv'));
    await waitFor(
      'the copy handled',
      () => listed(path.join(dir, 'ingested')).includes('day1-again.csv'),
      10_000,
    );
    expect((await snapshots(lake)).length).toBe(1);
    const last = watcher.lines().at(-1) as Record<string, unknown>;
    expect(last.msg).toBe('already committed: moved without a new snapshot');
    expect(await stopWatcher(watcher)).toBe(0);
    expect(watcher.log()).toContain('"msg":"stopped watching the drop folder"');
  });

  it('waits for FILE.done when the file is written in place, however long the settle', async () => {
    const { dir, lake } = folders();
    const watcher = startWatcher(dir, lake, ['--settle', '1h']);
    await csv(1500, 2, path.join(dir, 'batch.csv'));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await snapshots(lake)).toEqual([]);
    const marked = Date.now();
    fs.writeFileSync(path.join(dir, 'batch.csv.done'), '');
    await waitFor('committed after .done', () => committedLines(watcher).length === 1, 10_000);
    // SPEC §9: a complete file is committed within 2 s plus its ingest time.
    const seconds = Number(committedLines(watcher)[0]?.seconds);
    expect(Date.now() - marked).toBeLessThan(2_000 + seconds * 1000 + 1_000);
    await waitFor('moved with its mark', () => listed(path.join(dir, 'ingested')).length === 2, 5_000);
    expect(listed(path.join(dir, 'ingested'))).toEqual(['batch.csv', 'batch.csv.done']);
    expect(await currentRows(lake)).toBe(1500);
  });

  it('moves a bad file to rejected/ with FILE.error (and its rejects), and goes on with the next', async () => {
    const { dir, lake } = folders();
    const watcher = startWatcher(dir, lake, ['--settle', '200ms', '--max-reject-rate', '0.1']);
    fs.writeFileSync(
      path.join(dir, 'no-header.csv'),
      '31373,PurchaseActivity,5310,74995,2023-03-25T11:31:26\n',
    );
    const rows = fs
      .readFileSync(await csv(200, 3, path.join(work, 'mostly-bad-src.csv')), 'utf8')
      .split('\n');
    const spoiled = rows.map((line, i) =>
      i > 0 && i % 3 === 0 && line ? line.replace(/,\d+,/, ',notacode,') : line,
    );
    fs.writeFileSync(path.join(dir, 'mostly-bad.csv'), spoiled.join('\n'));
    await waitFor('both rejected', () => listed(path.join(dir, 'rejected')).length >= 4, 15_000);
    await csv(1000, 4, path.join(dir, 'good.csv'));
    await waitFor('the good one committed', () => committedLines(watcher).length === 1, 15_000);

    expect(listed(path.join(dir, 'rejected'))).toEqual([
      'mostly-bad.csv',
      'mostly-bad.csv.error',
      'mostly-bad.csv.rejects.csv',
      'no-header.csv',
      'no-header.csv.error',
    ]);
    expect(fs.readFileSync(path.join(dir, 'rejected', 'no-header.csv.error'), 'utf8')).toMatch(/header/);
    const error = fs.readFileSync(path.join(dir, 'rejected', 'mostly-bad.csv.error'), 'utf8');
    expect(error).toMatch(/reject/);
    expect(error).toContain('rejected rows and why: mostly-bad.csv.rejects.csv');
    const rejects = fs.readFileSync(path.join(dir, 'rejected', 'mostly-bad.csv.rejects.csv'), 'utf8');
    expect(rejects.trim().split('\n').length - 1).toBe(Math.floor(200 / 3));
    expect(listed(path.join(dir, 'ingested'))).toEqual(['good.csv']);
    expect((await snapshots(lake)).map((s) => s.rows)).toEqual([1000]);
    const audit = await runExpecting(['log', '--lake', lake, '--json'], 0);
    const records = audit.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { result: string; detail: { files?: string[] } });
    expect(records.filter((r) => r.result === 'refused').map((r) => r.detail.files)).toEqual(
      expect.arrayContaining([['no-header.csv'], ['mostly-bad.csv']]),
    );
    expect(records.some((r) => r.result === 'ok' && r.detail.files?.[0] === 'good.csv')).toBe(true);
  });

  it('ingests exactly once across a watcher killed at its commit and restarted', async () => {
    const { dir, lake } = folders();
    await csv(1000, 5, path.join(dir, 'first.csv'));
    const killed = startWatcher(dir, lake, ['--settle', '200ms'], { TXLAKE_FAULT_INJECTION: 'committed' });
    expect(await killed.exited).toBeNull(); // SIGKILLed itself once CURRENT named the new snapshot
    expect(listed(dir)).toContain('first.csv'); // committed, not moved
    expect(await currentRows(lake)).toBe(1000);

    const restarted = startWatcher(dir, lake, ['--settle', '200ms']);
    await waitFor(
      'moved after the restart',
      () => listed(path.join(dir, 'ingested')).includes('first.csv'),
      15_000,
    );
    expect(
      restarted.lines().some((line) => line.msg === 'already committed: moved without a new snapshot'),
    ).toBe(true);
    expect(await currentRows(lake)).toBe(1000);
    expect((await snapshots(lake)).length).toBe(1);
    await runExpecting(['verify', '--lake', lake], 0);
  });

  it('shares a snapshot among files complete together, and waits out another writer', async () => {
    const { dir, lake } = folders();
    await runExpecting(['ingest', await csv(500, 6, path.join(work, 'seed.csv')), '--lake', lake], 0);
    const watcher = startWatcher(dir, lake, ['--settle', '1h']);
    const files = Array.from({ length: 12 }, (_, i) => `part-${String(i).padStart(2, '0')}.csv`);
    for (const [i, name] of files.entries()) await csv(300, 100 + i, path.join(dir, name));
    // Another writer holds the lake while the files become complete together.
    const other = runTxlake(['ingest', await csv(200_000, 7, path.join(work, 'big.csv')), '--lake', lake]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const name of files) fs.writeFileSync(path.join(dir, `${name}.done`), '');
    expect((await other).code).toBe(0);
    await waitFor('all twelve ingested', () => listed(path.join(dir, 'ingested')).length === 24, 30_000);
    expect(await currentRows(lake)).toBe(500 + 200_000 + 12 * 300);
    const commits = committedLines(watcher);
    expect(commits.length).toBeLessThan(12);
    expect(commits.flatMap((line) => line.files as string[]).sort()).toEqual(files);
    await runExpecting(['verify', '--lake', lake], 0);
  });

  it('finishes the file in hand on SIGTERM and exits 0', async () => {
    const { dir, lake } = folders();
    const watcher = startWatcher(dir, lake, ['--settle', '100ms']);
    await csv(400_000, 8, path.join(dir, 'large.csv'));
    await waitFor('ingesting', () => watcher.lines().some((line) => line.msg === 'ingesting'), 15_000);
    watcher.process.kill('SIGTERM');
    expect(await watcher.exited).toBe(0);
    expect(listed(path.join(dir, 'ingested'))).toEqual(['large.csv']);
    expect(await currentRows(lake)).toBe(400_000);
    const messages = watcher.lines().map((line) => line.msg);
    expect(messages.indexOf('stopping: finishing the file in hand')).toBeLessThan(
      messages.findIndex((msg) => String(msg).startsWith('committed snapshot')),
    );
  });

  it('each snapshot reaches a server following the lake within 2 s of its commit', async () => {
    const { dir, lake } = folders();
    await runExpecting(['ingest', await csv(500, 9, path.join(work, 'base.csv')), '--lake', lake], 0);
    const server = await startServer(lake);
    servers.push(server);
    const watcher = startWatcher(dir, lake, ['--settle', '100ms']);
    for (let round = 1; round <= 3; round++) {
      fs.copyFileSync(
        await csv(300, 200 + round, path.join(work, `r${round}.csv`)),
        path.join(dir, `.r${round}.csv`),
      );
      fs.renameSync(path.join(dir, `.r${round}.csv`), path.join(dir, `r${round}.csv`));
      await waitFor(`round ${round} committed`, () => committedLines(watcher).length === round, 10_000);
      const snapshot = committedLines(watcher)[round - 1]?.snapshot;
      await waitFor(
        `snapshot ${snapshot} served`,
        async () => JSON.parse((await server.get('/healthz')).body).snapshot === snapshot,
        2_000,
      );
    }
  });

  it('refuses what it cannot do, in one line, exit 2', async () => {
    const { dir, lake } = folders();
    const cases: [string[], RegExp][] = [
      [['ingest', '--watch', path.join(dir, 'missing'), '--lake', lake], /no folder/],
      [['ingest', '--watch', dir, 'a.csv', '--lake', lake], /name no files/],
      [['ingest', '--watch', dir, '--mode', 'replace', '--lake', lake], /appended/],
      [['ingest', '--watch', dir, '--force', '--lake', lake], /--force/],
      [['ingest', '--watch', dir, '--settle', 'soon', '--lake', lake], /--settle must be a time/],
      [['ingest', 'a.csv', '--settle', '2s', '--lake', lake], /--settle is for --watch/],
    ];
    const file = path.join(dir, 'not-a-folder.csv');
    fs.writeFileSync(file, 'x');
    cases.push([['ingest', '--watch', file, '--lake', lake], /is not a folder/]);
    for (const [args, message] of cases) {
      const result = await runTxlake(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(errorLine(result), args.join(' ')).toMatch(message);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
