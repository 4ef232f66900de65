// What an ingest reports: per source and in total, plus the wall time of each phase.

export interface SourceOutcome {
  source: string;
  rows_read: number;
  rows_committed: number;
  rows_rejected: number;
  /** Valid rows not committed because the ingest was refused (reject rate exceeded); 0 otherwise. */
  rows_withheld: number;
  rejects_file: string | null;
  extra_columns: string[];
  /** The snapshot that already holds this content, when the source was skipped for that reason. */
  already_committed_in: number | null;
  /** Why the source was skipped ("already committed", "same content as …"), or null. */
  skipped: string | null;
}

export interface IngestResult {
  /** rows_read = rows_committed + rows_rejected + rows_withheld (withheld is 0 unless refused). */
  rows_read: number;
  rows_committed: number;
  rows_rejected: number;
  rows_withheld: number;
  rejects_file: string | null;
  rejects_files: string[];
  /** The snapshot now current (the new one, or the existing one for a no-op). */
  snapshot: number | null;
  committed: boolean;
  already_committed: boolean;
  sources: SourceOutcome[];
  seconds: number;
  /** Wall seconds of each phase (validate, rejects, write, daily_sums, commit), for operators and benchmarks. */
  phases: Record<string, number>;
}

export function newOutcome(label: string, extraColumns: string[]): SourceOutcome {
  return {
    source: label,
    rows_read: 0,
    rows_committed: 0,
    rows_rejected: 0,
    rows_withheld: 0,
    rejects_file: null,
    extra_columns: extraColumns,
    already_committed_in: null,
    skipped: null,
  };
}

/** Wall-clock seconds per phase, accumulated. */
export class PhaseClock {
  readonly started = performance.now();
  readonly phases: Record<string, number> = {};

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.phases[phase] = Number(((this.phases[phase] ?? 0) + seconds).toFixed(3));
    }
  }
}

const sum = (outcomes: SourceOutcome[], pick: (o: SourceOutcome) => number) =>
  outcomes.reduce((total, o) => total + pick(o), 0);

export function summarize(
  outcomes: SourceOutcome[],
  snapshot: number | null,
  committed: boolean,
  clock: PhaseClock,
): IngestResult {
  const rejectsFiles = outcomes.flatMap((o) => (o.rejects_file ? [o.rejects_file] : []));
  return {
    rows_read: sum(outcomes, (o) => o.rows_read),
    rows_committed: sum(outcomes, (o) => o.rows_committed),
    rows_rejected: sum(outcomes, (o) => o.rows_rejected),
    rows_withheld: sum(outcomes, (o) => o.rows_withheld),
    rejects_file: rejectsFiles[0] ?? null,
    rejects_files: rejectsFiles,
    snapshot,
    committed,
    already_committed: !committed && outcomes.every((o) => o.skipped !== null),
    sources: outcomes,
    seconds: (performance.now() - clock.started) / 1000,
    phases: clock.phases,
  };
}
