// A real ClickHouse cluster on 127.0.0.1, for the ClickHouse benchmark and the tests (test/helpers re-exports it): Debian's clickhouse-server (18.16), one process per
// shard, each with its own config, data directory and ports, and a `remote_servers` cluster naming them all.
// Nodes can be stopped, started again (same ports, same data), paused (SIGSTOP: a hung node) and resumed.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './measure.js';

const SERVER_BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'];
export const INSTALL_HINT = 'apt-get update && apt-get install -y clickhouse-server clickhouse-client';

function serverBinary(): string {
  const found = SERVER_BINARIES.find((binary) => existsSync(binary));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v clickhouse-server'], { encoding: 'utf8' });
  const onPath = which.stdout.trim();
  if (which.status === 0 && onPath) return onPath;
  throw new Error(`clickhouse-server is not installed; the ClickHouse suites need it: ${INSTALL_HINT}`);
}

interface NodePorts {
  http: number;
  tcp: number;
  interserver: number;
}

export interface ClickHouseNode {
  url: string;
  ports: NodePorts;
  directory: string;
  process: ChildProcess | null;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;

function configXml(
  node: ClickHouseNode,
  cluster: string,
  all: readonly ClickHouseNode[],
  users: string,
): string {
  const dir = node.directory;
  const shards = all
    .map((n) => `<shard><replica><host>127.0.0.1</host><port>${n.ports.tcp}</port></replica></shard>`)
    .join('');
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/server.err.log</errorlog></logger>
  <http_port>${node.ports.http}</http_port>
  <tcp_port>${node.ports.tcp}</tcp_port>
  <interserver_http_port>${node.ports.interserver}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${users}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <keep_alive_timeout>10</keep_alive_timeout>
  <remote_servers><${cluster}>${shards}</${cluster}></remote_servers>
</yandex>
`;
}

/** GET /ping until it answers "Ok." (bounded), or reject. */
async function waitForPing(url: string, timeoutMs: number, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const why = exited();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const request = http.get(`${url}/ping`, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.setTimeout(1000, () => request.destroy());
      request.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`ClickHouse at ${url} did not answer /ping within ${timeoutMs} ms`);
}

export class ClickHouseCluster {
  private constructor(
    readonly root: string,
    readonly cluster: string,
    readonly nodes: ClickHouseNode[],
    private readonly binary: string,
  ) {}

  /** Start `shards` nodes, one shard each, and wait until every one answers. */
  static async start(options: { shards?: number; cluster?: string } = {}): Promise<ClickHouseCluster> {
    const binary = serverBinary();
    const root = mkdtempSync(path.join(tmpdir(), 'txlake-clickhouse-'));
    const cluster = options.cluster ?? 'txlake_test';
    const nodes: ClickHouseNode[] = [];
    for (let i = 0; i < (options.shards ?? 2); i++) {
      const ports = { http: await freePort(), tcp: await freePort(), interserver: await freePort() };
      const directory = path.join(root, `node-${i + 1}`);
      mkdirSync(directory, { recursive: true });
      nodes.push({ url: `http://127.0.0.1:${ports.http}`, ports, directory, process: null });
    }
    const users = path.join(root, 'users.xml');
    writeFileSync(users, USERS_XML);
    for (const node of nodes)
      writeFileSync(path.join(node.directory, 'config.xml'), configXml(node, cluster, nodes, users));
    const started = new ClickHouseCluster(root, cluster, nodes, binary);
    try {
      await Promise.all(nodes.map((_, i) => started.startNode(i)));
    } catch (error) {
      await started.stop();
      throw error;
    }
    return started;
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** The environment a txlake writer (every node) needs. */
  get env(): NodeJS.ProcessEnv {
    return { TXLAKE_CLICKHOUSE_URL: this.urls.join(','), TXLAKE_CLICKHOUSE_CLUSTER: this.cluster };
  }

  async startNode(index: number): Promise<void> {
    const node = this.nodes[index] as ClickHouseNode;
    if (node.process) return;
    const child = spawn(this.binary, [`--config-file=${path.join(node.directory, 'config.xml')}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let exit: string | null = null;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      exit = `clickhouse-server for ${node.url} exited (${code ?? signal}) while starting: ${stderr.trim()}`;
      if (node.process === child) node.process = null;
    });
    node.process = child;
    await waitForPing(node.url, 30_000, () => exit);
  }

  /** Stop a node (SIGTERM, SIGKILL after 10 s) and wait for it to exit. */
  async stopNode(index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const node = this.nodes[index] as ClickHouseNode;
    const child = node.process;
    if (!child) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      node.process = null;
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT'); // a paused node cannot act on SIGTERM
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    node.process = null;
  }

  /** SIGSTOP: the node keeps its sockets but answers nothing (a hung server). */
  pauseNode(index: number): void {
    this.nodes[index]?.process?.kill('SIGSTOP');
  }

  resumeNode(index: number): void {
    this.nodes[index]?.process?.kill('SIGCONT');
  }

  /** Run one statement on a node over HTTP (for a test's own checks), returning the body. */
  async query(index: number, sql: string): Promise<string> {
    const node = this.nodes[index] as ClickHouseNode;
    return new Promise((resolve, reject) => {
      const request = http.request(`${node.url}/`, { method: 'POST' }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode === 200) resolve(body);
          else reject(new Error(`ClickHouse ${node.url}: ${body.split('\n')[0]}`));
        });
      });
      request.setTimeout(10_000, () => request.destroy(new Error(`ClickHouse ${node.url} timed out`)));
      request.on('error', reject);
      request.end(sql);
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.stopNode(i)));
    rmSync(this.root, { recursive: true, force: true });
  }
}
