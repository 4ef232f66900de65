// Run `txlake serve` on a free loopback port and talk to it over plain HTTP (raw paths, no URL rewriting).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
// One way to find a free port, shared with the benchmarks.
import { freePort } from '../../bench/measure.js';
import { REPO_ROOT, TXLAKE_BIN } from './txlake.js';

export { freePort };

/** Whether a process is alive (signal 0 reaches it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of a process's children (a server's workers, nginx's), from ps. */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is no such process
  }
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body's bytes as received (a gzip-encoded body is not text). */
  bytes: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** GET `rawPath` exactly as given (percent-escapes and all) from 127.0.0.1:port. */
export function httpGet(
  port: number,
  rawPath: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<HttpResponse> {
  return send(port, rawPath, headers, method, agent);
}

/**
 * GET on a connection of its own, closed after the answer: the primary of `serve --workers` hands each
 * connection to the next worker, so successive calls reach the workers in turn.
 */
export function httpGetOnNewConnection(
  port: number,
  rawPath: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return send(port, rawPath, { ...headers, connection: 'close' }, 'GET', false);
}

function send(
  port: number,
  rawPath: string,
  headers: Record<string, string>,
  method: string,
  via: http.Agent | false,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path: rawPath, method, headers, agent: via },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const bytes = Buffer.concat(chunks);
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: bytes.toString('utf8'),
            bytes,
          });
        });
        response.on('error', reject);
      },
    );
    request.setTimeout(15_000, () => request.destroy(new Error(`GET ${rawPath} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

export interface RunningServer {
  port: number;
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  get: (rawPath: string, headers?: Record<string, string>) => Promise<HttpResponse>;
  /** SIGTERM, wait for the exit (SIGKILL after 10 s); the exit code, or null if killed by a signal. */
  stop: () => Promise<number | null>;
}

export interface ServeOptions {
  /** The serving command: `serve` (default) or `start` (what `npm start` runs). */
  command?: 'serve' | 'start';
  extraArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Resolve once /readyz answers 200 (default), or once it answers at all (a lake that cannot be served). */
  until?: 'ready' | 'listening';
  /** Listen on this port (a server restarted where a load balancer expects it); default a free one. */
  port?: number;
}

/**
 * Start `txlake serve --lake lake` (or `start`) and resolve once GET /readyz answers 200. A null lake
 * passes no --lake (a server on the ClickHouse backend, configured by `extraArgs` or `env`).
 */
export async function startServer(lake: string | null, options: ServeOptions = {}): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const args = [
    options.command ?? 'serve',
    ...(lake === null ? [] : ['--lake', lake]),
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(TXLAKE_BIN, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
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
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.on('exit', (code) => resolve(code));
  });
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });

  const server: RunningServer = {
    port,
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    get: (rawPath, headers) => httpGet(port, rawPath, headers),
    stop: async () => {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `txlake ${args.join(' ')} exited with ${exitCode} before ready\nstdout: ${stdout}\nstderr: ${stderr}`,
      );
    }
    try {
      const response = await httpGet(port, '/readyz');
      if (response.status === 200 || options.until === 'listening') return server;
      last = `readyz ${response.status} ${response.body}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await server.stop();
  throw new Error(
    `txlake serve not ready within the deadline (${last})\nstdout: ${stdout}\nstderr: ${stderr}`,
  );
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  });
  await Promise.all(workers);
  return results;
}
