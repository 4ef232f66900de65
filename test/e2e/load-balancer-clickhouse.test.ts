// deploy/nginx/txlake.conf as shipped, in Debian's real nginx in front of three stateless `txlake serve
// --backend clickhouse` processes on a real 2-shard ClickHouse cluster: under steady keep-alive load, a
// `txlake delete-user` commits and is switched in while one server is killed with SIGKILL. No request
// fails, and every answer is whole: the oracle's body of the snapshot before the erasure or of the one
// after it, matching the snapshot the answer names, never a mix and never an error; the erasure is served
// everywhere within 2 s of first showing, and the killed server, restarted, answers again.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { csvText, type TxRow, writeCsvFile } from '../helpers/csv-file.js';
import {
  type Load,
  type LoadRequest,
  loadLines,
  startLoad,
  waitFor,
  waitUntilServing,
} from '../helpers/load.js';
import { assertNginxInstalled, type RunningNginx, startNginx } from '../helpers/nginx.js';
import { oracleIngest, V1Oracle } from '../helpers/oracle.js';
import { type HttpResponse, type RunningServer, startServer } from '../helpers/server.js';
import { randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, currentSnapshot, describeRun, ingest, runTxlake, TempDirs } from '../helpers/txlake.js';

const SERVERS = 3;
/** Not in the generated pool: only its own rows are erased. */
const VICTIM = 4_242_424_242n;
const VICTIM_PATH = `/api/v1/data/transactions/${VICTIM}`;
/** How long after the first answer from the new snapshot every server must be serving it. */
const SWITCH_BOUND_MS = 2000;

type Side = 'before' | 'after';

const temp = new TempDirs();
let cluster: ClickHouseCluster | undefined;
let lake = '';
let nginx: RunningNginx | undefined;
const servers: RunningServer[] = [];
/** Per path, the oracle's body on each side of the erasure. */
const bodies = new Map<string, Record<Side, string>>();
const snapshotOf: Record<Side, number> = { before: 0, after: 0 };

function proxy(): RunningNginx {
  if (!nginx) throw new Error('nginx did not start');
  return nginx;
}

function clickhouseEnv(): NodeJS.ProcessEnv {
  if (!cluster) throw new Error('the ClickHouse cluster did not start');
  return cluster.env;
}

/**
 * No answer cache: every user answer is then a query to ClickHouse at the moment of the request, so the
 * switch is seen in ClickHouse's answers rather than in a cache's bookkeeping.
 */
function startClickHouseServer(port?: number): Promise<RunningServer> {
  return startServer(null, {
    extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'],
    env: clickhouseEnv(),
    readyTimeoutMs: 30_000,
    ...(port === undefined ? {} : { port }),
  });
}

/** Which side of the erasure an answer is, or why it is neither. */
function sideOf(target: string, response: HttpResponse): Side | string {
  if (response.status !== 200) return `${response.status} ${response.body.slice(0, 120)}`;
  const snapshot = Number(response.headers['x-txlake-snapshot']);
  const side = snapshot === snapshotOf.before ? 'before' : snapshot === snapshotOf.after ? 'after' : null;
  if (side === null) return `snapshot ${response.headers['x-txlake-snapshot']}, neither side of the erasure`;
  // The validator a client revalidates with must name the same snapshot as the body it came with.
  if (!String(response.headers.etag).startsWith(`"txlake-${snapshot}-`))
    return `snapshot ${snapshot} with ETag ${response.headers.etag}`;
  const expected = bodies.get(target) as Record<Side, string>;
  // An answer of one snapshot's rows labelled with the other (or a mix of both) matches neither of these.
  if (response.body !== expected[side])
    return `snapshot ${snapshot} (${side}) but not its body: ${response.body.slice(0, 120)}`;
  return side;
}

interface Observed {
  load: Load;
  /** Per path, the sides its answers were on. */
  seen: Map<string, Set<Side>>;
  /** When the first answer from the snapshot after the erasure arrived (null: none yet). */
  firstAfter: () => number | null;
  /** Answers from before the erasure to requests sent later than SWITCH_BOUND_MS after that. */
  stale: string[];
}

/** Load `tag` through nginx over every path, each answer classified as it arrives. */
function startObservedLoad(tag: string, only?: Side): Observed {
  const seen = new Map<string, Set<Side>>();
  const stale: string[] = [];
  let firstAfter: number | null = null;
  const judge = (response: HttpResponse, request: LoadRequest) => {
    const side = sideOf(request.target, response);
    if (side !== 'before' && side !== 'after') return side;
    if (only !== undefined && side !== only) return `an answer from ${side} the erasure`;
    const sides = seen.get(request.target) ?? new Set<Side>();
    sides.add(side);
    seen.set(request.target, sides);
    if (side === 'after') firstAfter ??= Date.now();
    else if (firstAfter !== null && request.sentAt > firstAfter + SWITCH_BOUND_MS)
      stale.push(`${request.id} sent ${request.sentAt - firstAfter} ms after the erasure was first served`);
    return null;
  };
  const load = startLoad({
    tag,
    paths: [...bodies.keys()],
    get: (target, headers) => proxy().get(target, headers),
    judge,
    clients: 4,
    // Bounded even if a step hangs: many times what the test needs.
    maxRequests: 30_000,
  });
  return { load, seen, firstAfter: () => firstAfter, stale };
}

beforeAll(async () => {
  assertBuilt();
  assertNginxInstalled();
  cluster = await ClickHouseCluster.start({ shards: 2 });
  const dir = temp.make('txlake-lb-ch-');
  lake = path.join(dir, 'lake');
  // The victim's rows share merchant codes and days with everybody's, so erasing them changes those
  // codes' daily sums as well as the victim's own answer.
  const victimRows: TxRow[] = ['5411', '5812', '5999', '6011', '5411', '7011', '5812', '4829'].map(
    (code, i) => ({
      user_id: String(VICTIM),
      transaction_type: i === 3 ? 'ReturnActivity' : 'PurchaseActivity',
      merchant_type_code: code,
      amount_cents: String(10_001 + i * 1_234),
      datetime: `2023-04-${String(10 + i).padStart(2, '0')}T12:0${i}:00Z`,
    }),
  );
  const text = csvText([...randomTransactions({ seed: 31, rows: 3000, users: 250 }), ...victimRows]);
  writeCsvFile(path.join(dir, 'transactions.csv'), text);
  const rows = oracleIngest(text).rows;
  const before = new V1Oracle(rows);
  const after = new V1Oracle(rows.filter((row) => row.userId !== VICTIM));

  const users = before.userIds().filter((user) => user !== VICTIM);
  const heavy = [...users].sort(
    (a, b) => before.transactionsBody(b).length - before.transactionsBody(a).length,
  );
  const paths = [
    VICTIM_PATH,
    ...[heavy[0], ...users.slice(0, 4)].map((user) => `/api/v1/data/transactions/${user}`),
    '/api/v1/data/transactions/999999999',
    ...['5411', '5812', '6011', '4829', '7011', '742'].map((code) => `/api/v1/data/netAmount/${code}`),
  ];
  for (const target of paths) {
    const [kind, key] = target.split('/').slice(-2) as [string, string];
    const body = (oracle: V1Oracle) =>
      kind === 'transactions' ? oracle.transactionsBody(BigInt(key)) : oracle.netAmountBody(Number(key));
    bodies.set(target, { before: body(before), after: body(after) });
  }
  expect(bodies.get(VICTIM_PATH)?.after).toBe('[]');

  await ingest([path.join(dir, 'transactions.csv')], lake, [], { env: cluster.env, timeoutMs: 120_000 });
  snapshotOf.before = (await currentSnapshot(lake))?.id as number;
  // Known before the erasure runs: servers switch to it as ClickHouse does, a moment before delete-user exits.
  snapshotOf.after = snapshotOf.before + 1;
  servers.push(...(await Promise.all(Array.from({ length: SERVERS }, () => startClickHouseServer()))));
  nginx = await startNginx({ upstreams: servers.map((server) => server.port) });
}, 120_000);

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(servers.map((server) => server.stop()));
  await cluster?.stop();
  temp.cleanup();
});

describe('nginx with deploy/nginx/txlake.conf in front of three ClickHouse-backed txlake servers', () => {
  it('loses no request and never mixes snapshots while delete-user commits and a server is SIGKILLed', async () => {
    // Distinguishable sides: otherwise "one of the two" would prove nothing for those paths.
    const changing = [...bodies].filter(([, b]) => b.before !== b.after).map(([target]) => target);
    expect(changing.length, 'paths whose answer the erasure changes').toBeGreaterThanOrEqual(4);

    const observed = startObservedLoad('erase');
    const { load } = observed;
    try {
      await load.succeed(300);
      expect(observed.firstAfter(), 'no answer from after an erasure not yet run').toBeNull();

      let erasureRunning = true;
      const started = Date.now();
      const erasure = runTxlake(['delete-user', String(VICTIM), '--lake', lake], {
        env: clickhouseEnv(),
        timeoutMs: 60_000,
      }).finally(() => {
        erasureRunning = false;
      });
      // Into the erasure's work (rewriting the lake's files, loading them into ClickHouse), not after it.
      await new Promise((r) => setTimeout(r, 300));
      const index = 1;
      const killed = servers[index] as RunningServer;
      expect(erasureRunning, 'delete-user still running when the server is killed').toBe(true);
      killed.process.kill('SIGKILL');
      expect(await killed.stop()).toBeNull(); // killed by the signal, not exited

      const result = await erasure;
      expect(result.code, describeRun(['delete-user'], result)).toBe(0);
      const erasureMs = Date.now() - started;
      expect((await currentSnapshot(lake))?.id).toBe(snapshotOf.after);

      await waitFor(
        'an answer from after the erasure in the load',
        () => observed.firstAfter() !== null,
        5000,
      );
      const first = observed.firstAfter() as number;
      // A fresh request, outside the load: the erasure reaches every client through nginx, not just some.
      for (;;) {
        const fresh = await proxy().get(VICTIM_PATH, { 'x-request-id': `fresh-${Date.now()}` });
        if (fresh.status === 200 && fresh.body === '[]') break;
        expect(
          Date.now() - first,
          `the victim still answered ${fresh.status} ${fresh.body.slice(0, 80)}`,
        ).toBeLessThan(SWITCH_BOUND_MS);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Each server follows ClickHouse on its own poll (500 ms): asked directly, every one has switched
      // within the same bound of the first answer from after the erasure, not at the same instant.
      for (const server of servers.filter((s) => s !== killed)) {
        for (;;) {
          const direct = await server.get(VICTIM_PATH);
          if (direct.status === 200 && direct.body === '[]') break;
          expect(
            Date.now() - first,
            `server :${server.port} directly still answered ${direct.status} ${direct.body.slice(0, 80)}`,
          ).toBeLessThan(SWITCH_BOUND_MS);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await load.succeed(300);
      const report = await load.stop();

      expect(report.failures, `nginx's error log:\n${proxy().errorLog().slice(-3000)}`).toEqual([]);
      expect(report.ok).toBe(load.issued());
      expect(observed.stale).toEqual([]);
      // The switch happened under the load: each changing path was answered from both sides.
      for (const target of changing)
        expect([...(observed.seen.get(target) ?? [])].sort(), target).toEqual(['after', 'before']);

      // nginx writes a line once it has sent the answer: the last few may come a moment after it.
      await waitFor(
        'every request in the access log',
        () => loadLines(proxy(), 'erase').length === report.ok,
        2000,
      );
      const lines = loadLines(proxy(), 'erase');
      expect(lines.filter((line) => line.status !== 200)).toEqual([]);
      // The kill was hidden by retries, not missed: requests sent to the dead server went on to another.
      const retried = lines.filter((line) => line.upstream_addr.startsWith(`127.0.0.1:${killed.port}, `));
      expect(retried.length, 'requests retried away from the killed server').toBeGreaterThan(0);
      console.info(
        `erase: ${report.ok} answers, delete-user ${erasureMs} ms, ${retried.length} retried off the killed server`,
      );
    } finally {
      await load.stop();
    }
  });

  it('the killed server, restarted on its port, answers the erased snapshot through nginx again', async () => {
    const index = 1;
    const port = (servers[index] as RunningServer).port;
    const restarted = await startClickHouseServer(port);
    servers[index] = restarted;
    for (const [target, body] of bodies) {
      const direct = await restarted.get(target);
      expect(`${direct.status} ${direct.headers['x-txlake-snapshot']} ${direct.body}`, target).toBe(
        `200 ${snapshotOf.after} ${body.after}`,
      );
    }
    const observed = startObservedLoad('back', 'after');
    try {
      await waitUntilServing(restarted, 'back');
      await observed.load.succeed(200);
      const report = await observed.load.stop();
      expect(report.failures, `nginx's error log:\n${proxy().errorLog().slice(-3000)}`).toEqual([]);
    } finally {
      await observed.load.stop();
    }
  });
});
