// The HTTP fuzz suite, run on each backend: generated raw requests (http-arbitraries.ts) against a real
// `txlake serve` on 127.0.0.1, each checked against what SPEC §4–5 promise for any input: never a server error,
// never a stack trace, a file path or an internal error code in a body, an answer or a close within 5 s, JSON
// that parses and problems that have their members. Afterwards the server must still answer as before.

import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, type RunningServer } from '../helpers/server.js';
import { assertBuilt, ingest, REPO_ROOT, runTxlake, TempDirs } from '../helpers/txlake.js';
import { type FuzzRequest, type Known, type RequestOptions, requestArbitrary } from './http-arbitraries.js';
import { describeRequest, type Exchange, exchange, type RawRequest, type RawResponse } from './raw-http.js';

/**
 * The run's size and seed: `runsVariable` (TXLAKE_FUZZ_RUNS for requests per backend, TXLAKE_FUZZ_CSV_RUNS for
 * CSV cases) or the default, TXLAKE_FUZZ_SEED or a new seed, and TXLAKE_FUZZ_PATH to replay one failure.
 */
export function fuzzParameters(
  defaultRuns: number,
  runsVariable = 'TXLAKE_FUZZ_RUNS',
): { numRuns: number; seed: number; path?: string } {
  const runs = Number(process.env[runsVariable] ?? defaultRuns);
  const seed = Number(process.env.TXLAKE_FUZZ_SEED ?? Date.now() % 2 ** 31);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`${runsVariable} must be a positive integer`);
  if (!Number.isSafeInteger(seed)) throw new Error('TXLAKE_FUZZ_SEED must be an integer');
  const replay = process.env.TXLAKE_FUZZ_PATH;
  return { numRuns: runs, seed, ...(replay ? { path: replay } : {}) };
}

export interface FuzzBackend {
  name: string;
  /** Start what the backend needs (a ClickHouse cluster). */
  setup(): Promise<void>;
  /** Environment for lake commands (ClickHouse's sync). */
  env(): NodeJS.ProcessEnv;
  serve(lake: string): Promise<RunningServer>;
  teardown(): Promise<void>;
  /** Requests per run when TXLAKE_FUZZ_RUNS is not set. */
  runs: number;
}

const ANSWER_BOUND_MS = 5_000;

/** What no body may hold: traces, the server's paths, internal error codes (node's, Fastify's, the engines'). */
const LEAKS: readonly [string, RegExp][] = [
  ['a stack trace', / {4}at |\\n\s*at |\bat \S+ \([^)]*:\d+:\d+\)/],
  [
    'a file path of the server',
    new RegExp(`/work/|/tmp/|\\bdist/|node_modules|\\bsrc/|${escapeRegExp(REPO_ROOT)}`),
  ],
  ['a Fastify error code', /FST_[A-Z_]+/],
  [
    'a Node error code',
    /\bERR_[A-Z_]{3,}\b|\bE(NOENT|ACCES|PIPE|CONNRESET|CONNREFUSED|MFILE|ISDIR|NOTDIR)\b/,
  ],
  [
    'an engine error',
    /DB::Exception|\bCode: \d+,|(Binder|Catalog|Parser|Conversion|Invalid Input|IO|Out of Range|INTERNAL) Error:/,
  ],
  [
    'a JavaScript error',
    /\b(TypeError|RangeError|ReferenceError|SyntaxError)\b|undefined is not|Cannot read propert/,
  ],
];

/** The target with every valid %XX escape decoded (as a server quoting a parameter shows it). */
function lenientDecode(text: string): string {
  const bytes = Buffer.from(
    text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  );
  return `${bytes.toString('utf8')} ${text.replace(/\+/g, ' ')}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Problems with one answer to `request`; empty when it keeps every promise. */
export function answerProblems(request: RawRequest, response: RawResponse, toHead: boolean): string[] {
  const problems: string[] = [];
  const status = response.status;
  if (status >= 500 && status !== 501) problems.push(`status ${status}`);
  const body = response.body.toString('utf8');
  const target = `${request.target} ${lenientDecode(request.target)}`;
  const sent = `${request.method} ${target} ${request.headers.map(([n, v]) => `${n}: ${v}`).join('\n')} ${request.body.toString('latin1')}`;
  for (const [what, pattern] of LEAKS) {
    // An answer may quote the request (a 404 names its path): only what the request did not hold is a leak.
    const found = pattern.exec(body);
    if (found && !sent.includes(found[0].trim()))
      problems.push(`${what} in the body (${JSON.stringify(found[0])})`);
  }
  if (toHead && response.body.length > 0) problems.push('a body on an answer to HEAD');
  const type = response.headers['content-type'] ?? '';
  if (/ndjson/.test(type)) {
    body
      .split('\n')
      .filter((line) => line !== '')
      .forEach((line, i) => {
        try {
          JSON.parse(line);
        } catch (error) {
          problems.push(`NDJSON line ${i + 1} does not parse: ${String(error)}`);
        }
      });
  } else if (/json/.test(type) && response.body.length > 0) {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (error) {
      problems.push(`a ${type} body that does not parse: ${String(error)}`);
    }
    if (/^application\/problem\+json/.test(type)) {
      const p = value as Record<string, unknown> | null;
      if (typeof p !== 'object' || p === null) problems.push('a problem that is not an object');
      else {
        for (const member of ['type', 'title', 'detail'] as const) {
          if (typeof p[member] !== 'string' || p[member] === '')
            problems.push(`a problem without a ${member}`);
        }
        if (p.status !== status)
          problems.push(`a problem whose status ${String(p.status)} is not the answer's ${status}`);
      }
    }
  }
  return problems;
}

export function exchangeProblems(fuzz: FuzzRequest, result: Exchange): string[] {
  const problems: string[] = [];
  if (result.timedOut) problems.push(`neither an answer nor a close within ${ANSWER_BOUND_MS} ms`);
  if (result.error) problems.push(result.error);
  // Node takes a client's half-close for an abort (httpAllowHalfOpen is off): an answer not yet written is
  // dropped with the connection. Only a request kept open must be answered: every copy of it, unless an
  // answer closes the connection (`Connection: close`), as HTTP/1.1 lets a server do.
  const copies = fuzz.request.copies ?? 1;
  const closing = result.responses.findIndex((r) => /\bclose\b/i.test(r.headers.connection ?? ''));
  const owed = closing < 0 ? copies : Math.min(copies, closing + 1);
  if (fuzz.clean && !fuzz.request.halfClose && result.responses.length < owed) {
    problems.push(
      `a well-formed request sent ${copies} time(s) got ${result.responses.length} answer(s) (${result.closedByServer ? 'closed' : 'open'})`,
    );
  }
  result.responses.forEach((response, i) => {
    for (const p of answerProblems(
      fuzz.request,
      response,
      fuzz.request.method === 'HEAD' && i < (fuzz.request.copies ?? 1),
    ))
      problems.push(`answer ${i + 1} (${response.status}): ${p}`);
  });
  return problems;
}

function describeExchange(result: Exchange): string {
  return result.responses
    .map(
      (r) =>
        `  → ${r.statusLine} ${r.headers['content-type'] ?? ''}\n    ${r.body.toString('utf8').slice(0, 400)}`,
    )
    .join('\n');
}

/** Learn real ids, snapshots, ETags and cursors from the running server, for the generator to use. */
async function learn(port: number, users: string[], codes: string[]): Promise<Known> {
  const snapshots = JSON.parse((await httpGet(port, '/api/v2/snapshots')).body).data.map(
    (s: { id: number }) => s.id,
  );
  const etags: string[] = [];
  const cursors: string[] = [];
  for (const user of users) {
    const page = await httpGet(port, `/api/v2/users/${user}/transactions?limit=1`);
    const next = JSON.parse(page.body).next_cursor as string | null;
    if (next) cursors.push(next);
    etags.push(String(page.headers.etag));
    etags.push(String((await httpGet(port, `/api/v1/data/transactions/${user}`)).headers.etag));
  }
  etags.push(String((await httpGet(port, `/api/v2/merchant-types/${codes[0]}/daily-net`)).headers.etag));
  return { users, codes, snapshots, etags: etags.filter((e) => e !== 'undefined'), cursors };
}

/** The suite: the lake (a generated file, then the repository's sample appended), the server, the run. */
export function describeHttpFuzz(backend: FuzzBackend, options: RequestOptions = {}): void {
  const temp = new TempDirs();
  let server: RunningServer | undefined;
  let known: Known;
  const probes = ['/healthz', '/api/v1/data/transactions/31373', '/api/v2/merchant-types/5732/daily-net'];
  const before = new Map<string, string>();

  beforeAll(async () => {
    assertBuilt();
    await backend.setup();
    const dir = temp.make('txlake-fuzz-');
    const lake = path.join(dir, 'lake');
    const generated = path.join(dir, 'generated.csv');
    const env = { env: backend.env(), timeoutMs: 120_000 };
    const made = await runTxlake([
      'generate',
      '--rows',
      '3000',
      '--seed',
      '12',
      '--users',
      '60',
      '--out',
      generated,
    ]);
    expect(made.code, made.stderr).toBe(0);
    await ingest([generated], lake, [], env);
    await ingest([path.join(REPO_ROOT, 'examples', 'combined_transactions.csv')], lake, [], env);
    server = await backend.serve(lake);
    const port = server.port;
    // Wait until the second snapshot is served, then take the answers the run must not change.
    const deadline = Date.now() + 20_000;
    while (JSON.parse((await httpGet(port, '/healthz')).body).snapshot !== 2) {
      if (Date.now() > deadline) throw new Error('the server did not serve snapshot 2 within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const probe of probes) before.set(probe, (await httpGet(port, probe)).body);
    const firstGenerated =
      (await import('node:fs')).readFileSync(generated, 'utf8').split('\n')[1]?.split(',')[0] ?? '1';
    known = await learn(port, ['31373', '91293', firstGenerated], ['5732', '5310', '5411']);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await backend.teardown();
    temp.cleanup();
  });

  describe(`HTTP fuzzing on the ${backend.name} backend`, () => {
    it('every generated request: no 5xx, no leak, JSON that parses, an answer or a close within 5 s', async () => {
      const port = (server as RunningServer).port;
      const parameters = fuzzParameters(backend.runs);
      let clean = 0;
      const debug = new Map<string, number>();
      const statuses = new Map<number, number>();
      const property = fc.asyncProperty(requestArbitrary(known, options), async (fuzz) => {
        const result = await exchange(port, fuzz.request, { timeoutMs: ANSWER_BOUND_MS });
        if (fuzz.clean) clean++;
        for (const r of result.responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (process.env.TXLAKE_FUZZ_VERBOSE) {
          const key = `${result.responses[0]?.status ?? 'none'} ${fuzz.request.method.slice(0, 8)} ${fuzz.request.target
            .split('?')[0]
            ?.replace(/\/[^/]*[0-9%][^/]*/g, '/ID')
            .slice(0, 50)} ${fuzz.request.target.includes('cursor=') ? 'cursor' : ''}`;
          debug.set(key, (debug.get(key) ?? 0) + 1);
        }
        const problems = exchangeProblems(fuzz, result);
        if (problems.length > 0) {
          throw new Error(
            `${problems.join('\n')}\n${describeRequest(fuzz.request)}\n${describeExchange(result)}`,
          );
        }
      });
      const details = await fc.check(property, { ...parameters, endOnFailure: false });
      if (process.env.TXLAKE_FUZZ_VERBOSE)
        console.log(
          [...debug]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 150)
            .map(([k, n]) => `${n} ${k}`)
            .join('\n'),
        );
      if (details.failed) {
        const example = details.counterexample?.[0] as FuzzRequest | undefined;
        throw new Error(
          [
            `HTTP fuzzing failed after ${details.numRuns} requests (${details.numShrinks} shrinks)`,
            `replay: TXLAKE_FUZZ_SEED=${details.seed} TXLAKE_FUZZ_PATH=${details.counterexamplePath ?? ''} TXLAKE_FUZZ_RUNS=${parameters.numRuns}`,
            example ? `smallest failing request:\n${describeRequest(example.request)}` : '',
            String(
              details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance,
            ),
          ].join('\n'),
        );
      }
      // The generator must reach the routes and their refusals, not only the parser's.
      expect(clean, 'well-formed requests among those generated').toBeGreaterThan(parameters.numRuns / 10);
      expect(statuses.get(200) ?? 0, `statuses: ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
      expect(statuses.get(400) ?? 0, `statuses: ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    });

    it('afterwards the server answers /healthz and known requests as before, and logged no server error', async () => {
      const port = (server as RunningServer).port;
      for (const probe of probes) {
        const response = await httpGet(port, probe);
        expect(response.status, probe).toBe(200);
        expect(response.body, probe).toBe(before.get(probe));
      }
      const errors = (server as RunningServer)
        .stdout()
        .split('\n')
        .filter((line) => /"level":(50|60)/.test(line));
      expect(errors.slice(0, 3)).toEqual([]);
    });
  });
}
