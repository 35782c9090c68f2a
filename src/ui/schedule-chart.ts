// <schedule-chart>: the noise schedule of a model over t, as the Hugging Face diffusion course plots
// it: abar_t (how much of the signal's power is left), sqrt(abar_t) and sqrt(1 - abar_t) (the
// weights of x0 and of the noise in x_t), and log SNR = log(abar_t / (1 - abar_t)) on its own axis.
// The timesteps the chain will run are ticked under the axis, the current (or hovered) one is
// marked, and its values are written out below.
import { LitElement, css, html, svg, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { snr } from '../diffusion/schedule';

const CURVES = [
  { label: 'abar_t', color: '#3257d6', f: (a: number) => a },
  { label: 'sqrt(abar_t)', color: '#2f9e5b', f: (a: number) => Math.sqrt(a) },
  { label: 'sqrt(1 - abar_t)', color: '#d6573a', f: (a: number) => Math.sqrt(1 - a) },
] as const;
const SNR_COLOR = '#9b4fd6';

function logSnr(abar: number): number {
  return Math.log(snr(abar));
}

@customElement('schedule-chart')
export class ScheduleChart extends LitElement {
  static override styles = css`
    :host { display: inline-block; font: 11px system-ui, sans-serif; color: var(--label); max-width: 100%; }
    svg { background: var(--chart-bg); border-radius: 6px; box-shadow: 0 0 0 1px var(--edge); display: block; max-width: 100%; height: auto; }
    text { fill: currentColor; }
    .legend { display: flex; flex-wrap: wrap; gap: 2px 14px; margin-top: 4px; }
    .legend i { display: inline-block; width: 16px; border-top: 2px solid; margin-right: 4px; vertical-align: middle; }
    .values { font-variant-numeric: tabular-nums; margin-top: 2px; }
  `;

  @property({ attribute: false }) abar: Float64Array | undefined;
  /** The chain's timesteps (ascending, as timestepSequence gives them). */
  @property({ attribute: false }) seq: readonly number[] = [];
  /** The timestep of the step running or shown now, if any. */
  @property({ type: Number }) current: number | undefined;
  @property({ type: Number }) width = 460;
  @property({ type: Number }) height = 190;
  @state() private hovered: number | undefined;

  private readonly L = 34;
  private readonly R = 40;
  private readonly T = 8;
  private readonly B = 34;

  private tAt(e: MouseEvent, T: number): number {
    const svgEl = e.currentTarget as SVGSVGElement;
    const box = svgEl.getBoundingClientRect();
    const x = ((e.clientX - box.left) / box.width) * this.width;
    return Math.round(Math.min(1, Math.max(0, (x - this.L) / (this.width - this.L - this.R))) * (T - 1));
  }

  override render() {
    const abar = this.abar;
    if (!abar || abar.length < 2) return nothing;
    const { L, R, T: top, B } = this;
    const W = this.width, H = this.height, T = abar.length;
    // The curves at most ~300 points each: enough for a smooth line at this width.
    const every = Math.max(1, Math.floor(T / 300));
    const ts = Array.from({ length: Math.ceil(T / every) }, (_, i) => i * every).concat(T - 1);
    const snr = ts.map((t) => logSnr(abar[t]!));
    const [s0, s1] = [Math.min(...snr), Math.max(...snr)];
    const sx = (t: number): number => L + (t / (T - 1)) * (W - L - R);
    const sy = (v: number): number => top + (1 - v) * (H - top - B);
    const sySnr = (v: number): number => sy((v - s0) / Math.max(1e-9, s1 - s0));
    const path = (ys: (t: number) => number): string => ts.map((t, i) => `${i ? 'L' : 'M'}${sx(t).toFixed(1)},${ys(t).toFixed(1)}`).join('');
    const shown = this.hovered ?? this.current;
    const a = shown !== undefined ? abar[shown] : undefined;
    return html`<svg width=${W} height=${H} viewBox=${`0 0 ${W} ${H}`} role="img" data-testid="schedule-chart"
        aria-label=${`noise schedule over t = 0..${T - 1}, ${this.seq.length} chain timesteps marked`}
        @mousemove=${(e: MouseEvent) => (this.hovered = this.tAt(e, T))} @mouseleave=${() => (this.hovered = undefined)}>
      ${svg`
        <line x1=${L} y1=${H - B} x2=${W - R} y2=${H - B} stroke="var(--chart-axis)" />
        <line x1=${L} y1=${top} x2=${L} y2=${H - B} stroke="var(--chart-axis)" />
        <text x=${L - 4} y=${top + 8} text-anchor="end">1</text>
        <text x=${L - 4} y=${H - B} text-anchor="end">0</text>
        <text x=${W - R + 4} y=${top + 8} fill=${SNR_COLOR}>${s1.toFixed(1)}</text>
        <text x=${W - R + 4} y=${H - B} fill=${SNR_COLOR}>${s0.toFixed(1)}</text>
        <text x=${L} y=${H - 4} text-anchor="start">0</text>
        <text x=${W - R} y=${H - 4} text-anchor="end">${T - 1}</text>
        <text x=${(L + W - R) / 2} y=${H - 4} text-anchor="middle">t</text>
        ${this.seq.map((t) => svg`<line class="tick" x1=${sx(t)} y1=${H - B + 2} x2=${sx(t)} y2=${H - B + 9} stroke="var(--text)" stroke-width="1" />`)}
        ${CURVES.map((c) => svg`<path d=${path((t) => sy(c.f(abar[t]!)))} fill="none" stroke=${c.color} stroke-width="1.8" />`)}
        <path d=${path((t) => sySnr(logSnr(abar[t]!)))} fill="none" stroke=${SNR_COLOR} stroke-width="1.4" stroke-dasharray="5 3" />
        ${shown !== undefined && a !== undefined ? svg`
          <line x1=${sx(shown)} y1=${top} x2=${sx(shown)} y2=${H - B} stroke="var(--accent)" stroke-width="1" data-testid="schedule-current" data-t=${shown} />
          ${CURVES.map((c) => svg`<circle cx=${sx(shown)} cy=${sy(c.f(a))} r="3" fill=${c.color} />`)}` : ''}
      `}
    </svg>
    <div class="legend">${CURVES.map((c) => html`<span><i style=${`border-color:${c.color}`}></i>${c.label}</span>`)}
      <span><i style=${`border-color:${SNR_COLOR}; border-top-style: dashed`}></i>log SNR (right axis)</span>
      <span>ticks: the ${this.seq.length} timesteps the chain runs</span></div>
    ${a !== undefined ? html`<div class="values" data-testid="schedule-values">t = ${shown}: abar_t = ${a.toFixed(5)}, sqrt(abar_t) = ${Math.sqrt(a).toFixed(4)}, sqrt(1 - abar_t) = ${Math.sqrt(1 - a).toFixed(4)}, log SNR = ${logSnr(a).toFixed(2)}</div>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'schedule-chart': ScheduleChart;
  }
}
