// Where things live in a lake directory. Data files sit at the root in Hive-style directories so that any
// engine can read them; txlake's own metadata lives under `_txlake/`, which Hive readers skip (leading `_`).

import { randomBytes } from 'node:crypto';
import path from 'node:path';

export const METADATA_DIR = '_txlake';

/**
 * A fresh id for one write (`<UTC time>-<random>`): it names the writer's staging directory and every file
 * it publishes, so files of different writes never collide and a crashed writer's files are recognisable.
 */
export function newWriteId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export class LakeLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get metadataDir(): string {
    return path.join(this.root, METADATA_DIR);
  }

  /** Immutable snapshot manifests, one JSON file per snapshot id. */
  get snapshotsDir(): string {
    return path.join(this.metadataDir, 'snapshots');
  }

  /** The pointer to the current snapshot: a one-line file replaced by atomic rename. */
  get currentPointer(): string {
    return path.join(this.metadataDir, 'CURRENT');
  }

  /** One line per committed snapshot, appended after each commit (commit-log.ts). */
  get commitLog(): string {
    return path.join(this.metadataDir, 'commits.jsonl');
  }

  /** The ids of committed snapshots that vacuum removed (vacuumed.ts). */
  get vacuumedFile(): string {
    return path.join(this.metadataDir, 'vacuumed.json');
  }

  /** The outcome and counts of the last ingest run, for servers' metrics (last-ingest.ts); no snapshot's. */
  get lastIngestFile(): string {
    return path.join(this.metadataDir, 'last-ingest.json');
  }

  get lockFile(): string {
    return path.join(this.metadataDir, 'LOCK');
  }

  /** The API keys' digests (lake/keys.ts): not part of any snapshot, so a rollback never revives a key. */
  get keysFile(): string {
    return path.join(this.metadataDir, 'keys.json');
  }

  /** Serialises changes of the key file; separate from LOCK so keys change while an ingest runs. */
  get keysLockFile(): string {
    return path.join(this.metadataDir, 'keys.lock');
  }

  /** One JSON line per lake operation: who, when, what, and the result (lake/audit.ts). */
  get auditLog(): string {
    return path.join(this.metadataDir, 'audit.jsonl');
  }

  /** Per-(merchant, day) sums of each snapshot, one small Parquet file per commit. */
  get dailySumsDir(): string {
    return path.join(this.metadataDir, 'daily_sums');
  }

  get rejectsDir(): string {
    return path.join(this.metadataDir, 'rejects');
  }

  /** Scratch space of one writer; anything left here by a crashed writer is garbage. */
  stagingDir(writeId: string): string {
    return path.join(this.metadataDir, 'staging', writeId);
  }

  manifestPath(snapshotId: number): string {
    return path.join(this.snapshotsDir, `${String(snapshotId).padStart(8, '0')}.json`);
  }

  /** Absolute path of a path stored relative to the lake root in a manifest. */
  resolve(relativePath: string): string {
    return path.join(this.root, relativePath);
  }

  relative(absolutePath: string): string {
    return path.relative(this.root, absolutePath).split(path.sep).join('/');
  }
}
