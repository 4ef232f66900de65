// The in-memory user index: a snapshot's rows as typed-array columns sorted by (user, v1 order), built
// once when the snapshot is loaded. A lookup is a binary search over the distinct user ids and hands out a
// window on the columns: no query, no per-row objects. 18 bytes per row plus 12 per user (amount as rounded
// dollars in a double, the floored second in a double, the merchant code in 16 bits); the row's type and
// microseconds only decide the order, which the sort at build time has already applied.

import type { DuckDBConnection } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { halfEvenDollars } from '../../domain/money.js';
import { splitEpochMicros } from '../../domain/time.js';
import type { TransactionColumns } from '../../domain/v1-json.js';
import { dollarsAsDouble } from '../../domain/v1-json.js';

/** Bytes the index takes per row and per distinct user (the estimate the memory budget is checked with). */
export const INDEX_BYTES_PER_ROW = 8 + 8 + 2;
export const INDEX_BYTES_PER_USER = 8 + 4;

/** The index's arrays, as a worker thread hands them over (the buffers are transferred, not copied). */
export interface UserIndexParts {
  users: BigInt64Array;
  starts: Uint32Array;
  dollars: Float64Array;
  largeDollars: ReadonlyMap<number, bigint> | null;
  epochSecond: Float64Array;
  merchantTypeCode: Uint16Array;
}

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

  static fromParts(parts: UserIndexParts): UserIndex {
    return new UserIndex(
      parts.users,
      parts.starts,
      parts.dollars,
      parts.largeDollars,
      parts.epochSecond,
      parts.merchantTypeCode,
    );
  }

  get parts(): UserIndexParts {
    return {
      users: this.users,
      starts: this.starts,
      dollars: this.dollars,
      largeDollars: this.largeDollars,
      epochSecond: this.epochSecond,
      merchantTypeCode: this.merchantTypeCode,
    };
  }

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
   * `rows` rows in all). DuckDB sorts by (user, epoch microseconds); the result is read chunk by chunk
   * straight from DuckDB's vectors into the columns (16-bit codes are copied whole; int64s are read as
   * 32-bit word pairs and turned into exact doubles, bigints only for the rare values beyond ±2^52), so
   * JavaScript never makes an object or a bigint per row. Rows of one user at the same microsecond —
   * rare — are put in v1 order (type, merchant code, amount) afterwards, which is cheaper than sorting
   * every row by five keys. Up to `MATERIALIZE_ROWS` rows DuckDB materializes the result in parallel
   * (faster than streaming it); larger results stream, so that they never sit in memory beside the index.
   * Large snapshots are built in a worker thread with an engine of its own (index-worker.ts), so that the
   * result's memory is returned when the thread ends, not whenever a garbage collection finds it.
   */
  static async build(connection: DuckDBConnection, filesSql: string, rows: number): Promise<UserIndex> {
    // Sorting by the computed epoch microseconds is faster than by the TIMESTAMP column (measured).
    const sql = `SELECT user_id, amount_cents, epoch_us(datetime) AS epoch_us,
              merchant_type_code::USMALLINT AS merchant_type_code,
              transaction_type = 'ReturnActivity' AS is_return
       FROM ${filesSql}
       ORDER BY user_id, epoch_us`;
    const result = rows <= MATERIALIZE_ROWS ? await connection.run(sql) : await connection.stream(sql);
    const dollars = new Float64Array(rows);
    const epochSecond = new Float64Array(rows);
    const merchantTypeCode = new Uint16Array(rows);
    // Only for ordering ties; dropped after the build.
    const isReturn = new Uint8Array(rows);
    const ties: number[] = []; // [start, end) pairs of same-user, same-microsecond runs
    const large = new Map<number, bigint>();
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
      merchantTypeCode.set(new Uint16Array(merchantBytes.buffer, merchantBytes.byteOffset, size), row);
      isReturn.set(column(4, 1).subarray(0, size), row);
      // int64s as 32-bit word pairs (little-endian, as DuckDB's vectors are): no bigint per row.
      const userWords = new Int32Array(userBytes.buffer, userBytes.byteOffset, size * 2);
      const amountWords = new Int32Array(amountBytes.buffer, amountBytes.byteOffset, size * 2);
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

        if (microsHigh > -SMALL_HIGH_WORD && microsHigh < SMALL_HIGH_WORD) {
          const micros = microsHigh * TWO_POW_32 + (microsLow >>> 0);
          let second = Math.floor(micros / 1e6);
          // The division of a double may round across a whole second; the products here are exact.
          if (second * 1e6 > micros) second--;
          else if ((second + 1) * 1e6 <= micros) second++;
          epochSecond[at] = second;
        } else {
          const micros = new BigInt64Array(
            microsBytes.buffer,
            microsBytes.byteOffset + 8 * i,
            1,
          )[0] as bigint;
          epochSecond[at] = splitEpochMicros(micros).epochSecond;
        }

        const amountHigh = amountWords[2 * i + 1] as number;
        if (amountHigh > -SMALL_HIGH_WORD && amountHigh < SMALL_HIGH_WORD) {
          dollars[at] = halfEvenDollars(amountHigh * TWO_POW_32 + ((amountWords[2 * i] as number) >>> 0));
        } else {
          const cents = new BigInt64Array(amountBytes.buffer, amountBytes.byteOffset + 8 * i, 1)[0] as bigint;
          const { value, exact } = dollarsAsDouble(cents);
          dollars[at] = value;
          if (exact !== null) large.set(at, exact);
        }
      }
      row += size;
    }
    if (tieStart >= 0) ties.push(tieStart, row);
    if (row !== rows) throw new Error(`the snapshot's files hold ${row} rows, its manifest says ${rows}`);
    starts[userCount] = row;
    const index = new UserIndex(
      users.slice(0, userCount),
      starts.slice(0, userCount + 1),
      dollars,
      large.size > 0 ? large : null,
      epochSecond,
      merchantTypeCode,
    );
    for (let t = 0; t < ties.length; t += 2)
      index.orderTie(ties[t] as number, ties[t + 1] as number, isReturn, large);
    return index;
  }

  /**
   * Put rows `[start, end)` — one user, one microsecond — in v1 order: purchases before returns, then
   * merchant code, then amount (the rounded dollars order as the cents do, and equal dollars of different
   * cents print the same).
   */
  private orderTie(start: number, end: number, isReturn: Uint8Array, large: Map<number, bigint>): void {
    const order = Array.from({ length: end - start }, (_, k) => start + k);
    const amountOf = (i: number) => large.get(i) ?? BigInt(this.dollars[i] as number);
    order.sort(
      (a, b) =>
        (isReturn[a] as number) - (isReturn[b] as number) ||
        (this.merchantTypeCode[a] as number) - (this.merchantTypeCode[b] as number) ||
        (amountOf(a) < amountOf(b) ? -1 : amountOf(a) > amountOf(b) ? 1 : 0),
    );
    const dollars = order.map((i) => this.dollars[i] as number);
    const seconds = order.map((i) => this.epochSecond[i] as number);
    const codes = order.map((i) => this.merchantTypeCode[i] as number);
    const exact = order.map((i) => large.get(i));
    order.forEach((_, k) => {
      this.dollars[start + k] = dollars[k] as number;
      this.epochSecond[start + k] = seconds[k] as number;
      this.merchantTypeCode[start + k] = codes[k] as number;
      const value = exact[k];
      if (value === undefined) large.delete(start + k);
      else large.set(start + k, value);
    });
  }
}

const TWO_POW_32 = 2 ** 32;
/** An int64 whose high word is within ±2^20 is within ±2^52: exact as a double (the fast path). */
const SMALL_HIGH_WORD = 2 ** 20;
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
