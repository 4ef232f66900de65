// fast-check arbitraries of hostile HTTP/1.1 requests, built around txlake's real routes: odd methods, ids and
// paths, query strings, headers and bodies, each part sometimes well-formed and sometimes not. A request made
// only of well-formed parts is `clean`: it must be answered, not merely dropped.

import fc from 'fast-check';
import { type RawRequest, serialize } from './raw-http.js';

/** Values taken from the served data, so that generated requests also reach real answers. */
export interface Known {
  users: readonly string[];
  codes: readonly string[];
  snapshots: readonly number[];
  etags: readonly string[];
  cursors: readonly string[];
}

export interface RequestOptions {
  /** Header lines added to every request as given (the authentication matrix adds a key here). */
  extraHeaders?: readonly (readonly [string, string])[];
}

export interface FuzzRequest {
  request: RawRequest;
  /** Every part is well-formed HTTP/1.1: the server must answer it (status and all). */
  clean: boolean;
}

/** A part of a request and whether it is well-formed. */
interface Part<T> {
  value: T;
  clean: boolean;
}

const clean = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<Part<T>> =>
  arbitrary.map((value) => ({ value, clean: true }));
const odd = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<Part<T>> =>
  arbitrary.map((value) => ({ value, clean: false }));

const INT64_EDGES = [
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '18446744073709551615',
  '18446744073709551616',
  '99999999999999999999999999999999',
  '0',
  '-0',
  '-1',
  '9999',
  '10000',
  '4294967296',
  '2147483648',
  '9007199254740993',
];

/** Ids that once broke, or could break, a parser: not ASCII digits, or digits at an edge. */
const HOSTILE_IDS = [
  '١٢٣', // Arabic-Indic digits, raw UTF-8 in the request line
  '%D9%A1%D9%A2%D9%A3',
  '１２３', // fullwidth digits
  '%EF%BC%91%EF%BC%92',
  '𝟙𝟚𝟛',
  '%00',
  '1%00',
  '%001',
  '%zz',
  '%',
  '%2',
  '%%31',
  '..',
  '.',
  '%2e%2e',
  '%2E%2E%2F%2E%2E',
  '..%2f..%2fetc%2fpasswd',
  '%2f',
  '',
  ';',
  '1;2',
  ';jsessionid=1',
  '1,2',
  '1 2',
  '+1',
  '%2B1',
  '1e3',
  '0x10',
  '1.0',
  '1.',
  '%201',
  '1%20',
  '%091',
  '1%0A',
  '1%0D%0A',
  'null',
  'NaN',
  'Infinity',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  '%C0%AE%C0%AE',
  '%FF%FE',
  '%E2%80%AE1',
  '%F0%9F%98%80',
  '😀',
  '%EF%BB%BF1',
  '1?',
  '1#',
  '{id}',
  ':userId',
  '*',
  ...INT64_EDGES,
];

function percentEncodeBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

/** A user id or merchant code as it appears in a path. */
function idArbitrary(real: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...real) },
    { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_IDS) },
    { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }).map(String) },
    // leading zeros, and whitespace around a real id
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...real), fc.nat(40), fc.constantFrom('', '%20', ' ', '%09', '\t', '+'))
        .map(([id, zeros, space]) => `${space}${'0'.repeat(zeros)}${id}${space}`),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) }, // raw: spaces and newlines break the line
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 12 }).map(percentEncodeBytes) },
    // long ids: around the 8 KiB URL and 16 KiB head limits, and far beyond them
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(1_000, 8_000, 8_200, 16_000, 16_400, 100_000),
          fc.constantFrom('1', '9', '0', 'a', '%31'),
        )
        .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length))),
    },
  );
}

/** Ways to bend a path around a route: slashes doubled, dot segments, encoded slashes, another case. */
const PATH_BENDS: readonly ((path: string) => string)[] = [
  (p) => p.replace(/\//g, '//'),
  (p) => `${p}/`,
  (p) => `${p};x=1`,
  (p) => p.replace('/api/', '/api/./'),
  (p) => p.replace('/api/', '/api/../api/'),
  (p) => p.replace('/api/', '/api/%2e%2e/api/'),
  (p) => p.replace(/\//g, '%2F'),
  (p) => p.replace(/\/([^/]*)$/, '%2F$1'),
  (p) => p.toUpperCase(),
  (p) => `http://127.0.0.1${p}`, // absolute form
  (p) => `http://[::1]:1${p}`,
  (p) => p.slice(1), // no leading slash
  (p) => `${p}#fragment`,
  (p) => `${p}%00`,
  (p) => `/.${p}`,
  (p) => `${p}\\`,
  (p) => p.replace(/\//g, '\\'),
];

const FIXED_PATHS = [
  '/api/v2/snapshots',
  '/openapi.json',
  '/docs',
  '/docs/',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/index.html',
  '/docs/static/swagger-ui.css',
  '/docs/static/../../package.json',
  '/docs/static/%2e%2e/%2e%2e/package.json',
  '/docs/static/..%2f..%2fpackage.json',
  '/explorer/',
  '/explorer/index.html',
  '/explorer/index.html.br',
  '/explorer/../package.json',
  '/explorer/%2e%2e/%2e%2e/package.json',
  '/explorer/..%2f..%2fpackage.json',
  '/explorer/%00.js',
  '/healthz',
  '/readyz',
  '/metrics',
  '/',
  '/api',
  '/api/',
  '/api/v1',
  '/api/v1/data',
  '/api/v1/data/transactions',
  '/api/v1/data/transactions/',
  '/api/v1/data/netAmount/',
  '/api/v2',
  '/api/v2/users',
  '/api/v2/users/',
  '/api/v2/users//transactions',
  '/api/v2/merchant-types//daily-net',
  '/favicon.ico',
  '/.env',
  '/../../../etc/passwd',
];

function pathArbitrary(known: Known): fc.Arbitrary<Part<string>> {
  const user = idArbitrary(known.users);
  const code = idArbitrary(known.codes);
  const route = fc.oneof(
    user.map((id) => `/api/v1/data/transactions/${id}`),
    code.map((id) => `/api/v1/data/netAmount/${id}`),
    fc
      .tuple(
        user,
        fc.constantFrom('transactions', 'transactions', 'export', 'export', 'transactions/', 'daily-net', ''),
      )
      .map(([id, tail]) => `/api/v2/users/${id}/${tail}`),
    code.map((id) => `/api/v2/merchant-types/${id}/daily-net`),
    fc.constantFrom(...FIXED_PATHS),
  );
  return fc.oneof(
    { weight: 12, arbitrary: clean(route) },
    {
      weight: 3,
      arbitrary: odd(fc.tuple(route, fc.constantFrom(...PATH_BENDS)).map(([p, bend]) => bend(p))),
    },
    {
      weight: 1,
      arbitrary: odd(
        fc.constantFrom('*', '', '/%', '/\u0000', '//', '?', '/?', `/${'a'.repeat(9000)}`, 'é', '/é'),
      ),
    },
  );
}

const V2_PARAMETERS = ['from', 'to', 'type', 'merchant_type_code', 'limit', 'cursor', 'snapshot', 'format'];

/** Cursors this server could never have given out, each member at or beyond an edge. */
function forgedCursor(known: Known): fc.Arbitrary<string> {
  const edge = fc.constantFrom<unknown>(null, 0, -1, 1, 2 ** 53, 1e308, 1.5, '1', '', true, [], {}, 'x');
  const bound = fc.oneof(
    fc.constant(null),
    fc.constantFrom(...INT64_EDGES, '-99999999999999999999', '9999999999999999999', '-9999999999999999999'),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n }).map(String),
    edge,
  );
  const body = fc.record({
    v: fc.oneof(fc.constant(1), edge),
    s: fc.oneof(
      fc.constantFrom(...known.snapshots),
      fc.constantFrom(0, 1, 2 ** 53 - 1, 2 ** 31, 999_999),
      edge,
    ),
    u: fc.oneof(fc.constantFrom(...known.users), fc.constantFrom(...INT64_EDGES), edge),
    f: bound,
    t: bound,
    y: fc.oneof(fc.constantFrom(null, 0, 1, 2, -1), edge),
    m: fc.oneof(fc.constantFrom(null, -1, 0, 5732, 9999, 10000), edge),
    o: fc.oneof(fc.constantFrom(0, 1, 99, 2 ** 31, 2 ** 53 - 1, 2 ** 53), fc.nat(), edge),
  });
  return fc.oneof(
    body.map((b) => Buffer.from(JSON.stringify(b)).toString('base64url')),
    fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
    // a real cursor with one character changed, cut, or extended
    fc
      .tuple(fc.constantFrom(...known.cursors), fc.nat(), fc.constantFrom('A', '_', '-', '=', '%3D', '', '.'))
      .map(([cursor, at, ch]) => {
        const i = at % (cursor.length + 1);
        return `${cursor.slice(0, i)}${ch}${cursor.slice(i + 1)}`;
      }),
  );
}

function valueArbitrary(known: Known): fc.Arbitrary<string> {
  const good = fc.constantFrom(
    '2023-03-25',
    '2023-03-25T11:31:26Z',
    '2023-03-25T11:31:26.215181Z',
    '2023-03-25T11:31:26+02:00',
    '2023-03-25 11:31:26',
    'PurchaseActivity',
    'ReturnActivity',
    '5732',
    '5310',
    '1',
    '2',
    '100',
    '1000',
    'csv',
    'ndjson',
    'parquet',
    ...known.snapshots.map(String),
    ...known.cursors,
  );
  const bad = fc.constantFrom(
    '',
    '%zz',
    '%',
    '%00',
    '+',
    '%2B',
    '%20',
    ' ',
    '1e3',
    '-1',
    '0',
    '1001',
    '01',
    '00000000000000000000001',
    'NaN',
    'null',
    'true',
    '[]',
    '{}',
    '2023-02-30',
    '2023-02-29',
    '2024-02-29',
    '2023-13-01',
    '0000-01-01',
    '0001-01-01',
    '9999-12-31',
    '10000-01-01',
    '+275760-09-13',
    '-000001-01-01',
    '2023-03-25T11:31:26.1234567Z',
    '2023-03-25T24:00:00Z',
    '2023-03-25T23:59:60Z',
    '2023-03-25T11:31:26+24:00',
    '2023-03-25T11:31:26-23:59',
    '2023-03-25t11:31:26z',
    '２０２３-03-25',
    '٢٠٢٣-03-25',
    'purchaseactivity',
    'PURCHASEACTIVITY',
    'Purchase%00Activity',
    'CSV',
    'xlsx',
    '../../etc/passwd',
    ...INT64_EDGES,
  );
  return fc.oneof(
    { weight: 4, arbitrary: good },
    { weight: 5, arbitrary: bad },
    { weight: 3, arbitrary: forgedCursor(known) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) }, // raw
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map(percentEncodeBytes) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(1_000, 10_240, 9_000), fc.constantFrom('1', 'a', '%41', '9'))
        .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length))),
    },
  );
}

/** Each v2 parameter with values a client could well send, edges included, so answers get past validation. */
function plausibleQuery(known: Known): fc.Arbitrary<string[]> {
  const instants = [
    '2023-03-25',
    '2023-04-15T12:04:02.61636',
    '2023-03-25T11:31:26.215181Z',
    '2023-03-25T11:31:26+23:59',
    '2023-03-25 11:31:26-01:00',
    '1970-01-01',
    '0001-01-01',
    '9999-12-31',
    '9999-12-31T23:59:59.999999-23:59',
    '0001-01-01T00:00:00+23:59',
  ];
  const values: Record<string, fc.Arbitrary<string>> = {
    from: fc.constantFrom(...instants),
    to: fc.constantFrom(...instants),
    type: fc.constantFrom('PurchaseActivity', 'ReturnActivity'),
    merchant_type_code: fc.constantFrom(...known.codes, '0', '9999', '10000', '99999999999999999999'),
    limit: fc.constantFrom('1', '2', '100', '1000'),
    snapshot: fc.constantFrom(...known.snapshots.map(String), '0', '3', '999', '99999999999999999999'),
    cursor: fc.oneof(fc.constantFrom(...known.cursors), forgedCursor(known)),
    format: fc.constantFrom('csv', 'ndjson', 'parquet'),
  };
  return fc
    .subarray(V2_PARAMETERS)
    .chain((keys) =>
      fc.tuple(
        ...keys.map((k) => (values[k] as fc.Arbitrary<string>).map((v) => `${k}=${encodeURIComponent(v)}`)),
      ),
    );
}

function queryArbitrary(known: Known): fc.Arbitrary<Part<string>> {
  const key = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...V2_PARAMETERS) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        'FROM',
        'Limit',
        'limit[]',
        'limit[0]',
        'limit%00',
        'li%6Dit',
        '__proto__',
        'constructor',
        'prototype',
        'x',
        '%zz',
        'a.b',
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 8 }).map(encodeURIComponent) },
  );
  const pair = fc
    .tuple(key, valueArbitrary(known), fc.constantFrom('k=v', 'k=v', 'k=v', 'k', 'k=', '=v', 'k==v'))
    .map(([k, v, form]) => form.replace('k', k).replace('v', v));
  return fc.oneof(
    { weight: 3, arbitrary: clean(fc.constant('')) },
    {
      weight: 6,
      arbitrary: clean(plausibleQuery(known).map((pairs) => (pairs.length ? `?${pairs.join('&')}` : ''))),
    },
    // plausible but for one pair
    {
      weight: 3,
      arbitrary: clean(
        fc
          .tuple(plausibleQuery(known), pair, fc.nat())
          .map(
            ([pairs, extra, at]) =>
              `?${[...pairs.slice(0, at % (pairs.length + 1)), extra, ...pairs.slice(at % (pairs.length + 1))].join('&')}`,
          ),
      ),
    },
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.array(pair, { minLength: 1, maxLength: 6 }),
          fc.constantFrom('&', '&', '&', ';', '&&'),
          fc.boolean(),
        )
        .map(([pairs, separator, repeat]) => {
          const all = repeat ? [...pairs, ...pairs.slice(0, 1)] : pairs;
          return { value: `?${all.join(separator)}`, clean: true };
        }),
    },
    {
      weight: 1,
      arbitrary: odd(fc.constantFrom('?', '??', '?&', '?=', '?&&&', '?%', '?#', '?a=%zz%', '?;;')),
    },
  );
}

const MEDIA_TYPES = [
  'application/json',
  'text/csv',
  '*/*',
  'application/problem+json',
  'text/html',
  'application/x-ndjson',
  'application/vnd.apache.parquet',
  'text/*',
  'text/csv;q=0',
  'application/json;q=abc',
  '*/*;q=0',
  'text/csv, application/json;q=0.5',
  'application/json;q=0, text/csv;q=0',
  '',
  ',,,',
  ';;;',
  '*',
  '/',
  'text/csv;charset=latin1',
  'application/json; q=1.0001',
  'application/json;q=-1',
  'image/png',
  'TEXT/CSV',
];

interface Header {
  line: readonly [string, string];
  clean: boolean;
}

const header = (name: string, value: string, isClean = true): Header => ({
  line: [name, value],
  clean: isClean,
});

function headerArbitrary(known: Known): fc.Arbitrary<Header[]> {
  const garbage = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });
  const long = fc.constantFrom(1_000, 8_000, 17_000).map((n) => 'a'.repeat(n));
  const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
  const one = fc.oneof(
    w(
      4,
      fc
        .oneof(w(6, fc.constantFrom(...MEDIA_TYPES)), w(2, garbage), w(1, long))
        .map((v) => [header('Accept', v)]),
    ),
    w(
      3,
      fc
        .oneof(
          w(4, fc.constantFrom(...known.etags)),
          w(
            3,
            fc.constantFrom(
              '*',
              'W/"txlake-1"',
              '"a", "b"',
              '""',
              '"',
              'txlake-1',
              ', ,',
              ...known.etags.map((e) => `W/${e}`),
            ),
          ),
          w(
            2,
            fc.constantFrom(...known.etags).map((e) => `"x", ${e}`),
          ),
          w(2, garbage),
          w(1, long),
        )
        .map((v) => [header('If-None-Match', v)]),
    ),
    w(
      2,
      fc
        .oneof(
          w(
            3,
            fc.constantFrom(
              'Bearer',
              'Bearer ',
              'Bearer x',
              'Basic YTpi',
              'bearer abc',
              'Bearer  a b c',
              'Digest x=1',
              'Bearer é',
            ),
          ),
          w(
            2,
            garbage.map((g) => `Bearer ${g}`),
          ),
          w(
            1,
            long.map((g) => `Bearer ${g}`),
          ),
        )
        .map((v) => [header('Authorization', v)]),
    ),
    w(
      1,
      fc
        .constantFrom(
          'bytes=0-10',
          'bytes=-1',
          'bytes=abc',
          'items=0-1',
          'bytes=0-0,1-1,2-2',
          'bytes=9999999999999999999-',
          '',
        )
        .map((v) => [header('Range', v)]),
    ),
    w(
      1,
      fc
        .constantFrom('gzip', 'br', 'deflate', '*', 'identity;q=0', 'gzip;q=x', '')
        .map((v) => [header('Accept-Encoding', v)]),
    ),
    w(
      1,
      fc
        .constantFrom(
          'application/json',
          'text/plain',
          'multipart/form-data; boundary=',
          'application/json; charset=utf-16',
          'x',
          '',
        )
        .map((v) => [header('Content-Type', v)]),
    ),
    w(
      1,
      fc.oneof(garbage, fc.constantFrom('ok-id', 'a'.repeat(200))).map((v) => [header('X-Request-Id', v)]),
    ),
    w(
      1,
      fc.constantFrom('close', 'keep-alive', 'TE', 'x').map((v) => [header('Connection', v)]),
    ),
    w(
      1,
      fc.constantFrom('100-continue', '200-ok').map((v) => [header('Expect', v, v === '100-continue')]),
    ),
    w(1, fc.constant([header('Connection', 'Upgrade', false), header('Upgrade', 'websocket', false)])),
    w(
      1,
      garbage.map((v) => [header('Cookie', v)]),
    ),
    w(
      1,
      garbage.map((v) => [header('X-Forwarded-For', v)]),
    ),
    // what no well-formed request holds
    w(
      1,
      fc
        .constantFrom<readonly [string, string]>(
          ['X Bad', 'v'],
          ['X:Y', 'v'],
          ['', 'v'],
          ['X-Ctl', 'a\u0001b'],
          ['X-Nul', 'a\u0000b'],
          ['X-Del\u007f', 'v'],
          ['X-Folded', 'a\r\n continued'],
          ['X-Bare-Cr', 'a\rb'],
          ['X-Utf8', 'é😀'],
          ['Host', ''],
          ['Host', 'a b'],
          ['Host', 'x'.repeat(300)],
        )
        .map((line) => [{ line, clean: false }]),
    ),
    // very many headers: up to and beyond Node's count and size limits
    w(
      1,
      fc
        .constantFrom(50, 500, 2_100)
        .map((n) => Array.from({ length: n }, (_, i) => header(`X-Fuzz-${i}`, String(i), n < 2_000))),
    ),
  );
  return fc.array(one, { maxLength: 3 }).map((groups) => groups.flat());
}

interface Body {
  headers: Header[];
  bytes: Buffer;
  /** The request declares more than it sends: only the client's close can end it. */
  incomplete: boolean;
  clean: boolean;
}

function bodyArbitrary(): fc.Arbitrary<Body> {
  const data = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)) },
    {
      weight: 4,
      arbitrary: fc.constantFrom('{"a":1}', '{', 'a=1&b=2', 'null', '\u0000').map((s) => Buffer.from(s)),
    },
    { weight: 1, arbitrary: fc.constant(70_000).map((n) => Buffer.alloc(n, 0x61)) },
  );
  const none: Body = { headers: [], bytes: Buffer.alloc(0), incomplete: false, clean: true };
  const chunk = (b: Buffer) =>
    Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
  return fc.oneof(
    { weight: 30, arbitrary: fc.constant(none) },
    {
      weight: 2,
      arbitrary: data.map((b) => ({
        headers: [header('Content-Length', String(b.length))],
        bytes: b,
        incomplete: false,
        clean: true,
      })),
    },
    // Content-Length shorter than the body: the rest reads as a second request
    {
      weight: 1,
      arbitrary: data.map((b) => ({
        headers: [header('Content-Length', String(Math.floor(b.length / 2)))],
        bytes: b,
        incomplete: false,
        clean: false,
      })),
    },
    // Content-Length longer than the body
    {
      weight: 1,
      arbitrary: data.map((b) => ({
        headers: [header('Content-Length', String(b.length + 100))],
        bytes: b,
        incomplete: true,
        clean: false,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom('abc', '-1', '1, 2', '0x10', ' 5', '99999999999999999999', '').map((v) => ({
        headers: [header('Content-Length', v)],
        bytes: Buffer.from('hello'),
        incomplete: false,
        clean: false,
      })),
    },
    {
      weight: 1,
      arbitrary: fc.constant<Body>({
        headers: [header('Content-Length', '3'), header('Content-Length', '5')],
        bytes: Buffer.from('hello'),
        incomplete: false,
        clean: false,
      }),
    },
    // chunked, well-formed
    {
      weight: 1,
      arbitrary: fc.array(data, { minLength: 1, maxLength: 3 }).map((parts) => ({
        headers: [header('Transfer-Encoding', 'chunked')],
        bytes: Buffer.concat([...parts.map(chunk), Buffer.from('0\r\n\r\n')]),
        incomplete: false,
        clean: true,
      })),
    },
    // chunked, broken
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          'zz\r\nabc\r\n0\r\n\r\n',
          '5\r\nab\r\n0\r\n\r\n',
          '3\r\nabc0\r\n\r\n',
          '3\nabc\n0\n\n',
          '-1\r\nabc\r\n0\r\n\r\n',
          'ffffffffffffffffff\r\nabc\r\n',
          '3;ext=\u0001\r\nabc\r\n0\r\n\r\n',
          '3\r\nabc\r\n',
          '0\r\nX-Trailer: \u0000\r\n\r\n',
        )
        .map((s) => ({
          headers: [header('Transfer-Encoding', 'chunked')],
          bytes: Buffer.from(s, 'latin1'),
          incomplete: true, // some of these wait for more chunks
          clean: false,
        })),
    },
    // Transfer-Encoding beside Content-Length, or one Node does not know
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('chunked', 'gzip, chunked', 'chunked, gzip', 'xchunked', 'identity', 'chunked, chunked')
        .map((te) => ({
          headers: [header('Transfer-Encoding', te), header('Content-Length', '5')],
          bytes: Buffer.from('0\r\n\r\n'),
          incomplete: true,
          clean: false,
        })),
    },
  );
}

const STANDARD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE'];

function methodArbitrary(): fc.Arbitrary<Part<string>> {
  return fc.oneof(
    { weight: 14, arbitrary: clean(fc.constant('GET')) },
    { weight: 4, arbitrary: clean(fc.constantFrom(...STANDARD_METHODS)) },
    { weight: 1, arbitrary: odd(fc.constantFrom(...STANDARD_METHODS).map((m) => m.toLowerCase())) },
    {
      weight: 1,
      arbitrary: odd(
        fc.constantFrom(
          'PROPFIND',
          'BREW',
          'M-SEARCH',
          'PURGE',
          'FOO',
          'CONNECT',
          'SEARCH',
          'QUERY',
          'LINK',
          'MKCOL',
        ),
      ),
    },
    { weight: 1, arbitrary: odd(fc.stringMatching(/^[A-Z]{1,24}$/)) },
    {
      weight: 1,
      arbitrary: odd(fc.constantFrom('G\u0000T', 'GET\t', '', 'GÉT', 'G E T', 'X'.repeat(20_000))),
    },
  );
}

const VERSIONS: readonly Part<string>[] = [
  { value: 'HTTP/1.1', clean: true },
  { value: 'HTTP/1.0', clean: false },
  { value: 'HTTP/2.0', clean: false },
  { value: 'HTTP/9.9', clean: false },
  { value: 'http/1.1', clean: false },
  { value: 'HTTP/1.1 x', clean: false },
  { value: '', clean: false },
];

export function requestArbitrary(known: Known, options: RequestOptions = {}): fc.Arbitrary<FuzzRequest> {
  const extra = (options.extraHeaders ?? []).map(([n, v]) => header(n, v));
  return fc
    .record({
      method: methodArbitrary(),
      path: pathArbitrary(known),
      query: queryArbitrary(known),
      version: fc.oneof(
        { weight: 12, arbitrary: fc.constant(VERSIONS[0] as Part<string>) },
        fc.constantFrom(...VERSIONS),
      ),
      host: fc.oneof(
        { weight: 12, arbitrary: clean(fc.constant([header('Host', '127.0.0.1')])) },
        odd(fc.constant([] as Header[])),
        odd(fc.constant([header('Host', '127.0.0.1'), header('Host', 'evil.example')])),
      ),
      headers: headerArbitrary(known),
      body: bodyArbitrary(),
      lineEnd: fc.oneof(
        { weight: 12, arbitrary: clean(fc.constant('\r\n' as const)) },
        odd(fc.constant('\n' as const)),
      ),
      halfClose: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
      copies: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, fc.constantFrom(2, 3)),
    })
    .map((r) => {
      const headers = [...r.host.value, ...extra, ...r.headers, ...r.body.headers];
      const request: RawRequest = {
        method: r.method.value,
        target: `${r.path.value}${r.query.value}`,
        version: r.version.value,
        headers: headers.map((h) => h.line),
        body: r.body.bytes,
        lineEnd: r.lineEnd.value,
        // a request that declares more than it sends ends only with the client's close
        halfClose: r.halfClose || r.body.incomplete,
        // Pipelined copies of a request that declares more than it sends would be read as its body; after an
        // Upgrade request Node parses nothing more on the connection (RFC 9110 §7.8: the client must wait for
        // the answer before it sends another), so the copy would wait for the keep-alive timeout; after
        // `Connection: close` a client sends nothing more (RFC 9112 §9.6), and Node refuses what follows.
        copies:
          r.body.incomplete || headers.some((h) => /^(upgrade|connection)$/i.test(h.line[0])) ? 1 : r.copies,
      };
      const isClean =
        r.method.clean &&
        r.path.clean &&
        // raw spaces, controls and non-ASCII are not a request target (RFC 9112 §3.2): Node's parser refuses them
        /^[\x21-\x7e]*$/.test(request.target) &&
        // a head over Node's 16 KiB limit is refused (431) and the connection closed
        serialize({ ...request, body: Buffer.alloc(0), copies: 1 }).length < 16_000 &&
        r.query.clean &&
        r.version.clean &&
        r.host.clean &&
        r.lineEnd.clean &&
        r.body.clean &&
        headers.every((h) => h.clean);
      return { request, clean: isClean };
    });
}
