// API v2 on the embedded backend (the default): the shared suite against a real `txlake serve`.

import { startServer } from '../helpers/server.js';
import { describeV2 } from '../helpers/v2-suite.js';

describeV2('embedded', {
  setup: async () => {},
  env: () => ({}),
  // The answer cache off: every answer comes from the store, as on a cold server.
  serve: (lake) => startServer(lake, { extraArgs: ['--answer-cache', '0'] }),
  teardown: async () => {},
});
