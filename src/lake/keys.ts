// The lake's key file, `_txlake/keys.json` (SPEC §5): every server following the lake reads it, `txlake
// keys` changes it, one change at a time under its own lock, by atomic replacement (readers see the old
// file or the new one). A file that does not verify is never half-believed: readers refuse it.

import fs from 'node:fs/promises';
import type { KeySource } from '../backends/key-source.js';
import {
  type Actor,
  type KeyFile,
  type KeyRecord,
  keyDigest,
  newApiKey,
  parseKeyFile,
  serializeKeyFile,
} from '../domain/api-keys.js';
import { TxlakeError } from '../domain/errors.js';
import { ensureDirectory, writeFileAtomic } from './durable-files.js';
import type { LakeLayout } from './layout.js';
import { acquireWriterLock, LakeLocked, type WriterLock } from './lock.js';

/** Key changes take milliseconds: one that finds another under way waits this long for it. */
const KEY_LOCK_WAIT_MS = 10_000;

async function lockKeys(layout: LakeLayout, command: string): Promise<WriterLock> {
  const deadline = Date.now() + KEY_LOCK_WAIT_MS;
  for (;;) {
    try {
      return await acquireWriterLock(layout, command, () => {}, layout.keysLockFile);
    } catch (error) {
      if (!(error instanceof LakeLocked) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
    }
  }
}

export function keyFileProblem(layout: LakeLayout, reason: string): string {
  return (
    `the key file ${layout.relative(layout.keysFile)} of the lake ${layout.root} is damaged (${reason}); ` +
    'restore it from a backup, or move it away and create the keys again (every key then stops working)'
  );
}

/** The lake's keys; null when no key was ever created. A damaged file is a 'lake' error saying how to repair. */
export async function readKeyFile(layout: LakeLayout): Promise<KeyFile | null> {
  let text: string;
  try {
    text = await fs.readFile(layout.keysFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TxlakeError(
      'lake',
      `cannot read the key file ${layout.keysFile}: ${(error as Error).message.split('\n')[0]}`,
      { cause: error },
    );
  }
  const parsed = parseKeyFile(text);
  if ('damaged' in parsed) throw new TxlakeError('lake', keyFileProblem(layout, parsed.damaged));
  return parsed;
}

export interface KeyChange {
  file: KeyFile;
  /** The key just created, shown once and never stored. */
  key?: string;
  record: KeyRecord;
}

async function changeKeys(
  layout: LakeLayout,
  command: string,
  change: (file: KeyFile) => Omit<KeyChange, 'file'> & { keys: KeyRecord[] },
): Promise<KeyChange> {
  await ensureDirectory(layout.root);
  const lock = await lockKeys(layout, command);
  try {
    const before = (await readKeyFile(layout)) ?? { format: 1, generation: 0, keys: [] };
    const { keys, ...outcome } = change(before);
    const file: KeyFile = { format: 1, generation: before.generation + 1, keys };
    await writeFileAtomic(layout.keysFile, serializeKeyFile(file));
    return { file, ...outcome };
  } finally {
    await lock.release();
  }
}

export function createKey(layout: LakeLayout, name: string, actor: Actor): Promise<KeyChange> {
  return changeKeys(layout, `keys create ${name}`, (file) => {
    const existing = file.keys.find((key) => key.name === name);
    if (existing)
      throw new TxlakeError(
        'usage',
        existing.revoked === null
          ? `a key named "${name}" exists already; revoke it first, or choose another name`
          : `a key named "${name}" was revoked on ${existing.revoked}; names are not reused, so the audit log stays unambiguous: choose another name`,
      );
    const key = newApiKey();
    const record: KeyRecord = {
      name,
      sha256: keyDigest(key).toString('hex'),
      created: new Date().toISOString(),
      created_by: actor,
      revoked: null,
      revoked_by: null,
    };
    return { key, record, keys: [...file.keys, record] };
  });
}

export function revokeKey(layout: LakeLayout, name: string, actor: Actor): Promise<KeyChange> {
  return changeKeys(layout, `keys revoke ${name}`, (file) => {
    const existing = file.keys.find((key) => key.name === name);
    if (!existing)
      throw new TxlakeError(
        'usage',
        `there is no key named "${name}"${file.keys.length > 0 ? '; `txlake keys list` shows the keys' : ' (the lake has no keys)'}`,
      );
    if (existing.revoked !== null)
      throw new TxlakeError('usage', `the key "${name}" was revoked already, on ${existing.revoked}`);
    const record: KeyRecord = { ...existing, revoked: new Date().toISOString(), revoked_by: actor };
    return { record, keys: file.keys.map((key) => (key === existing ? record : key)) };
  });
}

/** A fingerprint of a key's state: changes whenever the file is replaced. */
export async function keyFileVersion(layout: LakeLayout): Promise<string> {
  const stat = await fs.stat(layout.keysFile, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  return stat === null ? 'absent' : `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
}

/** The lake's key file as a server's key source: re-read only when the file was replaced. */
export class LakeKeySource implements KeySource {
  readonly #layout: LakeLayout;
  #version: string | null = null;
  #file: KeyFile | null = null;

  constructor(layout: LakeLayout) {
    this.#layout = layout;
  }

  describe(): string {
    return this.#layout.keysFile;
  }

  async read(): Promise<KeyFile | null> {
    const version = await keyFileVersion(this.#layout);
    if (version !== this.#version) {
      this.#file = await readKeyFile(this.#layout);
      this.#version = version;
    }
    return this.#file;
  }

  async close(): Promise<void> {}
}
