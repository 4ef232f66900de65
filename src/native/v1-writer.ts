// The v1 transactions body, written by the native writer (native/v1_writer.c, built by `npm install`)
// when it is there, else by the JavaScript one (domain/v1-json.ts); both write the same bytes, which the
// tests check. The native writer is about ten times faster at writing, which is most of the time a user
// lookup takes; rows whose dollars exceed 2^53 are left to the JavaScript writer, which holds them.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type TransactionColumns, v1TransactionsJson } from '../domain/v1-json.js';

interface NativeWriter {
  /** Bytes written at `at`, or -1 (less room than the worst case), or -2 (dollars beyond 2^53). */
  writeTransactions(
    out: Uint8Array,
    at: number,
    userId: string,
    start: number,
    end: number,
    dollars: Float64Array,
    epochSecond: Float64Array,
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
 * Answers are written into slices of a shared slab, not buffers of their own: one allocation per slab
 * instead of one (of ~11 KB, outside V8's heap) per answer, which measurably loaded the garbage collector.
 * A slab stays alive while any answer in it is still being sent.
 */
const SLAB_BYTES = 1024 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/** The body of `GET /api/v1/data/transactions/{userId}`. */
export function v1TransactionsBody(columns: TransactionColumns): Buffer {
  const native = loaded.native;
  if (native === null) return v1TransactionsJson(columns);
  const userId = String(columns.userId);
  const worstCase = 2 + (columns.end - columns.start) * (160 + userId.length);
  if (SLAB_BYTES - slabUsed < worstCase) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, worstCase));
    slabUsed = 0;
  }
  const written = native.writeTransactions(
    slab,
    slabUsed,
    userId,
    columns.start,
    columns.end,
    columns.dollars,
    columns.epochSecond,
    columns.merchantTypeCode,
  );
  if (written < 0) return v1TransactionsJson(columns); // -2: a row's dollars are beyond 2^53
  const body = slab.subarray(slabUsed, slabUsed + written);
  slabUsed += (written + 7) & ~7;
  return body;
}
