// `npm run bench -- verify`: what checking a snapshot's files against their sha256 costs a server, measured
// against reading the same bytes in the same run (the floor any check must pay), and as a share of the
// server's load: at its first load every file is hashed; after a 10,000-row append only the new files are.
// Numbers are printed, never asserted.

import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { filesOf, findDamagedFiles } from '../src/lake/integrity.js';
import { readCurrentSnapshot } from '../src/lake/lake-state.js';
import { LakeLayout } from '../src/lake/layout.js';
import { defaultUsers, generateTransactionsFile } from '../src/sample/generator.js';
import { formatBytes, measureChild, packageRoot, withWorkDirectory } from './measure.js';

export interface VerifyBenchOptions {
  rows: number;
  seed: number;
  dir?: string | undefined;
  keep?: boolean | undefined;
  log?: (line: string) => void;
}

interface ServedLoad {
  snapshot: number;
  load_ms: number;
  verify_ms: number;
}

export interface VerifyBenchResult {
  bench: 'verify';
  rows: number;
  files: number;
  bytes: number;
  /** Reading every byte of the snapshot's files, in 1 MiB reads (the page cache is warm: just written). */
  read_ms: number;
  /** sha256 of every file, as `verify` and a writer's carried-file check do. */
  sha256_ms: number;
  /** The server's first load: all of its time, and the part spent on checksums. */
  first_load: ServedLoad;
  ready_seconds: number;
  /** The swap after a 10,000-row append: only the files not verified before are hashed. */
  swap: ServedLoad;
}

async function timeMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round(performance.now() - started);
}

async function readAll(files: readonly string[]): Promise<void> {
  const buffer = Buffer.allocUnsafe(1 << 20);
  for (const file of files) {
    const handle = await fs.open(file, 'r');
    try {
      while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0) {
        // the bytes only need to be read
      }
    } finally {
      await handle.close();
    }
  }
}

export async function runVerifyBench(options: VerifyBenchOptions): Promise<VerifyBenchResult> {
  const log = options.log ?? (() => {});
  const root = packageRoot();
  const txlake = path.join(root, 'bin', 'txlake');
  return withWorkDirectory('txlake-bench-verify-', options, async (work) => {
    const csv = path.join(work, 'transactions.csv');
    const lake = path.join(work, 'lake');
    log(`generating and ingesting ${options.rows.toLocaleString('en-US')} rows`);
    await generateTransactionsFile(
      { rows: options.rows, seed: options.seed, users: defaultUsers(options.rows) },
      csv,
    );
    const ingest = await measureChild(txlake, ['ingest', csv, '--lake', lake], { cwd: root });
    if (ingest.exitCode !== 0) throw new Error(`ingest failed: ${ingest.stderrTail.trim()}`);
    await fs.rm(csv);

    const layout = new LakeLayout(lake);
    const manifest = await readCurrentSnapshot(layout);
    if (manifest === null) throw new Error('the lake has no snapshot');
    const files = filesOf(manifest).map((f) => layout.resolve(f.path));
    const bytes = filesOf(manifest).reduce((sum, f) => sum + f.bytes, 0);
    log('reading and hashing the snapshot files');
    await readAll(files); // once to warm the cache as a server's first load would find it after an ingest
    const readMs = await timeMs(() => readAll(files));
    const sha256Ms = await timeMs(() => findDamagedFiles(layout, manifest));

    log('starting txlake serve');
    const server = await startLoggingServer(txlake, root, lake);
    try {
      const firstLoad = await server.nextLoad();
      const readySeconds = server.secondsToFirstLoad();
      const append = path.join(work, 'append.csv');
      await generateTransactionsFile({ rows: 10_000, seed: options.seed + 1, users: 100 }, append);
      log('appending 10,000 rows');
      const appended = await measureChild(txlake, ['ingest', append, '--lake', lake], { cwd: root });
      if (appended.exitCode !== 0) throw new Error(`append failed: ${appended.stderrTail.trim()}`);
      const swap = await server.nextLoad();
      return {
        bench: 'verify',
        rows: options.rows,
        files: files.length,
        bytes,
        read_ms: readMs,
        sha256_ms: sha256Ms,
        first_load: firstLoad,
        ready_seconds: readySeconds,
        swap,
      };
    } finally {
      await server.stop();
    }
  });
}

/** `txlake serve` at its default log level, whose `serving snapshot` lines say what each load cost. */
async function startLoggingServer(txlake: string, root: string, lake: string) {
  const started = performance.now();
  let firstLoadAt = 0;
  const child = spawn(txlake, ['serve', '--lake', lake, '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const loads: ServedLoad[] = [];
  const waiting: Array<(load: ServedLoad) => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.includes('"serving snapshot"')) return;
    const entry = JSON.parse(line) as ServedLoad;
    if (firstLoadAt === 0) firstLoadAt = performance.now();
    const load = { snapshot: entry.snapshot, load_ms: entry.load_ms, verify_ms: entry.verify_ms };
    const next = waiting.shift();
    if (next) next(load);
    else loads.push(load);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    nextLoad: () =>
      new Promise<ServedLoad>((resolve, reject) => {
        const ready = loads.shift();
        if (ready) return resolve(ready);
        const timer = setTimeout(
          () => reject(new Error('the server logged no new snapshot within 30 minutes')),
          1_800_000,
        );
        waiting.push((load) => {
          clearTimeout(timer);
          resolve(load);
        });
      }),
    secondsToFirstLoad: () => Math.round(firstLoadAt - started) / 1000,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function formatVerifyReport(r: VerifyBenchResult): string {
  const share = (part: number, whole: number) => `${((100 * part) / Math.max(1, whole)).toFixed(1)}%`;
  return [
    `checksums of a ${r.rows.toLocaleString('en-US')}-row snapshot: ${r.files} files, ${formatBytes(r.bytes)}`,
    `  read every byte            ${String(r.read_ms).padStart(7)} ms   (the floor of any check)`,
    `  sha256 of every file       ${String(r.sha256_ms).padStart(7)} ms   ${(r.sha256_ms / Math.max(1, r.read_ms)).toFixed(2)}x the read`,
    `  server first load          ${String(r.first_load.load_ms).padStart(7)} ms   of which checksums ${r.first_load.verify_ms} ms (${share(r.first_load.verify_ms, r.first_load.load_ms)}); ready ${r.ready_seconds} s`,
    `  swap after +10,000 rows    ${String(r.swap.load_ms).padStart(7)} ms   of which checksums ${r.swap.verify_ms} ms (new files only)`,
    '',
  ].join('\n');
}
