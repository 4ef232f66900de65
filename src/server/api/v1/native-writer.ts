// The v1 transactions body, written by the native writer (native/v1_writer.c, built by `npm install`)
// when it is there, else by the JavaScript one (json.ts); both write the same bytes, which the tests
// check. The native writer is about ten times faster at writing, which is most of the time a user lookup
// takes.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransactionBatch } from '../../../domain/transaction-batch.js';
import { v1TransactionsJson } from './json.js';

interface NativeWriter {
  /** Bytes written at `at`, or -1 (less room than the worst case). */
  writeTransactions(
    out: Uint8Array,
    at: number,
    userId: string,
    start: number,
    end: number,
    amountCents: BigInt64Array,
    epochMicros: BigInt64Array,
    merchantTypeCode: Uint16Array,
  ): number;
}

/** Which writer answers, and why not the native one when it does not. */
export interface WriterStatus {
  writer: 'native' | 'javascript';
  reason?: string;
}

/** The package root: the nearest directory above this module holding binding.gyp. */
function packageRoot(): string | null {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(directory, 'binding.gyp'))) return directory;
    const parent = path.dirname(directory);
    if (parent === directory) return null;
    directory = parent;
  }
}

function loadNative(): { native: NativeWriter | null; status: WriterStatus } {
  if (process.env.TXLAKE_NATIVE === '0') {
    return { native: null, status: { writer: 'javascript', reason: 'TXLAKE_NATIVE=0' } };
  }
  const root = packageRoot();
  const file = root ? path.join(root, 'build', 'Release', 'txlake_native.node') : null;
  if (file === null || !existsSync(file)) {
    return {
      native: null,
      status: { writer: 'javascript', reason: 'the native writer is not built (run `npm run build:native`)' },
    };
  }
  try {
    const native = createRequire(import.meta.url)(file) as NativeWriter;
    return { native, status: { writer: 'native' } };
  } catch (error) {
    return {
      native: null,
      status: {
        writer: 'javascript',
        reason: `the native writer failed to load: ${(error as Error).message}`,
      },
    };
  }
}

const loaded = loadNative();

export function writerStatus(): WriterStatus {
  return loaded.status;
}

/**
 * Answers are written into slices of shared 1 MB slabs, not buffers of their own, and a slab is written
 * again once every answer in it has been sent: in steady state nothing is allocated per answer. (A new
 * ~11 KB buffer per answer, outside V8's heap, made V8 collect its old space about three times a second,
 * 4–10 ms each, which showed in p99.) The caller hands each body back with `releaseBody` once its response
 * has finished; a body never released only keeps its slab from being reused.
 */
interface Slab {
  buffer: Buffer;
  used: number;
  /** Bodies handed out and not yet released. */
  pending: number;
}

const SLAB_BYTES = 1024 * 1024;
/** Full slabs waiting for their last bodies to be sent; beyond this many the oldest is left to the GC. */
const MAX_WAITING_SLABS = 64;
const newSlab = (bytes: number): Slab => ({ buffer: Buffer.allocUnsafeSlow(bytes), used: 0, pending: 0 });
let slab = newSlab(SLAB_BYTES);
const waiting: Slab[] = [];
const slabOfBody = new WeakMap<Buffer, Slab>();

/** A slab with room for `bytes`: the current one, a waiting one whose bodies are all sent, or a new one. */
function slabWithRoom(bytes: number): Slab {
  if (slab.buffer.length - slab.used >= bytes) return slab;
  if (slab.buffer.length === SLAB_BYTES) waiting.push(slab);
  const free = waiting.findIndex((candidate) => candidate.pending === 0);
  if (free >= 0 && bytes <= SLAB_BYTES) {
    slab = waiting.splice(free, 1)[0] as Slab;
    slab.used = 0;
  } else {
    slab = newSlab(Math.max(SLAB_BYTES, bytes));
  }
  if (waiting.length > MAX_WAITING_SLABS) waiting.shift();
  return slab;
}

/** The response carrying `body` has finished (or was aborted): its bytes may be overwritten. */
export function releaseBody(body: Buffer): void {
  const owner = slabOfBody.get(body);
  if (owner === undefined) return;
  slabOfBody.delete(body);
  owner.pending--;
}

/**
 * The body of `GET /api/v1/data/transactions/{userId}`. Hand it to `releaseBody` when its response has
 * finished; until then its bytes are not reused.
 */
export function v1TransactionsBody(batch: TransactionBatch): Buffer {
  const native = loaded.native;
  if (native === null) return v1TransactionsJson(batch);
  const userId = String(batch.userId);
  const target = slabWithRoom(2 + (batch.end - batch.start) * (160 + userId.length));
  const written = native.writeTransactions(
    target.buffer,
    target.used,
    userId,
    batch.start,
    batch.end,
    batch.amountCents,
    batch.epochMicros,
    batch.merchantTypeCode,
  );
  if (written < 0) throw new Error('the native v1 writer was given less room than its worst case');
  const body = target.buffer.subarray(target.used, target.used + written);
  target.used += (written + 7) & ~7;
  target.pending++;
  slabOfBody.set(body, target);
  return body;
}
