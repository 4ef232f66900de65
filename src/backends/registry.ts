// Opening a store by kind: the one place that knows every backend. Each is imported when opened, so a
// server pays only for the engine it runs on (DuckDB's bindings, or ClickHouse's client).

import type { ClickHouseConfig } from './clickhouse/cluster.js';
import type { KeySource } from './key-source.js';
import type { TransactionStore } from './store.js';

/** The embedded backend: DuckDB over the lake's Parquet files, on this host (embedded-store.ts). */
export interface EmbeddedBackendConfig {
  kind: 'embedded';
  lake: string;
  /** `memory` (default): an in-memory index per snapshot, within `indexMemoryBytes`; `parquet`: never. */
  userLookup?: 'memory' | 'parquet';
  indexMemoryBytes?: number;
  pollIntervalMs?: number;
}

/** The ClickHouse backend: a cluster holding copies of the lake's snapshots (clickhouse-store.ts). */
export interface ClickHouseBackendConfig {
  kind: 'clickhouse';
  clickhouse: ClickHouseConfig;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
}

export type BackendConfig = EmbeddedBackendConfig | ClickHouseBackendConfig;

export async function openStore(config: BackendConfig): Promise<TransactionStore> {
  switch (config.kind) {
    case 'embedded': {
      const { EmbeddedStore } = await import('./embedded/embedded-store.js');
      const { lakeRootExists } = await import('../lake/snapshots.js');
      const { LakeLayout } = await import('../lake/layout.js');
      await lakeRootExists(new LakeLayout(config.lake)); // a --lake that names a file is refused in words
      return EmbeddedStore.open(config);
    }
    case 'clickhouse': {
      const { ClickHouseStore } = await import('./clickhouse/clickhouse-store.js');
      return ClickHouseStore.open(config);
    }
  }
}

/** Where servers of this backend read the API keys: the lake's key file, or ClickHouse's copy of it. */
export async function openKeySource(config: BackendConfig): Promise<KeySource> {
  switch (config.kind) {
    case 'embedded': {
      const { LakeKeySource } = await import('../lake/keys.js');
      const { lakeRootExists } = await import('../lake/snapshots.js');
      const { LakeLayout } = await import('../lake/layout.js');
      const layout = new LakeLayout(config.lake);
      await lakeRootExists(layout); // a --lake that names a file is refused in words
      return new LakeKeySource(layout);
    }
    case 'clickhouse': {
      const { ClickHouseKeySource } = await import('./clickhouse/keys.js');
      return new ClickHouseKeySource(config.clickhouse);
    }
  }
}

/** The configuration worth logging at start (no secrets): what a reader of the log needs to know. */
export function describeBackend(config: BackendConfig): Record<string, unknown> {
  switch (config.kind) {
    case 'embedded':
      return {
        backend: 'embedded',
        lake: config.lake,
        user_lookup: config.userLookup ?? 'memory',
        index_memory_bytes: config.indexMemoryBytes ?? 'a quarter of RAM',
      };
    case 'clickhouse':
      return {
        backend: 'clickhouse',
        clickhouse_urls: config.clickhouse.urls,
        clickhouse_cluster: config.clickhouse.cluster,
        clickhouse_database: config.clickhouse.database,
      };
  }
}
