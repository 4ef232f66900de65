// `txlake serve --workers N` as an operator runs it: one port answered by several worker processes (told
// apart by the pid on each request's log line and by `ps --ppid`), a killed worker replaced while the port
// keeps answering, SIGTERM stopping everything with exit 0, a taken port failing fast, and the serve
// flags' usage errors (exit 2, one `error:` line).

import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { waitFor } from '../helpers/load.js';
import { oracleIngest, V1Oracle } from '../helpers/oracle.js';
import {
  alive,
  childrenOf,
  freePort,
  httpGetOnNewConnection,
  mapLimit,
  type RunningServer,
  startServer,
} from '../helpers/server.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, describeRun, ingest, runTxlake, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
let lake = '';
let oracle: V1Oracle;
/** Every process this file started or saw started, killed (by pid) at the end if still alive. */
const spawned = new Set<number>();

/** The worker pids the primary logged as started. */
function loggedWorkers(stdout: string): number[] {
  return [...stdout.matchAll(/"worker_pid":([0-9]+),"msg":"worker started"/g)].map((m) => Number(m[1]));
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** The pid that logged the request `requestId` (pino puts the pid on every line). */
function pidOfRequest(stdout: string, requestId: string): number | null {
  for (const line of stdout.split('\n')) {
    if (!line.includes(`"request_id":"${requestId}"`)) continue;
    const pid = /"pid":([0-9]+)/.exec(line);
    if (pid) return Number(pid[1]);
  }
  return null;
}

const USER = 31_373n;
let probes = 0;

/** `n` requests on fresh connections: each must be the oracle's answer; returns the pids that served them. */
async function probe(server: RunningServer, n: number): Promise<Set<number>> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `probe-${++probes}`;
    ids.push(id);
    const response = await httpGetOnNewConnection(server.port, `/api/v1/data/transactions/${USER}`, {
      'x-request-id': id,
    });
    expect(`${response.status} ${response.body}`).toBe(`200 ${oracle.transactionsBody(USER)}`);
  }
  await waitFor(
    'the request log lines',
    () => ids.every((id) => pidOfRequest(server.stdout(), id) !== null),
    10_000,
  );
  return new Set(ids.map((id) => pidOfRequest(server.stdout(), id) as number));
}

beforeAll(async () => {
  assertBuilt();
  const dir = temp.make('txlake-workers-');
  lake = path.join(dir, 'lake');
  const text = csvText([
    ...randomTransactions({ seed: 5, rows: 300, users: 40 }),
    ...cornerCaseTransactions(),
  ]);
  oracle = new V1Oracle(oracleIngest(text).rows);
  await ingest([writeCsvFile(path.join(dir, 'data.csv'), text)], lake);
});

afterAll(() => {
  for (const pid of spawned) if (alive(pid)) process.kill(pid, 'SIGKILL');
  temp.cleanup();
});

describe('serve --workers 2', () => {
  let server: RunningServer | undefined;
  let primary = 0;

  it('answers on one port from two worker processes, and replaces a killed one while the port keeps answering', async () => {
    server = await startServer(lake, { extraArgs: ['--workers', '2'], readyTimeoutMs: 60_000 });
    const live = server;
    primary = live.process.pid as number;
    spawned.add(primary);
    await waitFor('two workers listening', () => count(live.stdout(), 'Server listening at') === 2, 60_000);
    const workers = childrenOf(primary);
    for (const pid of workers) spawned.add(pid);
    expect(workers.length, live.stdout()).toBe(2);
    expect(new Set(loggedWorkers(live.stdout()))).toEqual(new Set(workers));
    expect(workers).not.toContain(primary);

    const served = await probe(live, 12);
    expect(served, 'requests on fresh connections are shared by both workers').toEqual(new Set(workers));

    const [victim, survivor] = workers as [number, number];
    process.kill(victim, 'SIGKILL');
    await waitFor(
      'the primary to notice the dead worker',
      () => live.stdout().includes('a worker exited'),
      15_000,
    );
    // the survivor answers meanwhile
    const meanwhile = await probe(live, 4);
    expect([...meanwhile].every((pid) => pid === survivor || !workers.includes(pid))).toBe(true);

    let replacement = 0;
    await waitFor(
      'a new worker listening',
      () => {
        replacement = childrenOf(primary).find((pid) => !workers.includes(pid)) ?? 0;
        return replacement > 0 && count(live.stdout(), 'Server listening at') === 3;
      },
      60_000,
    );
    spawned.add(replacement);
    expect(alive(victim)).toBe(false);
    expect(new Set(childrenOf(primary))).toEqual(new Set([survivor, replacement]));
    const after = await probe(live, 12);
    expect(after).toEqual(new Set([survivor, replacement]));
  });

  it('SIGTERM stops the primary and every worker, exit 0 within 10 s', async () => {
    if (!server) throw new Error('the server did not start');
    const live = server;
    const workers = childrenOf(primary);
    expect(workers.length).toBe(2);
    const exited = new Promise<number | null>((resolve) => {
      if (live.process.exitCode !== null) resolve(live.process.exitCode);
      live.process.once('exit', (code) => resolve(code));
    });
    live.process.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    const stillAlive = workers.filter(alive);
    expect({ code, stillAlive }, `after SIGTERM: ${live.stdout().split('\n').slice(-6).join('\n')}`).toEqual({
      code: 0,
      stillAlive: [],
    });
  });
});

describe('serve --workers 2 on a port already in use', () => {
  it('exits nonzero within 30 s, saying the address is in use, before starting any worker', async () => {
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const args = ['serve', '--lake', lake, '--host', '127.0.0.1', '--port', String(port), '--workers', '2'];
    try {
      const result = await runTxlake(args, { timeoutMs: 30_000 });
      for (const pid of loggedWorkers(result.stdout)) spawned.add(pid);
      expect(
        result.signal,
        `killed after 30 s: it did not exit on its own\n${describeRun(args, result)}`,
      ).toBeNull();
      expect(result.code, describeRun(args, result)).not.toBe(0);
      expect(result.stderr, describeRun(args, result)).toMatch(
        new RegExp(`^error: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`, 'm'),
      );
      // The primary finds the port taken before it forks: no worker loads the lake for nothing.
      expect(result.stdout, describeRun(args, result)).not.toContain('worker started');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('serve usage errors: exit 2 and one error line', () => {
  const cases: [string, string[], NodeJS.ProcessEnv, string][] = [
    ['--workers x', ['--workers', 'x'], {}, 'error: --workers must be a whole number from 0 to 256, got "x"'],
    [
      '--workers 257',
      ['--workers', '257'],
      {},
      'error: --workers must be a whole number from 0 to 256, got "257"',
    ],
    [
      '--user-lookup foo',
      ['--user-lookup', 'foo'],
      {},
      'error: --user-lookup must be memory or parquet, got "foo"',
    ],
    [
      '--index-memory lots',
      ['--index-memory', 'lots'],
      {},
      'error: --index-memory must be a size such as 512MB or 2GB, got "lots"',
    ],
    [
      '--answer-cache -1',
      ['--answer-cache', '-1'],
      {},
      'error: --answer-cache must be a size such as 512MB or 2GB, got "-1"',
    ],
    [
      'TXLAKE_WORKERS=x',
      [],
      { TXLAKE_WORKERS: 'x' },
      'error: --workers must be a whole number from 0 to 256, got "x"',
    ],
    [
      'TXLAKE_USER_LOOKUP=foo',
      [],
      { TXLAKE_USER_LOOKUP: 'foo' },
      'error: --user-lookup must be memory or parquet, got "foo"',
    ],
    [
      'TXLAKE_INDEX_MEMORY=lots',
      [],
      { TXLAKE_INDEX_MEMORY: 'lots' },
      'error: --index-memory must be a size such as 512MB or 2GB, got "lots"',
    ],
    [
      'TXLAKE_ANSWER_CACHE=1TB',
      [],
      { TXLAKE_ANSWER_CACHE: '1TB' },
      'error: --answer-cache must be a size such as 512MB or 2GB, got "1TB"',
    ],
  ];

  it('refuses each bad value before serving anything', async () => {
    const port = await freePort();
    const results = await mapLimit(cases, 3, ([, flags, env]) =>
      runTxlake(['serve', '--lake', lake, '--host', '127.0.0.1', '--port', String(port), ...flags], {
        env,
        timeoutMs: 30_000,
      }),
    );
    results.forEach((result, i) => {
      const [name, , , message] = cases[i] as (typeof cases)[number];
      expect({ name, code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
        name,
        code: 2,
        stderr: `${message}\n`,
        stdout: '',
      });
    });
  });
});
