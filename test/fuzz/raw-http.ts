// HTTP/1.1 over a bare node:net socket, for the fuzz suite: the request's bytes go out exactly as built (no
// client normalises a method, a path, a header or a length), and the answer is parsed here, loosely enough to
// read whatever a server sends back (interim 1xx answers, pipelined answers, a body cut by a close).

import net from 'node:net';

/** A request as the fuzzer builds it: every part is sent verbatim, in this order. */
export interface RawRequest {
  method: string;
  /** The request target, sent as UTF-8 bytes without any escaping. */
  target: string;
  /** `HTTP/1.1`, something odd, or '' for a request line without a version (HTTP/0.9 style). */
  version: string;
  /** Header lines, each sent as `name: value` (UTF-8); duplicates and odd characters kept. */
  headers: readonly (readonly [string, string])[];
  body: Buffer;
  /** What ends the request line and each header line. */
  lineEnd: '\r\n' | '\n';
  /** Whether the client half-closes its side once the request is sent (the server then sees EOF). */
  halfClose: boolean;
  /** How many times the request is sent back to back on the connection (pipelining); 1 unless given. */
  copies?: number;
}

export function serialize(request: RawRequest): Buffer {
  const eol = request.lineEnd;
  const line =
    request.version === ''
      ? `${request.method} ${request.target}`
      : `${request.method} ${request.target} ${request.version}`;
  const head = `${line}${eol}${request.headers.map(([name, value]) => `${name}: ${value}${eol}`).join('')}${eol}`;
  const one = Buffer.concat([Buffer.from(head, 'utf8'), request.body]);
  return Buffer.concat(Array.from({ length: request.copies ?? 1 }, () => one));
}

/** A short, readable account of a request for an assertion message (long parts elided). */
export function describeRequest(request: RawRequest): string {
  const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 160)}…(${s.length} chars)` : s);
  const headers =
    request.headers.length > 12
      ? [...request.headers.slice(0, 10), ['…', `${request.headers.length - 10} more headers`] as const]
      : request.headers;
  return [
    `${clip(request.method)} ${clip(request.target)} ${request.version}`,
    ...headers.map(([n, v]) => `  ${JSON.stringify(clip(n))}: ${JSON.stringify(clip(v))}`),
    `  body: ${request.body.length} bytes${request.body.length ? ` ${JSON.stringify(clip(request.body.toString('latin1')))}` : ''}`,
    `  line ends ${JSON.stringify(request.lineEnd)}, ${request.halfClose ? 'half-closed' : 'kept open'}, sent ${request.copies ?? 1} time(s)`,
  ].join('\n');
}

export interface RawResponse {
  status: number;
  statusLine: string;
  /** Header names lower-cased; repeated headers joined with ', ' (a set-cookie list is not expected). */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Exchange {
  /** The final (non-1xx) answers, in order; only complete ones. */
  responses: RawResponse[];
  /** Bytes left over that do not form a complete answer (a body cut short, or garbage). */
  trailing: Buffer;
  /** The server closed (or reset) the connection before the deadline. */
  closedByServer: boolean;
  /** Neither an answer nor a close within the deadline. */
  timedOut: boolean;
  error: string | null;
  elapsedMs: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Parse the answers in `bytes`: the first `headAnswers` answer HEAD requests (no body, whatever their length
 * says); later ones are read as answers to GET (Node answers garbage after a request with 400).
 */
export function parseResponses(
  bytes: Buffer,
  headAnswers: number,
  atEof: boolean,
): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headEnd = bytes.indexOf(HEAD_END, at);
    if (headEnd < 0) break;
    const lines = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const statusLine = lines[0] ?? '';
    const match = /^HTTP\/1\.[01] ([0-9]{3})(?: .*)?$/.exec(statusLine);
    if (!match) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 200))}`);
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0)
        throw new Error(`not a header line in an answer: ${JSON.stringify(line.slice(0, 200))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    let bodyStart = headEnd + HEAD_END.length;
    if (status >= 100 && status < 200) {
      at = bodyStart; // an interim answer (100 Continue): the real one follows
      continue;
    }
    const noBody = responses.length < headAnswers || status === 204 || status === 304;
    let body: Buffer;
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunks: Buffer[] = [];
      let complete = false;
      for (;;) {
        const sizeEnd = bytes.indexOf('\r\n', bodyStart);
        if (sizeEnd < 0) break;
        const size = Number.parseInt(bytes.subarray(bodyStart, sizeEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) throw new Error('a chunk size in an answer is not hexadecimal');
        if (size === 0) {
          const trailerEnd = bytes.indexOf(HEAD_END, sizeEnd);
          const emptyTrailer = bytes.subarray(sizeEnd, sizeEnd + 4).equals(HEAD_END);
          if (emptyTrailer) bodyStart = sizeEnd + 4;
          else if (trailerEnd >= 0) bodyStart = trailerEnd + 4;
          else break;
          complete = true;
          break;
        }
        if (sizeEnd + 2 + size + 2 > bytes.length) break;
        chunks.push(bytes.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        bodyStart = sizeEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(chunks);
      responses.push({ status, statusLine, headers, body });
      at = bodyStart;
      continue;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (!Number.isSafeInteger(length) || length < 0)
        throw new Error(`bad content-length ${headers['content-length']}`);
      if (bodyStart + length > bytes.length) break;
      body = bytes.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      if (!atEof) break; // delimited by the close
      body = bytes.subarray(bodyStart);
      bodyStart = bytes.length;
    }
    responses.push({ status, statusLine, headers, body });
    at = bodyStart;
  }
  return { responses, rest: bytes.subarray(at) };
}

export interface SendOptions {
  /** How long to wait for an answer or a close (the "never a hang" bound). */
  timeoutMs: number;
}

/**
 * Send `request` on a new connection to 127.0.0.1:port. A half-closing request reads until the server
 * closes; one kept open settles once every copy is answered (then the client closes), or at a close.
 */
export function exchange(port: number, request: RawRequest, options: SendOptions): Promise<Exchange> {
  const bytes = serialize(request);
  const copies = request.copies ?? 1;
  const headAnswers = request.method === 'HEAD' ? copies : 0;
  return new Promise((resolve) => {
    const started = Date.now();
    const received: Buffer[] = [];
    let settled = false;
    let error: string | null = null;
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (closedByServer: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(received);
      let parsed: { responses: RawResponse[]; rest: Buffer };
      try {
        parsed = parseResponses(all, headAnswers, closedByServer);
      } catch (parseError) {
        error = `unparsable answer: ${String(parseError)}`;
        parsed = { responses: [], rest: all };
      }
      resolve({
        responses: parsed.responses,
        trailing: parsed.rest,
        closedByServer,
        timedOut,
        error,
        elapsedMs: Date.now() - started,
      });
    };
    const timer = setTimeout(() => finish(false, true), options.timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes);
      if (request.halfClose) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (!request.halfClose) {
        try {
          if (parseResponses(Buffer.concat(received), headAnswers, false).responses.length >= copies) {
            finish(false, false);
          }
        } catch {
          finish(false, false); // unparsable: reported by finish's own parse
        }
      }
    });
    // A reset after the answer (the server dropped a connection still sending) is a close like any other.
    socket.on('error', (socketError: NodeJS.ErrnoException) => {
      if (socketError.code !== 'ECONNRESET' && socketError.code !== 'EPIPE') error = String(socketError);
    });
    socket.on('close', () => finish(true, false));
  });
}
