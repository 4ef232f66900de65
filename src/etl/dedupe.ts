// Which sources to ingest: content already committed, or named twice in one ingest, is skipped, so that
// re-running an ingest is a no-op. Content is identified by the sha256 of its bytes; a cheap fingerprint
// (size, first and last MiB) decides whether the full hash must be known before starting.

import type { SnapshotManifest } from '../lake/manifest.js';
import { digestSource, type Source } from './source.js';
import { newOutcome, type SourceOutcome } from './summary.js';

export interface PlannedSource {
  source: Source;
  outcome: SourceOutcome;
  /** The full sha256, possibly still being computed (it runs beside the engine). */
  sha256: Promise<string>;
}

export interface SourcePlan {
  outcomes: SourceOutcome[];
  toIngest: PlannedSource[];
}

interface KnownContent {
  sha256: Promise<string>;
  /** The snapshot that committed it, or the label of an earlier source of this ingest. */
  committedIn: number | null;
  label: string;
}

export async function planSources(
  sources: Source[],
  parent: SnapshotManifest | null,
  skipDuplicates: boolean,
  notice: (message: string) => void,
): Promise<SourcePlan> {
  const known = new Map<string, KnownContent[]>();
  const remember = (quick: string, content: KnownContent) =>
    known.set(quick, [...(known.get(quick) ?? []), content]);
  for (const s of parent?.sources ?? []) {
    remember(s.quick_fingerprint, {
      sha256: Promise.resolve(s.sha256),
      committedIn: s.snapshot,
      label: s.name,
    });
  }
  const plan: SourcePlan = { outcomes: [], toIngest: [] };
  for (const source of sources) {
    const outcome = newOutcome(source.label, source.header.extraColumns);
    plan.outcomes.push(outcome);
    const candidates = skipDuplicates ? (known.get(source.quickFingerprint) ?? []) : [];
    let sha256: Promise<string>;
    if (candidates.length > 0) {
      // Maybe seen: settle it now with the full hash, before any work.
      const full = await digestSource(source);
      let same: KnownContent | undefined;
      for (const candidate of candidates) if ((await candidate.sha256) === full) same = candidate;
      if (same) {
        outcome.already_committed_in = same.committedIn;
        outcome.skipped = same.committedIn === null ? `same content as ${same.label}` : 'already committed';
        notice(
          same.committedIn === null
            ? `${source.label}: same content as ${same.label} in this ingest; skipped`
            : `${source.label}: this content was already committed in snapshot ${same.committedIn}; skipped ` +
                '(use --force to ingest it again)',
        );
        continue;
      }
      sha256 = Promise.resolve(full);
    } else {
      sha256 = digestSource(source);
      sha256.catch(() => {}); // awaited later; never an unhandled rejection meanwhile
    }
    remember(source.quickFingerprint, { sha256, committedIn: null, label: source.label });
    if (source.header.extraColumns.length > 0) {
      const names = source.header.extraColumns.map((c) => `"${c}"`).join(', ');
      notice(`${source.label}: ignoring extra columns ${names}`);
    }
    plan.toIngest.push({ source, outcome, sha256 });
  }
  return plan;
}
