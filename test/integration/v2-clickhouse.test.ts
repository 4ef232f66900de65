// API v2 on the ClickHouse backend: the shared suite against `txlake serve --backend clickhouse` on a real
// 2-shard cluster (two clickhouse-server processes on 127.0.0.1), the lake's commands syncing it.

import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { startServer } from '../helpers/server.js';
import { describeV2 } from '../helpers/v2-suite.js';

let cluster: ClickHouseCluster | undefined;

function env(): NodeJS.ProcessEnv {
  if (!cluster) throw new Error('the ClickHouse cluster did not start');
  return cluster.env;
}

describeV2('ClickHouse', {
  setup: async () => {
    cluster = await ClickHouseCluster.start({ shards: 2 });
  },
  env,
  // No lake for the server: it follows ClickHouse's served table.
  serve: () =>
    startServer(null, { extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'], env: env() }),
  teardown: async () => {
    await cluster?.stop();
  },
});
