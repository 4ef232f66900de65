// What state a lake is in, judged from its pointer (CURRENT), its commit log and its manifests together,
// with one sentence (and the way out) for every state in which they disagree. Every command reads the lake
// through here: readers refuse to show, and writers to build on, what the lake cannot vouch for; nothing
// here ever changes the lake.
//
// The rules (docs/lake-format.md): the commit log lists every committed snapshot in order; CURRENT names its
// last one. Between the CURRENT swap and the log append a writer may stop: CURRENT then names a snapshot one
// past the log whose manifest builds on the log's last, and that snapshot is committed (CURRENT's rename is
// the commit). Any other disagreement is damage or a hand edit, and is refused until `txlake repair`.

import fs from 'node:fs/promises';
import path from 'node:path';
import { TxlakeError } from '../domain/errors.js';
import {
  type CommitLog,
  CommitLogDamaged,
  type CommitRecord,
  readCommitLog,
  readLastCommit,
} from './commit-log.js';
import type { LakeLayout } from './layout.js';
import type { SnapshotManifest } from './manifest.js';
import {
  describeManifestProblem,
  lakeRootExists,
  listManifestIds,
  type ManifestReading,
  type PointerReading,
  readManifest,
  readPointer,
} from './snapshots.js';

export const LAKE_PROBLEM_KINDS = [
  /** CURRENT is missing, unreadable, or does not name the snapshot the commit log ends at. */
  'pointer',
  /** The commit log cannot be read as written. */
  'log',
  /** The current snapshot's manifest is missing, damaged, or not the one committed. */
  'manifest',
] as const;
export type LakeProblemKind = (typeof LAKE_PROBLEM_KINDS)[number];

export interface LakeProblem {
  kind: LakeProblemKind;
  /** What is wrong and what to do, in one sentence for the user. */
  message: string;
}

export interface LakeState {
  layout: LakeLayout;
  /** The lake directory exists. */
  exists: boolean;
  pointer: PointerReading;
  /** The commit log; null when the lake has none (new, made before the log existed, or the log was removed). */
  log: CommitLog | null;
  manifestIds: number[];
  /** Committed snapshots by id, oldest first (from the log, or from CURRENT's chain when there is no log). */
  committed: Map<number, CommitRecord>;
  /** The current snapshot when it committed after the log's last line (its writer stopped before logging it). */
  unlogged: CommitRecord[];
  /**
   * With CURRENT lost or wrong: a snapshot newer than the log that builds on its last one, which may or may
   * not have been committed (its writer stopped around the swap), or one whose manifest is damaged, so that
   * what it builds on cannot be read. Only the user can say (`repair --snapshot`).
   */
  uncertain: { id: number; record: CommitRecord | null } | null;
  /** There is no log: `committed` was read from CURRENT's parent chain, and a writer will log it. */
  fromChain: boolean;
  /** The current snapshot's id when the pointer can be trusted (also when its manifest is damaged). */
  currentId: number | null;
  /** The current snapshot's manifest, whole and the one committed; null for an empty lake or a problem. */
  current: SnapshotManifest | null;
  problem: LakeProblem | null;
  /** The highest snapshot id in the log or among the manifests: the next snapshot gets one more. */
  highestId: number;
}

export function repairCommand(layout: LakeLayout): string {
  return `txlake repair --lake ${layout.root}`;
}

/** The commit record of a manifest, as its commit wrote it (for snapshots the log does not hold yet). */
export function commitRecordOf(manifest: SnapshotManifest, manifestSha256: string): CommitRecord {
  return {
    id: manifest.id,
    parent: manifest.parent,
    created: manifest.created,
    operation: manifest.operation,
    mode: manifest.mode,
    rows: manifest.rows,
    manifest_sha256: manifestSha256,
  };
}

/** Nothing committed yet, and no evidence that anything ever was. */
export function isEmptyLake(state: LakeState): boolean {
  return state.problem === null && state.currentId === null;
}

export async function inspectLake(layout: LakeLayout): Promise<LakeState> {
  const state: LakeState = {
    layout,
    exists: await lakeRootExists(layout),
    pointer: { kind: 'missing' },
    log: null,
    manifestIds: [],
    committed: new Map(),
    unlogged: [],
    uncertain: null,
    fromChain: false,
    currentId: null,
    current: null,
    problem: null,
    highestId: 0,
  };
  if (!state.exists) return state;
  state.pointer = await readPointer(layout);
  state.manifestIds = await listManifestIds(layout);
  try {
    state.log = await readCommitLog(layout);
  } catch (error) {
    if (!(error instanceof CommitLogDamaged)) throw error;
    state.highestId = Math.max(0, ...state.manifestIds);
    state.problem = {
      kind: 'log',
      message: `${error.message} (the lake ${layout.root}); run \`${repairCommand(layout)}\` to rewrite it from the snapshot manifests`,
    };
    return state;
  }
  state.highestId = Math.max(0, ...state.manifestIds, state.log?.records.at(-1)?.id ?? 0);
  if (state.pointer.kind === 'missing' && state.log === null && state.manifestIds.length === 0) {
    // No metadata at all: a new lake, unless data files are there (its _txlake/ lost, or another tool's).
    const orphan = await firstDataFile(layout.root);
    if (orphan !== null) {
      state.problem = {
        kind: 'pointer',
        message:
          `the lake ${layout.root} holds Parquet data files (${layout.relative(orphan)}, …) but no snapshots: its ` +
          '_txlake/ metadata is missing. Restore _txlake/ from a backup; txlake will not start a new history over ' +
          'files it cannot account for (move them elsewhere to start a new lake there)',
      };
    }
    return state;
  }
  const currentReading = state.log ? await judgePointerWithLog(state) : await judgePointerWithoutLog(state);
  if (state.log && state.problem?.kind === 'pointer') await judgeUncertainCommit(state);
  if (state.problem === null && state.currentId !== null) await judgeCurrentManifest(state, currentReading);
  return state;
}

const CURRENT_FILE = '_txlake/CURRENT';

/** A Parquet file in a partition directory (`name=value/…`) of the lake, or null. */
async function firstDataFile(root: string): Promise<string | null> {
  const search = async (directory: string, depth: number): Promise<string | null> => {
    const entries = await fs.readdir(directory, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const full = path.join(directory, entry.name);
      if (entry.isFile() && depth > 0 && entry.name.endsWith('.parquet')) return full;
      if (entry.isDirectory() && entry.name.includes('=') && depth < 3) {
        const found = await search(full, depth + 1);
        if (found) return found;
      }
    }
    return null;
  };
  return search(root, 0);
}

/** The pointer against the log; returns the current manifest's reading when it had to be read already. */
async function judgePointerWithLog(state: LakeState): Promise<ManifestReading | null> {
  const { layout, pointer } = state;
  const records = (state.log as CommitLog).records;
  for (const record of records) state.committed.set(record.id, record);
  const last = records.at(-1) ?? null;
  const repair = `run \`${repairCommand(layout)}\` to restore it`;
  if (pointer.kind === 'missing') {
    if (last === null && (await onlyFirstAttempts(state))) return null; // nothing committed yet
    state.problem = {
      kind: 'pointer',
      message: last
        ? `the lake ${layout.root} has lost its pointer ${CURRENT_FILE}; its commit log says snapshot ${last.id} is current; ${repair}`
        : `the lake ${layout.root} has lost its pointer ${CURRENT_FILE} and its commit log is empty; run \`${repairCommand(layout)}\``,
    };
    return null;
  }
  if (pointer.kind === 'invalid') {
    state.problem = {
      kind: 'pointer',
      message: `${CURRENT_FILE} of the lake ${layout.root} does not hold a snapshot id (it holds "${pointer.text}"); ${repair}`,
    };
    return null;
  }
  const named = pointer.id;
  if (last !== null && named === last.id) {
    state.currentId = named;
    return null;
  }
  if (state.committed.has(named)) {
    state.problem = {
      kind: 'pointer',
      message:
        `${CURRENT_FILE} of the lake ${layout.root} names snapshot ${named}, but snapshot ${last?.id} was committed after it ` +
        `(CURRENT was changed outside txlake); ${repair}, then \`txlake rollback ${named}\` if you meant to go back to it`,
    };
    return null;
  }
  const logEnd = last ? `the commit log ends at snapshot ${last.id}` : 'the commit log is empty';
  if (named > (last?.id ?? 0)) {
    const reading = await readManifest(layout, named);
    const chain = await chainDownTo(state, reading, last?.id ?? null);
    if (chain !== null) {
      // Committed by the CURRENT swap; its writer stopped before the log append (a writer logs it). A longer
      // chain down to the log's end (lines lost from the log) is committed too: each snapshot in it was
      // current when the next was built on it.
      state.unlogged = chain;
      for (const record of chain) state.committed.set(record.id, record);
      state.currentId = named;
      return reading;
    }
    const what =
      reading.kind === 'missing'
        ? 'which does not exist'
        : reading.kind === 'damaged'
          ? 'which the commit log does not list and whose manifest is damaged'
          : 'which was never committed';
    state.problem = {
      kind: 'pointer',
      message: `${CURRENT_FILE} of the lake ${layout.root} names snapshot ${named}, ${what} (${logEnd}); ${repair}`,
    };
    return null;
  }
  state.problem = {
    kind: 'pointer',
    message: `${CURRENT_FILE} of the lake ${layout.root} names snapshot ${named}, which was never committed (${logEnd}); ${repair}`,
  };
  return null;
}

/**
 * A writer stopped between its CURRENT swap and its log append leaves a snapshot committed but not logged;
 * one stopped just before the swap leaves the same manifest, never committed. While CURRENT is trusted it
 * tells them apart; once CURRENT is lost or wrong nothing can, so the choice is the user's (`repair
 * --snapshot`), never a guess that might lose a commit or revive an abandoned write.
 */
async function judgeUncertainCommit(state: LakeState): Promise<void> {
  const last = state.log?.records.at(-1) ?? null;
  const uncertain = await findUncertainCommit(state.layout, state.manifestIds, last?.id ?? null);
  if (uncertain === null) return;
  state.uncertain = uncertain;
  const before = state.problem?.message.replace(/; run `[^`]*`.*$/, '') ?? '';
  state.problem = {
    kind: 'pointer',
    message: `${before}; and ${describeUncertain(state.layout, uncertain, last?.id ?? null)}`,
  };
}

/**
 * The newest manifest above `lastId` (the last commit known for sure) that may have been committed after it:
 * a whole one built on it, or a damaged one (what it was built on cannot be read). Null when there is none.
 */
export async function findUncertainCommit(
  layout: LakeLayout,
  manifestIds: readonly number[],
  lastId: number | null,
): Promise<{ id: number; record: CommitRecord | null } | null> {
  for (const id of [...manifestIds].reverse()) {
    if (id <= (lastId ?? 0)) break;
    const reading = await readManifest(layout, id);
    if (reading.kind !== 'ok') return { id, record: null };
    if (reading.manifest.parent === lastId)
      return { id, record: commitRecordOf(reading.manifest, reading.sha256) };
  }
  return null;
}

/** Why `uncertain` cannot be decided, and the two commands that decide it. */
export function describeUncertain(
  layout: LakeLayout,
  uncertain: { id: number; record: CommitRecord | null },
  lastId: number | null,
): string {
  const command = repairCommand(layout);
  const fallback = lastId === null ? 'nothing' : `\`${command} --snapshot ${lastId}\``;
  const { id } = uncertain;
  if (uncertain.record === null) {
    return (
      `snapshot ${id}, newer than the last known commit, has a damaged manifest, so whether it was committed ` +
      `cannot be known: restore ${layout.relative(layout.manifestPath(id))} from a backup and run \`${command}\` ` +
      `again, or make the last known commit current with ${fallback}`
    );
  }
  return (
    `snapshot ${id}, built on snapshot ${lastId ?? 'none'}, is not in the commit log: its writer stopped either just ` +
    'after committing it or just before, and without CURRENT which cannot be known; make the right one current ' +
    `with \`${command} --snapshot ${id}\` or ${fallback}`
  );
}

/** The whole manifests from `top` down to the one built on `lastId`, oldest first; null if that chain breaks. */
async function chainDownTo(
  state: LakeState,
  top: ManifestReading,
  lastId: number | null,
): Promise<CommitRecord[] | null> {
  const chain: CommitRecord[] = [];
  let reading = top;
  while (reading.kind === 'ok') {
    const { manifest } = reading;
    chain.push(commitRecordOf(manifest, reading.sha256));
    if (manifest.parent === lastId) return chain.reverse();
    if (manifest.parent === null || manifest.parent <= (lastId ?? 0) || manifest.parent >= manifest.id)
      return null;
    reading = await readManifest(state.layout, manifest.parent);
  }
  return null;
}

/**
 * With an empty log and no pointer, the manifests on disk can only be those of first commits that stopped
 * before their swap: they build on nothing. One that builds on a snapshot proves a lost history.
 */
async function onlyFirstAttempts(state: LakeState): Promise<boolean> {
  for (const id of state.manifestIds) {
    const reading = await readManifest(state.layout, id);
    if (reading.kind !== 'ok' || reading.manifest.parent !== null) return false;
  }
  return true;
}

/** A lake without a log: what CURRENT's parent chain says (the rule of lakes made before the log). */
async function judgePointerWithoutLog(state: LakeState): Promise<ManifestReading | null> {
  const { layout, pointer } = state;
  if (pointer.kind === 'missing') {
    if (state.manifestIds.length === 0) return null; // a new lake
    state.problem = {
      kind: 'pointer',
      message:
        `the lake ${layout.root} has ${state.manifestIds.length} snapshot manifests but neither a pointer (${CURRENT_FILE}) ` +
        `nor a commit log, so which snapshot is current cannot be known; \`${repairCommand(layout)}\` lists the candidates ` +
        'and `--snapshot ID` makes one current',
    };
    return null;
  }
  if (pointer.kind === 'invalid') {
    state.problem = {
      kind: 'pointer',
      message: `${CURRENT_FILE} of the lake ${layout.root} does not hold a snapshot id (it holds "${pointer.text}"); run \`${repairCommand(layout)}\``,
    };
    return null;
  }
  const first = await readManifest(layout, pointer.id);
  if (first.kind === 'missing' && !state.manifestIds.includes(pointer.id)) {
    state.problem = {
      kind: 'pointer',
      message: `${CURRENT_FILE} of the lake ${layout.root} names snapshot ${pointer.id}, which does not exist; run \`${repairCommand(layout)}\``,
    };
    return null;
  }
  state.currentId = pointer.id;
  state.fromChain = true;
  // Oldest first, like the log: walk down from CURRENT, then reverse.
  const chain: CommitRecord[] = [];
  let reading = first;
  while (reading.kind === 'ok') {
    chain.push(commitRecordOf(reading.manifest, reading.sha256));
    const parent = reading.manifest.parent;
    if (parent === null || chain.some((r) => r.id === parent)) break;
    reading = await readManifest(layout, parent);
  }
  for (const record of chain.reverse()) state.committed.set(record.id, record);
  await judgeChainAgainstManifests(state);
  return first;
}

/**
 * Without a log, CURRENT's chain is the history only if no manifest contradicts it (`commitOutside`):
 * otherwise CURRENT was moved back by hand, or replaced, and guessing would lose that history.
 */
async function judgeChainAgainstManifests(state: LakeState): Promise<void> {
  const outside = await commitOutside(state.layout, state.manifestIds, new Set(state.committed.keys()));
  if (outside === null) return;
  state.problem = {
    kind: 'pointer',
    message:
      `${CURRENT_FILE} of the lake ${state.layout.root} names snapshot ${state.currentId}, but snapshot ${outside.proven} ` +
      `was committed and is not in its history, and there is no commit log to say which is current; ` +
      `\`${repairCommand(state.layout)}\` lists the candidates and \`--snapshot ID\` makes one current`,
  };
}

/**
 * A commit that `history` (ids, the chain of one snapshot) leaves out though a manifest proves it: snapshot
 * `proven`, newer than the history's oldest, on which manifest `by` is built (or which it restores). A
 * snapshot is only ever built on while it is current, so `proven` was committed. Null when none.
 */
export async function commitOutside(
  layout: LakeLayout,
  manifestIds: readonly number[],
  history: ReadonlySet<number>,
): Promise<{ proven: number; by: number } | null> {
  const oldest = Math.min(...history);
  for (const id of manifestIds) {
    if (history.has(id)) continue;
    const reading = await readManifest(layout, id);
    if (reading.kind !== 'ok') continue;
    const proven = [reading.manifest.parent, reading.manifest.restores ?? null].find(
      (p): p is number => p !== null && p > oldest && !history.has(p),
    );
    if (proven !== undefined) return { proven, by: id };
  }
  return null;
}

async function judgeCurrentManifest(state: LakeState, known: ManifestReading | null): Promise<void> {
  const { layout } = state;
  const id = state.currentId as number;
  const reading = known ?? (await readManifest(layout, id));
  const record = state.committed.get(id);
  const wayOut =
    'restore it from a backup, or make an intact snapshot current with `txlake rollback ID` ' +
    '(`txlake snapshots` lists them)';
  if (reading.kind !== 'ok') {
    state.problem = {
      kind: 'manifest',
      message: `the current snapshot of the lake ${layout.root} cannot be read: ${describeManifestProblem(layout, id, reading)}; ${wayOut}`,
    };
    return;
  }
  if (record && record.manifest_sha256 !== reading.sha256) {
    state.problem = {
      kind: 'manifest',
      message:
        `the current snapshot of the lake ${layout.root} cannot be trusted: the manifest of snapshot ${id} ` +
        `(${layout.relative(layout.manifestPath(id))}) is not the one committed (its sha256 differs from the commit log); ${wayOut}`,
    };
    return;
  }
  state.current = reading.manifest;
}

/** The error a command gives for a lake in `state.problem`. */
export function lakeProblemError(state: LakeState): TxlakeError {
  return new TxlakeError('lake', state.problem?.message ?? `the lake ${state.layout.root} is consistent`);
}

/**
 * The current snapshot for a command that reads it: null for an empty lake; an error naming the problem
 * (and the way out) for a lake that cannot vouch for it, and for a lake directory that does not exist.
 */
export async function readCurrentSnapshot(layout: LakeLayout): Promise<SnapshotManifest | null> {
  const state = await inspectLake(layout);
  if (state.problem) throw lakeProblemError(state);
  return state.current;
}

/** For commands that need a lake with a current snapshot: the state, or an error saying what is missing. */
export async function requireCurrentSnapshot(
  layout: LakeLayout,
): Promise<LakeState & { current: SnapshotManifest }> {
  const state = await inspectLake(layout);
  assertHasCurrent(state);
  return state;
}

export function assertHasCurrent(
  state: LakeState,
): asserts state is LakeState & { current: SnapshotManifest } {
  if (!state.exists) {
    throw new TxlakeError(
      'lake',
      `there is no lake at ${state.layout.root} (no such directory); check --lake or TXLAKE_LAKE`,
    );
  }
  if (state.problem) throw lakeProblemError(state);
  if (state.current === null) {
    throw new TxlakeError(
      'lake',
      `the lake ${state.layout.root} has no snapshot yet; run \`txlake ingest FILE --lake ${state.layout.root}\` first`,
    );
  }
}

/**
 * The newest committed snapshot other than the current one whose manifest is whole and the one committed,
 * and that `accept` takes (a way out to name beside a damaged current snapshot); null when none is.
 */
export async function newestOtherSnapshot(
  state: LakeState,
  accept: (manifest: SnapshotManifest) => boolean | Promise<boolean>,
): Promise<number | null> {
  for (const record of [...state.committed.values()].reverse()) {
    if (record.id === state.currentId) continue;
    const reading = await readManifest(state.layout, record.id);
    if (reading.kind !== 'ok' || reading.sha256 !== record.manifest_sha256) continue;
    if (await accept(reading.manifest)) return record.id;
  }
  return null;
}

export type ServableSnapshot =
  | { kind: 'empty' }
  | { kind: 'unchanged' }
  | { kind: 'snapshot'; manifest: SnapshotManifest };

/**
 * What a server should serve, checked every second, so without reading the whole commit log: the current
 * snapshot when the pointer, the log's last line and the manifest agree (or the lake has no log, as lakes
 * made before it did not); `unchanged` when CURRENT still names `servedId`. Anything else goes through the
 * full inspection, which names the problem (thrown) or finds the lake empty.
 */
export async function readServableSnapshot(
  layout: LakeLayout,
  servedId: number | null,
): Promise<ServableSnapshot> {
  const pointer = await readPointer(layout);
  if (pointer.kind === 'id' && pointer.id === servedId) return { kind: 'unchanged' };
  if (pointer.kind === 'id') {
    const last = await readLastCommit(layout).catch((error: unknown) => {
      if (error instanceof CommitLogDamaged) return undefined;
      throw error;
    });
    const reading = last === undefined ? null : await readManifest(layout, pointer.id);
    if (reading?.kind === 'ok') {
      const manifest = reading.manifest;
      const lastId = last === 'absent' || last === null || last === undefined ? null : last.id;
      const logged =
        last !== 'absent' &&
        last !== null &&
        last?.id === pointer.id &&
        last.manifest_sha256 === reading.sha256;
      const pending = last !== 'absent' && pointer.id > (lastId ?? 0) && manifest.parent === lastId;
      // (A lake without a log goes through the full inspection: its chain must agree with the manifests.)
      if (logged || pending) return { kind: 'snapshot', manifest };
    }
  }
  const state = await inspectLake(layout);
  if (state.problem) throw lakeProblemError(state);
  if (state.current === null) return { kind: 'empty' };
  return state.current.id === servedId
    ? { kind: 'unchanged' }
    : { kind: 'snapshot', manifest: state.current };
}
