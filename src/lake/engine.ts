// The embedded DuckDB engine: one place that opens it with txlake's settings (UTC session, spill directory).

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface EngineOptions {
  /** Worker threads (DuckDB's default is one per core). */
  threads?: number;
  /** Where DuckDB spills sorts and large tables beyond its memory limit. */
  tempDirectory?: string;
  /**
   * DuckDB's memory limit in bytes (its buffer pool: tables, sorts, hash tables); beyond it DuckDB spills
   * to `tempDirectory`. Omitted, DuckDB's default applies (80% of RAM).
   */
  memoryLimitBytes?: number;
}

export interface Engine {
  connection: DuckDBConnection;
  /** Run statements whose result is not needed. */
  run(sql: string): Promise<void>;
  /** Run a query and return its rows as objects (DuckDB values: bigint for BIGINT, etc.). */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  connect(): Promise<DuckDBConnection>;
  close(): void;
}

/** Quote a string as a SQL literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export async function openEngine(options: EngineOptions = {}): Promise<Engine> {
  const config: Record<string, string> = {};
  if (options.threads) config.threads = String(options.threads);
  if (options.tempDirectory) config.temp_directory = options.tempDirectory;
  if (options.memoryLimitBytes)
    config.memory_limit = `${Math.max(1, Math.floor(options.memoryLimitBytes / 1024 ** 2))}MiB`;
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  // Day boundaries and timestamp casts are UTC whatever the machine's zone.
  await connection.run("SET TimeZone = 'UTC'");
  return {
    connection,
    async run(sql) {
      await connection.run(sql);
    },
    async rows<T>(sql: string) {
      const reader = await connection.runAndReadAll(sql);
      return reader.getRowObjects() as T[];
    },
    async connect() {
      const extra = await instance.connect();
      await extra.run("SET TimeZone = 'UTC'");
      return extra;
    },
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Run `work` on a fresh engine and close it afterwards, whatever happens. */
export async function withEngine<T>(
  work: (engine: Engine) => Promise<T>,
  options: EngineOptions = {},
): Promise<T> {
  const engine = await openEngine(options);
  try {
    return await work(engine);
  } finally {
    engine.close();
  }
}
