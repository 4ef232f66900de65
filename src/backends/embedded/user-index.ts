// The in-memory user index: a snapshot's rows as typed-array columns sorted by (user, v1 order), built
// once when the snapshot is loaded. A lookup is a binary search over the distinct user ids and hands out a
// window on the columns: no query, no per-row objects. 18 bytes per row plus 12 per user (amount as rounded
// dollars in a double, the floored second in a double, the merchant code in 16 bits); the row's type and
// microseconds only decide the order, which the sort at build time has already applied.

import type { DuckDBConnection } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { halfEvenDollars } from '../../domain/money.js';
import type { TransactionColumns } from '../../domain/v1-json.js';
import { dollarsAsDouble } from '../../domain/v1-json.js';

/** Bytes the index takes per row and per distinct user (the estimate the memory budget is checked with). */
export const INDEX_BYTES_PER_ROW = 8 + 8 + 2;
export const INDEX_BYTES_PER_USER = 8 + 4;

const TWO_POW_32 = 2 ** 32;
/** An int64's high word within ±2^20 means the value is within ±2^52: exact as a double, fast path. */
const SMALL_HIGH_WORD = 2 ** 20;

export class UserIndex {
  private constructor(
    /** Distinct user ids, ascending. */
    private readonly users: BigInt64Array,
    /** Row offsets: user `i` owns rows `[starts[i], starts[i + 1])`. */
    private readonly starts: Uint32Array,
    private readonly dollars: Float64Array,
    private readonly largeDollars: ReadonlyMap<number, bigint> | null,
    private readonly epochSecond: Float64Array,
    private readonly merchantTypeCode: Uint16Array,
  ) {}

  get userCount(): number {
    return this.users.length;
  }

  get rowCount(): number {
    return this.dollars.length;
  }

  get bytes(): number {
    return (
      this.users.byteLength +
      this.starts.byteLength +
      this.dollars.byteLength +
      this.epochSecond.byteLength +
      this.merchantTypeCode.byteLength
    );
  }

  /** The rows of `userId` (an empty window when it has none). */
  lookup(userId: bigint): TransactionColumns {
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
      dollars: this.dollars,
      largeDollars: this.largeDollars,
      epochSecond: this.epochSecond,
      merchantTypeCode: this.merchantTypeCode,
    };
  }

  static empty(): UserIndex {
    return new UserIndex(
      new BigInt64Array(0),
      new Uint32Array(1),
      new Float64Array(0),
      null,
      new Float64Array(0),
      new Uint16Array(0),
    );
  }

  /**
   * Build the index from `filesSql` (a DuckDB `read_parquet(...)` expression over the snapshot's files,
   * `rows` rows in all). DuckDB sorts; the result streams chunk by chunk straight from DuckDB's vectors
   * into the columns, so JavaScript never holds a row as an object. Every chunk is fetched asynchronously,
   * so a server keeps answering between chunks while it loads its next snapshot.
   */
  static async build(connection: DuckDBConnection, filesSql: string, rows: number): Promise<UserIndex> {
    const result = await connection.stream(
      `SELECT user_id, amount_cents, epoch(date_trunc('second', datetime))::BIGINT AS epoch_second,
              merchant_type_code::USMALLINT AS merchant_type_code
       FROM ${filesSql}
       ORDER BY user_id, datetime, transaction_type, merchant_type_code, amount_cents`,
    );
    const dollars = new Float64Array(rows);
    const epochSecond = new Float64Array(rows);
    const merchantTypeCode = new Uint16Array(rows);
    const large = new Map<number, bigint>();
    let users = new BigInt64Array(Math.max(16, rows >>> 4));
    let starts = new Uint32Array(users.length + 1);
    let userCount = 0;
    let lastLow = 0;
    let lastHigh = 0;
    let row = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      const size = chunk.rowCount;
      if (row + size > rows) throw new Error(`the snapshot holds more rows than its manifest's ${rows}`);
      const raw = chunk.chunk;
      const userBytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, 0), size * 8);
      const amountBytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, 1), size * 8);
      const secondBytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, 2), size * 8);
      const merchantBytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, 3), size * 2);
      // int64 columns read as 32-bit word pairs: no bigint is made per row (little-endian, like DuckDB).
      const userWords = new Int32Array(userBytes.buffer, userBytes.byteOffset, size * 2);
      const amountWords = new Int32Array(amountBytes.buffer, amountBytes.byteOffset, size * 2);
      const secondWords = new Int32Array(secondBytes.buffer, secondBytes.byteOffset, size * 2);
      merchantTypeCode.set(new Uint16Array(merchantBytes.buffer, merchantBytes.byteOffset, size), row);
      const userIds = new BigInt64Array(userBytes.buffer, userBytes.byteOffset, size);
      const amounts = new BigInt64Array(amountBytes.buffer, amountBytes.byteOffset, size);
      for (let i = 0; i < size; i++) {
        const low = userWords[2 * i] as number;
        const high = userWords[2 * i + 1] as number;
        if (userCount === 0 || low !== lastLow || high !== lastHigh) {
          if (userCount === users.length) {
            const grownUsers = new BigInt64Array(users.length * 2);
            grownUsers.set(users);
            users = grownUsers;
            const grownStarts = new Uint32Array(users.length + 1);
            grownStarts.set(starts);
            starts = grownStarts;
          }
          users[userCount] = userIds[i] as bigint;
          starts[userCount] = row + i;
          userCount++;
          lastLow = low;
          lastHigh = high;
        }
        const amountHigh = amountWords[2 * i + 1] as number;
        if (amountHigh > -SMALL_HIGH_WORD && amountHigh < SMALL_HIGH_WORD) {
          const cents = amountHigh * TWO_POW_32 + ((amountWords[2 * i] as number) >>> 0);
          dollars[row + i] = halfEvenDollars(cents);
        } else {
          const { value, exact } = dollarsAsDouble(amounts[i] as bigint);
          dollars[row + i] = value;
          if (exact !== null) large.set(row + i, exact);
        }
        // Seconds of years 0001–9999 are within ±2^38: the high word is small, the value exact.
        epochSecond[row + i] =
          (secondWords[2 * i + 1] as number) * TWO_POW_32 + ((secondWords[2 * i] as number) >>> 0);
      }
      row += size;
    }
    if (row !== rows) throw new Error(`the snapshot's files hold ${row} rows, its manifest says ${rows}`);
    starts[userCount] = row;
    return new UserIndex(
      users.slice(0, userCount),
      starts.slice(0, userCount + 1),
      dollars,
      large.size > 0 ? large : null,
      epochSecond,
      merchantTypeCode,
    );
  }
}
