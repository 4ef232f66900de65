// Vacuum: remove what no retained snapshot needs. Retained are the current snapshot and every snapshot
// committed within the retention window (by the commit log's times) that no earlier vacuum removed
// (vacuumed.ts); their files stay, and so they can still be rolled back to. What goes: the manifests of expired snapshots, manifests that were never committed,
// files that no remaining manifest names, scratch space and temporary files.
//
// It removes only what it can prove unneeded: it refuses a lake whose pointer and history disagree (lake-
// state.ts), a retained snapshot whose manifest is damaged (it could not tell that snapshot's files), and
// keeps what it cannot classify (manifests older than the commit log, files txlake did not name).

import fs from 'node:fs/promises';
import path from 'node:path';
import { TxlakeError } from '../domain/errors.js';
import type { CommitRecord } from './commit-log.js';
import { faultPoint } from './fault-points.js';
import { describeDamage, filesOf, findDamagedFiles } from './integrity.js';
import { inspectLake, lakeProblemError } from './lake-state.js';
import { type LakeLayout, METADATA_DIR } from './layout.js';
import { describeManifestProblem, readManifest } from './snapshots.js';
import { readVacuumed, writeVacuumed } from './vacuumed.js';
import { withLakeWrite } from './writer.js';

export interface VacuumResult {
  retained: number[];
  /** Manifests of expired snapshots. */
  removedSnapshots: number[];
  /** Manifests of writes that were never committed (a writer stopped before its swap). */
  removedUncommitted: number[];
  removedFiles: string[];
  removedBytes: number;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `12h`, `7d`, `2w` or `0`, in milliseconds. */
export function parseRetention(text: string): number {
  const match = /^([0-9]+)([smhdw]?)$/.exec(text.trim());
  const unit = match?.[2] || (match?.[1] === '0' ? 's' : '');
  if (!match || !unit) {
    throw new TxlakeError('usage', `--retain must be a duration such as 30m, 12h, 7d or 0, got "${text}"`);
  }
  return Number(match[1]) * (UNITS[unit] as number);
}

async function walkFiles(directory: string): Promise<string[]> {
  const entries = await fs.readdir(directory, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await walkFiles(full)));
    else files.push(full);
  }
  return files;
}

async function removeEmptyDirectories(directory: string, keep: string): Promise<void> {
  const entries = await fs.readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const entry of entries)
    if (entry.isDirectory()) await removeEmptyDirectories(path.join(directory, entry.name), keep);
  if (directory !== keep && (await fs.readdir(directory).catch(() => ['x'])).length === 0)
    await fs.rmdir(directory);
}

/** Names txlake gives its files (data-writer.ts, durable-files.ts): anything else in the lake is the user's. */
const TXLAKE_DATA_FILE = /^part-[0-9]{8}T[0-9]{6}-[0-9a-f]{8}(-[0-9]+)?\.parquet(\.tmp-.*)?$/;
const TXLAKE_DAILY_SUMS_FILE = /^daily-sums-[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.parquet(\.tmp-.*)?$/;

export async function vacuum(
  layout: LakeLayout,
  retainMs: number,
  notice?: (message: string) => void,
): Promise<VacuumResult> {
  return withLakeWrite(layout, 'vacuum', { requireSnapshot: true, ...(notice ? { notice } : {}) }, () =>
    vacuumHoldingLock(layout, retainMs, notice),
  );
}

/** Vacuum, for a caller that holds the writer lock already (`delete-user --purge`). */
export async function vacuumHoldingLock(
  layout: LakeLayout,
  retainMs: number,
  notice: (message: string) => void = () => {},
  now = Date.now(),
): Promise<VacuumResult> {
  const state = await inspectLake(layout);
  if (state.problem) throw lakeProblemError(state);
  // Snapshots an earlier vacuum removed stay removed, whatever this vacuum's retention. It never removes
  // the current one: a record saying so is damaged, and trusting it would remove the lake.
  const vacuumed = await readVacuumed(layout);
  if (state.currentId !== null && vacuumed.has(state.currentId)) {
    throw new TxlakeError(
      'lake',
      `${layout.relative(layout.vacuumedFile)} of the lake ${layout.root} names the current snapshot ${state.currentId} ` +
        'as removed, which no vacuum does: it is damaged; nothing was removed. Restore it from a backup, or remove it ' +
        '(every missing manifest then counts as damage, which is the safe side)',
    );
  }
  // Nor while the current snapshot is damaged: the older snapshots it would remove may be the way out.
  const damaged = state.current ? await findDamagedFiles(layout, state.current) : [];
  if (damaged.length > 0) {
    throw new TxlakeError(
      'lake',
      `the current snapshot ${state.currentId} of the lake ${layout.root} is damaged: ${describeDamage(damaged)}; ` +
        'vacuum removes nothing while older snapshots may be the way out: restore the file from a backup, or make an ' +
        'intact snapshot current with `txlake rollback ID` (`txlake repair` names one)',
    );
  }
  const records = [...state.committed.values()];
  const live = records.filter((r) => !vacuumed.has(r.id));
  const isRetained = (r: CommitRecord) => r.id === state.currentId || now - Date.parse(r.created) <= retainMs;
  const retained = live.filter(isRetained);
  const expired = live.filter((r) => !isRetained(r));

  const needed = new Set<string>();
  for (const record of retained) {
    const reading = await readManifest(layout, record.id);
    if (reading.kind !== 'ok' || reading.sha256 !== record.manifest_sha256) {
      const why =
        reading.kind === 'ok'
          ? `the manifest of snapshot ${record.id} is not the one committed (its sha256 differs from the commit log)`
          : describeManifestProblem(layout, record.id, reading);
      throw new TxlakeError(
        'lake',
        `vacuum cannot tell which files the retained snapshot ${record.id} needs: ${why}; nothing was removed. ` +
          'Restore the manifest from a backup, or vacuum with a --retain shorter than its age once you accept losing it',
      );
    }
    for (const file of filesOf(reading.manifest)) needed.add(file.path);
  }

  // Manifests outside the log: never committed when the log reaches back past them (it starts with the
  // lake's first snapshot, or they are newer than its first record); otherwise their fate is unknown, so
  // they and every file they name stay.
  const first = records[0];
  const logReachesBackTo = first === undefined || first.parent === null ? 0 : first.id;
  const neverCommitted: number[] = [];
  const unknown: number[] = [];
  for (const id of state.manifestIds) {
    if (state.committed.has(id)) continue;
    if (id > logReachesBackTo) {
      neverCommitted.push(id);
      continue;
    }
    unknown.push(id);
    const reading = await readManifest(layout, id);
    if (reading.kind === 'ok') for (const file of filesOf(reading.manifest)) needed.add(file.path);
  }
  if (unknown.length > 0) {
    notice(
      `kept the manifests of snapshots ${unknown.join(', ')} and their files: they are older than the commit log, ` +
        'which cannot tell whether they were ever committed',
    );
  }

  const result: VacuumResult = {
    retained: retained.map((r) => r.id),
    removedSnapshots: [],
    removedUncommitted: [],
    removedFiles: [],
    removedBytes: 0,
  };
  // Recorded before anything is removed; then manifests, then files: a vacuum stopped midway leaves only
  // files that no manifest names (the next vacuum removes them), never a manifest whose files are gone.
  if (expired.length > 0) await writeVacuumed(layout, vacuumed.union(expired.map((r) => r.id)));
  const unfinished = records.filter((r) => vacuumed.has(r.id)).map((r) => r.id);
  const doomed = [...expired.map((r) => r.id), ...unfinished, ...neverCommitted].sort((a, b) => a - b);
  for (const id of doomed) {
    const file = layout.manifestPath(id);
    const size = await fs.stat(file).then(
      (s) => s.size,
      () => null,
    );
    if (size === null) continue; // vacuumed before
    await fs.rm(file, { force: true });
    (neverCommitted.includes(id) ? result.removedUncommitted : result.removedSnapshots).push(id);
    result.removedBytes += size;
    faultPoint('vacuum-removing');
  }

  const { candidates, foreign } = await removalCandidates(layout);
  for (const file of candidates) {
    const relative = layout.relative(file);
    if (needed.has(relative)) continue;
    const { size, mtimeMs } = await fs.stat(file);
    // A data file no manifest names goes only once it is older than the retention (as Delta Lake does): a
    // recent one may belong to commits whose metadata a restore from an older backup lost.
    const isData =
      !relative.startsWith(`${METADATA_DIR}/`) || relative.startsWith(`${METADATA_DIR}/daily_sums/`);
    if (isData && now - mtimeMs < retainMs) continue;
    await fs.rm(file, { force: true });
    result.removedFiles.push(relative);
    result.removedBytes += size;
    faultPoint('vacuum-removing');
  }
  if (foreign.length > 0) {
    notice(
      `left ${foreign.length} files in the lake that txlake did not write (for example ${foreign[0]}); ` +
        'readers ignore them, as they are in no manifest',
    );
  }
  const partitionDirs = await partitionDirectories(layout);
  for (const dir of [...partitionDirs, path.dirname(layout.stagingDir('x'))])
    await removeEmptyDirectories(dir, layout.root);
  return result;
}

async function partitionDirectories(layout: LakeLayout): Promise<string[]> {
  return (await fs.readdir(layout.root, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && e.name !== METADATA_DIR && e.name.includes('='))
    .map((e) => path.join(layout.root, e.name));
}

/**
 * Files vacuum may remove when no retained manifest names them: txlake's data and daily-sum files, staging
 * directories (only the lock holder writes there, and that is this process), and txlake's temporary files.
 * Other files in partition directories are the user's (`foreign`) and stay.
 */
async function removalCandidates(layout: LakeLayout): Promise<{ candidates: string[]; foreign: string[] }> {
  const dataFiles = (await Promise.all((await partitionDirectories(layout)).map(walkFiles))).flat();
  const dailySums = await walkFiles(layout.dailySumsDir);
  const ours = (file: string, pattern: RegExp) => pattern.test(path.basename(file));
  const candidates = [
    ...dataFiles.filter((f) => ours(f, TXLAKE_DATA_FILE)),
    ...dailySums.filter((f) => ours(f, TXLAKE_DAILY_SUMS_FILE)),
    ...(await walkFiles(path.dirname(layout.stagingDir('x')))),
    ...(await walkFiles(layout.snapshotsDir)).filter((f) => f.includes('.tmp-')),
    // A LOCK temporary may belong to a writer taking the lock this instant: lock.ts removes its own. The
    // key file changes under its own lock, not the writers': its temporaries may be in use now too.
    ...(await walkFiles(layout.metadataDir)).filter(
      (f) =>
        path.dirname(f) === layout.metadataDir &&
        f.includes('.tmp-') &&
        !/^(LOCK|keys)/.test(path.basename(f)),
    ),
  ];
  const foreign = [
    ...dataFiles.filter((f) => !ours(f, TXLAKE_DATA_FILE)),
    ...dailySums.filter((f) => !ours(f, TXLAKE_DAILY_SUMS_FILE)),
  ].map((f) => layout.relative(f));
  return { candidates, foreign };
}
