// Mutations of a real CSV export, as fast-check arbitraries: each mutation damages the bytes the way exports,
// editors and transfers do (bits flipped, lines cut, quotes left open, columns moved, another encoding...).
// A case is one to three mutations applied in order to the repository's sample.

import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

export type Mutation =
  | { kind: 'flip-bytes'; positions: number[] }
  | { kind: 'cut-at-byte'; at: number }
  | { kind: 'drop-lines'; from: number; count: number }
  | { kind: 'duplicate-lines'; from: number; count: number }
  | { kind: 'open-quote'; line: number; field: number; where: 'start' | 'middle' | 'end' }
  | { kind: 'quote-fields'; every: number }
  | { kind: 'swap-columns'; a: number; b: number; scope: 'header' | 'rows' | 'all' | 'some' }
  | { kind: 'drop-column'; column: number; scope: 'header' | 'rows' | 'all' | 'some' }
  | { kind: 'add-column'; name: string; value: string; scope: 'header' | 'rows' | 'all' | 'some' }
  | {
      kind: 'alter-header';
      how: 'case' | 'spaces' | 'quoted' | 'rename' | 'duplicate' | 'remove' | 'blank-before' | 'empty-name';
    }
  | { kind: 'set-field'; line: number; field: number; value: string }
  | { kind: 'line-ends'; to: 'LF' | 'CR' | 'CRLF' | 'mixed' | 'LFCR'; seed: number }
  | { kind: 'bom'; bom: 'utf8' | 'utf8-twice' | 'utf16le' | 'utf8-mid' }
  | { kind: 'nul'; positions: number[] }
  | { kind: 'long-field'; line: number; field: number; bytes: number }
  | { kind: 'many-columns'; count: number }
  | {
      kind: 'replace-all';
      with: 'empty' | 'header-only' | 'header-blank-lines' | 'blank-lines' | 'nul-only' | 'header-no-eol';
    };

/** The last step: how the bytes are written (an encoding, or gzip, perhaps cut short). */
export type Encoding = 'utf8' | 'latin1' | 'utf16le' | 'utf16be' | 'utf16le-bom' | 'gzip' | 'gzip-cut';

export interface CsvCase {
  mutations: Mutation[];
  encoding: Encoding;
  /** Rejected rows allowed before the ingest is refused: the CLI's default (0.01), or all. */
  maxRejectRate: 'default' | '1';
  /** The file named on the command line, or piped to `ingest -`. */
  via: 'file' | 'stdin';
}

const HOSTILE_VALUES = [
  '',
  ' ',
  '-1',
  '+1',
  '1e3',
  '0x10',
  '1.5',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775809',
  '99999999999999999999999999',
  '10000',
  '٣١٣٧٣',
  '３１３７３',
  'PurchaseActivity ',
  ' ReturnActivity',
  'purchaseactivity',
  'Return',
  '2023-02-29T00:00:00',
  '2023-02-30T00:00:00',
  '2023-13-01T00:00:00',
  '2023-03-25T24:00:00',
  '2023-03-25T11:31:26.1234567',
  '2023-03-25T11:31:26Z',
  '2023-03-25T11:31:26+02:00',
  '2023-03-25',
  '0000-01-01T00:00:00',
  '9999-12-31T23:59:59.999999',
  '"quoted"',
  '"a""b"',
  '"a\nb"',
  'é',
  '\u202e',
  '=cmd|"/c calc"!A1',
  'NULL',
  '\\N',
];

const NAMES = ['extra', 'USER_ID', 'note', '', 'user_id', 'é', '"quoted,name"'];

const scope = fc.constantFrom('header', 'rows', 'all', 'some') as fc.Arbitrary<
  'header' | 'rows' | 'all' | 'some'
>;
const small = fc.nat(600);

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip-bytes' as const),
    positions: fc.array(fc.nat(40_000), { minLength: 1, maxLength: 20 }),
  }),
  fc.record({ kind: fc.constant('cut-at-byte' as const), at: fc.nat(40_000) }),
  fc.record({
    kind: fc.constant('drop-lines' as const),
    from: small,
    count: fc.integer({ min: 1, max: 50 }),
  }),
  fc.record({
    kind: fc.constant('duplicate-lines' as const),
    from: small,
    count: fc.integer({ min: 1, max: 20 }),
  }),
  fc.record({
    kind: fc.constant('open-quote' as const),
    line: small,
    field: fc.nat(6),
    where: fc.constantFrom('start', 'middle', 'end') as fc.Arbitrary<'start' | 'middle' | 'end'>,
  }),
  fc.record({ kind: fc.constant('quote-fields' as const), every: fc.integer({ min: 1, max: 7 }) }),
  fc.record({ kind: fc.constant('swap-columns' as const), a: fc.nat(5), b: fc.nat(5), scope }),
  fc.record({ kind: fc.constant('drop-column' as const), column: fc.nat(5), scope }),
  fc.record({
    kind: fc.constant('add-column' as const),
    name: fc.constantFrom(...NAMES),
    value: fc.constantFrom(...HOSTILE_VALUES),
    scope,
  }),
  fc.record({
    kind: fc.constant('alter-header' as const),
    how: fc.constantFrom(
      'case',
      'spaces',
      'quoted',
      'rename',
      'duplicate',
      'remove',
      'blank-before',
      'empty-name',
    ) as fc.Arbitrary<
      'case' | 'spaces' | 'quoted' | 'rename' | 'duplicate' | 'remove' | 'blank-before' | 'empty-name'
    >,
  }),
  fc.record({
    kind: fc.constant('set-field' as const),
    line: small,
    field: fc.nat(5),
    value: fc.oneof(fc.constantFrom(...HOSTILE_VALUES), fc.string({ unit: 'grapheme', maxLength: 12 })),
  }),
  fc.record({
    kind: fc.constant('line-ends' as const),
    to: fc.constantFrom('LF', 'CR', 'CRLF', 'mixed', 'LFCR') as fc.Arbitrary<
      'LF' | 'CR' | 'CRLF' | 'mixed' | 'LFCR'
    >,
    seed: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('bom' as const),
    bom: fc.constantFrom('utf8', 'utf8-twice', 'utf16le', 'utf8-mid') as fc.Arbitrary<
      'utf8' | 'utf8-twice' | 'utf16le' | 'utf8-mid'
    >,
  }),
  fc.record({
    kind: fc.constant('nul' as const),
    positions: fc.array(fc.nat(40_000), { minLength: 1, maxLength: 5 }),
  }),
  fc.record({
    kind: fc.constant('long-field' as const),
    line: small,
    field: fc.nat(5),
    bytes: fc.constantFrom(70_000, 1_048_600, 3_000_000),
  }),
  fc.record({ kind: fc.constant('many-columns' as const), count: fc.constantFrom(100, 3_000) }),
  fc.record({
    kind: fc.constant('replace-all' as const),
    with: fc.constantFrom(
      'empty',
      'header-only',
      'header-blank-lines',
      'blank-lines',
      'nul-only',
      'header-no-eol',
    ) as fc.Arbitrary<
      'empty' | 'header-only' | 'header-blank-lines' | 'blank-lines' | 'nul-only' | 'header-no-eol'
    >,
  }),
);

export const caseArbitrary: fc.Arbitrary<CsvCase> = fc.record({
  mutations: fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }),
  encoding: fc.oneof(
    { weight: 10, arbitrary: fc.constant<Encoding>('utf8') },
    fc.constantFrom<Encoding>('latin1', 'utf16le', 'utf16be', 'utf16le-bom', 'gzip', 'gzip-cut'),
  ),
  maxRejectRate: fc.constantFrom('default', '1'),
  via: fc.oneof({ weight: 4, arbitrary: fc.constant<'file'>('file') }, fc.constant<'stdin'>('stdin')),
});

// ---------------------------------------------------------------------------------------------------
// Applying mutations. Text mutations work on latin-1 strings (one char per byte), so that bytes that are not
// UTF-8 survive every step; the sample is ASCII, so its text is unchanged by this view.

const bytesOf = (text: string) => Buffer.from(text, 'latin1');
const textOf = (bytes: Buffer) => bytes.toString('latin1');
/** Text the mutation adds, as UTF-8 bytes in the latin-1 view. */
const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

interface Lines {
  lines: string[];
  eol: string;
  /** The text ended with a line end. */
  final: boolean;
}

function splitLines(text: string): Lines {
  const eol = text.includes('\r\n') ? '\r\n' : text.includes('\n') ? '\n' : text.includes('\r') ? '\r' : '\n';
  const lines = text.split(eol);
  const final = lines.at(-1) === '';
  if (final) lines.pop();
  return { lines, eol, final };
}

function joinLines({ lines, eol, final }: Lines): string {
  return lines.join(eol) + (final && lines.length > 0 ? eol : '');
}

/** Apply `edit` to the split fields of the lines `scope` names (line 0 is the header). */
function editRows(
  text: string,
  scopeOf: 'header' | 'rows' | 'all' | 'some',
  edit: (fields: string[], index: number) => string[],
): string {
  const split = splitLines(text);
  split.lines = split.lines.map((line, index) => {
    const inScope =
      scopeOf === 'all' ||
      (scopeOf === 'header' && index === 0) ||
      (scopeOf === 'rows' && index > 0) ||
      (scopeOf === 'some' && index > 0 && index % 7 === 3);
    return inScope ? edit(line.split(','), index).join(',') : line;
  });
  return joinLines(split);
}

function at<T>(items: readonly T[], index: number): number {
  return items.length === 0 ? 0 : index % items.length;
}

function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function mutate(text: string, m: Mutation): string {
  switch (m.kind) {
    case 'flip-bytes': {
      const bytes = bytesOf(text);
      for (const p of m.positions) {
        const i = p % Math.max(1, bytes.length);
        if (i < bytes.length) bytes[i] = (bytes[i] as number) ^ (1 << (p % 8));
      }
      return textOf(bytes);
    }
    case 'cut-at-byte':
      return text.slice(0, text.length === 0 ? 0 : m.at % text.length);
    case 'drop-lines': {
      const split = splitLines(text);
      split.lines.splice(at(split.lines, m.from), m.count);
      return joinLines(split);
    }
    case 'duplicate-lines': {
      const split = splitLines(text);
      const from = at(split.lines, m.from);
      split.lines.splice(from, 0, ...split.lines.slice(from, from + m.count));
      return joinLines(split);
    }
    case 'open-quote': {
      const split = splitLines(text);
      const index = at(split.lines, m.line);
      const fields = (split.lines[index] ?? '').split(',');
      const f = at(fields, m.field);
      const value = fields[f] ?? '';
      const half = Math.floor(value.length / 2);
      fields[f] =
        m.where === 'start'
          ? `"${value}`
          : m.where === 'middle'
            ? `${value.slice(0, half)}"${value.slice(half)}`
            : `${value}"`;
      split.lines[index] = fields.join(',');
      return joinLines(split);
    }
    case 'quote-fields':
      return editRows(text, 'all', (fields, index) =>
        fields.map((f, i) => ((i + index) % m.every === 0 ? `"${f.replace(/"/g, '""')}"` : f)),
      );
    case 'swap-columns':
      return editRows(text, m.scope, (fields) => {
        const [a, b] = [at(fields, m.a), at(fields, m.b)];
        [fields[a], fields[b]] = [fields[b] as string, fields[a] as string];
        return fields;
      });
    case 'drop-column':
      return editRows(text, m.scope, (fields) => fields.filter((_, i) => i !== at(fields, m.column)));
    case 'add-column':
      return editRows(text, m.scope, (fields, index) => [...fields, utf8(index === 0 ? m.name : m.value)]);
    case 'alter-header': {
      const split = splitLines(text);
      const header = split.lines[0] ?? '';
      const names = header.split(',');
      const altered: Record<typeof m.how, () => void> = {
        case: () => {
          split.lines[0] = header.toUpperCase();
        },
        spaces: () => {
          split.lines[0] = names.map((n) => `  ${n} `).join(',');
        },
        quoted: () => {
          split.lines[0] = names.map((n) => `"${n}"`).join(',');
        },
        rename: () => {
          split.lines[0] = names.map((n, i) => (i === 1 ? `${n}_x` : n)).join(',');
        },
        duplicate: () => {
          split.lines[0] = names.map((n, i) => (i === 2 ? (names[0] as string) : n)).join(',');
        },
        remove: () => {
          split.lines.shift();
        },
        'blank-before': () => {
          split.lines.unshift('', '');
        },
        'empty-name': () => {
          split.lines[0] = `${header},`;
        },
      };
      altered[m.how]();
      return joinLines(split);
    }
    case 'set-field': {
      const split = splitLines(text);
      const index = at(split.lines, m.line);
      const fields = (split.lines[index] ?? '').split(',');
      fields[at(fields, m.field)] = utf8(m.value);
      split.lines[index] = fields.join(',');
      return joinLines(split);
    }
    case 'line-ends': {
      const random = prng(m.seed);
      const lines = text.split(/\r\n|\n|\r/);
      const ends = { LF: '\n', CR: '\r', CRLF: '\r\n', LFCR: '\n\r' };
      return lines
        .map((line, i) => {
          if (i === lines.length - 1) return line;
          if (m.to !== 'mixed') return line + ends[m.to];
          return line + (['\n', '\r\n', '\r'][Math.floor(random() * 3)] as string);
        })
        .join('');
    }
    case 'bom': {
      const bom = '\u00ef\u00bb\u00bf'; // EF BB BF in the latin-1 view
      if (m.bom === 'utf8') return bom + text;
      if (m.bom === 'utf8-twice') return bom + bom + text;
      if (m.bom === 'utf16le') return `\u00ff\u00fe${text}`;
      const split = splitLines(text);
      const middle = Math.floor(split.lines.length / 2);
      split.lines[middle] = bom + (split.lines[middle] ?? '');
      return joinLines(split);
    }
    case 'nul': {
      let out = text;
      for (const p of m.positions) {
        const i = out.length === 0 ? 0 : p % out.length;
        out = `${out.slice(0, i)}\u0000${out.slice(i)}`;
      }
      return out;
    }
    case 'long-field': {
      const split = splitLines(text);
      const index = at(split.lines, m.line);
      const fields = (split.lines[index] ?? '').split(',');
      fields[at(fields, m.field)] = '7'.repeat(m.bytes);
      split.lines[index] = fields.join(',');
      return joinLines(split);
    }
    case 'many-columns':
      return editRows(text, 'all', (fields, index) => [
        ...fields,
        ...Array.from({ length: m.count }, (_, i) => (index === 0 ? `c${i}` : String(i))),
      ]);
    case 'replace-all': {
      const header =
        splitLines(text).lines[0] ?? 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
      const replacements = {
        empty: '',
        'header-only': `${header}\r\n`,
        'header-blank-lines': `${header}\r\n\r\n\r\n\n\n`,
        'blank-lines': '\r\n\n\n\r\n',
        'nul-only': '\u0000'.repeat(64),
        'header-no-eol': header,
      };
      return replacements[m.with];
    }
  }
}

/** The bytes of a case: the sample mutated, then written in the case's encoding. */
export function caseBytes(sample: Buffer, c: CsvCase): { bytes: Buffer; gzip: boolean } {
  let text = textOf(sample);
  for (const m of c.mutations) text = mutate(text, m);
  const bytes = bytesOf(text);
  // Re-encodings read the mutated bytes as UTF-8 text first (what an editor would show), then save them so.
  const asText = bytes.toString('utf8');
  switch (c.encoding) {
    case 'utf8':
      return { bytes, gzip: false };
    case 'latin1':
      return { bytes: Buffer.from(asText, 'latin1'), gzip: false };
    case 'utf16le':
      return { bytes: Buffer.from(asText, 'utf16le'), gzip: false };
    case 'utf16le-bom':
      return { bytes: Buffer.from(`\ufeff${asText}`, 'utf16le'), gzip: false };
    case 'utf16be':
      return { bytes: Buffer.from(asText, 'utf16le').swap16(), gzip: false };
    case 'gzip':
      return { bytes: gzipSync(bytes), gzip: true };
    case 'gzip-cut': {
      const zipped = gzipSync(bytes);
      return { bytes: zipped.subarray(0, Math.max(10, Math.floor(zipped.length * 0.7))), gzip: true };
    }
  }
}

/** A one-line account of a case, for messages. */
export function describeCase(c: CsvCase): string {
  const clip = (value: unknown) => {
    const text = JSON.stringify(value);
    return text.length > 300 ? `${text.slice(0, 280)}…` : text;
  };
  return `${c.mutations.map(clip).join(' then ')}; encoding ${c.encoding}; --max-reject-rate ${c.maxRejectRate}; ${c.via === 'stdin' ? 'piped to ingest -' : 'named'}`;
}
