// Where a server reads the API keys from (SPEC §5): the lake's key file for the embedded backend, ClickHouse
// for servers that follow it. The server polls `read` (server/plugins/auth.ts); a source that cannot be
// read is an error, never "no keys": a server that cannot tell which keys are valid answers none.

import type { KeyFile } from '../domain/api-keys.js';

export interface KeySource {
  /** The current key file; null when no key was ever created. Throws when it cannot be read or trusted. */
  read(): Promise<KeyFile | null>;
  /** Where the keys come from, for log lines and problems. */
  describe(): string;
  close(): Promise<void>;
}
