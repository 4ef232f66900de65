// A worker thread that builds one snapshot's user index with a DuckDB engine of its own, then hands the
// arrays to the main thread (their buffers are transferred, not copied) and ends. Building off the main
// thread keeps the server answering at full speed while it loads a new snapshot, and the engine's memory
// (the sorted result is as large as the index again) is released when the thread ends.

import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { openEngine } from '../../lake/engine.js';
import { UserIndex, type UserIndexParts } from './user-index.js';

interface BuildRequest {
  filesSql: string;
  rows: number;
  /** DuckDB threads for the sort; default: one per core. */
  threads?: number;
}

type BuildReply = { ok: true; parts: UserIndexParts } | { ok: false; message: string };

/** The compiled worker script; from TypeScript sources (the test runner) it is the one under dist/. */
function workerScript(): URL {
  const here = new URL('./index-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../../dist/src/backends/embedded/index-worker.js', import.meta.url);
}

/** Build the index of `filesSql` (`rows` rows) in a worker thread; `signal` stops the thread. */
export function buildUserIndexInWorker(request: BuildRequest, signal?: AbortSignal): Promise<UserIndex> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const worker = new Worker(workerScript(), { workerData: request });
    let settled = false;
    signal?.addEventListener('abort', () => {
      if (settled) return;
      settled = true;
      void worker.terminate(); // its spill directory, named after this process, goes with the first build after it
      reject(signal.reason);
    });
    worker.once('message', (reply: BuildReply) => {
      settled = true;
      if (reply.ok) resolve(UserIndex.fromParts(reply.parts));
      else reject(new Error(`building the user index failed: ${reply.message}`));
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the index builder thread exited with code ${code} before answering`));
    });
  });
}

/**
 * DuckDB's memory for the sort: an eighth of the machine, 1–4 GiB. Beyond it the sort spills to a temporary
 * directory of its own, so that a 100M-row snapshot (whose sort would take ~7 GB) does not double the
 * server's peak memory on top of its indexes.
 */
function sortMemoryBytes(): number {
  return Math.min(4 * 1024 ** 3, Math.max(1024 ** 3, Math.floor(os.totalmem() / 8)));
}

const SPILL_PREFIX = 'txlake-index-';

/**
 * A server stopped while it was building an index (SIGTERM during a swap, a crash, a kill) leaves its
 * spill directory behind: the directories are named after their process, and those of processes that no
 * longer run are removed before the next build.
 */
async function removeSpillsOfDeadProcesses(): Promise<void> {
  const entries = await fs.readdir(os.tmpdir()).catch(() => [] as string[]);
  for (const entry of entries) {
    const match = new RegExp(`^${SPILL_PREFIX}([0-9]+)-`).exec(entry);
    if (match === null || isRunning(Number(match[1]))) continue;
    await fs.rm(path.join(os.tmpdir(), entry), { recursive: true, force: true }).catch(() => {});
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

async function buildAndReply(request: BuildRequest): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  await removeSpillsOfDeadProcesses();
  const spill = await fs.mkdtemp(path.join(os.tmpdir(), `${SPILL_PREFIX}${process.pid}-`));
  const engine = await openEngine({
    memoryLimitBytes: sortMemoryBytes(),
    tempDirectory: spill,
    ...(request.threads ? { threads: request.threads } : {}),
  }).catch(async (error) => {
    await fs.rm(spill, { recursive: true, force: true });
    throw error;
  });
  try {
    const index = await UserIndex.build(engine.connection, request.filesSql, request.rows);
    const reply: BuildReply = { ok: true, parts: index.parts };
    port.postMessage(reply, index.buffers);
  } catch (error) {
    port.postMessage({ ok: false, message: String((error as Error)?.message ?? error) } satisfies BuildReply);
  } finally {
    engine.close();
    await fs.rm(spill, { recursive: true, force: true });
  }
}

if (!isMainThread && parentPort !== null) void buildAndReply(workerData as BuildRequest);
