// HTTP fuzzing against `txlake serve` on the embedded backend (the lake on this host).

import { startServer } from '../helpers/server.js';
import { describeHttpFuzz } from './http-fuzz.js';

describeHttpFuzz({
  name: 'embedded',
  runs: 2000,
  setup: async () => {},
  env: () => ({}),
  serve: (lake) => startServer(lake),
  teardown: async () => {},
});
