// A user's transactions: filters, a page at a time (v2's cursors; Previous keeps the cursors it has
// walked), every merchant code with its ISO 18245 description, exact amounts, and links to export the
// user's data.

import { merchantCategoryDescription } from '../../domain/merchant-categories.js';
import { type ApiClient, ApiProblem } from '../api.js';
import { byId, el, showProblem, within } from '../dom.js';
import { instantLabel, type MoneyFormat, rowRangeLabel, transactionTypeLabel } from '../format.js';
import type { Route } from '../route.js';

interface TransactionRow {
  user_id: bigint;
  datetime: string;
  transaction_type: string;
  merchant_type_code: number;
  amount_cents: bigint;
}

interface TransactionsPage {
  data: TransactionRow[];
  next_cursor: string | null;
  snapshot: number;
}

/** The form's fields as v2 names its query parameters. */
const FILTERS = [
  ['from', 'from'],
  ['to', 'to'],
  ['type', 'type'],
  ['merchant', 'merchant_type_code'],
] as const;

const EXPORT_FORMATS = ['csv', 'ndjson', 'parquet'] as const;

export interface ViewContext {
  api: ApiClient;
  money: MoneyFormat;
  /** Go to a route (the fragment changes; the view is shown again from it). */
  navigate(route: Route): void;
  /** Tell the snapshot bar which snapshot answered `view`'s lookup (null: the lookup was refused). */
  answered(view: Route['view'], snapshot: number | null, pinned: boolean): void;
}

export class UserView {
  private readonly section = byId('user-view', HTMLElement);
  private readonly form = byId('user-form', HTMLFormElement);
  private readonly problem = within(this.section, '.problem', HTMLElement);
  private readonly status = within(this.section, '.status', HTMLElement);
  private readonly tableBox = within(this.section, '.table-scroll', HTMLElement);
  private readonly table = byId('user-table', HTMLTableElement);
  private readonly pager = within(this.section, '.pager', HTMLElement);
  private readonly previous = byId('previous-page', HTMLButtonElement);
  private readonly next = byId('next-page', HTMLButtonElement);
  private readonly pageLabel = byId('page-label', HTMLElement);
  private readonly exports = within(this.section, '.export', HTMLElement);

  private route: Route | null = null;
  /** The cursor of each page walked so far (null: the first page, asked with the filters). */
  private cursors: (string | null)[] = [null];
  private page = 0;
  private offsets: number[] = [0];
  /** Answers to an earlier lookup that arrive late are dropped. */
  private generation = 0;
  private loading = false;

  constructor(private readonly context: ViewContext) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.context.navigate(this.routeFromForm());
    });
    this.previous.addEventListener('click', () => {
      if (!this.loading) void this.showPage(this.page - 1);
    });
    this.next.addEventListener('click', () => {
      if (!this.loading) void this.showPage(this.page + 1);
    });
    for (const format of EXPORT_FORMATS) {
      byId(`export-${format}`, HTMLAnchorElement).addEventListener('click', (event) => {
        // Without a key the link downloads as it is; with one, the request must carry it (a link cannot).
        if (!this.context.api.keyHeld) return;
        event.preventDefault();
        void this.download(event.currentTarget as HTMLAnchorElement);
      });
    }
  }

  get element(): HTMLElement {
    return this.section;
  }

  show(route: Route): void {
    this.route = route;
    this.fillForm(route);
    this.generation += 1;
    showProblem(this.problem, null);
    if (route.subject === null) {
      this.clearResults('');
      return;
    }
    if (!/^[0-9]+$/.test(route.subject)) {
      this.clearResults('');
      showProblem(this.problem, 'A user id is digits only.');
      return;
    }
    this.cursors = [null];
    this.offsets = [0];
    this.page = 0;
    this.setExportLinks(route.subject, route.query.get('snapshot'));
    void this.showPage(0);
  }

  private routeFromForm(): Route {
    const data = new FormData(this.form);
    const query = new URLSearchParams();
    for (const [field, parameter] of FILTERS) {
      const value = String(data.get(field) ?? '').trim();
      if (value !== '') query.set(parameter, value);
    }
    const limit = String(data.get('limit') ?? '');
    if (limit !== '50') query.set('limit', limit);
    const snapshot = this.route?.query.get('snapshot');
    if (snapshot) query.set('snapshot', snapshot);
    return { view: 'users', subject: String(data.get('user') ?? '').trim(), query };
  }

  private fillForm(route: Route): void {
    const fields = this.form.elements;
    (fields.namedItem('user') as HTMLInputElement).value = route.subject ?? '';
    for (const [field, parameter] of FILTERS) {
      (fields.namedItem(field) as HTMLInputElement | HTMLSelectElement).value =
        route.query.get(parameter) ?? '';
    }
    const limit = fields.namedItem('limit') as HTMLSelectElement;
    for (const option of [...limit.options]) if (option.dataset.fromAddress !== undefined) option.remove();
    const wanted = route.query.get('limit') ?? '50';
    limit.value = wanted;
    if (limit.value === '' && /^[1-9][0-9]{0,2}$|^1000$/.test(wanted)) {
      // a page size typed into the address that the menu lacks (and the API takes): offer it, this once
      limit.append(el('option', { 'data-from-address': '' }, wanted));
      limit.value = wanted;
    }
    if (limit.value === '') limit.value = '50'; // the API's problem names the bad value
  }

  private pageUrl(route: Route, cursor: string | null): string {
    const user = encodeURIComponent(route.subject ?? '');
    const query = new URLSearchParams();
    const limit = route.query.get('limit') ?? '50';
    if (cursor !== null) {
      // A cursor carries the filters and the snapshot; only limit is read beside it (SPEC §4).
      query.set('cursor', cursor);
    } else {
      for (const [, parameter] of FILTERS) {
        const value = route.query.get(parameter);
        if (value) query.set(parameter, value);
      }
      const snapshot = route.query.get('snapshot');
      if (snapshot) query.set('snapshot', snapshot);
    }
    query.set('limit', limit);
    return `/api/v2/users/${user}/transactions?${query}`;
  }

  private async showPage(page: number): Promise<void> {
    const route = this.route;
    if (route === null || page < 0 || page >= this.cursors.length) return;
    try {
      await this.loadPage(route, page);
    } finally {
      this.loading = false;
    }
  }

  private async loadPage(route: Route, page: number): Promise<void> {
    const generation = this.generation;
    this.status.textContent = 'Loading…';
    // The buttons stay enabled while a page loads (a disabled button loses the keyboard's focus); a press
    // meanwhile is ignored.
    this.loading = true;
    try {
      const answer = await this.context.api.json<TransactionsPage>(
        this.pageUrl(route, this.cursors[page] ?? null),
      );
      if (generation !== this.generation) return;
      this.page = page;
      const offset = this.offsets[page] ?? 0;
      if (answer.body.next_cursor !== null) {
        this.cursors[page + 1] = answer.body.next_cursor;
        this.offsets[page + 1] = offset + answer.body.data.length;
      } else {
        this.cursors.length = page + 1;
      }
      this.render(route, answer.body, offset);
      this.context.answered('users', answer.snapshot, isPinned(route));
    } catch (error) {
      if (generation !== this.generation) return;
      this.context.answered('users', null, false);
      this.clearResults('');
      showProblem(this.problem, error instanceof Error ? error.message : String(error));
      if (error instanceof ApiProblem && error.parameter) this.focusField(error.parameter);
    }
  }

  private render(route: Route, page: TransactionsPage, offset: number): void {
    const user = route.subject ?? '';
    const rows = page.data.map((row) => this.rowOf(row));
    this.table.tBodies[0]?.replaceChildren(...rows);
    const range = rowRangeLabel(offset, page.data.length);
    within(this.table, 'caption', HTMLElement).textContent =
      `Transactions of user ${user}, snapshot #${page.snapshot}: ${range.toLowerCase()}`;
    this.tableBox.hidden = page.data.length === 0;
    const filtered = FILTERS.some(([, parameter]) => route.query.has(parameter));
    this.status.textContent =
      page.data.length === 0
        ? `User ${user} has no transactions${filtered ? ' that match these filters' : ''} in snapshot #${page.snapshot}.`
        : `${range} of user ${user}${page.next_cursor === null ? '' : ' (more on the next page)'}.`;
    this.pager.hidden = page.data.length === 0 || (this.page === 0 && page.next_cursor === null);
    // A pager button that can no longer be used hands the keyboard's focus to the other one.
    const focused = document.activeElement;
    this.previous.disabled = this.page === 0;
    this.next.disabled = page.next_cursor === null;
    if (focused === this.next && this.next.disabled) this.previous.focus();
    if (focused === this.previous && this.previous.disabled) this.next.focus();
    this.pageLabel.textContent = `Page ${this.page + 1}`;
    this.exports.hidden = false;
  }

  private rowOf(row: TransactionRow): HTMLTableRowElement {
    const code = String(row.merchant_type_code);
    const description = merchantCategoryDescription(row.merchant_type_code);
    const isReturn = row.transaction_type === 'ReturnActivity';
    return el(
      'tr',
      { class: isReturn ? 'return' : null },
      el('td', {}, el('time', { datetime: row.datetime, title: row.datetime }, instantLabel(row.datetime))),
      el('td', {}, transactionTypeLabel(row.transaction_type)),
      el(
        'td',
        {},
        el('a', { href: this.merchantHref(code), title: `Daily net of merchant category ${code}` }, code),
        description ? el('span', { class: 'description' }, ` ${description}`) : null,
      ),
      el('td', { class: 'num' }, this.context.money(row.amount_cents)),
    );
  }

  /** The merchant view of `code`, as of the snapshot chosen here (time travel applies to every view). */
  private merchantHref(code: string): string {
    const snapshot = this.route?.query.get('snapshot');
    return snapshot
      ? `#/merchant-types/${code}?snapshot=${encodeURIComponent(snapshot)}`
      : `#/merchant-types/${code}`;
  }

  private clearResults(status: string): void {
    this.table.tBodies[0]?.replaceChildren();
    this.tableBox.hidden = true;
    this.pager.hidden = true;
    this.exports.hidden = true;
    this.status.textContent = status;
  }

  private setExportLinks(user: string, snapshot: string | null): void {
    for (const format of EXPORT_FORMATS) {
      const query = new URLSearchParams({ format });
      if (snapshot) query.set('snapshot', snapshot);
      byId(`export-${format}`, HTMLAnchorElement).href =
        `/api/v2/users/${encodeURIComponent(user)}/export?${query}`;
    }
  }

  private async download(link: HTMLAnchorElement): Promise<void> {
    try {
      const { blob, filename } = await this.context.api.download(link.href);
      const url = URL.createObjectURL(blob);
      const save = el('a', { href: url, download: filename ?? 'txlake-export' });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      showProblem(this.problem, error instanceof Error ? error.message : String(error));
    }
  }

  private focusField(parameter: string): void {
    const field =
      FILTERS.find(([, name]) => name === parameter)?.[0] ?? (parameter === 'userId' ? 'user' : null);
    const element = field ? this.form.elements.namedItem(field) : null;
    if (element instanceof HTMLElement) element.focus();
  }
}

/** Whether a lookup is pinned to a snapshot (`?snapshot=` with a value; empty is the latest). */
export function isPinned(route: Route): boolean {
  return (route.query.get('snapshot') ?? '') !== '';
}
