// `txlake repair`: bring a lake whose pointer or commit log is lost, damaged or edited back to the state its
// history says, and say what is still wrong. It never guesses: the commit log decides which snapshot is
// current; where no log can (it is gone together with CURRENT), the user names the snapshot. It never
// deletes, and never moves the lake back in time (that is `txlake rollback`, which repair names).

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { appendCommitRecord, type CommitRecord, intactCommitLines, writeCommitLog } from './commit-log.js';
import { writeFileAtomic } from './durable-files.js';
import type { Engine } from './engine.js';
import { describeDamage, type FileProblem, filesOf, verifySnapshot } from './integrity.js';
import {
  commitOutside,
  commitRecordOf,
  describeUncertain,
  findUncertainCommit,
  inspectLake,
  type LakeState,
  newestOtherSnapshot,
} from './lake-state.js';
import type { LakeLayout } from './layout.js';
import type { SnapshotManifest } from './manifest.js';
import { describeManifestProblem, readManifest } from './snapshots.js';
import { describeLogged, withLakeWrite } from './writer.js';

export interface RepairResult {
  /** What was changed, one sentence each; empty when the lake needed nothing. */
  actions: string[];
  /** The current snapshot afterwards. */
  current: number | null;
  /** What is still wrong (the current snapshot's content is damaged), with the ways out; null when whole. */
  remaining: string | null;
}

export interface RepairOptions {
  /** The snapshot to make current when no commit log can say (it is lost together with CURRENT). */
  snapshot?: number;
  notice?: (message: string) => void;
}

export async function repairLake(
  layout: LakeLayout,
  engine: Engine,
  options: RepairOptions = {},
): Promise<RepairResult> {
  if (!(await inspectLake(layout)).exists) {
    throw new TxlakeError(
      'lake',
      `there is no lake at ${layout.root} (no such directory); check --lake or TXLAKE_LAKE`,
    );
  }
  const session = { anyState: true, ...(options.notice ? { notice: options.notice } : {}) };
  return withLakeWrite(layout, 'repair', session, async ({ state }) => {
    const actions: string[] = [];
    const records = await recoverHistory(state, options.snapshot, actions);
    if (records === null) return { actions, current: null, remaining: null }; // nothing was ever committed
    const newest = records.at(-1) as CommitRecord;
    await restorePointer(state, newest, actions);

    const after = await inspectLake(layout);
    if (after.problem) {
      return {
        actions,
        current: after.currentId,
        remaining: `${after.problem.message}${await intactHint(after, engine)}`,
      };
    }
    const current = after.current as SnapshotManifest;
    const damaged = await verifySnapshot(layout, current, engine);
    const remaining =
      damaged.length === 0
        ? null
        : `snapshot ${current.id} is damaged: ${describeDamage(damaged)}; restore the file from a backup ` +
          `(then \`txlake verify\`)${await intactHint(after, engine, damaged)}`;
    return { actions, current: current.id, remaining };
  });
}

/**
 * The committed history, oldest first, with the commit log brought back in line; null for a lake in which
 * nothing was committed. Who decides which snapshot is newest: an intact log; else CURRENT (when its
 * manifest is whole); else the user (`--snapshot`), who is refused, with the candidates listed, when nothing
 * else can say.
 */
async function recoverHistory(
  state: LakeState,
  chosen: number | undefined,
  actions: string[],
): Promise<CommitRecord[] | null> {
  const { layout } = state;
  const logText = await fs.readFile(layout.commitLog, 'utf8').catch(() => null);
  const fromLog = logText === null ? [] : intactCommitLines(logText);
  const logDamaged = state.problem?.kind === 'log';

  if (!logDamaged && fromLog.length > 0) {
    const logged = (fromLog.at(-1) as CommitRecord).id;
    if (state.uncertain) {
      // CURRENT is lost and a snapshot may have committed without being logged: the user says which.
      if (chosen === undefined)
        throw new TxlakeError('lake', state.problem?.message ?? 'the lake is uncertain');
      if (chosen === state.uncertain.id) {
        const record = state.uncertain.record;
        if (record === null) {
          throw new TxlakeError(
            'lake',
            `snapshot ${chosen} cannot be made current: ${describeManifestProblem(layout, chosen, await readManifest(layout, chosen))}; restore it from a backup first`,
          );
        }
        await appendCommitRecord(layout, record);
        actions.push(`recorded snapshot ${chosen} in the commit log, as you chose it`);
        return [...fromLog, record];
      }
      if (chosen !== logged) throw notNeeded(logged, chosen);
      return fromLog;
    }
    const newest = state.unlogged.at(-1)?.id ?? logged;
    if (chosen !== undefined && chosen !== newest) throw notNeeded(newest, chosen);
    if (state.unlogged.length > 0) {
      for (const record of state.unlogged) await appendCommitRecord(layout, record);
      actions.push(describeLogged(state.unlogged));
      return [...fromLog, ...state.unlogged];
    }
    return fromLog;
  }

  const pointed = state.pointer.kind === 'id' ? state.pointer.id : null;
  // Without a log CURRENT decides, unless the manifests contradict it (lake-state.ts) or it is unreadable.
  const pointerUsable =
    pointed !== null &&
    state.problem?.kind !== 'pointer' &&
    (await readManifest(layout, pointed)).kind === 'ok';
  if (chosen !== undefined && pointerUsable && chosen !== pointed) throw notNeeded(pointed as number, chosen);
  // With a damaged log, its newest intact line may be newer than CURRENT (which may have been edited too):
  // the newer of the two is the last commit.
  const witnesses = [pointerUsable ? pointed : null, logDamaged ? (fromLog.at(-1)?.id ?? null) : null];
  const known = witnesses.filter((id): id is number => id !== null);
  const newestKnown = known.length > 0 ? Math.max(...known) : null;
  if (chosen === undefined && !pointerUsable && newestKnown !== null) {
    // Without a trusted CURRENT, a snapshot above the newest known commit may or may not have committed.
    const uncertain = await findUncertainCommit(layout, state.manifestIds, newestKnown);
    if (uncertain) {
      throw new TxlakeError(
        'lake',
        `the lake ${layout.root} cannot be repaired without a choice: ${describeUncertain(layout, uncertain, newestKnown)}`,
      );
    }
  }
  const start = chosen ?? newestKnown;
  if (start === null) {
    if (state.manifestIds.length === 0) return null;
    throw new TxlakeError('lake', await undecidable(state));
  }
  const records = await chainFrom(
    state,
    start,
    fromLog,
    logText === null ? new Map() : damagedLineClaims(logText),
  );
  if (chosen !== undefined) await assertNoCommitOutside(state, records);
  if (records.length === 0) {
    const reading = await readManifest(layout, start);
    throw new TxlakeError(
      'lake',
      `snapshot ${start} cannot be made current: ${describeManifestProblem(layout, start, reading)}`,
    );
  }
  await writeCommitLog(layout, records);
  actions.push(
    logDamaged
      ? `rewrote the damaged commit log from its intact lines and the snapshot manifests (snapshots ${span(records)})`
      : `wrote a commit log from the snapshot chain of snapshot ${start} (snapshots ${span(records)})`,
  );
  return records;
}

/** What damaged log lines still say: the manifest sha256 each recorded, by id, where the line still parses. */
function damagedLineClaims(text: string): Map<number, string> {
  const claims = new Map<number, string>();
  for (const line of text.split('\n')) {
    try {
      const value = JSON.parse(line) as { id?: unknown; manifest_sha256?: unknown };
      if (typeof value.id === 'number' && typeof value.manifest_sha256 === 'string') {
        claims.set(value.id, value.manifest_sha256);
      }
    } catch {
      // not even JSON: it says nothing
    }
  }
  return claims;
}

/** A snapshot chosen by the user must not leave out a commit a manifest proves (lake-state.ts). */
async function assertNoCommitOutside(state: LakeState, chain: readonly CommitRecord[]): Promise<void> {
  const outside = await commitOutside(state.layout, state.manifestIds, new Set(chain.map((r) => r.id)));
  if (outside === null) return;
  throw new TxlakeError(
    'lake',
    `snapshot ${outside.proven} was committed (snapshot ${outside.by} is built on it) but is not in the history of ` +
      `snapshot ${chain.at(-1)?.id}; choose a snapshot whose history includes it (\`txlake repair\` lists them)`,
  );
}

function notNeeded(newest: number, chosen: number): TxlakeError {
  if (chosen > newest) {
    return new TxlakeError(
      'usage',
      `snapshot ${chosen} is newer than every committed snapshot (the newest is ${newest})`,
    );
  }
  return new TxlakeError(
    'usage',
    `the lake's history says snapshot ${newest} is current, so --snapshot is not needed; to go back to snapshot ` +
      `${chosen}, run \`txlake repair\` and then \`txlake rollback ${chosen}\``,
  );
}

function span(records: readonly CommitRecord[]): string {
  const first = records[0]?.id;
  const last = records.at(-1)?.id;
  return first === last ? `${first}` : `${first}–${last}`;
}

/**
 * The chain of parents from `start` down, oldest first, taking each record from the log where it has an
 * intact one and from the manifest otherwise, and stopping where neither exists (older history is lost to
 * the log; vacuum keeps what it cannot classify).
 */
async function chainFrom(
  state: LakeState,
  start: number,
  fromLog: readonly CommitRecord[],
  claims: ReadonlyMap<number, string>,
): Promise<CommitRecord[]> {
  const logged = new Map(fromLog.map((r) => [r.id, r]));
  const chain: CommitRecord[] = [];
  let id: number | null = start;
  while (id !== null && !chain.some((r) => r.id === id)) {
    const known = logged.get(id);
    if (known) {
      chain.push(known);
      id = known.parent;
      continue;
    }
    const reading = await readManifest(state.layout, id);
    if (reading.kind !== 'ok') break;
    const claimed = claims.get(id);
    if (claimed !== undefined && claimed !== reading.sha256) {
      // Its log line is damaged, but still says which manifest was committed: not this one.
      throw new TxlakeError(
        'lake',
        `the manifest of snapshot ${id} is not the one its (damaged) commit-log line records: it was changed; ` +
          'restore it from a backup, then run `txlake repair` again',
      );
    }
    chain.push(commitRecordOf(reading.manifest, reading.sha256));
    id = reading.manifest.parent;
  }
  return chain.reverse();
}

/** Point CURRENT at `newest` when it names anything else. */
async function restorePointer(state: LakeState, newest: CommitRecord, actions: string[]): Promise<void> {
  const { layout, pointer } = state;
  if (pointer.kind === 'id' && pointer.id === newest.id) return;
  const was =
    pointer.kind === 'missing'
      ? 'it was missing'
      : pointer.kind === 'invalid'
        ? `it held "${pointer.text}"`
        : `it named snapshot ${pointer.id}`;
  await writeFileAtomic(layout.currentPointer, `${newest.id}\n`);
  actions.push(
    `restored _txlake/CURRENT (${was}): it names snapshot ${newest.id} again, the newest committed`,
  );
}

/** `; snapshot K is intact: \`txlake rollback K\`…` — the newest other committed snapshot whose files all verify. */
async function intactHint(
  state: LakeState,
  engine: Engine,
  damaged: readonly FileProblem[] = [],
): Promise<string> {
  const known = new Set(damaged.map((p) => p.path));
  const intact = await newestOtherSnapshot(
    state,
    async (m) =>
      !filesOf(m).some((f) => known.has(f.path)) &&
      (await verifySnapshot(state.layout, m, engine)).length === 0,
  );
  return intact === null
    ? '; no other retained snapshot is intact'
    : `, or make snapshot ${intact} current again with \`txlake rollback ${intact}\` (it is intact; newer rows are kept in history)`;
}

/** The refusal when neither a log nor CURRENT says which snapshot is current: the whole manifests, newest first. */
async function undecidable(state: LakeState): Promise<string> {
  const candidates: string[] = [];
  for (const id of [...state.manifestIds].reverse()) {
    const reading = await readManifest(state.layout, id);
    if (reading.kind !== 'ok') continue;
    const m = reading.manifest;
    candidates.push(
      `${id} (${m.created}, ${m.operation}, ${m.rows} rows${m.parent === null ? '' : `, builds on ${m.parent}`})`,
    );
    if (candidates.length === 5) break;
  }
  return (
    `the lake ${state.layout.root} has neither a usable pointer (_txlake/CURRENT) nor a commit log, so which snapshot is ` +
    `current cannot be known; the snapshots on disk, newest first: ${candidates.join('; ') || 'none whole'}. ` +
    'Make one current with `txlake repair --snapshot ID` (usually the newest; an ingest that was killed can leave a ' +
    'newer snapshot that was never committed)'
  );
}
