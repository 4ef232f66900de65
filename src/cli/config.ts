// Effective configuration, in one typed place: flags > environment > defaults.

import { TxlakeError } from '../domain/errors.js';
import { parseByteSize } from './flags.js';

export const DEFAULTS = {
  lake: './lake',
  host: '127.0.0.1',
  port: 3025,
  maxRejectRate: 0.01,
} as const;

/** The lake directory: `--lake DIR`, else `TXLAKE_LAKE`, else `./lake`. */
export function resolveLakeDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const lake = flag ?? env.TXLAKE_LAKE ?? DEFAULTS.lake;
  // An empty name would be the current directory: never a lake by accident.
  if (lake.trim() === '')
    throw new TxlakeError(
      'usage',
      `${flag === undefined ? 'TXLAKE_LAKE' : '--lake'} is empty; name the lake directory`,
    );
  return lake;
}

export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.TXLAKE_HOST ?? DEFAULTS.host;
}

export function resolvePort(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  return parsePort(flag ?? env.TXLAKE_PORT ?? String(DEFAULTS.port));
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port > 65535) {
    throw new TxlakeError('usage', `port must be an integer from 0 to 65535, got "${text}"`);
  }
  return port;
}

/** The smallest engine memory limit an ingest accepts (below it DuckDB fails on its own working buffers). */
export const MIN_INGEST_MEMORY_LIMIT_BYTES = 128 * 1024 ** 2;

/**
 * The ingest engine's memory limit in bytes: `--memory-limit`, else `TXLAKE_MEMORY_LIMIT`, else undefined
 * (the ingest's default: half of RAM, at most 4 GiB). A bad or too small size is a usage error naming its origin.
 */
export function resolveIngestMemoryLimit(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  const origin = flag !== undefined ? '--memory-limit' : 'TXLAKE_MEMORY_LIMIT';
  const text = flag ?? env.TXLAKE_MEMORY_LIMIT;
  if (text === undefined || (flag === undefined && text.trim() === '')) return undefined;
  const bytes = parseByteSize(origin, text);
  if (bytes < MIN_INGEST_MEMORY_LIMIT_BYTES) {
    throw new TxlakeError('usage', `${origin} must be at least 128MB, got "${text}"`);
  }
  return bytes;
}
