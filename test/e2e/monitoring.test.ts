// deploy/ against real servers: the Grafana dashboard is valid JSON whose every query names series (and
// labels) that real servers expose — an embedded `serve --workers 2` and a `--backend clickhouse` server on a
// real 2-shard cluster — and the Prometheus rules pass `promtool check rules` and their unit tests
// (`promtool test rules`); /metrics passes `promtool check metrics`. On the ClickHouse server: answers are
// attributed to ClickHouse, and a node down is counted (503 answers, failed queries of that node).

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import {
  type Exposition,
  familiesWithSamples,
  familyOf,
  parseExposition,
  samplesOf,
  sampleValue,
} from '../helpers/prometheus.js';
import { alive, childrenOf, type RunningServer, startServer } from '../helpers/server.js';
import { randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, ingest, REPO_ROOT, TempDirs } from '../helpers/txlake.js';

const run = promisify(execFile);
const PROMTOOL = '/usr/bin/promtool';
const PROMTOOL_HINT = 'apt-get install -y --no-install-recommends prometheus';
const DASHBOARD = path.join(REPO_ROOT, 'deploy', 'grafana', 'txlake.json');
const RULES = path.join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yml');
const RULE_TESTS = path.join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.test.yml');
/** Labels Prometheus adds to every series it scrapes, and those the queries make themselves. */
const SCRAPE_LABELS = new Set(['instance', 'job']);

const temp = new TempDirs();
const spawned = new Set<number>();
let cluster: ClickHouseCluster | undefined;
let lake = '';
let embedded: RunningServer | undefined;
let clickhouse: RunningServer | undefined;
const rows = randomTransactions({ seed: 31, rows: 300, users: 30 });
const users = [...new Set(rows.map((r) => r.user_id))];

async function scrape(server: RunningServer): Promise<Exposition> {
  const response = await server.get('/metrics');
  expect(response.status, response.body).toBe(200);
  return parseExposition(response.body);
}

/** Every `txlake_…` name in a text, as the metric family it belongs to. */
function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\btxlake_[a-z0-9_]+/g)].map((m) => m[0]));
}

/** Each selector `txlake_x{a="…", b=~"…"}` of the queries: the metric and the label names it filters on. */
function selectors(text: string): { metric: string; labels: string[] }[] {
  return [...text.matchAll(/\b(txlake_[a-z0-9_]+)\{([^}]*)\}/g)].map((m) => ({
    metric: m[1] as string,
    labels: [...(m[2] as string).matchAll(/([a-zA-Z_]+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] as string),
  }));
}

function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { type: string; targets?: { expr: string }[] }[];
    templating: { list: { query?: unknown; definition?: string }[] };
  };
  return [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
}

function assertPromtool(): void {
  if (!existsSync(PROMTOOL))
    throw new Error(`promtool is not installed; this test needs it: ${PROMTOOL_HINT}`);
}

beforeAll(async () => {
  assertBuilt();
  cluster = await ClickHouseCluster.start({ shards: 2 });
  const dir = temp.make('txlake-monitoring-');
  lake = path.join(dir, 'lake');
  // The ingest brings ClickHouse to the new snapshot (TXLAKE_CLICKHOUSE_* set).
  await ingest([writeCsvFile(path.join(dir, 'data.csv'), csvText(rows))], lake, [], {
    env: cluster.env,
    timeoutMs: 120_000,
  });
  embedded = await startServer(lake, { extraArgs: ['--workers', '2'], readyTimeoutMs: 60_000 });
  spawned.add(embedded.process.pid as number);
  clickhouse = await startServer(null, {
    extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'],
    env: cluster.env,
  });
  // Requests of each kind, so the request histogram has series on both.
  for (const server of [embedded, clickhouse]) {
    for (const p of ['/api/v1/data/transactions/1', '/nope', '/api/v2/snapshots']) await server.get(p);
  }
}, 180_000);

afterAll(async () => {
  if (embedded) for (const pid of childrenOf(embedded.process.pid as number)) spawned.add(pid);
  await embedded?.stop();
  await clickhouse?.stop();
  for (const pid of spawned) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await cluster?.stop();
  temp.cleanup();
});

describe('deploy/grafana/txlake.json', () => {
  it('is a Grafana dashboard: valid JSON, unique panel ids, every panel placed and querying Prometheus', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    expect(dashboard).toMatchObject({ title: 'txlake', uid: 'txlake', schemaVersion: expect.any(Number) });
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos, panel.title).toMatchObject({ h: expect.any(Number), w: expect.any(Number) });
      if (panel.type === 'row') continue;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.expr, panel.title).toMatch(/txlake_/);
    }
    const titles = dashboard.panels.map((p: { title: string }) => p.title).join(' | ');
    for (const wanted of [
      'Request rate by route',
      'p50 and p99',
      'status class',
      '429',
      '401',
      'cache hit ratio',
      'Snapshot age',
      'Snapshot served',
      'Memory',
      'swap',
      'ClickHouse',
      'Rows rejected',
    ])
      expect(titles).toContain(wanted);
  });

  it('and the alert rules use only series, and labels, that real servers expose', async () => {
    const exposed = new Map<string, Exposition>();
    for (const server of [embedded, clickhouse] as RunningServer[]) {
      const exposition = await scrape(server);
      for (const family of familiesWithSamples(exposition))
        if (!exposed.has(family)) exposed.set(family, exposition);
    }
    // Both backends' own series are there: ClickHouse's errors, the embedded lake's last ingest, the workers.
    for (const family of [
      'txlake_clickhouse_query_errors_total',
      'txlake_last_ingest_result',
      'txlake_workers_scraped',
      'txlake_http_request_duration_seconds',
    ])
      expect(exposed.has(family), family).toBe(true);
    const texts = { dashboard: dashboardQueries().join('\n'), rules: readFileSync(RULES, 'utf8') };
    for (const [where, text] of Object.entries(texts)) {
      const names = metricNames(text);
      expect(names.size, where).toBeGreaterThan(5);
      for (const name of names) {
        const exposition = [...exposed.values()].find((e) =>
          familiesWithSamples(e).has(familyOf(name, e.types)),
        );
        expect(exposition, `${where} uses ${name}, which no server exposes`).toBeDefined();
        // A histogram's parts exist as such, not as names of their own.
        const family = familyOf(name, (exposition as Exposition).types);
        if (family !== name)
          expect(samplesOf(exposition as Exposition, name).length, name).toBeGreaterThan(0);
      }
      for (const { metric, labels } of selectors(text)) {
        const exposition = [...exposed.values()].find((e) => samplesOf(e, metric).length > 0) as Exposition;
        const present = new Set(samplesOf(exposition, metric).flatMap((s) => Object.keys(s.labels)));
        for (const label of labels)
          expect(SCRAPE_LABELS.has(label) || present.has(label), `${where}: ${metric}{${label}}`).toBe(true);
      }
    }
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules, and its unit tests (promtool test rules)', async () => {
    assertPromtool();
    const checked = await run(PROMTOOL, ['check', 'rules', RULES]);
    expect(checked.stdout).toMatch(/SUCCESS: 10 rules found/);
    const tested = await run(PROMTOOL, ['test', 'rules', RULE_TESTS], { cwd: path.dirname(RULE_TESTS) });
    expect(tested.stdout).toMatch(/SUCCESS/);
  });

  it('/metrics passes promtool check metrics (but for prom-client’s own process gauges named _total)', async () => {
    assertPromtool();
    for (const server of [embedded, clickhouse] as RunningServer[]) {
      const text = (await server.get('/metrics')).body;
      const lint = await new Promise<string>((resolve) => {
        const child = execFile(PROMTOOL, ['check', 'metrics'], (_error, stdout, stderr) =>
          resolve(`${stdout}${stderr}`),
        );
        child.stdin?.end(text);
      });
      const problems = lint
        .split('\n')
        .filter((line) => line.trim() !== '')
        .filter(
          (line) =>
            !/^txlake_nodejs_active_(handles|requests|resources)_total non-counter metrics/.test(line),
        );
      expect(problems).toEqual([]);
    }
  });
});

describe('a ClickHouse-backed server', () => {
  it('attributes user answers to ClickHouse and daily sums to memory', async () => {
    const server = clickhouse as RunningServer;
    const before = await scrape(server);
    const was = (source: string, resource = 'transactions') =>
      sampleValue(before, 'txlake_answers_total', { resource, source }) as number;
    for (const user of users.slice(0, 5))
      expect((await server.get(`/api/v1/data/transactions/${user}`)).status).toBe(200);
    expect((await server.get(`/api/v1/data/netAmount/${rows[0]?.merchant_type_code}`)).status).toBe(200);
    const after = await scrape(server);
    expect(
      sampleValue(after, 'txlake_answers_total', { resource: 'transactions', source: 'clickhouse' }),
    ).toBe(was('clickhouse') + 5);
    expect(sampleValue(after, 'txlake_answers_total', { resource: 'daily_net', source: 'memory' })).toBe(
      was('memory', 'daily_net') + 1,
    );
    expect(sampleValue(after, 'txlake_snapshot_user_lookup', { kind: 'clickhouse' })).toBe(1);
    expect(samplesOf(after, 'txlake_build_info', { backend: 'clickhouse' })).toHaveLength(1);
    expect(samplesOf(after, 'txlake_last_ingest_result')).toEqual([]); // no lake: no ingest record
  });

  it('counts a node down: every 503 answer, and the failed queries of that node', async () => {
    const server = clickhouse as RunningServer;
    const live = cluster as ClickHouseCluster;
    const before = await scrape(server);
    const errors = (e: Exposition, node: string, kind: string) =>
      sampleValue(e, 'txlake_clickhouse_query_errors_total', { node, kind }) as number;
    expect(errors(before, '2', 'unavailable')).toBe(0);
    await live.stopNode(1);
    let refused = 0;
    try {
      for (const user of users) {
        const answer = await server.get(`/api/v1/data/transactions/${user}`);
        expect([200, 503]).toContain(answer.status);
        if (answer.status === 503) refused++;
      }
      expect(refused, 'some users live on the stopped node').toBeGreaterThan(0);
      const after = await scrape(server);
      expect(sampleValue(after, 'txlake_backend_unavailable_answers_total')).toBe(
        (sampleValue(before, 'txlake_backend_unavailable_answers_total') as number) + refused,
      );
      expect(errors(after, '2', 'unavailable')).toBeGreaterThanOrEqual(refused);
      expect(
        sampleValue(after, 'txlake_http_request_duration_seconds_count', {
          route: '/api/v1/data/transactions/:userId',
          method: 'GET',
          status: '503',
        }),
      ).toBe(refused);
    } finally {
      await live.startNode(1);
    }
  });
});
