// An independent reference of what txlake must do with a CSV file (SPEC §1) and answer on v1 (SPEC §4).
// It shares no code with src/: its own RFC 4180 parser, validation, calendar arithmetic and rounding,
// written to be obviously correct rather than fast. Tests compare the real service against it byte for byte.

export const REQUIRED = [
  'user_id',
  'transaction_type',
  'merchant_type_code',
  'amount_cents',
  'datetime',
] as const;
export type Required = (typeof REQUIRED)[number];

export const INT64_MAX = 9223372036854775807n;

/** A row the oracle accepts, with its instant in exact microseconds since 1970-01-01T00:00:00Z. */
export interface OracleRow {
  line: number;
  userId: bigint;
  type: 'PurchaseActivity' | 'ReturnActivity';
  code: number;
  cents: bigint;
  micros: bigint;
}

/** A row the oracle rejects: `column` is '' for a malformed row, `value` is the trimmed offending field. */
export interface OracleReject {
  line: number;
  column: Required | '';
  reason: string;
  value: string;
}

export interface OracleIngest {
  rows: OracleRow[];
  rejects: OracleReject[];
  rowsRead: number;
  /** Header names that are not required columns, trimmed, as written. */
  extraColumns: string[];
}

/** A file-level problem: the whole file is refused (exit code 2). */
export class OracleFileError extends Error {}

// ---------------------------------------------------------------------------------------------------
// CSV

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
  /** The record ended inside a quoted field (an unterminated quote). */
  unterminated: boolean;
}

/**
 * RFC 4180 records of `text` (already decoded, BOM not yet removed): `"` quotes a field, `""` is a quote
 * inside one, records end at LF or CRLF outside quotes, a record that is an empty line is skipped.
 */
export function parseCsv(input: string): CsvRecord[] {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let wasQuoted = false;
    let consumedAnything = false;
    let unterminated = false;
    let ended = false;
    while (i < text.length && !ended) {
      const ch = text[i] as string;
      if (quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i += 1;
          }
        } else {
          if (ch === '\n') line += 1;
          field += ch;
          i += 1;
        }
        continue;
      }
      if (ch === '"' && field === '' && !wasQuoted) {
        quoted = true;
        wasQuoted = true;
        consumedAnything = true;
        i += 1;
      } else if (ch === ',') {
        fields.push(field);
        field = '';
        wasQuoted = false;
        consumedAnything = true;
        i += 1;
      } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
        i += ch === '\n' ? 1 : 2;
        line += 1;
        ended = true;
      } else {
        field += ch;
        consumedAnything = true;
        i += 1;
      }
    }
    if (quoted) unterminated = true;
    if (!consumedAnything) continue; // an empty line is not a record
    fields.push(field);
    records.push({ line: startLine, fields, unterminated });
  }
  return records;
}

// ---------------------------------------------------------------------------------------------------
// Time: proleptic Gregorian calendar, day numbers relative to 1970-01-01 (Howard Hinnant's algorithms).

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
}

/** Days since 1970-01-01 of a civil date. */
export function daysFromCivil(year: number, month: number, day: number): bigint {
  const y = BigInt(month <= 2 ? year - 1 : year);
  const era = floorDiv(y, 400n);
  const yoe = y - era * 400n;
  const m = BigInt(month);
  const doy = (153n * (m > 2n ? m - 3n : m + 9n) + 2n) / 5n + BigInt(day) - 1n;
  const doe = yoe * 365n + yoe / 4n - yoe / 100n + doy;
  return era * 146097n + doe - 719468n;
}

/** The civil date of a day number. */
export function civilFromDays(days: bigint): { year: number; month: number; day: number } {
  const z = days + 719468n;
  const era = floorDiv(z, 146097n);
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const day = doy - (153n * mp + 2n) / 5n + 1n;
  const month = mp < 10n ? mp + 3n : mp - 9n;
  const year = yoe + era * 400n + (month <= 2n ? 1n : 0n);
  return { year: Number(year), month: Number(month), day: Number(day) };
}

const DATETIME_RE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$/;

/** Exact epoch microseconds of a SPEC datetime, or the rejection reason. */
export function parseDatetime(text: string): bigint | 'unparsable_datetime' | 'impossible_datetime' {
  const m = DATETIME_RE.exec(text);
  if (!m) return 'unparsable_datetime';
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return 'impossible_datetime';
  if (hour > 23 || minute > 59 || second > 59) return 'impossible_datetime';
  const fraction = BigInt((m[7] ?? '').padEnd(6, '0'));
  let offsetMinutes = 0n;
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1n : 1n;
    const digits = zone.slice(1).replace(':', '');
    const zh = BigInt(digits.slice(0, 2));
    const zm = BigInt(digits.slice(2) || '0');
    if (zm > 59n) return 'impossible_datetime';
    offsetMinutes = sign * (zh * 60n + zm);
  }
  const seconds =
    daysFromCivil(year, month, day) * 86400n +
    BigInt(hour * 3600 + minute * 60 + second) -
    offsetMinutes * 60n;
  return seconds * 1_000_000n + fraction;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

export function formatDay(days: bigint): string {
  const { year, month, day } = civilFromDays(days);
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}`;
}

/** `YYYY-MM-DDTHH:MM:SS+00:00`, truncated toward the past to the second. */
export function formatSecond(micros: bigint): string {
  const seconds = floorDiv(micros, 1_000_000n);
  const days = floorDiv(seconds, 86400n);
  const sod = Number(seconds - days * 86400n);
  const hh = Math.floor(sod / 3600);
  const mm = Math.floor((sod % 3600) / 60);
  const ss = sod % 60;
  return `${formatDay(days)}T${two(hh)}:${two(mm)}:${two(ss)}+00:00`;
}

export function utcDay(micros: bigint): bigint {
  return floorDiv(micros, 86_400_000_000n);
}

// ---------------------------------------------------------------------------------------------------
// Money

/** cents / 100 rounded half to even, by sign and magnitude. */
export function halfEven(cents: bigint): bigint {
  if (cents < 0n) return -halfEven(-cents);
  const whole = cents / 100n;
  const rest = cents % 100n;
  if (rest > 50n) return whole + 1n;
  if (rest < 50n) return whole;
  return whole % 2n === 0n ? whole : whole + 1n;
}

// ---------------------------------------------------------------------------------------------------
// Ingest

const INT_RE = /^[0-9]+$/;

function trimSpaces(value: string): string {
  return value.replace(/^ +/, '').replace(/ +$/, '');
}

function checkInteger(value: string, max: bigint): { ok: bigint } | { reason: string } {
  if (value === '') return { reason: 'empty' };
  // A negative integer is an integer below the allowed range, so txlake names it out_of_range.
  if (/^-[0-9]+$/.test(value)) return { reason: 'out_of_range' };
  if (!INT_RE.test(value)) return { reason: 'not_an_integer' };
  const n = BigInt(value);
  if (n > max) return { reason: 'out_of_range' };
  return { ok: n };
}

/** What txlake must make of a CSV text: accepted rows, rejects (in source order), rows read. */
export function oracleIngest(text: string, label = 'file'): OracleIngest {
  const records = parseCsv(text);
  const header = records[0];
  if (!header || header.unterminated) throw new OracleFileError(`${label} is empty or has no header`);
  const positions = new Map<string, number>();
  const extraColumns: string[] = [];
  header.fields.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    if (name !== '' && positions.has(name)) throw new OracleFileError(`column "${name}" is duplicated`);
    positions.set(name, index);
    if (!(REQUIRED as readonly string[]).includes(name)) extraColumns.push(raw.trim());
  });
  for (const column of REQUIRED) {
    if (!positions.has(column)) throw new OracleFileError(`column "${column}" is missing`);
  }
  const rows: OracleRow[] = [];
  const rejects: OracleReject[] = [];
  const dataRecords = records.slice(1);
  for (const record of dataRecords) {
    const reject = (column: Required | '', reason: string, value: string) =>
      rejects.push({ line: record.line, column, reason, value });
    if (record.unterminated) {
      reject('', 'malformed_csv', '');
      continue;
    }
    if (record.fields.length !== header.fields.length) {
      reject('', 'wrong_field_count', '');
      continue;
    }
    const get = (column: Required) => trimSpaces(record.fields[positions.get(column) as number] as string);
    const userId = checkInteger(get('user_id'), INT64_MAX);
    if ('reason' in userId) {
      reject('user_id', userId.reason, get('user_id'));
      continue;
    }
    const type = get('transaction_type');
    if (type === '') {
      reject('transaction_type', 'empty', type);
      continue;
    }
    if (type !== 'PurchaseActivity' && type !== 'ReturnActivity') {
      reject('transaction_type', 'unknown_transaction_type', type);
      continue;
    }
    const code = checkInteger(get('merchant_type_code'), 9999n);
    if ('reason' in code) {
      reject('merchant_type_code', code.reason, get('merchant_type_code'));
      continue;
    }
    const cents = checkInteger(get('amount_cents'), INT64_MAX);
    if ('reason' in cents) {
      reject('amount_cents', cents.reason, get('amount_cents'));
      continue;
    }
    const datetime = get('datetime');
    if (datetime === '') {
      reject('datetime', 'empty', datetime);
      continue;
    }
    const micros = parseDatetime(datetime);
    if (typeof micros === 'string') {
      reject('datetime', micros, datetime);
      continue;
    }
    rows.push({ line: record.line, userId: userId.ok, type, code: Number(code.ok), cents: cents.ok, micros });
  }
  return { rows, rejects, rowsRead: dataRecords.length, extraColumns };
}

// ---------------------------------------------------------------------------------------------------
// v1 answers, as the exact compact JSON text the server must send.

function compareV1(a: OracleRow, b: OracleRow): number {
  if (a.micros !== b.micros) return a.micros < b.micros ? -1 : 1;
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  if (a.code !== b.code) return a.code - b.code;
  if (a.cents !== b.cents) return a.cents < b.cents ? -1 : 1;
  return 0;
}

export class V1Oracle {
  private readonly byUser = new Map<bigint, OracleRow[]>();
  private readonly byCode = new Map<number, OracleRow[]>();

  constructor(rows: readonly OracleRow[]) {
    for (const row of rows) {
      const forUser = this.byUser.get(row.userId) ?? [];
      forUser.push(row);
      this.byUser.set(row.userId, forUser);
      const forCode = this.byCode.get(row.code) ?? [];
      forCode.push(row);
      this.byCode.set(row.code, forCode);
    }
  }

  userIds(): bigint[] {
    return [...this.byUser.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  codes(): number[] {
    return [...this.byCode.keys()].sort((a, b) => a - b);
  }

  /** The body of `GET /api/v1/data/transactions/{userId}`. */
  transactionsBody(userId: bigint): string {
    const rows = [...(this.byUser.get(userId) ?? [])].sort(compareV1);
    const items = rows.map(
      (r) =>
        `{"user_id":${r.userId},"amount_in_dollars":${halfEven(r.cents)},` +
        `"datetime":"${formatSecond(r.micros)}","merchant_type_code":${r.code}}`,
    );
    return `[${items.join(',')}]`;
  }

  /** The body of `GET /api/v1/data/netAmount/{merchantTypeCode}`. */
  netAmountBody(code: number | bigint): string {
    const net = new Map<bigint, bigint>();
    const key = typeof code === 'bigint' ? (code <= 9999n ? Number(code) : -1) : code;
    for (const r of this.byCode.get(key) ?? []) {
      const day = utcDay(r.micros);
      const signed = r.type === 'PurchaseActivity' ? r.cents : -r.cents;
      net.set(day, (net.get(day) ?? 0n) + signed);
    }
    const days = [...net.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const items = days.map(
      (day) =>
        `{"merchant_type_code":${code},"net_amount_in_dollars":${halfEven(net.get(day) as bigint)},` +
        `"date":"${formatDay(day)}"}`,
    );
    return `[${items.join(',')}]`;
  }
}

// ---------------------------------------------------------------------------------------------------
// v2 answers (SPEC §4 "v2"): exact values, filters, daily sums with counts.

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exact to the microsecond. */
export function formatMicros(micros: bigint): string {
  const second = formatSecond(micros).slice(0, 19);
  const fraction = micros - floorDiv(micros, 1_000_000n) * 1_000_000n;
  return `${second}.${String(fraction).padStart(6, '0')}Z`;
}

export interface V2Filter {
  /** Epoch microseconds, inclusive / exclusive. */
  from?: bigint;
  to?: bigint;
  type?: 'PurchaseActivity' | 'ReturnActivity';
  code?: number;
}

export class V2Oracle {
  constructor(private readonly rows: readonly OracleRow[]) {}

  userIds(): bigint[] {
    return [...new Set(this.rows.map((r) => r.userId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  codes(): number[] {
    return [...new Set(this.rows.map((r) => r.code))].sort((a, b) => a - b);
  }

  /** Every transaction object of the user matching `filter`, in order, as compact JSON texts. */
  transactions(userId: bigint, filter: V2Filter = {}): string[] {
    return this.rows
      .filter(
        (r) =>
          r.userId === userId &&
          (filter.from === undefined || r.micros >= filter.from) &&
          (filter.to === undefined || r.micros < filter.to) &&
          (filter.type === undefined || r.type === filter.type) &&
          (filter.code === undefined || r.code === filter.code),
      )
      .sort(compareV1)
      .map(
        (r) =>
          `{"user_id":${r.userId},"datetime":"${formatMicros(r.micros)}","transaction_type":"${r.type}",` +
          `"merchant_type_code":${r.code},"amount_cents":${r.cents}}`,
      );
  }

  /** The same rows as CSV lines (no header). */
  transactionsCsv(userId: bigint): string[] {
    return this.transactions(userId).map((json) => {
      const o =
        /"user_id":(\d+),"datetime":"([^"]+)","transaction_type":"(\w+)","merchant_type_code":(\d+),"amount_cents":(-?\d+)/.exec(
          json,
        );
      if (!o) throw new Error(`unexpected ${json}`);
      return `${o[1]},${o[2]},${o[3]},${o[4]},${o[5]}`;
    });
  }

  /** The `data` entries of daily-net for `code`, days in [fromDay, toDay) as day numbers. */
  dailyNet(code: number, fromDay?: bigint, toDay?: bigint): string[] {
    const days = new Map<bigint, { p: bigint; r: bigint; np: number; nr: number }>();
    for (const row of this.rows) {
      if (row.code !== code) continue;
      const day = utcDay(row.micros);
      if ((fromDay !== undefined && day < fromDay) || (toDay !== undefined && day >= toDay)) continue;
      const sums = days.get(day) ?? { p: 0n, r: 0n, np: 0, nr: 0 };
      if (row.type === 'PurchaseActivity') {
        sums.p += row.cents;
        sums.np++;
      } else {
        sums.r += row.cents;
        sums.nr++;
      }
      days.set(day, sums);
    }
    return [...days.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(
        ([day, s]) =>
          `{"date":"${formatDay(day)}","merchant_type_code":${code},"purchases_cents":${s.p},"returns_cents":${s.r},` +
          `"net_cents":${s.p - s.r},"purchases":${s.np},"returns":${s.nr}}`,
      );
  }
}
