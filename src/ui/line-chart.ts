// <line-chart>: an SVG line chart of (x, y) points with labelled axes; `smoothing` adds an
// exponential moving average line (the loss chart), `logY` a log scale. With `series`, several
// labelled lines share the axes, with a legend (the Research tab's comparisons).
import { LitElement, css, html, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { tickLabel, ticks } from './chart-axes';

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  label: string;
  points: Point[];
  color: string;
  dashed?: boolean;
}

/** Distinct line colours for series, in order. */
export const SERIES_COLORS = ['#3257d6', '#d6573a', '#2f9e5b', '#9b4fd6', '#c79a10', '#1c9bb5'];

/** Exponential moving average with debiasing (as TensorBoard's smoothing). */
export function smooth(points: readonly Point[], weight: number): Point[] {
  let last = 0;
  return points.map((p, i) => {
    last = last * weight + (1 - weight) * p.y;
    return { x: p.x, y: last / (1 - weight ** (i + 1)) };
  });
}

@customElement('line-chart')
export class LineChart extends LitElement {
  static override styles = css`
    :host { display: inline-block; font: 11px system-ui, sans-serif; color: var(--label); max-width: 100%; }
    text { fill: currentColor; }
    svg { background: var(--chart-bg); border-radius: 6px; box-shadow: 0 0 0 1px var(--edge); display: block; max-width: 100%; height: auto; }
    .legend { display: flex; flex-wrap: wrap; gap: 2px 14px; margin-top: 4px; max-width: var(--legend-width); }
    .legend span { display: inline-flex; align-items: center; gap: 5px; }
    .legend i { display: inline-block; width: 18px; border-top: 2px solid; }
    .legend i.dashed { border-top-style: dashed; }
  `;

  @property({ attribute: false }) points: Point[] = [];
  @property({ attribute: false }) series: Series[] = [];
  @property({ type: Number }) smoothing = 0;
  @property({ type: Boolean }) logY = false;
  /** The x values count something (steps, evaluations): inner ticks at whole numbers only. */
  @property({ type: Boolean }) wholeX = false;
  @property() xLabel = '';
  @property() yLabel = '';
  @property({ type: Number }) width = 420;
  @property({ type: Number }) height = 200;

  override render() {
    const W = this.width, H = this.height, L = 58, B = 30, T = 10, R = 14;
    const keep = (ps: readonly Point[]): Point[] => ps.filter((p) => Number.isFinite(p.y) && (!this.logY || p.y > 0));
    const lines = this.series.map((s) => ({ ...s, points: keep(s.points) }));
    const pts = this.series.length ? lines.flatMap((s) => s.points) : keep(this.points);
    if (pts.length === 0) return html`<svg width=${W} height=${H} role="img" aria-label=${`${this.yLabel} chart (no data yet)`}></svg>`;
    const fy = (y: number): number => (this.logY ? Math.log10(y) : y);
    const xs = pts.map((p) => p.x), ys = pts.map((p) => fy(p.y));
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
    const sx = (x: number): number => L + ((x - x0) / Math.max(1e-9, x1 - x0)) * (W - L - R);
    const sy = (y: number): number => T + (1 - (fy(y) - y0) / (y1 - y0)) * (H - T - B);
    const path = (ps: Point[]): string => ps.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
    const yTick = (v: number): number => (this.logY ? 10 ** v : v);
    // Ticks in data units: x linear; y in its plotted units (log10 for logY), labelled in data units.
    // An inner x label (centred) must clear an end label (anchored at the end): one and a half label
    // widths at about 6 px a character.
    const xLabelPx = 1.5 * 6 * Math.max(tickLabel(x0).length, tickLabel(x1).length) + 4;
    const xTicks = ticks(x0, x1, false, 5, Math.max(0.1, xLabelPx / (W - L - R)), this.wholeX), yTicks = ticks(y0, y1, this.logY, 4);
    const syPlot = (v: number): number => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    const smoothed = this.smoothing > 0 ? smooth(pts, this.smoothing) : null;
    return html`<svg width=${W} height=${H} viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`${this.yLabel} against ${this.xLabel}`}>
      ${svg`
        <line x1=${L} y1=${H - B} x2=${W - R} y2=${H - B} stroke="var(--chart-axis)" />
        <line x1=${L} y1=${T} x2=${L} y2=${H - B} stroke="var(--chart-axis)" />
        ${yTicks.map((v) => svg`<line x1=${L - 3} x2=${L} y1=${syPlot(v)} y2=${syPlot(v)} stroke="var(--chart-axis)" />
          <text x=${L - 5} y=${syPlot(v) + 3.5} text-anchor="end" data-tick="y">${tickLabel(Number(yTick(v).toPrecision(3)))}</text>`)}
        ${xTicks.map((v, i) => svg`<line x1=${sx(v)} x2=${sx(v)} y1=${H - B} y2=${H - B + 3} stroke="var(--chart-axis)" />
          <text x=${sx(v)} y=${H - B + 13} text-anchor=${i === 0 ? 'start' : i === xTicks.length - 1 ? 'end' : 'middle'} data-tick="x">${tickLabel(v)}</text>`)}
        <text x=${(L + W - R) / 2} y=${H - 3} text-anchor="middle">${this.xLabel}</text>
        <text x=${11} y=${(T + H - B) / 2} text-anchor="middle" transform=${`rotate(-90 11 ${(T + H - B) / 2})`}>${this.yLabel}${this.logY ? ' (log)' : ''}</text>
        ${this.series.length ? lines.map((s) => svg`
          <path d=${path(s.points)} fill="none" stroke=${s.color} stroke-width="1.8" stroke-dasharray=${s.dashed ? '5 3' : 'none'} data-series=${s.label} />
          ${s.points.map((p) => svg`<circle cx=${sx(p.x)} cy=${sy(p.y)} r="2.2" fill=${s.color} />`)}`)
        : svg`<path d=${path(pts)} fill="none" stroke=${smoothed ? 'var(--chart-soft)' : 'var(--accent)'} stroke-width="1.2" />`}
        ${smoothed && !this.series.length ? svg`<path d=${path(smoothed)} fill="none" stroke="var(--accent)" stroke-width="2" />` : ''}
        ${!this.series.length && pts.length === 1 ? svg`<circle cx=${sx(pts[0]!.x)} cy=${sy(pts[0]!.y)} r="3" fill="var(--accent)" />` : ''}
      `}
    </svg>${this.series.length ? html`<div class="legend" style=${`--legend-width: ${W}px`}>${lines.map((s) => html`<span><i class=${s.dashed ? 'dashed' : ''} style=${`border-color: ${s.color}`}></i>${s.label}</span>`)}</div>` : ''}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'line-chart': LineChart;
  }
}
