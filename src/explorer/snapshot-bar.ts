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
  /** The lake's current snapshot, as last listed. */
  private latest: number | null = null;
  private readonly count = countFormat();

  constructor(
    private readonly api: ApiClient,
    private readonly select: HTMLSelectElement,
    private readonly answeredBy: HTMLOutputElement,
    onChoose: (snapshot: string | null) => void,
    /** Called each time the snapshots were listed (a notice that they could not be can go). */
    private readonly onListed: () => void = () => {},
  ) {
    select.addEventListener('change', () => onChoose(select.value === '' ? null : select.value));
  }

  /** Read the retained snapshots again (at start, and when an answer names one not in the menu). */
  async refresh(): Promise<void> {
    const answer = await this.api.json<{ data: SnapshotEntry[] }>('/api/v2/snapshots');
    const chosen = this.select.value;
    const latest = answer.body.data.find((entry) => entry.current);
    this.latest = latest?.id ?? null;
    this.onListed();
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
  choose(given: string | null): void {
    // `01` is snapshot 1, as the API reads it.
    const snapshot =
      given !== null && /^[0-9]+$/.test(given) && this.known.has(Number(given))
        ? String(Number(given))
        : given;
    const listed = [...this.select.options].some((option) => option.value === snapshot);
    if (snapshot !== null && !listed) {
      this.select.append(el('option', { value: snapshot }, `#${snapshot} (not retained)`));
    }
    this.select.value = snapshot ?? '';
  }

  /**
   * Say which snapshot answered the last lookup (null: it was refused, so none did). "(latest)" only when
   * it is the latest the menu knows; a walk that began before a newer commit stays on its snapshot and
   * says so. An id the menu lacks means the menu is out of date.
   */
  answered(snapshot: number | null, pinned: boolean): void {
    this.answeredBy.classList.toggle('pinned', pinned && snapshot !== null);
    if (snapshot === null) {
      this.answeredBy.value = this.latest === null ? '' : `No answer; latest is snapshot #${this.latest}`;
      return;
    }
    if (pinned) this.answeredBy.value = `Answered by snapshot #${snapshot} (time travel)`;
    else if (this.latest !== null && snapshot < this.latest)
      this.answeredBy.value = `Answered by snapshot #${snapshot} (where this walk began; #${this.latest} is newer)`;
    else this.answeredBy.value = `Answered by snapshot #${snapshot} (latest)`;
    if (!this.known.has(snapshot)) void this.refresh().catch(() => {});
  }

  private describe(entry: SnapshotEntry): string {
    const operation = entry.mode ? `${entry.operation} (${entry.mode})` : entry.operation;
    const current = entry.current ? ' · current' : '';
    return `#${entry.id} · ${commitTimeLabel(entry.created)} · ${operation} · ${this.count(entry.rows)} rows${current}`;
  }
}
