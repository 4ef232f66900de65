// API keys for servers that follow ClickHouse instead of the lake (SPEC §5: "wherever that backend keeps
// shared state"). The lake's key file is the source; every change (`txlake keys`, `clickhouse sync`) is
// copied whole, as one row of `api_keys` per generation, to every node: one INSERT is atomic, so a reader
// never sees half a change, and readers take the highest generation any node has.

import type { KeyFile } from '../../domain/api-keys.js';
import { parseKeyFile, serializeKeyFile } from '../../domain/api-keys.js';
import type { KeySource } from '../key-source.js';
import {
  type ClickHouseConfig,
  clickHouseCode,
  clientFor,
  describeClickHouseError,
  READ_TIMEOUT_MS,
  sqlText,
  WRITE_TIMEOUT_MS,
  withNodesNamed,
} from './cluster.js';

export function keysTableStatement(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${database}.api_keys (generation UInt64, body String, written DateTime)
     ENGINE = MergeTree ORDER BY generation`;
}

/** Copy `file` to every node (each node a full copy); returns how many nodes there are. */
export async function publishKeys(config: ClickHouseConfig, file: KeyFile): Promise<number> {
  const db = config.database;
  for (const url of config.urls) {
    const client = clientFor(url, WRITE_TIMEOUT_MS, config);
    try {
      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
      await client.command({ query: keysTableStatement(db) });
      const result = await client.query({
        query: `SELECT max(generation) AS generation FROM ${db}.api_keys`,
        format: 'JSONEachRow',
      });
      const [row] = await result.json<{ generation: string }>();
      if (BigInt(row?.generation ?? 0) >= BigInt(file.generation)) continue;
      await client.command({
        query: `INSERT INTO ${db}.api_keys (generation, body, written) VALUES (${file.generation}, ${sqlText(serializeKeyFile(file))}, now())`,
      });
    } catch (error) {
      throw new Error(
        `ClickHouse at ${url} failed while copying the API keys: ${describeClickHouseError(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      await client.close().catch(() => {});
    }
  }
  return config.urls.length;
}

/** 60 UNKNOWN_TABLE, 81 UNKNOWN_DATABASE: no key was ever copied to that node. */
const NEVER_COPIED = new Set(['60', '81']);

/** The newest key file any node holds; unreadable only when no node answers. */
export class ClickHouseKeySource implements KeySource {
  readonly #clients;
  readonly #database: string;
  readonly #urls: readonly string[];

  constructor(config: ClickHouseConfig) {
    this.#urls = config.urls;
    this.#clients = config.urls.map((url) => ({ url, client: clientFor(url, READ_TIMEOUT_MS, config) }));
    this.#database = config.database;
  }

  describe(): string {
    return `the api_keys table of ClickHouse database ${this.#database}`;
  }

  async read(): Promise<KeyFile | null> {
    let newest: KeyFile | null = null;
    let answered = 0;
    const failures: string[] = [];
    await Promise.all(
      // Nodes are named by their place in TXLAKE_CLICKHOUSE_URL: the reason reaches /readyz, which anyone
      // may read, and addresses are the operator's business (as the store's own problems).
      this.#clients.map(async ({ client }, index) => {
        try {
          const result = await client.query({
            query: `SELECT generation, body FROM ${this.#database}.api_keys ORDER BY generation DESC LIMIT 1`,
            format: 'JSONEachRow',
          });
          const [row] = await result.json<{ generation: string; body: string }>();
          answered++;
          if (row === undefined) return;
          const file = parseKeyFile(row.body);
          if ('damaged' in file) throw new Error(`its API keys are damaged (${file.damaged})`);
          if (newest === null || file.generation > newest.generation) newest = file;
        } catch (error) {
          const code = clickHouseCode(error);
          if (code !== null && NEVER_COPIED.has(code)) {
            answered++;
            return;
          }
          failures.push(`node ${index + 1}: ${withNodesNamed(describeClickHouseError(error), this.#urls)}`);
        }
      }),
    );
    // A damaged copy is never outvoted by the others: refusing is the only safe reading of it.
    if (failures.some((failure) => failure.includes('damaged')) || answered === 0)
      throw new Error(`cannot read the API keys from ClickHouse (${failures.join('; ')})`);
    return newest;
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map(({ client }) => client.close().catch(() => {})));
  }
}
