// Drive the built CLI as a user would: spawn `./bin/txlake` from the repository root, capture everything.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TXLAKE_BIN = './bin/txlake';

/** Fail early and clearly when the suite runs without `npm run build`. */
export function assertBuilt(): void {
  const main = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: run \`npm run build\` first (\`npm test\` does it)`);
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Run `./bin/txlake ...args` to completion. */
export function runTxlake(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(TXLAKE_BIN, args, options);
}

/** Run the benchmarks' program (`npm run bench -- ...args`, i.e. `node dist/bench/main.js ...args`). */
export function runBench(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, ['dist/bench/main.js', ...args], options);
}

/** Run any program (a shell that calls txlake, say) to completion, as `runTxlake` runs txlake. */
export function runProgram(
  program: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // the CLI may exit before reading all of stdin
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** Run `./bin/txlake ...args` and fail the test, showing the run, unless it exits with `expected`. */
export async function runExpecting(
  args: readonly string[],
  expected: number,
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await runTxlake(args, options);
  if (result.code !== expected) throw new Error(`expected exit ${expected}\n${describeRun(args, result)}`);
  return result;
}

/** The one error line of a refused command (notes may come before it). */
export function errorLine(result: RunResult): string {
  return result.stderr.trim().split('\n').at(-1) ?? '';
}

/** A readable account of a run, for assertion messages. */
export function describeRun(args: readonly string[], result: RunResult): string {
  return `txlake ${args.join(' ')} → exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(0, 2000)}`;
}

export interface IngestSummary {
  rows_read: number;
  rows_committed: number;
  rows_rejected: number;
  rejects_file: string | null;
  snapshot: number;
  already_committed?: boolean;
  [key: string]: unknown;
}

/** Parse the one JSON object `--json` must print on stdout, or throw with the whole run in the message. */
export function parseJsonOutput<T>(args: readonly string[], result: RunResult): T {
  const text = result.stdout.trim();
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as T;
  } catch (error) {
    throw new Error(`stdout is not exactly one JSON object (${String(error)})\n${describeRun(args, result)}`);
  }
}

/** `txlake ingest ...files --lake lake --json ...extra`, expecting `expectedCode`; returns the summary. */
export async function ingest(
  files: readonly string[],
  lake: string,
  extra: readonly string[] = [],
  options: RunOptions & { expectedCode?: number } = {},
): Promise<{ result: RunResult; summary: IngestSummary }> {
  const args = ['ingest', ...files, '--lake', lake, '--json', ...extra];
  const result = await runTxlake(args, options);
  const expected = options.expectedCode ?? 0;
  if (result.code !== expected) throw new Error(`expected exit ${expected}\n${describeRun(args, result)}`);
  return { result, summary: parseJsonOutput<IngestSummary>(args, result) };
}

export interface SnapshotInfo {
  id: number;
  created: string;
  rows: number;
  files: string[];
  [key: string]: unknown;
}

/** The current snapshot of `lake`, or null when `txlake snapshot` says there is none (non-zero exit). */
export async function currentSnapshot(lake: string): Promise<SnapshotInfo | null> {
  const args = ['snapshot', '--lake', lake, '--json'];
  const result = await runTxlake(args);
  if (result.code !== 0) return null;
  return parseJsonOutput<SnapshotInfo>(args, result);
}

/** Temporary directories of one test file, removed together. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = 'txlake-test-'): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
