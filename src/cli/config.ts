// Effective configuration, in one typed place: flags > environment > defaults.

import { TxlakeError } from '../domain/errors.js';

export const DEFAULTS = {
  lake: './lake',
  host: '127.0.0.1',
  port: 3025,
  maxRejectRate: 0.01,
} as const;

/** The lake directory: `--lake DIR`, else `TXLAKE_LAKE`, else `./lake`. */
export function resolveLakeDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.TXLAKE_LAKE ?? DEFAULTS.lake;
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
