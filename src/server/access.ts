// Which API keys this server accepts, kept current by polling the key source (the lake's key file, or
// ClickHouse): a key created or revoked is honoured within two polls, without a restart (SPEC §5: 2 s).
//
// The states, and what a protected request gets in each:
// - open: no key was ever created (and the server was not told to require one) → answered;
// - keys: a key file with records (active or revoked: revoking the last key does not open the API again)
//   → answered with an active key, 401 otherwise;
// - unknown: the source cannot be read or trusted (a damaged file, ClickHouse down) → 503. A server that
//   cannot tell which keys are valid answers nobody rather than everybody.

import type { KeySource } from '../backends/key-source.js';
import { activeKeys, KeyRing } from '../domain/api-keys.js';

export const KEY_POLL_INTERVAL_MS = 500;

export interface AccessLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export class AccessControl {
  readonly #source: KeySource;
  /** Set when the server listens where anyone may reach it: keys are needed even before one exists. */
  readonly #requireKeys: boolean;
  /** null: the API is open. */
  #ring: KeyRing | null = null;
  #problem: string | null = 'the API keys have not been read yet';
  #generation = -1;
  #timer: NodeJS.Timeout | null = null;
  #log: AccessLog | null = null;

  constructor(source: KeySource, options: { requireKeys?: boolean } = {}) {
    this.#source = source;
    this.#requireKeys = options.requireKeys ?? false;
  }

  /** The keys to check a request against; null when the API is open. Undefined while they are unknown. */
  get ring(): KeyRing | null {
    return this.#ring;
  }

  /** Why the keys are unknown (requests are refused meanwhile), or null. */
  problem(): string | null {
    return this.#problem;
  }

  /** Read the source once; the first read happens before the server listens. Never throws. */
  async refresh(): Promise<void> {
    try {
      const file = await this.#source.read();
      const generation = file?.generation ?? 0;
      const wasUnknown = this.#problem !== null;
      if (!wasUnknown && generation === this.#generation) return;
      const records = file?.keys ?? [];
      this.#ring = records.length === 0 && !this.#requireKeys ? null : new KeyRing(activeKeys(file));
      this.#generation = generation;
      this.#problem = null;
      this.#log?.info(
        { keys_active: this.#ring?.size ?? 0, key_generation: generation },
        this.#ring === null
          ? 'no API keys: the API answers without one'
          : `API keys (generation ${generation}): ${this.#ring.size} active`,
      );
    } catch (error) {
      const problem = `cannot read the API keys from ${this.#source.describe()}: ${(error as Error).message.split('\n')[0]}`;
      if (problem !== this.#problem)
        this.#log?.error({ problem }, 'refusing API requests until the keys can be read');
      this.#problem = problem;
      this.#ring = null;
    }
  }

  /** Poll the source until `stop`. */
  follow(log: AccessLog, intervalMs = KEY_POLL_INTERVAL_MS): void {
    this.#log = log;
    const poll = () => {
      this.#timer = setTimeout(() => {
        void this.refresh().finally(() => {
          if (this.#timer !== null) poll();
        });
      }, intervalMs);
      this.#timer.unref();
    };
    poll();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#source.close();
  }
}
