// The in-memory user index: a snapshot's rows as typed-array columns sorted by (user, canonical order),
// built once when the snapshot is loaded. A lookup is a binary search over the distinct user ids and hands
// out a window on the columns: no query, no per-row objects. The columns are exact (cents and epoch
// microseconds as int64, the type in 8 bits, the merchant code in 16): 19 bytes per row plus 12 per user.
// What an API version shows of them (v1's rounded dollars and truncated seconds) is its writer's business.

import type { DuckDBConnection } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { TransactionBatch } from '../../domain/transaction-batch.js';

/** Bytes the index takes per row and per distinct user (the estimate the memory budget is checked with). */
export const INDEX_BYTES_PER_ROW = 8 + 8 + 2 + 1;
export const INDEX_BYTES_PER_USER = 8 + 4;

/** The index's arrays, as a worker thread hands them over (the buffers are transferred, not copied). */
export interface UserIndexParts {
  users: BigInt64Array;
  starts: Uint32Array;
  transactionType: Uint8Array;
  merchantTypeCode: Uint16Array;
  amountCents: BigInt64Array;
  epochMicros: BigInt64Array;
}

export class UserIndex {
  private constructor(
    /** Distinct user ids, ascending. */
    private readonly users: BigInt64Array,
    /** Row offsets: user `i` owns rows `[starts[i], starts[i + 1])`. */
    private readonly starts: Uint32Array,
    private readonly transactionType: Uint8Array,
    private readonly merchantTypeCode: Uint16Array,
    private readonly amountCents: BigInt64Array,
    private readonly epochMicros: BigInt64Array,
  ) {}

  static fromParts(parts: UserIndexParts): UserIndex {
    return new UserIndex(
      parts.users,
      parts.starts,
      parts.transactionType,
      parts.merchantTypeCode,
      parts.amountCents,
      parts.epochMicros,
    );
  }

  get parts(): UserIndexParts {
    return {
      users: this.users,
      starts: this.starts,
      transactionType: this.transactionType,
      merchantTypeCode: this.merchantTypeCode,
      amountCents: this.amountCents,
      epochMicros: this.epochMicros,
    };
  }

  /** The buffers a worker thread transfers to the main thread. */
  get buffers(): ArrayBuffer[] {
    const parts = this.parts;
    return [
      parts.users.buffer,
      parts.starts.buffer,
      parts.transactionType.buffer,
      parts.merchantTypeCode.buffer,
      parts.amountCents.buffer,
      parts.epochMicros.buffer,
    ] as ArrayBuffer[];
  }

  get userCount(): number {
    return this.users.length;
  }

  get rowCount(): number {
    return this.amountCents.length;
  }

  get bytes(): number {
    return this.buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  }

  /** The rows of `userId` (an empty window when it has none). */
  lookup(userId: bigint): TransactionBatch {
    const users = this.users;
    let low = 0;
    let high = users.length - 1;
    let start = 0;
    let end = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const candidate = users[middle] as bigint;
      if (candidate < userId) low = middle + 1;
      else if (candidate > userId) high = middle - 1;
      else {
        start = this.starts[middle] as number;
        end = this.starts[middle + 1] as number;
        break;
      }
    }
    return {
      userId,
      start,
      end,
      transactionType: this.transactionType,
      merchantTypeCode: this.merchantTypeCode,
      amountCents: this.amountCents,
      epochMicros: this.epochMicros,
    };
  }

  static empty(): UserIndex {
    return new UserIndex(
      new BigInt64Array(0),
      new Uint32Array(1),
      new Uint8Array(0),
      new Uint16Array(0),
      new BigInt64Array(0),
      new BigInt64Array(0),
    );
  }

  /**
   * Build the index from `filesSql` (a DuckDB `read_parquet(...)` expression over the snapshot's files,
   * `rows` rows in all). DuckDB sorts by (user, epoch microseconds); the result is read chunk by chunk
   * straight from DuckDB's vectors into the columns (whole vectors copied at once; user ids and
   * microseconds compared as 32-bit word pairs), so JavaScript never makes an object or a bigint per row.
   * Rows of one user at the same microsecond — rare — are put in canonical order (type, merchant code,
   * amount) afterwards, which is cheaper than sorting every row by five keys. Up to `MATERIALIZE_ROWS`
   * rows DuckDB materializes the result in parallel (faster than streaming it); larger results stream, so
   * that they never sit in memory beside the index. Large snapshots are built in a worker thread with an
   * engine of its own (index-worker.ts), so that the result's memory is returned when the thread ends.
   */
  static async build(connection: DuckDBConnection, filesSql: string, rows: number): Promise<UserIndex> {
    // Sorting by the computed epoch microseconds is faster than by the TIMESTAMP column (measured).
    const sql = `SELECT user_id, amount_cents, epoch_us(datetime) AS epoch_us,
              merchant_type_code::USMALLINT AS merchant_type_code,
              (transaction_type = 'ReturnActivity')::UTINYINT AS transaction_type
       FROM ${filesSql}
       ORDER BY user_id, epoch_us`;
    const result = rows <= MATERIALIZE_ROWS ? await connection.run(sql) : await connection.stream(sql);
    const amountCents = new BigInt64Array(rows);
    const epochMicros = new BigInt64Array(rows);
    const merchantTypeCode = new Uint16Array(rows);
    const transactionType = new Uint8Array(rows);
    const ties: number[] = []; // [start, end) pairs of same-user, same-microsecond runs
    let users = new BigInt64Array(Math.max(16, rows >>> 4));
    let starts = new Uint32Array(users.length + 1);
    let userCount = 0;
    let lastUserLow = 0;
    let lastUserHigh = 0;
    let lastMicrosLow = 0;
    let lastMicrosHigh = 0;
    let tieStart = -1;
    let row = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const size = chunk.rowCount;
      if (row + size > rows) throw new Error(`the snapshot holds more rows than its manifest's ${rows}`);
      const raw = chunk.chunk;
      const column = (index: number, bytesPerRow: number) =>
        duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, index), size * bytesPerRow);
      const userBytes = column(0, 8);
      const amountBytes = column(1, 8);
      const microsBytes = column(2, 8);
      const merchantBytes = column(3, 2);
      amountCents.set(new BigInt64Array(amountBytes.buffer, amountBytes.byteOffset, size), row);
      epochMicros.set(new BigInt64Array(microsBytes.buffer, microsBytes.byteOffset, size), row);
      merchantTypeCode.set(new Uint16Array(merchantBytes.buffer, merchantBytes.byteOffset, size), row);
      transactionType.set(column(4, 1).subarray(0, size), row);
      // int64s as 32-bit word pairs (little-endian, as DuckDB's vectors are): no bigint per row.
      const userWords = new Int32Array(userBytes.buffer, userBytes.byteOffset, size * 2);
      const microsWords = new Int32Array(microsBytes.buffer, microsBytes.byteOffset, size * 2);
      for (let i = 0; i < size; i++) {
        const at = row + i;
        const userLow = userWords[2 * i] as number;
        const userHigh = userWords[2 * i + 1] as number;
        const microsLow = microsWords[2 * i] as number;
        const microsHigh = microsWords[2 * i + 1] as number;
        const newUser = userCount === 0 || userLow !== lastUserLow || userHigh !== lastUserHigh;
        if (!newUser && microsLow === lastMicrosLow && microsHigh === lastMicrosHigh) {
          if (tieStart < 0) tieStart = at - 1;
        } else if (tieStart >= 0) {
          ties.push(tieStart, at);
          tieStart = -1;
        }
        if (newUser) {
          if (userCount === users.length) [users, starts] = grown(users, starts);
          users[userCount] = new BigInt64Array(
            userBytes.buffer,
            userBytes.byteOffset + 8 * i,
            1,
          )[0] as bigint;
          starts[userCount] = at;
          userCount++;
          lastUserLow = userLow;
          lastUserHigh = userHigh;
        }
        lastMicrosLow = microsLow;
        lastMicrosHigh = microsHigh;
      }
      row += size;
    }
    if (tieStart >= 0) ties.push(tieStart, row);
    if (row !== rows) throw new Error(`the snapshot's files hold ${row} rows, its manifest says ${rows}`);
    starts[userCount] = row;
    const index = new UserIndex(
      users.slice(0, userCount),
      starts.slice(0, userCount + 1),
      transactionType,
      merchantTypeCode,
      amountCents,
      epochMicros,
    );
    for (let t = 0; t < ties.length; t += 2) index.orderTie(ties[t] as number, ties[t + 1] as number);
    return index;
  }

  /**
   * Put rows `[start, end)` — one user, one microsecond — in canonical order: purchases before returns,
   * then merchant code, then amount.
   */
  private orderTie(start: number, end: number): void {
    const order = Array.from({ length: end - start }, (_, k) => start + k);
    const { transactionType, merchantTypeCode, amountCents } = this;
    order.sort(
      (a, b) =>
        (transactionType[a] as number) - (transactionType[b] as number) ||
        (merchantTypeCode[a] as number) - (merchantTypeCode[b] as number) ||
        ((amountCents[a] as bigint) < (amountCents[b] as bigint)
          ? -1
          : (amountCents[a] as bigint) > (amountCents[b] as bigint)
            ? 1
            : 0),
    );
    const types = order.map((i) => transactionType[i] as number);
    const codes = order.map((i) => merchantTypeCode[i] as number);
    const cents = order.map((i) => amountCents[i] as bigint);
    for (let k = 0; k < order.length; k++) {
      transactionType[start + k] = types[k] as number;
      merchantTypeCode[start + k] = codes[k] as number;
      amountCents[start + k] = cents[k] as bigint;
    }
  }
}

/** Results up to this many rows are materialized before the copy (faster; ~27 bytes a row meanwhile). */
const MATERIALIZE_ROWS = 20_000_000;

function grown(
  users: BigInt64Array,
  starts: Uint32Array,
): [BigInt64Array<ArrayBuffer>, Uint32Array<ArrayBuffer>] {
  const moreUsers = new BigInt64Array(users.length * 2);
  moreUsers.set(users);
  const moreStarts = new Uint32Array(moreUsers.length + 1);
  moreStarts.set(starts);
  return [moreUsers, moreStarts];
}
