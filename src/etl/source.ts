// An ingest source: a file, a `.csv.gz`, or a stream — `-` (stdin), a named pipe, `<(…)`, a device — spooled
// to the writer's staging directory, so that the engine can scan it in parallel and its size and content
// identity are known. Checks everything file-level before any row is read (SPEC §1).

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { isTxlakeError, TxlakeError } from '../domain/errors.js';
import { type ResolvedHeader, resolveHeader, splitCsvLine } from '../domain/header.js';
import { encodingProblem, notUtf8Error, startsWithBytes, UTF8_BOM } from '../domain/text-encoding.js';
import { digestFile } from '../lake/durable-files.js';

export type Compression = 'none' | 'gzip';

export interface Source {
  /** What the user named: the path as given, or `stdin`. */
  label: string;
  /** A file the engine can read (the spooled copy for stdin, a pipe or a device). */
  path: string;
  compression: Compression;
  /** Size of the bytes as given (compressed bytes for .gz). */
  bytes: number;
  /**
   * sha256 of the size, first and last MiB: equal for equal content, and cheap, so a re-ingest is spotted
   * before reading the whole file. The full sha256 (`digestSource`) confirms it.
   */
  quickFingerprint: string;
  header: ResolvedHeader;
  /** 1-based line of the header (blank lines before it are allowed and skipped). */
  headerLine: number;
  /** Average bytes per row in the first block, to turn progress in bytes into rows. */
  sampledBytesPerRow: number;
  /** The first block mixes CRLF with bare LF or CR line ends (concatenated exports do). */
  mixedLineEnds: boolean;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const HEADER_PROBE_BYTES = 1 << 16;

function describeFsError(error: unknown, label: string): TxlakeError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : ((error as Error).message ?? String(error));
  return new TxlakeError('input', `cannot read ${label}: ${reason}`, { cause: error });
}

/** Copy the stream `open` returns into the staging directory, as source number `index`; the copy's path. */
async function spool(open: () => Readable, stagingDir: string, index: number): Promise<string> {
  await fs.mkdir(stagingDir, { recursive: true });
  const target = path.join(stagingDir, `spool-${index}.csv`);
  // opened only now, with the pipeline's error handling attached at once (an open error is an event)
  await pipeline(open(), createWriteStream(target));
  return target;
}

/** `/dev/stdin` and its other names: a descriptor this process holds, which may be a socket (open fails). */
function namesStdin(name: string): boolean {
  return name === '/dev/stdin' || /^\/(dev|proc\/self)\/fd\/0$/.test(name);
}

/**
 * The file the engine reads for `name`: the file itself when it is a regular file; otherwise (a FIFO, a
 * character device, /dev/stdin whatever it is) a spooled copy, because such a source has no size and can be
 * read only once, while the checks, the engine and the content digest each read it from the start. A socket
 * cannot be opened by its name, so one is readable only as the standard input.
 */
async function readableFile(name: string, label: string, stagingDir: string, index: number): Promise<string> {
  if (name === '-') return spool(() => process.stdin, stagingDir, index);
  try {
    const stat = await fs.stat(name);
    if (stat.isFile()) {
      await fs.access(name, fs.constants.R_OK);
      return name;
    }
    if (stat.isDirectory()) throw new TxlakeError('input', `cannot read ${label}: it is a directory`);
    if (namesStdin(name)) return await spool(() => process.stdin, stagingDir, index);
    if (stat.isSocket()) {
      throw new TxlakeError(
        'input',
        `cannot read ${label}: it is a socket, which cannot be opened as a file; pipe its content to ` +
          '`txlake ingest -` instead',
      );
    }
    return await spool(() => createReadStream(name), stagingDir, index);
  } catch (error) {
    throw isTxlakeError(error) ? error : describeFsError(error, label);
  }
}

async function hasGzipMagic(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, 0);
    return bytesRead === 2 && buffer[0] === GZIP_MAGIC[0] && buffer[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/**
 * The first block of the (decompressed) content, read without consuming the whole file. A gzip prefix is
 * inflated with a sync flush, which yields what the prefix holds instead of failing on the missing rest.
 */
async function readFirstBlock(file: string, compression: Compression, label: string): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  let prefix: Buffer;
  try {
    const buffer = Buffer.alloc(HEADER_PROBE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    prefix = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (compression === 'none') return prefix;
  try {
    return gunzipSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (error) {
    throw new TxlakeError('input', `cannot read ${label}: it is not a valid gzip file`, { cause: error });
  }
}

interface HeaderProbe {
  fields: string[];
  headerLine: number;
  /** The header line's bytes as in the file (no line end, no UTF-8 byte-order mark). */
  headerBytes: Buffer;
  /** The header line ends within the block (it is not cut off by the block's end). */
  headerComplete: boolean;
  bytesPerRow: number;
  mixedLineEnds: boolean;
}

/** CRLF together with a bare LF or CR: the engine's CSV scanner cannot read such a file as it is. */
function hasMixedLineEnds(text: string): boolean {
  const body = text.endsWith('\r') ? text.slice(0, -1) : text; // a CR cut off from its LF by the block end
  const crlf = body.includes('\r\n');
  const bareLf = /(^|[^\r])\n/.test(body);
  const bareCr = /\r(?!\n)/.test(body);
  return (crlf && (bareLf || bareCr)) || (bareLf && bareCr);
}

const LINE_END = /\r\n|\n|\r/;

function probeHeader(block: Buffer, label: string): HeaderProbe {
  const body = startsWithBytes(block, UTF8_BOM) ? block.subarray(UTF8_BOM.length) : block;
  const text = body.toString('utf8');
  const lines = text.split(LINE_END);
  let index = 0;
  while (index < lines.length && (lines[index] ?? '').trim() === '') index++;
  const headerText = lines[index];
  if (headerText === undefined || headerText.trim() === '') {
    throw new TxlakeError('input', `${label} is empty: expected a header line naming the columns`);
  }
  const isCompleteBlock = block.length < HEADER_PROBE_BYTES;
  // Line n of the text and of a latin1 view (one character per byte) are the same bytes: decoding replaces
  // bytes that are not UTF-8 but never a line end.
  const headerBytes = Buffer.from(body.toString('latin1').split(LINE_END)[index] ?? '', 'latin1');
  const rowLines = lines.slice(index + 1, isCompleteBlock ? undefined : -1).filter((l) => l.trim() !== '');
  const rowBytes = rowLines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
  return {
    fields: splitCsvLine(headerText),
    headerLine: index + 1,
    headerBytes,
    headerComplete: isCompleteBlock || index + 1 < lines.length,
    bytesPerRow: rowLines.length > 0 ? rowBytes / rowLines.length : 64,
    mixedLineEnds: hasMixedLineEnds(text),
  };
}

const FINGERPRINT_BLOCK = 1 << 20;

async function quickFingerprint(file: string, size: number): Promise<string> {
  const hash = createHash('sha256').update(String(size));
  const handle = await fs.open(file, 'r');
  try {
    const block = Buffer.alloc(Math.min(FINGERPRINT_BLOCK, size));
    await handle.read(block, 0, block.length, 0);
    hash.update(block);
    await handle.read(block, 0, block.length, Math.max(0, size - block.length));
    hash.update(block);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * sha256 of the whole source as given: the identity of its content (to make re-ingestion a no-op). A gzip
 * source is also inflated to its end here, because the engine reads a truncated gzip file without a word,
 * and a corrupt source must stop the ingest rather than quietly lose its tail.
 */
export async function digestSource(source: Pick<Source, 'path' | 'label' | 'compression'>): Promise<string> {
  if (source.compression === 'none') return (await digestFile(source.path)).sha256;
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  try {
    await pipeline(
      createReadStream(source.path, { highWaterMark: 1 << 20 }),
      hashing,
      createGunzip(),
      discard,
    );
  } catch (error) {
    if (String((error as NodeJS.ErrnoException).code).startsWith('Z_')) {
      throw new TxlakeError('input', `cannot read ${source.label}: the gzip data is truncated or corrupt`, {
        cause: error,
      });
    }
    throw error;
  }
  return hash.digest('hex');
}

/** The label without `.csv`, `.gz` or `.csv.gz`: the stem of files named after a source. */
export function sourceStem(label: string): string {
  return label.replace(/(\.csv)?(\.gz)?$/i, '');
}

/** Resolve, check and fingerprint source number `index` of the command line, named `name`. */
export async function openSource(name: string, stagingDir: string, index = 0): Promise<Source> {
  const label = name === '-' ? 'stdin' : name;
  const file = await readableFile(name, label, stagingDir, index);
  const size = (await fs.stat(file)).size;
  if (size === 0)
    throw new TxlakeError('input', `${label} is empty: expected a header line naming the columns`);
  const compression: Compression = (await hasGzipMagic(file)) ? 'gzip' : 'none';
  const block = await readFirstBlock(file, compression, label);
  const probe = probeHeader(block, label);
  const problem = encodingProblem(block, probe.headerBytes, probe.headerComplete);
  if (problem) {
    const [gzipped, spooled, headerLine] = [compression === 'gzip', file !== name, probe.headerLine];
    throw notUtf8Error(problem, { label, stem: sourceStem(label), gzipped, spooled, headerLine });
  }
  const header = resolveHeader(probe.fields, path.basename(label));
  return {
    label,
    path: path.resolve(file),
    compression,
    bytes: size,
    quickFingerprint: await quickFingerprint(file, size),
    header,
    headerLine: probe.headerLine,
    sampledBytesPerRow: probe.bytesPerRow,
    mixedLineEnds: probe.mixedLineEnds,
  };
}

/**
 * A copy of `source` with every line end (CRLF, CR) turned into LF, in the staging directory, for files
 * that mix line ends. Line numbers are unchanged (each line end stays one), so rejects still point into the
 * original file; the content identity stays that of the original bytes.
 */
export async function withUnixLineEnds(source: Source, stagingDir: string, index: number): Promise<Source> {
  await fs.mkdir(stagingDir, { recursive: true });
  const target = path.join(stagingDir, `line-ends-${index}.csv`);
  let pendingCr = false;
  const CR = 0x0d;
  const LF = 0x0a;
  const normalize = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const out = Buffer.allocUnsafe(chunk.length + 1);
      let length = 0;
      let start = 0;
      if (pendingCr) {
        out[length++] = LF; // the CR that ended the previous chunk
        if (chunk[0] === LF) start = 1;
        pendingCr = false;
      }
      for (let i = start; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        if (byte !== CR) {
          out[length++] = byte;
        } else if (i + 1 === chunk.length) {
          pendingCr = true;
        } else {
          out[length++] = LF;
          if (chunk[i + 1] === LF) i++;
        }
      }
      done(null, out.subarray(0, length));
    },
    flush(done) {
      done(null, pendingCr ? Buffer.from([LF]) : null);
    },
  });
  const input = createReadStream(source.path, { highWaterMark: 1 << 20 });
  if (source.compression === 'gzip')
    await pipeline(input, createGunzip(), normalize, createWriteStream(target));
  else await pipeline(input, normalize, createWriteStream(target));
  return { ...source, path: target, compression: 'none', mixedLineEnds: false };
}
