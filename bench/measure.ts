// Measuring a child process as a user would meet it: wall time from spawn to exit, and peak resident memory
// read from /proc while it runs (Linux; null elsewhere), without extra dependencies.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A port nobody listens on right now: bind :0 on loopback, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface MeasuredRun {
  seconds: number;
  /**
   * Sum over the process and the descendants seen while polling of each one's VmHWM (its peak RSS);
   * null when /proc is not available. A lower bound for a peak reached between two polls.
   */
  peakRssBytes: number | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last 64 KiB of standard error, for the message of a failed run. */
  stderrTail: string;
}

export interface MeasureOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Polling period of /proc, in milliseconds. */
  pollMs?: number;
}

const STDERR_TAIL_BYTES = 64 * 1024;

async function readPeakRssBytes(pid: number): Promise<number | null> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'latin1');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null; // gone, or not Linux
  }
}

async function readChildren(pid: number): Promise<number[]> {
  try {
    const text = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'latin1');
    return text
      .split(' ')
      .filter((word) => word.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Run `command args`, polling the peak RSS of its process tree until it exits. */
export function measureChild(
  command: string,
  args: readonly string[],
  options: MeasureOptions,
): Promise<MeasuredRun> {
  const pollMs = options.pollMs ?? 20;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });

    const peaks = new Map<number, number>();
    let procAvailable = existsSync('/proc/self/status');
    let exited = false;
    let ended: bigint | null = null;
    const poll = async () => {
      const rootPid = child.pid;
      if (exited || rootPid === undefined || !procAvailable) return;
      const pending = [rootPid];
      while (pending.length > 0) {
        const pid = pending.pop() as number;
        const peak = await readPeakRssBytes(pid);
        if (peak !== null) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peak));
        else if (pid === rootPid && peaks.size === 0 && !existsSync(`/proc/${pid}`)) procAvailable = false;
        pending.push(...(await readChildren(pid)));
      }
    };
    // Chained timeouts rather than an interval: a slow poll never overlaps the next one.
    const loop = async () => {
      await poll();
      if (!exited) timer = setTimeout(loop, pollMs);
    };
    let timer: NodeJS.Timeout = setTimeout(loop, 0);

    child.on('error', (error) => {
      exited = true;
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', () => {
      ended = process.hrtime.bigint();
      exited = true;
      clearTimeout(timer);
    });
    child.on('close', (exitCode, signal) => {
      const seconds = Number((ended ?? process.hrtime.bigint()) - started) / 1e9;
      const total = [...peaks.values()].reduce((sum, peak) => sum + peak, 0);
      resolve({
        seconds,
        peakRssBytes: peaks.size > 0 ? total : null,
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderrTail: stderr,
      });
    });
  });
}

/** The txlake package root (where package.json and bin/ are), from bench/ or from dist/bench/. */
export function packageRoot(): string {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (
      existsSync(path.join(directory, 'package.json')) &&
      existsSync(path.join(directory, 'bin', 'txlake'))
    ) {
      return directory;
    }
    const parent = path.dirname(directory);
    if (parent === directory) throw new Error('cannot find the txlake package root above bench/');
    directory = parent;
  }
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'n/a';
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/**
 * Run `work` in a fresh directory `<dir or the system temp dir>/<prefix>…`, removed afterwards unless
 * `keep`; shared by the benchmarks, which each generate their own data.
 */
export async function withWorkDirectory<T>(
  prefix: string,
  options: { dir?: string; keep?: boolean },
  work: (directory: string) => Promise<T>,
): Promise<T> {
  const parent = path.resolve(options.dir ?? os.tmpdir());
  await fs.mkdir(parent, { recursive: true });
  const directory = await fs.mkdtemp(path.join(parent, prefix));
  try {
    return await work(directory);
  } finally {
    if (!options.keep) await fs.rm(directory, { recursive: true, force: true });
  }
}

/** The resident memory now (VmRSS) of `pid` and all its descendants, summed; null without /proc. */
export async function treeRssBytes(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  let total = 0;
  let seen = false;
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop() as number;
    try {
      const status = await fs.readFile(`/proc/${next}/status`, 'latin1');
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (match) {
        total += Number(match[1]) * 1024;
        seen = true;
      }
    } catch {
      // gone meanwhile, or not Linux
    }
    pending.push(...(await readChildren(next)));
  }
  return seen ? total : null;
}
