// The daily purchases, returns and net of a merchant category as a uPlot chart (uPlot: ~50 KB, canvas,
// no dependencies). The chart is for the eye; the table beside it carries every exact value for screen
// readers and the keyboard, so the canvas is one image with a summary as its label.

import uPlot from 'uplot';
import { centsForDrawing, dayToUnixSeconds, type MoneyFormat } from '../format.js';

export interface DailyNetRow {
  date: string;
  merchant_type_code: number;
  purchases_cents: bigint;
  returns_cents: bigint;
  net_cents: bigint;
  purchases: bigint;
  returns: bigint;
}

const HEIGHT = 280;
const COLORS = { purchases: '#1a7f37', returns: '#c2410c', net: '#0b5cad', grid: '#d0d7de', text: '#24292f' };

export class DailyChart {
  private plot: uPlot | null = null;
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    private readonly box: HTMLElement,
    private readonly money: MoneyFormat,
  ) {
    this.resize.observe(box);
  }

  draw(days: readonly DailyNetRow[], label: string): void {
    this.plot?.destroy();
    this.box.setAttribute('aria-label', label);
    const data: uPlot.AlignedData = [
      days.map((day) => dayToUnixSeconds(day.date)),
      days.map((day) => centsForDrawing(day.purchases_cents)),
      days.map((day) => centsForDrawing(-day.returns_cents)),
      days.map((day) => centsForDrawing(day.net_cents)),
    ];
    // The legend shows the day's exact amount (the bigint), never the chart's double turned back into cents.
    const exact =
      (pick: (day: DailyNetRow) => bigint) =>
      (_: uPlot, value: number | null, _series: number, index: number | null) => {
        const day = index === null ? undefined : days[index];
        return value === null || day === undefined ? '–' : this.money(pick(day));
      };
    const axis = {
      stroke: COLORS.text,
      grid: { stroke: COLORS.grid, width: 1 },
      ticks: { stroke: COLORS.grid },
    };
    const showPoints = days.length <= 90;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        // Days are UTC days: the axis must not shift them into the reader's zone.
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Etc/UTC'),
        scales: { x: { time: true } },
        series: [
          { label: 'Day', value: '{YYYY}-{MM}-{DD}' },
          {
            label: 'Purchases',
            stroke: COLORS.purchases,
            width: 1.5,
            value: exact((day) => day.purchases_cents),
            points: { show: showPoints },
          },
          {
            label: 'Returns (−)',
            stroke: COLORS.returns,
            width: 1.5,
            value: exact((day) => -day.returns_cents),
            points: { show: showPoints },
          },
          {
            label: 'Net',
            stroke: COLORS.net,
            width: 2.5,
            value: exact((day) => day.net_cents),
            points: { show: showPoints },
          },
        ],
        axes: [
          { ...axis },
          { ...axis, size: 70, values: (_, ticks) => ticks.map((tick) => compactDollars(tick)) },
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        hooks: {
          // What was drawn, for the reader of the page's markup (and its tests): the days on the chart.
          draw: [(plot) => this.box.setAttribute('data-days', String(plot.data[0].length))],
        },
      },
      data,
      this.box,
    );
  }

  clear(): void {
    this.plot?.destroy();
    this.plot = null;
    this.box.removeAttribute('data-days');
  }

  private width(): number {
    return Math.max(this.box.clientWidth, 240);
  }

  private fit(): void {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 1) {
      this.plot.setSize({ width: this.width(), height: HEIGHT });
    }
  }
}

const COMPACT = new Intl.NumberFormat(undefined, {
  style: 'currency',
  currency: 'USD',
  notation: 'compact',
  maximumFractionDigits: 1,
});

function compactDollars(value: number): string {
  return COMPACT.format(value);
}
