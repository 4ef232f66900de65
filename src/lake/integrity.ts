// Checking a snapshot's files against its manifest: present, the recorded size, the recorded sha256. Used by
// `verify`, by every writer before it carries a file into a new snapshot, and by servers before they answer
// from a file (VerifiedFiles: each file hashed once, then watched through its stat fingerprint).

import fs from 'node:fs/promises';
import { digestFile } from './durable-files.js';
import { type Engine, sqlString } from './engine.js';
import type { LakeLayout } from './layout.js';
import type { DataFile, SnapshotManifest } from './manifest.js';

export interface FileProblem {
  path: string;
  problem: string;
}

/** Every file a snapshot reads: its data files and its daily sums. */
export function filesOf(manifest: SnapshotManifest): DataFile[] {
  return [...manifest.files, manifest.daily_sums];
}

/** Hashing reads this much at a time: small enough that a server's event loop is never held for long. */
const DIGEST_CHUNK_BYTES = 1 << 20;

/** Null when `file` is whole; else what is wrong with it, in words. */
export async function checkFile(layout: LakeLayout, file: DataFile): Promise<string | null> {
  let digest: { bytes: number; sha256: string };
  try {
    digest = await digestFile(layout.resolve(file.path), DIGEST_CHUNK_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'is missing';
    if (code === 'EISDIR') return 'is a directory, not a file';
    return `cannot be read (${code ?? (error as Error).message})`;
  }
  if (digest.bytes !== file.bytes) return `is ${digest.bytes} bytes, the manifest says ${file.bytes}`;
  if (digest.sha256 !== file.sha256) return 'does not match its checksum (it was changed or damaged)';
  return null;
}

async function checkAll(
  files: readonly DataFile[],
  check: (file: DataFile) => Promise<string | null>,
): Promise<FileProblem[]> {
  const problems: Array<FileProblem | null> = new Array(files.length).fill(null);
  let next = 0;
  // Two at a time: hashing is CPU-bound, and this machine's other core may be validating an ingest.
  const workers = Array.from({ length: Math.min(2, files.length) }, async () => {
    while (next < files.length) {
      const index = next++;
      const file = files[index] as DataFile;
      const problem = await check(file);
      if (problem) problems[index] = { path: file.path, problem };
    }
  });
  await Promise.all(workers);
  return problems.filter((p): p is FileProblem => p !== null);
}

/** The damaged files of `manifest` (none when it is whole), by size and sha256. */
export function findDamagedFiles(layout: LakeLayout, manifest: SnapshotManifest): Promise<FileProblem[]> {
  return checkAll(filesOf(manifest), (file) => checkFile(layout, file));
}

/**
 * `txlake verify`: size and sha256 of every file, and then (for whole files) the row count of its Parquet
 * footer, so that a manifest whose counts were wrong from the start is caught too.
 */
export async function verifySnapshot(
  layout: LakeLayout,
  manifest: SnapshotManifest,
  engine: Engine,
): Promise<FileProblem[]> {
  return checkAll(filesOf(manifest), async (file) => {
    const problem = await checkFile(layout, file);
    if (problem) return problem;
    try {
      const [meta] = await engine.rows<{ rows: bigint }>(
        `SELECT num_rows AS rows FROM parquet_file_metadata(${sqlString(layout.resolve(file.path))})`,
      );
      if (Number(meta?.rows) !== file.rows) return `holds ${meta?.rows} rows, the manifest says ${file.rows}`;
    } catch (error) {
      return `is not a readable Parquet file (${(error as Error).message.split('\n')[0]})`;
    }
    return null;
  });
}

/** `data file X does not match its checksum (and 2 more files are damaged)`. */
export function describeDamage(problems: readonly FileProblem[]): string {
  const first = problems[0];
  if (first === undefined) return 'no file is damaged';
  const kind = first.path.startsWith('_txlake/') ? 'daily sums file' : 'data file';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more damaged files)` : '';
  return `its ${kind} ${first.path} ${first.problem}${more}`;
}

/** What changes when a file's content is changed by any ordinary means: identity, size, times (ns). */
async function fingerprint(absolute: string): Promise<string | null> {
  try {
    const s = await fs.stat(absolute, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return null;
  }
}

/**
 * Files a server has verified by sha256, each with the stat fingerprint it had then. A new snapshot costs
 * the hashing of its new files only; a file seen before is trusted while its fingerprint is unchanged (a
 * write to it changes its ctime, which no ordinary call sets back) and hashed again when it changes.
 */
export class VerifiedFiles {
  private readonly verified = new Map<string, { sha256: string; fingerprint: string }>();

  constructor(private readonly layout: LakeLayout) {}

  /** The damaged files of `manifest`; the whole ones are remembered. */
  async verify(manifest: SnapshotManifest): Promise<FileProblem[]> {
    return checkAll(filesOf(manifest), async (file) => {
      const absolute = this.layout.resolve(file.path);
      const before = await fingerprint(absolute);
      const known = this.verified.get(file.path);
      if (before !== null && known?.sha256 === file.sha256 && known.fingerprint === before) return null;
      const problem = await checkFile(this.layout, file);
      const after = await fingerprint(absolute);
      if (problem === null && after !== null && after === before) {
        this.verified.set(file.path, { sha256: file.sha256, fingerprint: after });
        return null;
      }
      this.verified.delete(file.path);
      return problem ?? 'changed while it was being checked';
    });
  }

  /**
   * Without hashing: the files of `manifest` whose fingerprint is not the one they were verified with. A
   * reader that queries the files per request asks this first, so that a file written to after its check
   * is refused at once rather than at the next `verify`.
   */
  async changedSinceVerified(manifest: SnapshotManifest): Promise<FileProblem[]> {
    const problems: FileProblem[] = [];
    for (const file of filesOf(manifest)) {
      const known = this.verified.get(file.path);
      const now = await fingerprint(this.layout.resolve(file.path));
      if (known === undefined || now === null || known.fingerprint !== now) {
        problems.push({
          path: file.path,
          problem: now === null ? 'is missing' : 'changed on disk after it was verified',
        });
      }
    }
    return problems;
  }

  /** Forget files that `keep` no longer uses, so the map follows the snapshots being served. */
  retainOnly(keep: readonly SnapshotManifest[]): void {
    const used = new Set(keep.flatMap((m) => filesOf(m).map((f) => f.path)));
    for (const path of this.verified.keys()) if (!used.has(path)) this.verified.delete(path);
  }
}
