// The fuzz suites' own checks, against answers made up to break each promise: a check that cannot fail
// proves nothing.

import { describe, expect, it } from 'vitest';
import { answerProblems } from './http-fuzz.js';
import { parseResponses, type RawRequest } from './raw-http.js';

const request: RawRequest = {
  method: 'GET',
  target: '/api/v1/data/transactions/1',
  version: 'HTTP/1.1',
  headers: [['Host', '127.0.0.1']],
  body: Buffer.alloc(0),
  lineEnd: '\r\n',
  halfClose: false,
};

function answer(status: number, type: string, body: string) {
  const text = `HTTP/1.1 ${status} X\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const { responses } = parseResponses(Buffer.from(text), 0, false);
  expect(responses).toHaveLength(1);
  return responses[0] as NonNullable<(typeof responses)[0]>;
}

describe('HTTP fuzz checks', () => {
  it('accept a plain answer, and refuse each broken promise', () => {
    expect(answerProblems(request, answer(200, 'application/json', '[]'), false)).toEqual([]);
    expect(answerProblems(request, answer(501, 'application/json', '{"error":"x"}'), false)).toEqual([]);
    const cases: [number, string, string, RegExp][] = [
      [500, 'application/json', '{"error":"internal"}', /status 500/],
      [503, 'application/json', '{"error":"down"}', /status 503/],
      [400, 'application/json', '{"error":"x\\n    at f (file.js:1:2)"}', /stack trace/],
      [400, 'application/json', '{"error":"cannot open /work/main/lake"}', /file path/],
      [400, 'application/json', '{"error":"in node_modules/fastify"}', /file path/],
      [400, 'application/json', '{"error":"FST_ERR_BAD_URL"}', /Fastify error code/],
      [400, 'application/json', '{"error":"ENOENT: no such file"}', /Node error code/],
      [400, 'application/json', '{"error":"Code: 62, e.displayText() = DB::Exception"}', /engine error/],
      [400, 'application/json', '{"error":"Binder Error: x"}', /engine error/],
      [400, 'application/json', '{"error":"TypeError: x"}', /JavaScript error/],
      [400, 'application/json', '{"error":', /does not parse/],
      [400, 'application/x-ndjson', '{}\n{', /NDJSON line 2/],
      [
        400,
        'application/problem+json',
        '{"type":"about:blank","title":"Bad Request","status":400}',
        /without a detail/,
      ],
      [
        404,
        'application/problem+json',
        '{"type":"t","title":"t","status":400,"detail":"d"}',
        /status 400 is not/,
      ],
    ];
    for (const [status, type, body, expected] of cases) {
      expect(answerProblems(request, answer(status, type, body), false).join('; '), body).toMatch(expected);
    }
  });

  it('a path the request itself holds is not a leak when the answer quotes it', () => {
    const quoting = { ...request, target: '/tmp/src/x' };
    expect(
      answerProblems(
        quoting,
        answer(404, 'application/json', '{"error":"no route for GET /tmp/src/x"}'),
        false,
      ),
    ).toEqual([]);
  });

  it('parse interim, chunked and pipelined answers', () => {
    const bytes = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
        'HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\ncut',
    );
    const { responses, rest } = parseResponses(bytes, 0, false);
    expect(responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, 'abc'],
      [400, '{}'],
    ]);
    expect(rest.toString()).toMatch(/cut$/);
    expect(() => parseResponses(Buffer.from('garbage\r\n\r\n'), 0, false)).toThrow(/status line/);
    // answers to HEAD have no body, whatever their content-length says
    const head = Buffer.from(
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n',
    );
    expect(parseResponses(head, 2, false).responses.map((r) => r.body.length)).toEqual([0, 0]);
  });
});
