// Which committed snapshots vacuum has removed (`_txlake/vacuumed.json`, id ranges such as "1-16,18-40").
// Without it, a committed snapshot whose manifest is gone could have expired under an earlier, shorter
// retention or have been lost: vacuum would have to guess whether the files it named are still needed. With
// it, a missing manifest that vacuum did not remove is damage, and nothing of that snapshot is touched.
// Vacuum records the ids before it removes anything, so a vacuum stopped midway has recorded more, not less.

import fs from 'node:fs/promises';
import { writeFileAtomic } from './durable-files.js';
import type { LakeLayout } from './layout.js';

const FORMAT = 'txlake.vacuumed/1';

/** A set of snapshot ids kept as sorted, disjoint, inclusive ranges: expired ids come in long runs. */
export class IdRanges {
  private constructor(private readonly ranges: ReadonlyArray<readonly [number, number]>) {}

  static readonly empty = new IdRanges([]);

  static parse(text: string): IdRanges | null {
    if (text.trim() === '') return IdRanges.empty;
    const ranges: Array<[number, number]> = [];
    for (const part of text.split(',')) {
      const match = /^([0-9]{1,15})(?:-([0-9]{1,15}))?$/.exec(part.trim());
      if (match === null) return null;
      const start = Number(match[1]);
      const end = Number(match[2] ?? match[1]);
      if (end < start) return null;
      ranges.push([start, end]);
    }
    return IdRanges.empty.withRanges(ranges);
  }

  static of(ids: Iterable<number>): IdRanges {
    const sorted = [...new Set(ids)].sort((a, b) => a - b);
    const ranges: Array<[number, number]> = [];
    for (const id of sorted) {
      const last = ranges.at(-1);
      if (last && id === last[1] + 1) last[1] = id;
      else ranges.push([id, id]);
    }
    return new IdRanges(ranges);
  }

  /** This set joined with `ranges` (merged, sorted). */
  private withRanges(ranges: ReadonlyArray<readonly [number, number]>): IdRanges {
    const all = [...this.ranges, ...ranges]
      .map(([a, b]) => [a, b] as [number, number])
      .sort((x, y) => x[0] - y[0]);
    const merged: Array<[number, number]> = [];
    for (const [a, b] of all) {
      const last = merged.at(-1);
      if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
      else merged.push([a, b]);
    }
    return new IdRanges(merged);
  }

  union(ids: Iterable<number>): IdRanges {
    return this.withRanges(IdRanges.of(ids).ranges);
  }

  has(id: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, b] = this.ranges[mid] as readonly [number, number];
      if (id < a) hi = mid - 1;
      else if (id > b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  toString(): string {
    return this.ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
  }
}

/**
 * The snapshots vacuum removed. A file that is missing or unreadable counts as none recorded: every missing
 * manifest is then treated as damage, which is the safe side (vacuum refuses rather than removes).
 */
export async function readVacuumed(layout: LakeLayout): Promise<IdRanges> {
  try {
    const parsed = JSON.parse(await fs.readFile(layout.vacuumedFile, 'utf8')) as {
      format?: string;
      ids?: unknown;
    };
    if (parsed.format !== FORMAT || typeof parsed.ids !== 'string') return IdRanges.empty;
    return IdRanges.parse(parsed.ids) ?? IdRanges.empty;
  } catch {
    return IdRanges.empty;
  }
}

export async function writeVacuumed(layout: LakeLayout, ids: IdRanges): Promise<void> {
  await writeFileAtomic(layout.vacuumedFile, `${JSON.stringify({ format: FORMAT, ids: ids.toString() })}\n`);
}
