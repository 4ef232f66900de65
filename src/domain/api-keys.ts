// API keys (SPEC §5): what a key is, how it is stored (a SHA-256 digest only), and how a presented key is
// checked. No I/O here: the lake keeps the key file (lake/keys.ts), the server reads it (server/plugins/auth.ts).
//
// A key carries 256 random bits, so a fast digest is as safe as a slow password hash (nobody can guess
// through 2^256 candidates) and costs a microsecond per request instead of tens of milliseconds.

import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { TxlakeError } from './errors.js';

/** Every key starts so: a secret scanner (or a reader of a leaked config) recognises a txlake key. */
export const KEY_PREFIX = 'txl_';
const KEY_RANDOM_BYTES = 32;
/** `txl_` and 43 base64url characters: the only shape `newApiKey` makes, checked before hashing. */
const KEY_SHAPE = /^txl_[A-Za-z0-9_-]{43}$/;
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function newApiKey(): string {
  return KEY_PREFIX + randomBytes(KEY_RANDOM_BYTES).toString('base64url');
}

/** SHA-256 of the key; the one-shot `crypto.hash` costs a third of a createHash chain (~0.8 µs). */
export function keyDigest(key: string): Buffer {
  return hash('sha256', key, 'buffer');
}

export function parseKeyName(text: string): string {
  if (!KEY_NAME.test(text))
    throw new TxlakeError(
      'usage',
      `a key name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; got "${text}"`,
    );
  return text;
}

/** Who did something, as recorded beside a key and in the audit log. */
export interface Actor {
  user: string;
  host: string;
}

export interface KeyRecord {
  name: string;
  /** Hex SHA-256 of the key: all that is kept of it. */
  sha256: string;
  created: string;
  created_by: Actor;
  revoked: string | null;
  revoked_by: Actor | null;
}

/** The key file: every key ever created (revoked ones stay, so a name is never reused for another key). */
export interface KeyFile {
  format: 1;
  /** Incremented by every change: readers (and ClickHouse copies) keep the highest generation they saw. */
  generation: number;
  keys: KeyRecord[];
}

/** The file's text: the content with a checksum over it, so damage is found rather than half-believed. */
export function serializeKeyFile(file: KeyFile): string {
  const content = JSON.stringify({ format: file.format, generation: file.generation, keys: file.keys });
  const checksum = createHash('sha256').update(content).digest('hex');
  return `${JSON.stringify({ ...JSON.parse(content), checksum }, null, 2)}\n`;
}

/** The key file read back, or the reason it cannot be trusted (a message without the file's name). */
export function parseKeyFile(text: string): KeyFile | { damaged: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { damaged: 'it is not valid JSON' };
  }
  const candidate = parsed as Partial<KeyFile> & { checksum?: unknown };
  if (candidate === null || typeof candidate !== 'object' || candidate.format !== 1)
    return { damaged: 'it is not a key file of this version (format 1)' };
  if (!Number.isSafeInteger(candidate.generation) || !Array.isArray(candidate.keys))
    return { damaged: 'its generation or key list is missing' };
  const file: KeyFile = { format: 1, generation: candidate.generation as number, keys: candidate.keys };
  const content = JSON.stringify({ format: file.format, generation: file.generation, keys: file.keys });
  if (candidate.checksum !== createHash('sha256').update(content).digest('hex'))
    return { damaged: 'its checksum does not match its content' };
  for (const key of file.keys)
    if (
      typeof key?.name !== 'string' ||
      typeof key.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(key.sha256) ||
      !(key.revoked === null || typeof key.revoked === 'string')
    )
      return { damaged: 'a key record is malformed' };
  return file;
}

export function activeKeys(file: KeyFile | null): KeyRecord[] {
  return file === null ? [] : file.keys.filter((key) => key.revoked === null);
}

/**
 * The `Authorization` header's Bearer token (RFC 6750 §2.1: the scheme is case-insensitive), or why there
 * is none. Only the header is read: a key in a query string would end up in access logs.
 */
export function bearerToken(header: string | undefined): { token: string } | { missing: string } {
  if (header === undefined || header === '') return { missing: 'no-credentials' };
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return { missing: 'not-bearer' };
  return { token: header.slice(space + 1).trim() };
}

/** Keys a ring remembers as verified (a server has a handful of clients; more only cost a hash each). */
const VERIFIED_KEYS = 1024;

/**
 * The keys a server accepts: digests only, compared in constant time. A key that verified is remembered
 * by its exact text, so that a client's later requests skip the digest (it costs ~3 µs in a busy server,
 * 5% of a v1 answer): the memo holds only keys that were valid in this ring (a new ring, made when the key
 * file changes, starts empty, so a revoked key is never remembered past its revocation), and a token that
 * is not in it is checked the constant-time way.
 */
export class KeyRing {
  readonly size: number;
  readonly #digests: Buffer[];
  readonly #names: string[];
  readonly #verified = new Map<string, string>();

  constructor(records: readonly KeyRecord[]) {
    this.#digests = records.map((key) => Buffer.from(key.sha256, 'hex'));
    this.#names = records.map((key) => key.name);
    this.size = records.length;
  }

  /**
   * The name of the key `token` is, or null. Every digest is compared, with no early exit, so the time
   * taken says nothing about which key (if any) came close; a token not shaped like a key is hashed all
   * the same, for the same reason.
   */
  authenticate(token: string): string | null {
    const remembered = this.#verified.get(token);
    if (remembered !== undefined) return remembered;
    const digest = keyDigest(token);
    let found = -1;
    for (let i = 0; i < this.#digests.length; i++)
      if (timingSafeEqual(digest, this.#digests[i] as Buffer)) found = i;
    if (found < 0 || !KEY_SHAPE.test(token)) return null;
    const name = this.#names[found] as string;
    if (this.#verified.size < VERIFIED_KEYS) this.#verified.set(token, name);
    return name;
  }
}
