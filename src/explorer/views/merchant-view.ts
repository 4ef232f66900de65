// A merchant category's daily purchases, returns and net: totals, a chart and the accessible table of
// every day (v2 daily-net is one entry per UTC day, not paged).

import { merchantCategoryDescription } from '../../domain/merchant-categories.js';
import { byId, el, showProblem, within } from '../dom.js';
import { counted, countFormat } from '../format.js';
import type { Route } from '../route.js';
import { DailyChart, type DailyNetRow } from './daily-chart.js';
import { isPinned, type ViewContext } from './user-view.js';

interface DailyNetPage {
  data: DailyNetRow[];
  snapshot: number;
}

const FILTERS = ['from', 'to'] as const;

export class MerchantView {
  private readonly section = byId('merchant-view', HTMLElement);
  private readonly form = byId('merchant-form', HTMLFormElement);
  private readonly heading = byId('merchant-heading', HTMLElement);
  private readonly problem = within(this.section, '.problem', HTMLElement);
  private readonly status = within(this.section, '.status', HTMLElement);
  private readonly result = within(this.section, '.merchant-result', HTMLElement);
  private readonly totals = within(this.section, '.totals', HTMLElement);
  private readonly table = byId('merchant-table', HTMLTableElement);
  private readonly chart: DailyChart;
  private readonly count = countFormat();
  private route: Route | null = null;
  private generation = 0;

  constructor(private readonly context: ViewContext) {
    this.chart = new DailyChart(within(this.section, '.chart-canvas', HTMLElement), context.money);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.context.navigate(this.routeFromForm());
    });
  }

  get element(): HTMLElement {
    return this.section;
  }

  show(route: Route): void {
    this.route = route;
    this.generation += 1;
    this.fillForm(route);
    showProblem(this.problem, null);
    const code = route.subject;
    this.heading.textContent = code === null ? 'Daily net of a merchant category' : this.title(code);
    if (code === null || !/^[0-9]+$/.test(code)) {
      this.clear();
      if (code !== null) showProblem(this.problem, 'A merchant code is digits only.');
      return;
    }
    void this.load(route, code);
  }

  private title(code: string): string {
    const description = merchantCategoryDescription(Number(code));
    return description ? `${code} · ${description}` : `Merchant category ${code}`;
  }

  private routeFromForm(): Route {
    const data = new FormData(this.form);
    const query = new URLSearchParams();
    for (const field of FILTERS) {
      const value = String(data.get(field) ?? '').trim();
      if (value !== '') query.set(field, value);
    }
    const snapshot = this.route?.query.get('snapshot');
    if (snapshot) query.set('snapshot', snapshot);
    return { view: 'merchant-types', subject: String(data.get('code') ?? '').trim(), query };
  }

  private fillForm(route: Route): void {
    const fields = this.form.elements;
    (fields.namedItem('code') as HTMLInputElement).value = route.subject ?? '';
    for (const field of FILTERS) {
      (fields.namedItem(field) as HTMLInputElement).value = route.query.get(field) ?? '';
    }
  }

  private async load(route: Route, code: string): Promise<void> {
    const generation = this.generation;
    const query = new URLSearchParams();
    for (const name of [...FILTERS, 'snapshot']) {
      const value = route.query.get(name);
      if (value) query.set(name, value);
    }
    const tail = query.size > 0 ? `?${query}` : '';
    this.status.textContent = 'Loading…';
    try {
      const answer = await this.context.api.json<DailyNetPage>(
        `/api/v2/merchant-types/${encodeURIComponent(code)}/daily-net${tail}`,
      );
      if (generation !== this.generation) return;
      this.render(code, answer.body);
      this.context.answered('merchant-types', answer.snapshot, isPinned(route));
    } catch (error) {
      if (generation !== this.generation) return;
      this.context.answered('merchant-types', null, false);
      this.clear();
      showProblem(this.problem, error instanceof Error ? error.message : String(error));
    }
  }

  private render(code: string, page: DailyNetPage): void {
    const days = page.data;
    if (days.length === 0) {
      this.clear();
      this.status.textContent = `Merchant category ${code} has no transactions on these days in snapshot #${page.snapshot}.`;
      return;
    }
    const money = this.context.money;
    const sum = (pick: (day: DailyNetRow) => bigint) => days.reduce((total, day) => total + pick(day), 0n);
    const purchases = sum((day) => day.purchases_cents);
    const returns = sum((day) => day.returns_cents);
    const net = sum((day) => day.net_cents);
    const purchaseCount = sum((day) => day.purchases);
    const returnCount = sum((day) => day.returns);
    const first = days[0]?.date ?? '';
    const last = days[days.length - 1]?.date ?? '';
    const span = first === last ? first : `${first} to ${last}`;

    this.status.textContent = `${counted(days.length, 'day', 'days')} with transactions, ${span}.`;
    this.totals.replaceChildren(
      ...term('Purchases', `${money(purchases)} (${this.count(purchaseCount)})`),
      ...term('Returns', `${money(returns)} (${this.count(returnCount)})`),
      ...term('Net', money(net)),
      ...term('Days', String(days.length)),
    );
    this.result.hidden = false;
    this.chart.draw(
      days,
      `Chart of ${counted(days.length, 'day', 'days')}, ${span}: net ${money(net)} in all; every value is in the table below.`,
    );
    within(this.table, 'caption', HTMLElement).textContent =
      `Daily purchases, returns and net of ${this.title(code)}, snapshot #${page.snapshot}`;
    this.table.tBodies[0]?.replaceChildren(
      ...days.map((day) =>
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, el('time', { datetime: day.date }, day.date)),
          el('td', { class: 'num' }, money(day.purchases_cents)),
          el('td', { class: 'num' }, this.count(day.purchases)),
          el('td', { class: 'num' }, money(day.returns_cents)),
          el('td', { class: 'num' }, this.count(day.returns)),
          el('td', { class: day.net_cents < 0n ? 'num negative' : 'num' }, money(day.net_cents)),
        ),
      ),
    );
    this.table.tFoot?.replaceChildren(
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, 'Total'),
        el('td', { class: 'num' }, money(purchases)),
        el('td', { class: 'num' }, this.count(purchaseCount)),
        el('td', { class: 'num' }, money(returns)),
        el('td', { class: 'num' }, this.count(returnCount)),
        el('td', { class: net < 0n ? 'num negative' : 'num' }, money(net)),
      ),
    );
  }

  private clear(): void {
    this.result.hidden = true;
    this.chart.clear();
    this.status.textContent = '';
  }
}

function term(name: string, value: string): HTMLElement[] {
  return [el('dt', {}, name), el('dd', {}, value)];
}
