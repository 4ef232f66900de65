// SPEC §5: the lake holds personal financial data, so a server reachable from other hosts without any API
// key is refused unless the operator says so (`--allow-anonymous`). Loopback-only servers (the default
// 127.0.0.1) need no key.

import dns from 'node:dns/promises';
import net from 'node:net';
import type { BackendConfig } from '../backends/registry.js';
import { openKeySource } from '../backends/registry.js';
import { TxlakeError } from '../domain/errors.js';

function isLoopbackAddress(address: string): boolean {
  if (net.isIPv4(address)) return address.startsWith('127.');
  const v6 = address.toLowerCase();
  return v6 === '::1' || /^::ffff:127\./.test(v6);
}

/** Whether `host` is loopback only: an address, or a name all of whose addresses are. */
export async function isLoopbackHost(host: string): Promise<boolean> {
  if (net.isIP(host)) return isLoopbackAddress(host);
  if (host === 'localhost') return true;
  const addresses = await dns.lookup(host, { all: true }).catch(() => []);
  return addresses.length > 0 && addresses.every((entry) => isLoopbackAddress(entry.address));
}

/**
 * Refuse (a usage error, one line) to serve beyond loopback while no key exists, unless `allowAnonymous`.
 * Returns whether the server must require keys even if the key file later disappears: one exposed on
 * the strength of its keys must never fall open.
 */
export async function assertSafeExposure(
  host: string,
  backend: BackendConfig,
  allowAnonymous: boolean,
): Promise<boolean> {
  if (allowAnonymous || (await isLoopbackHost(host))) return false;
  const source = await openKeySource(backend);
  let records: number;
  try {
    records = (await source.read())?.keys.length ?? 0;
  } catch (error) {
    throw new TxlakeError(
      'usage',
      `refusing to serve on ${host}: cannot tell whether API keys exist (${(error as Error).message.split('\n')[0]})`,
      { cause: error },
    );
  } finally {
    await source.close();
  }
  if (records === 0)
    throw new TxlakeError(
      'usage',
      `refusing to serve on ${host} without an API key: anyone who can reach it would read every user's transactions; create one with \`txlake keys create NAME\`${backend.kind === 'embedded' ? ` --lake ${backend.lake}` : ''}, listen on 127.0.0.1, or pass --allow-anonymous`,
    );
  return true;
}
