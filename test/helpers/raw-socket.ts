// HTTP/1.1 over a bare TCP socket, for what an HTTP client would not send (a head of an exact size, a
// request trickled a byte at a time, a connection that says nothing) and to hold many connections open.

import net from 'node:net';

export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** Parse one answer from the start of `text`, if it is all there (Content-Length bodies only). */
export function parseAnswer(text: string): { answer: RawAnswer; rest: string } | null {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const bodyStart = end + 4;
  // Bodies here are ASCII (JSON, problem documents), so characters are bytes.
  if (text.length < bodyStart + length) return null;
  return {
    answer: { status, headers, body: text.slice(bodyStart, bodyStart + length) },
    rest: text.slice(bodyStart + length),
  };
}

/** A connection to 127.0.0.1:port that asks one request at a time and can be held open. */
export class RawConnection {
  readonly socket: net.Socket;
  #received = '';
  #closed = false;
  #waiters: Array<() => void> = [];
  readonly connected: Promise<void>;
  /** Resolves when the server (or we) closed the connection. */
  readonly closed: Promise<void>;

  constructor(port: number, localAddress?: string) {
    this.socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    this.socket.setEncoding('latin1');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => {}); // a reset is seen as the close that follows
    this.socket.on('data', (chunk: string) => {
      this.#received += chunk;
      this.#wake();
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.#closed = true;
        this.#wake();
        resolve();
      });
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Everything received that no `answer()` has taken. */
  get received(): string {
    return this.#received;
  }

  write(data: string): void {
    this.socket.write(data, 'latin1');
  }

  /** The next whole answer; rejects if the connection closes first or nothing whole comes within `timeoutMs`. */
  async answer(timeoutMs = 15_000): Promise<RawAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseAnswer(this.#received);
      if (parsed) {
        this.#received = parsed.rest;
        return parsed.answer;
      }
      if (this.#closed)
        throw new Error(
          `closed before a whole answer; received ${JSON.stringify(this.#received.slice(0, 300))}`,
        );
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Send a GET of `path` (keep-alive) and read its answer. */
  async get(path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const lines = Object.entries({ host: '127.0.0.1', ...headers }).map(
      ([name, value]) => `${name}: ${value}\r\n`,
    );
    this.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
    return this.answer();
  }

  /** Wait until the connection is closed, at most `timeoutMs`; whether it was. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Send `data` on a new connection and read one answer (the server closes the connection after it or not). */
export async function rawRequest(port: number, data: string): Promise<RawAnswer> {
  const connection = new RawConnection(port);
  try {
    await connection.connected;
    connection.write(data);
    return await connection.answer();
  } finally {
    connection.destroy();
  }
}
