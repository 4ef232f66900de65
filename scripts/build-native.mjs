// `npm install` builds the native answer writer (native/v1_writer.c) with node-gyp. It is an accelerator:
// should the build fail (no C compiler, say), txlake still works with its JavaScript writer, so this
// prints why and how to retry instead of failing the install; the server says which writer it uses, and
// the test suite fails while the native writer is missing.

import { spawnSync } from 'node:child_process';

const gyp = process.env.npm_config_node_gyp;
const [command, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const run = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (run.status !== 0) {
  const detail = (run.stderr || String(run.error ?? '')).trim().split('\n').slice(-3).join(' | ');
  process.stderr.write(
    `txlake: the native answer writer was not built (${detail}); answers use the JavaScript writer.\n` +
      'txlake: it needs python3, make and a C compiler (Debian: apt-get install -y python3 make g++); then run `npm run build:native`.\n',
  );
}
