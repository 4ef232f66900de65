// The snapshot switcher (time travel) and the snapshot that answered, always in view. "Latest" follows
// new commits; choosing a retained snapshot pins every answer to it (`?snapshot=` on each request).

import type { ApiClient } from './api.js';
import { el } from './dom.js';
import { commitTimeLabel, countFormat } from './format.js';

export interface SnapshotEntry {
  id: number;
  created: string;
  operation: string;
  mode?: string;
  rows: bigint;
  current: boolean;
}

export class SnapshotBar {
  private known = new Set<number>();
  private readonly count = countFormat();

  constructor(
    private readonly api: ApiClient,
    private readonly select: HTMLSelectElement,
    private readonly answeredBy: HTMLOutputElement,
    onChoose: (snapshot: string | null) => void,
  ) {
    select.addEventListener('change', () => onChoose(select.value === '' ? null : select.value));
  }

  /** Read the retained snapshots again (at start, and when an answer names one not in the menu). */
  async refresh(): Promise<void> {
    const answer = await this.api.json<{ data: SnapshotEntry[] }>('/api/v2/snapshots');
    const chosen = this.select.value;
    const latest = answer.body.data.find((entry) => entry.current);
    const options = [
      el('option', { value: '' }, latest ? `Latest (now #${latest.id})` : 'Latest'),
      ...answer.body.data.map((entry) => el('option', { value: String(entry.id) }, this.describe(entry))),
    ];
    this.known = new Set(answer.body.data.map((entry) => entry.id));
    this.select.replaceChildren(...options);
    this.choose(chosen === '' ? null : chosen);
    if (this.answeredBy.value === '' && latest) this.answeredBy.value = `Latest is snapshot #${latest.id}`;
  }

  /** Show `snapshot` (or Latest) as chosen; a snapshot no longer retained gets an entry saying so. */
  choose(snapshot: string | null): void {
    const listed = [...this.select.options].some((option) => option.value === snapshot);
    if (snapshot !== null && !listed) {
      this.select.append(el('option', { value: snapshot }, `#${snapshot} (not retained)`));
    }
    this.select.value = snapshot ?? '';
  }

  /** Say which snapshot answered the last lookup; a new id means the menu is out of date. */
  answered(snapshot: number | null, pinned: boolean): void {
    if (snapshot === null) return;
    this.answeredBy.value = pinned
      ? `Answered by snapshot #${snapshot} (time travel)`
      : `Answered by snapshot #${snapshot} (latest)`;
    this.answeredBy.classList.toggle('pinned', pinned);
    if (!this.known.has(snapshot)) void this.refresh().catch(() => {});
  }

  private describe(entry: SnapshotEntry): string {
    const operation = entry.mode ? `${entry.operation} (${entry.mode})` : entry.operation;
    const current = entry.current ? ' · current' : '';
    return `#${entry.id} · ${commitTimeLabel(entry.created)} · ${operation} · ${this.count(entry.rows)} rows${current}`;
  }
}
