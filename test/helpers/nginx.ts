// Run Debian's real nginx with the shipped deploy/nginx/txlake.conf in front of servers on 127.0.0.1: its
// own prefix in a temporary directory (pid, logs, temp files), so it runs as root without touching /etc
// or /var, and only the addresses and log paths of the shipped file are changed.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { alive, childrenOf, freePort, type HttpResponse, httpGet } from './server.js';
import { REPO_ROOT } from './txlake.js';

export const NGINX_BIN = '/usr/sbin/nginx';
export const SHIPPED_CONFIG = path.join(REPO_ROOT, 'deploy', 'nginx', 'txlake.conf');

/** Fail loudly, never skip: the load-balancer suites are part of `npm test`. */
export function assertNginxInstalled(): void {
  if (!existsSync(NGINX_BIN)) {
    throw new Error(
      `${NGINX_BIN} is missing: the load-balancer tests run Debian's nginx; install it with \`apt-get install -y nginx\``,
    );
  }
}

export interface RenderOptions {
  /** The port nginx listens on, on 127.0.0.1. */
  listenPort: number;
  /** Ports of the servers on 127.0.0.1 that replace the upstream's `server` lines. */
  upstreams: readonly number[];
  /** Directory for the access and error logs the shipped file names. */
  logDir: string;
}

/**
 * The shipped config with its upstream `server` lines replaced by one per port (each keeping the first
 * shipped line's parameters: max_fails, fail_timeout…), its `listen` lines by one on 127.0.0.1, and its
 * log files moved into `logDir`. Everything else is the file as shipped; a shape this cannot rewrite
 * (no upstream block, an absolute path it does not know) is an error rather than a silent difference.
 */
export function renderConfig(shipped: string, options: RenderOptions): string {
  if (options.upstreams.length === 0) throw new Error('renderConfig: no upstream ports');
  const upstream = /^upstream\s+txlake\s*\{[^}]*\}/m.exec(shipped);
  if (!upstream) throw new Error(`${SHIPPED_CONFIG} has no \`upstream txlake { … }\` block`);
  const block = upstream[0];
  const serverLine = /^([ \t]*)server\s+\S+([^;\n]*);[ \t]*\n/gm;
  const first = serverLine.exec(block);
  if (!first) throw new Error(`the upstream block of ${SHIPPED_CONFIG} has no \`server\` line`);
  const [, indent, parameters] = first;
  const servers = options.upstreams
    .map((port) => `${indent}server 127.0.0.1:${port}${parameters};\n`)
    .join('');
  let rendered = 0;
  const newBlock = block.replace(serverLine, () => (rendered++ === 0 ? servers : ''));
  let text = shipped.replace(block, newBlock);

  let listens = 0;
  text = text.replace(/^([ \t]*)listen\s+[^;]+;[ \t]*\n/gm, (_line, lead: string) =>
    listens++ === 0 ? `${lead}listen 127.0.0.1:${options.listenPort};\n` : '',
  );
  if (listens === 0) throw new Error(`${SHIPPED_CONFIG} has no \`listen\` line`);
  text = text.replace(
    /^([ \t]*)(access_log|error_log)\s+(\/[^\s;]+)/gm,
    (_line, lead: string, directive: string, file: string) =>
      `${lead}${directive} ${path.join(options.logDir, path.basename(file))}`,
  );
  const stray = /^[^#\n]*\s(\/(?:var|etc|run|usr)\/\S*)/m.exec(text);
  if (stray) {
    throw new Error(`${SHIPPED_CONFIG} names ${stray[1]}, which the test cannot move into its own directory`);
  }
  return text;
}

export interface NginxOptions {
  /** Ports on 127.0.0.1 of the servers behind nginx. */
  upstreams: readonly number[];
  /** Worker processes: more than one checks that they share the upstream state (`zone`). */
  workers?: number;
  /** The config to render (default: the shipped one). */
  config?: string;
}

export interface RunningNginx {
  port: number;
  /** Its prefix directory: nginx.conf, txlake.conf (rendered), logs, temp files. */
  dir: string;
  /** The access log's lines so far, each parsed (the shipped `txlake` format is one JSON object a line). */
  accessLog: () => AccessLogLine[];
  errorLog: () => string;
  get: (rawPath: string, headers?: Record<string, string>) => Promise<HttpResponse>;
  /** Graceful stop (SIGQUIT), SIGKILL to the master and its workers after 10 s; resolves once all are gone. */
  stop: () => Promise<void>;
}

/** A line of the shipped `txlake` access-log format. */
export interface AccessLogLine {
  time: string;
  request_id: string;
  request: string;
  status: number;
  upstream_addr: string;
  upstream_status: string;
  [key: string]: unknown;
}

function mainConfig(dir: string, workers: number): string {
  const temp = (name: string) => path.join(dir, 'temp', name);
  return [
    '# Written by test/helpers/nginx.ts around the rendered deploy/nginx/txlake.conf.',
    // Workers of a root master run as `nobody` unless told otherwise, and could not write the temp
    // directories inside this 0700 directory.
    process.getuid?.() === 0 ? 'user root;' : '',
    `worker_processes ${workers};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `lock_file ${path.join(dir, 'nginx.lock')};`,
    `error_log ${path.join(dir, 'logs', 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `  client_body_temp_path ${temp('body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    `  access_log ${path.join(dir, 'logs', 'access.log')};`,
    `  include ${path.join(dir, 'txlake.conf')};`,
    '}',
    '',
  ].join('\n');
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/** Render the config into a fresh prefix directory, check it with `nginx -t`, run nginx until it listens. */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  assertNginxInstalled();
  const dir = mkdtempSync(path.join(tmpdir(), 'txlake-nginx-'));
  for (const sub of ['logs', 'temp']) mkdirSync(path.join(dir, sub));
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const errorLogFile = path.join(dir, 'logs', 'error.log');
  const accessLogFile = path.join(dir, 'logs', 'txlake.access.log');
  writeFileSync(
    path.join(dir, 'txlake.conf'),
    renderConfig(readFileSync(options.config ?? SHIPPED_CONFIG, 'utf8'), {
      listenPort: port,
      upstreams: options.upstreams,
      logDir: path.join(dir, 'logs'),
    }),
  );
  writeFileSync(conf, mainConfig(dir, options.workers ?? 2));
  // -e: nginx opens its compiled-in error log before it reads the config; keep even that in `dir`.
  const args = ['-p', dir, '-c', conf, '-e', errorLogFile];
  const check = spawnSync(NGINX_BIN, [...args, '-t'], { encoding: 'utf8', timeout: 10_000 });
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx -t refused the rendered config:\n${check.stderr}${check.stdout}`);
  }

  const child: ChildProcess = spawn(NGINX_BIN, [...args, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const errorLog = () => (existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : '');
  const workerPids = new Set<number>();

  const stop = async () => {
    const master = child.pid;
    if (master !== undefined) for (const pid of childrenOf(master)) workerPids.add(pid);
    if (!exited) child.kill('SIGQUIT');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      for (const pid of workerPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }, 10_000);
    await exit;
    // A worker outlives its master only if the master was killed; wait for any, bounded by the timer.
    while ([...workerPids].some(alive)) await new Promise((r) => setTimeout(r, 50));
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  while (!(await connects(port))) {
    if (exited || Date.now() > deadline) {
      const log = errorLog(); // read before stop() removes the directory
      await stop();
      throw new Error(`nginx did not start listening on 127.0.0.1:${port}\n${output}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (child.pid !== undefined) for (const pid of childrenOf(child.pid)) workerPids.add(pid);

  return {
    port,
    dir,
    accessLog: () =>
      existsSync(accessLogFile)
        ? readFileSync(accessLogFile, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => JSON.parse(line) as AccessLogLine)
        : [],
    errorLog,
    get: (rawPath, headers) => httpGet(port, rawPath, headers),
    stop,
  };
}
