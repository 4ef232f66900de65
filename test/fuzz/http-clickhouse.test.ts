// HTTP fuzzing against `txlake serve --backend clickhouse` on a real 2-shard cluster (two clickhouse-server
// processes on 127.0.0.1), the lake's commands syncing it; no answer cache, so every request reaches the cluster.

import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { startServer } from '../helpers/server.js';
import { describeHttpFuzz } from './http-fuzz.js';

let cluster: ClickHouseCluster | undefined;

function env(): NodeJS.ProcessEnv {
  if (!cluster) throw new Error('the ClickHouse cluster did not start');
  return cluster.env;
}

describeHttpFuzz({
  name: 'ClickHouse',
  runs: 1500,
  setup: async () => {
    cluster = await ClickHouseCluster.start({ shards: 2 });
  },
  env,
  serve: () =>
    startServer(null, { extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'], env: env() }),
  teardown: async () => {
    await cluster?.stop();
  },
});
