// <filmstrip-view>: one sample's chain, x_t and the predicted x0 at every step. Scrubbing the slider
// or hovering a frame of the strips shows that step's numbers (<step-details>); the strips export
// as PNGs that carry the sampling settings, and the denoising as an animated GIF.
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { StepCoefficients } from '../diffusion/samplers';
import type { Filmstrip, Pixels } from '../worker/api';
import { denoisingGif } from './film-media';
import { downloadBytes, downloadPng, gridCanvas } from './pixel-grid';
import { panelStyles } from './styles';
import './pixel-grid';
import './step-details';

const STRIP = 26;

/** Every k-th frame (and the last), so long chains fit a strip; `kept` maps strip cells to frames. */
function thin(p: Pixels, max: number): { pixels: Pixels; kept: number[] } {
  // One row of at most `max`: the stride leaves room for the last frame.
  const k = p.count <= max ? 1 : Math.ceil(p.count / (max - 1));
  const kept = Array.from({ length: p.count }, (_, i) => i).filter((i) => i % k === 0 || i === p.count - 1);
  const per = p.size * p.size * 4;
  const rgba = new Uint8Array(kept.length * per);
  kept.forEach((i, j) => rgba.set(p.rgba.subarray(i * per, (i + 1) * per), j * per));
  return { pixels: { count: kept.length, size: p.size, rgba }, kept };
}

/** 30 CSS pixels a frame, at most a row of STRIP. */
function stripWidth(p: Pixels): number {
  return 30 * Math.min(STRIP, p.count);
}

@customElement('filmstrip-view')
export class FilmstripView extends LitElement {
  static override styles = panelStyles;

  @property({ attribute: false }) film: Filmstrip | undefined;
  @property({ attribute: false }) coefficients: readonly StepCoefficients[] = [];
  @property({ attribute: false }) abar: Float64Array | undefined;
  /** tEXt entries for the exported PNGs (the settings that made the chain). */
  @property({ attribute: false }) pngText: Record<string, string> = {};
  @state() private step = 0;

  /** The frame under the pointer in a thinned strip. */
  private hover(e: MouseEvent, kept: number[]): void {
    const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const cell = Math.floor(((e.clientX - box.left) / box.width) * Math.min(STRIP, kept.length));
    const frame = kept[Math.min(kept.length - 1, Math.max(0, cell))];
    if (frame !== undefined) this.step = frame;
  }

  override render() {
    const f = this.film;
    if (!f) return nothing;
    const steps = f.x0s.count;
    const k = Math.min(this.step, steps);
    const t = k < steps ? f.seq[f.seq.length - 1 - k] : undefined;
    const xs = thin(f.xs, STRIP), x0s = thin(f.x0s, STRIP);
    return html`
      <div class="controls">
        <label>Step: <span class="numbers">${k}/${steps}${t !== undefined ? ` (t = ${t})` : ' (final)'}</span>
          <input type="range" aria-label="Filmstrip step" min="0" max=${steps} .value=${String(k)} @input=${(e: Event) => (this.step = Number((e.target as HTMLInputElement).value))} />
        </label>
        <button @click=${() => downloadPng(gridCanvas(f.xs, f.xs.count), 'filmstrip-xt.png', this.pngText)}>Export x_t strip PNG</button>
        <button @click=${() => downloadPng(gridCanvas(f.x0s, f.x0s.count), 'filmstrip-x0.png', this.pngText)}>Export x0 strip PNG</button>
        <button @click=${() => downloadBytes(denoisingGif(f), 'denoising.gif', 'image/gif')} ?disabled=${steps === 0}>Export denoising GIF</button>
      </div>
      <step-details style="margin-top:8px" .film=${f} .coefficients=${this.coefficients} .abar=${this.abar} step=${k}></step-details>
      <p class="muted">Hover a frame (or move the slider) for its step's numbers.</p>
      <div class="figure scroll">x_t, every step
        <pixel-grid label="x_t filmstrip" .pixels=${xs.pixels} cols=${STRIP} width=${stripWidth(xs.pixels)} @mousemove=${(e: MouseEvent) => this.hover(e, xs.kept)}></pixel-grid></div>
      <div class="figure scroll">predicted x0, every step
        <pixel-grid label="x0 filmstrip" .pixels=${x0s.pixels} cols=${STRIP} width=${stripWidth(x0s.pixels)} @mousemove=${(e: MouseEvent) => this.hover(e, x0s.kept)}></pixel-grid></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'filmstrip-view': FilmstripView;
  }
}
