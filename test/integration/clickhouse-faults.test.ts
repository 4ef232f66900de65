// Faults on the ClickHouse path (issue 12, SPEC §2 and §7), on a real 2-shard cluster with real
// `txlake serve --backend clickhouse` processes: the writer (every lake operation, and `clickhouse sync`)
// killed (SIGKILL) or failing with a full disk at each step of the copy to ClickHouse (the fault points of
// src/lake/fault-points.ts), and a ClickHouse node SIGKILLed in the middle of a publish and started again
// later. After each fault: every answer of every server is the oracle's for the snapshot it names
// (X-Txlake-Snapshot), never a mix, never a row twice; the lake verifies; `clickhouse status` exits 4 while
// ClickHouse is behind; the operation exits 4 in one line (or died, as killed); and `clickhouse sync`
// finishes, after which every server serves the lake's current snapshot and ClickHouse holds each
// retained file's rows once and nothing of what the lake vacuumed.
//
// Last, an insert a killed writer left running in ClickHouse, which the next sync must wait for.
//
// CI runs each fault point once (operations rotated over them) and a node killed at two steps;
// TXLAKE_FAULT_MATRIX=full runs every point with every operation that reaches it, killed and out of disk,
// and a node killed at random moments of a larger ingest (the nightly mode: several minutes).

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intHash64 } from '../../src/backends/clickhouse/cluster.js';
import { fileKeyOf } from '../../src/backends/clickhouse/publish.js';
import type { FaultPoint } from '../../src/lake/fault-points.js';
import { LakeLayout } from '../../src/lake/layout.js';
import { readManifest } from '../../src/lake/snapshots.js';
import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { eventually } from '../helpers/load.js';
import { type OracleRow, oracleIngest, V1Oracle } from '../helpers/oracle.js';
import { httpGet, type RunningServer, startServer } from '../helpers/server.js';
import { randomTransactions } from '../helpers/synthetic.js';
import {
  assertBuilt,
  currentSnapshot,
  describeRun,
  errorLine,
  REPO_ROOT,
  type RunResult,
  runTxlake,
  TempDirs,
  TXLAKE_BIN,
} from '../helpers/txlake.js';

const FULL = process.env.TXLAKE_FAULT_MATRIX === 'full';

type Operation = 'ingest' | 'delete-user' | 'rollback' | 'vacuum' | 'clickhouse sync';
type Mode = 'kill' | 'enospc';

/** The points each operation's sync reaches (vacuum's only when it removed snapshots ClickHouse holds). */
const LOADING: FaultPoint[] = [
  'clickhouse-file-loading',
  'clickhouse-file-inserted',
  'clickhouse-file-recorded',
  'clickhouse-sums-written',
  'clickhouse-snapshot-published',
  'clickhouse-switching',
];
const PUBLISHING: FaultPoint[] = [
  'clickhouse-sums-written',
  'clickhouse-snapshot-published',
  'clickhouse-switching',
];
const DROPPING: FaultPoint[] = ['clickhouse-dropping', 'clickhouse-grace', 'clickhouse-files-dropping'];
const REACHES: Record<Operation, FaultPoint[]> = {
  ingest: LOADING,
  'delete-user': LOADING,
  'clickhouse sync': LOADING,
  rollback: PUBLISHING,
  vacuum: DROPPING,
};

interface FaultCase {
  operation: Operation;
  point: FaultPoint;
  mode: Mode;
}

/** CI: every point once, the operations rotated over them; a few out of disk. */
const CI_CASES: FaultCase[] = [
  { operation: 'ingest', point: 'clickhouse-file-loading', mode: 'kill' },
  { operation: 'delete-user', point: 'clickhouse-file-inserted', mode: 'kill' },
  { operation: 'clickhouse sync', point: 'clickhouse-file-recorded', mode: 'kill' },
  { operation: 'rollback', point: 'clickhouse-sums-written', mode: 'kill' },
  { operation: 'ingest', point: 'clickhouse-snapshot-published', mode: 'kill' },
  { operation: 'delete-user', point: 'clickhouse-switching', mode: 'kill' },
  { operation: 'vacuum', point: 'clickhouse-dropping', mode: 'kill' },
  { operation: 'rollback', point: 'clickhouse-switching', mode: 'enospc' },
  { operation: 'vacuum', point: 'clickhouse-grace', mode: 'kill' },
  { operation: 'ingest', point: 'clickhouse-file-loading', mode: 'enospc' },
  { operation: 'vacuum', point: 'clickhouse-files-dropping', mode: 'kill' },
  { operation: 'clickhouse sync', point: 'clickhouse-file-inserted', mode: 'enospc' },
];

const FULL_CASES: FaultCase[] = (['kill', 'enospc'] as const).flatMap((mode) =>
  (Object.keys(REACHES) as Operation[]).flatMap((operation) =>
    REACHES[operation].map((point) => ({ operation, point, mode })),
  ),
);

const temp = new TempDirs();
let cluster: ClickHouseCluster;
let dir = '';
let lake = '';
let layout: LakeLayout;
/** Every committed snapshot's rows, as the oracle reads the files ingested. */
const contents = new Map<number, OracleRow[]>();
const oracles = new Map<number, V1Oracle>();
let batches = 0;
/** `all`: every endpoint (shard routing, catalog reads fail over); `second`: node 2's endpoint alone. */
const servers: { name: string; server: RunningServer }[] = [];

function oracleOf(id: number): V1Oracle {
  let oracle = oracles.get(id);
  if (oracle === undefined) {
    const rows = contents.get(id);
    if (rows === undefined) throw new Error(`no oracle for snapshot ${id}`);
    oracle = new V1Oracle(rows);
    oracles.set(id, oracle);
  }
  return oracle;
}

function txlake(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return runTxlake(args, { env: { ...cluster.env, ...env }, timeoutMs: 120_000 });
}

async function expectRun(args: string[], code: number, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const result = await txlake(args, env);
  expect(result.code, describeRun(args, result)).toBe(code);
  return result;
}

async function lakeCurrent(): Promise<number> {
  return (await currentSnapshot(lake))?.id as number;
}

/** The lake's retained snapshots, newest first. */
async function retained(): Promise<number[]> {
  const listed = JSON.parse((await expectRun(['snapshots', '--lake', lake, '--json'], 0)).stdout) as Array<{
    id: number;
  }>;
  return listed.map((s) => s.id).sort((a, b) => b - a);
}

/** A new file of rows for users no earlier batch had (an ingest's content is the parent's plus these). */
function newBatch(rows = 150, users = 20): { file: string; rows: OracleRow[] } {
  batches++;
  const text = csvText(
    randomTransactions({ seed: 100 + batches, rows, users, userOffset: BigInt(batches) * 1_000_000n }),
  );
  const file = writeCsvFile(path.join(dir, `batch-${batches}.csv`), text);
  return { file, rows: oracleIngest(text).rows };
}

// ---------------------------------------------------------------------------------------------------
// Answers against the oracle of the snapshot they name.

interface Answer {
  server: string;
  path: string;
  status: number;
  snapshot: number | null;
  type: string;
  retryAfter: string | undefined;
  body: string;
}

async function ask(name: string, server: RunningServer, rawPath: string): Promise<Answer> {
  const response = await httpGet(server.port, rawPath);
  const label = response.headers['x-txlake-snapshot'];
  return {
    server: name,
    path: rawPath,
    status: response.status,
    snapshot: typeof label === 'string' ? Number(label) : null,
    type: String(response.headers['content-type']),
    retryAfter: response.headers['retry-after'] as string | undefined,
    body: response.body,
  };
}

function expectedBody(answer: Answer): string {
  const oracle = oracleOf(answer.snapshot as number);
  const user = /^\/api\/v1\/data\/transactions\/(\d+)$/.exec(answer.path);
  if (user) return oracle.transactionsBody(BigInt(user[1] as string));
  const code = /^\/api\/v1\/data\/netAmount\/(\d+)$/.exec(answer.path);
  if (code) return oracle.netAmountBody(Number(code[1]));
  throw new Error(`no expected body for ${answer.path}`);
}

interface Expectation {
  /** The snapshots an answer may come from. */
  snapshots: readonly number[];
  /** Whether a 503 problem (a node down) is an acceptable answer. */
  unavailable?: boolean;
}

/** Every answer is the oracle's for the snapshot it names (one of `snapshots`), or an allowed 503 problem. */
function expectAnswers(answers: readonly Answer[], expectation: Expectation): void {
  const wrong: string[] = [];
  for (const a of answers) {
    const where = `${a.server} GET ${a.path} → ${a.status} (snapshot ${a.snapshot})`;
    if (a.status === 200) {
      if (a.snapshot === null || !expectation.snapshots.includes(a.snapshot))
        wrong.push(`${where}: not from one of snapshots ${expectation.snapshots.join(', ')}`);
      else if (a.body !== expectedBody(a))
        wrong.push(`${where}: not the oracle's answer\n  got:      ${a.body.slice(0, 300)}`);
    } else if (a.status === 503 && expectation.unavailable) {
      if (!a.type.startsWith('application/problem+json') || a.retryAfter === undefined)
        wrong.push(`${where}: a 503 that is not a problem with Retry-After (${a.type}) ${a.body}`);
      if (a.body.includes('127.0.0.1')) wrong.push(`${where}: a node's address in the body ${a.body}`);
    } else wrong.push(`${where}: ${a.body.slice(0, 300)}`);
  }
  expect(
    wrong.length,
    `${wrong.length} of ${answers.length} answers wrong:\n${wrong.slice(0, 6).join('\n')}`,
  ).toBe(0);
}

/** v1 paths of every (or every n-th, at most about `limitUsers`) user and every code of these rows. */
function pathsOfRows(
  rowSets: readonly (readonly OracleRow[])[],
  limitUsers = Number.POSITIVE_INFINITY,
): string[] {
  const users = new Set<bigint>();
  const codes = new Set<number>();
  for (const rows of rowSets)
    for (const row of rows) {
      users.add(row.userId);
      codes.add(row.code);
    }
  const step = Math.max(1, Math.ceil(users.size / limitUsers));
  const sampled = [...users].filter((_, i) => i % step === 0);
  return [
    ...sampled.map((u) => `/api/v1/data/transactions/${u}`),
    ...[...codes].map((c) => `/api/v1/data/netAmount/${c}`),
  ];
}

function pathsOf(ids: readonly number[], limitUsers = Number.POSITIVE_INFINITY): string[] {
  return pathsOfRows(
    ids.map((id) => contents.get(id) as OracleRow[]),
    limitUsers,
  );
}

async function askAll(paths: readonly string[]): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const { name, server } of servers)
    for (let i = 0; i < paths.length; i += 8)
      answers.push(...(await Promise.all(paths.slice(i, i + 8).map((p) => ask(name, server, p)))));
  return answers;
}

/** Ask the servers over and over while `work` runs (the writer, a node's death): every answer is kept. */
async function askingDuring<T>(
  paths: readonly string[],
  work: () => Promise<T>,
): Promise<{ value: T; answers: Answer[] }> {
  const answers: Answer[] = [];
  let done = false;
  const loops = servers.map(async ({ name, server }) => {
    for (let i = 0; !done; i++) answers.push(await ask(name, server, paths[i % paths.length] as string));
  });
  try {
    return { value: await work(), answers };
  } finally {
    done = true;
    await Promise.all(loops);
  }
}

// ---------------------------------------------------------------------------------------------------
// What ClickHouse holds, node by node, against the lake.

async function rowsOf(node: number, sql: string): Promise<string[][]> {
  const text = (await cluster.query(node, `${sql} FORMAT TSV`)).trim();
  return text === '' ? [] : text.split('\n').map((line) => line.split('\t'));
}

/**
 * After a finished sync: each retained file's rows are in the cluster exactly once (the shards' counts per
 * file add up to its manifest's rows), no rows of any other file remain, and every node's catalog (rows, file
 * lists, sums) holds the lake's retained snapshots and nothing else.
 */
async function expectClickHouseMatchesLake(): Promise<void> {
  const ids = await retained();
  const needed = new Map<string, number>();
  for (const id of ids) {
    const reading = await readManifest(layout, id);
    if (reading.kind !== 'ok') throw new Error(`manifest ${id}: ${reading.kind}`);
    for (const file of reading.manifest.files) needed.set(String(fileKeyOf(file)), file.rows);
  }
  const held = new Map<string, number>();
  for (let node = 0; node < cluster.nodes.length; node++) {
    for (const [key, rows] of await rowsOf(
      node,
      'SELECT file_key, count() FROM txlake.transactions_local GROUP BY file_key',
    ))
      held.set(key as string, (held.get(key as string) ?? 0) + Number(rows));
    const recorded = (await rowsOf(node, 'SELECT file_key FROM txlake.files')).map((r) => r[0]).sort();
    expect(recorded, `files recorded on node ${node + 1}`).toEqual([...needed.keys()].sort());
    for (const table of ['snapshots', 'snapshot_files', 'daily_sums']) {
      const listed = (
        await rowsOf(node, `SELECT DISTINCT snapshot FROM txlake.${table} ORDER BY snapshot DESC`)
      ).map((r) => Number(r[0]));
      expect(listed, `snapshots in ${table} on node ${node + 1}`).toEqual(ids);
    }
  }
  expect(Object.fromEntries(held), 'rows per file in the cluster').toEqual(Object.fromEntries(needed));
}

interface Status {
  code: number | null;
  up_to_date: boolean;
  lake_current: number | null;
  nodes: Array<{ served: number | null; problem: string | null }>;
}

async function status(): Promise<Status> {
  const result = await txlake(['clickhouse', 'status', '--lake', lake, '--json']);
  return { code: result.code, ...JSON.parse(result.stdout) };
}

/** Resolves once every server says on /readyz that it serves snapshot `id`. */
async function serversServe(id: number): Promise<void> {
  for (const { name, server } of servers)
    await eventually(
      `${name} serving snapshot ${id}`,
      async () => (JSON.parse((await server.get('/readyz')).body).snapshot === id ? true : null),
      5_000,
    );
}

/** `clickhouse sync` finishes; every server serves the lake's current snapshot within 2 s, all of it right. */
async function expectSyncFinishes(): Promise<void> {
  const synced = await expectRun(['clickhouse', 'sync', '--lake', lake], 0);
  const finished = Date.now();
  const current = await lakeCurrent();
  expect(synced.stdout).toContain(`serves snapshot ${current}`);
  const report = await status();
  expect(report, 'status after the sync').toMatchObject({ code: 0, up_to_date: true });
  await serversServe(current);
  expect(Date.now() - finished, 'servers follow the caught-up snapshot within 2 s').toBeLessThan(2_000);
  expectAnswers(await askAll(pathsOf([current])), { snapshots: [current] });
  await expectClickHouseMatchesLake();
}

// ---------------------------------------------------------------------------------------------------
// The operations, each preparing what it needs and saying which snapshot the lake commits.

interface Prepared {
  args: string[];
  /** The lake's current snapshot once the operation's lake part is done. */
  committed: () => Promise<number>;
  /** The rows of the new snapshot, registered once its id is known (null: no new snapshot). */
  rows: OracleRow[] | null;
}

async function prepare(operation: Operation, point: FaultPoint): Promise<Prepared> {
  const current = await lakeCurrent();
  const rows = contents.get(current) as OracleRow[];
  switch (operation) {
    case 'ingest': {
      const batch = newBatch();
      return {
        args: ['ingest', batch.file, '--lake', lake],
        committed: lakeCurrent,
        rows: [...rows, ...batch.rows],
      };
    }
    case 'delete-user': {
      const victim = rows[rows.length >> 1]?.userId as bigint;
      return {
        args: ['delete-user', String(victim), '--lake', lake],
        committed: lakeCurrent,
        rows: rows.filter((r) => r.userId !== victim),
      };
    }
    case 'rollback': {
      if ((await retained()).length < 2) await plainOperation('ingest');
      const [, previous] = await retained();
      return {
        args: ['rollback', String(previous), '--lake', lake],
        committed: lakeCurrent,
        rows: contents.get(previous as number) as OracleRow[],
      };
    }
    case 'vacuum': {
      // Something to drop: a snapshot the lake will vacuum, and for the files' step, files only it needs.
      if (point === 'clickhouse-files-dropping' || (await retained()).length < 2)
        await plainOperation('delete-user');
      return { args: ['vacuum', '--retain', '0', '--lake', lake], committed: lakeCurrent, rows: null };
    }
    case 'clickhouse sync': {
      // The lake moves on while ClickHouse is unreachable; the sync catches up.
      const batch = newBatch();
      const offline = await expectRun(['ingest', batch.file, '--lake', lake], 4, {
        TXLAKE_CLICKHOUSE_URL: 'http://127.0.0.1:1',
      });
      expect(errorLine(offline)).toMatch(
        /^error: the ingest stands in the lake, but ClickHouse is behind it/,
      );
      contents.set(await lakeCurrent(), [...rows, ...batch.rows]);
      return { args: ['clickhouse', 'sync', '--lake', lake], committed: lakeCurrent, rows: null };
    }
  }
}

/** An operation without a fault (setting the stage for the next case). */
async function plainOperation(operation: Operation): Promise<void> {
  const prepared = await prepare(operation, 'clickhouse-file-loading');
  await expectRun(prepared.args, 0);
  const committed = await prepared.committed();
  if (prepared.rows) contents.set(committed, prepared.rows);
  if (servers.length > 0) await serversServe(committed);
}

// ---------------------------------------------------------------------------------------------------
// A txlake writer run by hand (its pid is needed: it stops itself at a point, a node dies, it goes on).

interface Writer {
  child: ChildProcess;
  done: Promise<RunResult>;
}

function startWriter(args: string[], env: NodeJS.ProcessEnv): Writer {
  const child = spawn(TXLAKE_BIN, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...cluster.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const done = new Promise<RunResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Resolves once the process is stopped (state T in /proc), as `stop:<point>` leaves it. */
async function stopped(writer: Writer): Promise<void> {
  await eventually(
    'the writer stopping at its fault point',
    async () => {
      if (writer.child.exitCode !== null)
        throw new Error(`the writer exited: ${JSON.stringify(await writer.done)}`);
      const stat = readFileSync(`/proc/${writer.child.pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T') ? true : null;
    },
    60_000,
  );
}

function userOnShard(rows: readonly OracleRow[], node: number): bigint {
  const user = rows.find((r) => Number(intHash64(r.userId) % BigInt(cluster.nodes.length)) === node);
  return user?.userId as bigint;
}

// ---------------------------------------------------------------------------------------------------

beforeAll(async () => {
  assertBuilt();
  cluster = await ClickHouseCluster.start({ shards: 2 });
  dir = temp.make('txlake-chfaults-');
  lake = path.join(dir, 'lake');
  layout = new LakeLayout(lake);
  const first = newBatch(1200, 120);
  await expectRun(['ingest', first.file, '--lake', lake], 0);
  contents.set(await lakeCurrent(), first.rows);
  await plainOperation('ingest');
  for (const [name, urls] of [
    ['all', cluster.urls.join(',')],
    ['second', cluster.urls[1] as string],
  ] as const)
    servers.push({
      name,
      server: await startServer(null, {
        extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'],
        env: { ...cluster.env, TXLAKE_CLICKHOUSE_URL: urls },
      }),
    });
}, 180_000);

afterAll(async () => {
  for (const { server } of servers) await server.stop();
  await cluster?.stop();
  temp.cleanup();
});

describe('the writer killed or out of disk at each step of the copy to ClickHouse', () => {
  it.each(FULL ? FULL_CASES : CI_CASES)(
    '$operation, $mode at $point: servers answer whole snapshots, the lake verifies, status says behind, sync finishes',
    async ({ operation, point, mode }) => {
      const before = await lakeCurrent();
      const prepared = await prepare(operation, point);
      const old = operation === 'clickhouse sync' ? before : await lakeCurrent();
      const fault = mode === 'kill' ? point : `enospc:${point}`;
      // Users of both the old and the new content: an answer mixing the two would show.
      const paths = pathsOfRows(
        [
          contents.get(old) as OracleRow[],
          prepared.rows ?? (contents.get(await lakeCurrent()) as OracleRow[]),
        ],
        40,
      );
      const { value: result, answers } = await askingDuring(paths, () =>
        txlake(prepared.args, { TXLAKE_FAULT_INJECTION: fault }),
      );
      const committed = await prepared.committed();
      if (prepared.rows) contents.set(committed, prepared.rows);
      if (mode === 'kill') expect(result.signal, describeRun(prepared.args, result)).toBe('SIGKILL');
      else {
        expect(result.code, describeRun(prepared.args, result)).toBe(4);
        const errors = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
        expect(errors, 'one error line').toHaveLength(1);
        expect(errorLine(result)).toMatch(
          operation === 'clickhouse sync'
            ? /^error: no space left on device on this host while copying the lake to ClickHouse .*/
            : new RegExp(
                `^error: the ${operation} stands in the lake, but ClickHouse is behind it: no space left on device on this host .*; run \`txlake clickhouse sync\` once that is fixed$`,
              ),
        );
      }
      // The lake: its operation committed (vacuum and sync commit nothing), whole.
      await expectRun(['verify', '--lake', lake], 0);
      // Servers, during the fault and after it: the old snapshot or the new, each answer whole.
      const either = [old, committed];
      expectAnswers(answers, { snapshots: either });
      expectAnswers(await askAll(pathsOf(either, 40)), { snapshots: either });
      // Status tells the truth: behind until a sync finished the job.
      const report = await status();
      expect(report.code, JSON.stringify(report)).toBe(4);
      expect(report.up_to_date).toBe(false);
      await expectSyncFinishes();
    },
  );
});

describe('a ClickHouse node killed in the middle of a publish', () => {
  it('killed while a file loads: the insert fails, exit 4; shard 1 answers, shard 2 is 503 and /readyz says why; sync finishes once it is back', async () => {
    const old = await lakeCurrent();
    const prepared = await prepare('ingest', 'clickhouse-file-loading');
    const writer = startWriter(prepared.args, { TXLAKE_FAULT_INJECTION: 'stop:clickhouse-file-loading' });
    await stopped(writer);
    await cluster.stopNode(1, 'SIGKILL');
    try {
      writer.child.kill('SIGCONT');
      const result = await writer.done;
      const committed = await prepared.committed();
      contents.set(committed, prepared.rows as OracleRow[]);
      expect(result.code, describeRun(prepared.args, result)).toBe(4);
      expect(result.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
      expect(errorLine(result)).toMatch(
        /^error: the ingest stands in the lake, but ClickHouse is behind it: ClickHouse at http:\/\/127\.0\.0\.1:\d+ failed while loading .*; run `txlake clickhouse sync` once that is fixed$/,
      );
      await expectRun(['verify', '--lake', lake], 0);
      const report = await status();
      expect(report.code).toBe(4);
      expect(report.nodes[1]?.problem).toBeTruthy();
      // Both servers still serve the old snapshot; a lookup that needs node 2 is a 503 problem.
      const rows = contents.get(old) as OracleRow[];
      const answers = await askAll(pathsOf([old], 40));
      expectAnswers(answers, { snapshots: [old], unavailable: true });
      const all = servers[0]?.server as RunningServer;
      const onFirst = await ask('all', all, `/api/v1/data/transactions/${userOnShard(rows, 0)}`);
      expectAnswers([onFirst], { snapshots: [old] });
      const onSecond = await ask('all', all, `/api/v1/data/transactions/${userOnShard(rows, 1)}`);
      expect(onSecond.status).toBe(503);
      // /readyz says why, on the server that reads through both nodes and on the one whose node is gone.
      for (const { name, server } of servers) {
        const readyz = await eventually(
          `${name}'s /readyz naming the node`,
          async () => {
            const body = (await server.get('/readyz')).body;
            return /did not answer/.test(body) ? JSON.parse(body) : null;
          },
          5_000,
        );
        expect(readyz.snapshot, name).toBe(old);
        expect(JSON.stringify(readyz)).not.toContain('127.0.0.1');
      }
    } finally {
      await cluster.startNode(1);
    }
    await expectSyncFinishes();
  });

  it('killed after the first node switched: servers serve the new or the old snapshot, whole; sync finishes once it is back', async () => {
    const old = await lakeCurrent();
    const prepared = await prepare('delete-user', 'clickhouse-switching');
    const writer = startWriter(prepared.args, { TXLAKE_FAULT_INJECTION: 'stop:clickhouse-switching' });
    await stopped(writer);
    const committed = await prepared.committed();
    contents.set(committed, prepared.rows as OracleRow[]);
    await cluster.stopNode(1, 'SIGKILL');
    try {
      writer.child.kill('SIGCONT');
      const result = await writer.done;
      expect(result.code, describeRun(prepared.args, result)).toBe(4);
      expect(errorLine(result)).toMatch(/switching to snapshot/);
      await expectRun(['verify', '--lake', lake], 0);
      expect((await status()).code).toBe(4);
      // The server reading through both nodes follows node 1 to the new snapshot (node 2's users: 503).
      const all = servers[0]?.server as RunningServer;
      await eventually(
        'the server on both nodes following node 1',
        async () => (JSON.parse((await all.get('/readyz')).body).snapshot === committed ? true : null),
        5_000,
      );
      expectAnswers(await askAll(pathsOf([old, committed], 40)), {
        snapshots: [old, committed],
        unavailable: true,
      });
    } finally {
      await cluster.startNode(1);
    }
    // Node 2 is back, still serving the old snapshot: the server on node 2 alone answers it, whole.
    const second = servers[1]?.server as RunningServer;
    await eventually(
      'the server on node 2 answering again',
      async () => ((await second.get(pathsOf([old], 1)[0] as string)).status === 200 ? true : null),
      10_000,
    );
    const answers = await askAll(pathsOf([old, committed], 40));
    expectAnswers(answers, { snapshots: [old, committed] });
    expect(answers.filter((a) => a.server === 'second').every((a) => a.snapshot === old)).toBe(true);
    expect(answers.filter((a) => a.server === 'all').every((a) => a.snapshot === committed)).toBe(true);
    const report = await status();
    expect(report.code).toBe(4);
    expect(report.nodes.map((n) => n.served)).toEqual([committed, old]);
    await expectSyncFinishes();
  });

  it.runIf(FULL).each([300, 800, 1500])(
    'a node SIGKILLed %i ms into a larger ingest: whole answers throughout; sync finishes once it is back',
    async (delay) => {
      const old = await lakeCurrent();
      const batch = newBatch(60_000, 3_000);
      const args = ['ingest', batch.file, '--lake', lake];
      const writer = startWriter(args, {});
      const { value: result, answers } = await askingDuring(pathsOf([old], 40), async () => {
        await new Promise((resolve) => setTimeout(resolve, delay));
        await cluster.stopNode(1, 'SIGKILL');
        return writer.done;
      });
      try {
        const committed = await lakeCurrent();
        contents.set(committed, [...(contents.get(old) as OracleRow[]), ...batch.rows]);
        expect([0, 4], describeRun(args, result)).toContain(result.code);
        expectAnswers(answers, { snapshots: [old, committed], unavailable: true });
        await expectRun(['verify', '--lake', lake], 0);
      } finally {
        await cluster.startNode(1);
      }
      await expectSyncFinishes();
    },
  );
});

describe('an insert a killed writer left running in ClickHouse', () => {
  it('the next sync waits for it to end before clearing the file: no row twice', async () => {
    const old = await lakeCurrent();
    const batch = newBatch();
    await expectRun(['ingest', batch.file, '--lake', lake], 4, {
      TXLAKE_CLICKHOUSE_URL: 'http://127.0.0.1:1',
    });
    const committed = await lakeCurrent();
    contents.set(committed, [...(contents.get(old) as OracleRow[]), ...batch.rows]);
    const [now, before] = await Promise.all([readManifest(layout, committed), readManifest(layout, old)]);
    if (now.kind !== 'ok' || before.kind !== 'ok') throw new Error('manifests unreadable');
    const earlier = new Set(before.manifest.files.map((f) => f.path));
    const added = now.manifest.files.find((f) => !earlier.has(f.path));
    const key = fileKeyOf(added as NonNullable<typeof added>);
    // What a writer killed after sending a file's rows leaves: an insert of them under its load query id
    // that ClickHouse goes on with and commits by itself (18.16 cannot kill it). Here its body's end is held
    // back, so that it still runs when the next sync starts, and ends while that sync runs.
    const user = batch.rows[0]?.userId as bigint;
    const queryId = `txlake-load-txlake-${key}-left-by-a-killed-writer`;
    const url = new URL(cluster.urls[0] as string);
    const leftover = http.request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: `/?query=${encodeURIComponent('INSERT INTO txlake.transactions (user_id, epoch_us, transaction_type, merchant_type_code, amount_cents, file_key) FORMAT TabSeparated')}&insert_distributed_sync=1&query_id=${queryId}`,
    });
    const answered = new Promise<string>((resolve) => {
      leftover.on('response', (response) => {
        response.resume();
        resolve(`HTTP ${response.statusCode}`);
      });
      leftover.on('error', (error) => resolve(error.message));
    });
    // ClickHouse starts an insert once it has read its first megabyte or so of the body.
    const row = (i: number) => `${user}\t${1_600_000_000_000_000 + i}\t0\t5411\t100\t${key}\n`;
    leftover.write(Array.from({ length: 150_000 }, (_, i) => row(i)).join(''));
    await eventually(
      'the leftover insert running',
      async () =>
        (
          await cluster.query(0, `SELECT count() FROM system.processes WHERE query_id = '${queryId}'`)
        ).trim() === '1'
          ? true
          : null,
      10_000,
    );
    const sync = txlake(['clickhouse', 'sync', '--lake', lake]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    leftover.end(row(150_000));
    expect(await answered, 'the leftover insert ran to its end').toBe('HTTP 200');
    const synced = await sync;
    expect(synced.code, describeRun(['clickhouse', 'sync'], synced)).toBe(0);
    await expectSyncFinishes();
  });
});
