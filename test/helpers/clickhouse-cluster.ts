// The tests' ClickHouse cluster is the benchmark's: one implementation of starting real clickhouse-server
// processes on 127.0.0.1 (bench/clickhouse-cluster.ts).

export { ClickHouseCluster, type ClickHouseNode, INSTALL_HINT } from '../../bench/clickhouse-cluster.js';
