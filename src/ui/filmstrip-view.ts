// <filmstrip-view>: one sample's chain, x_t and the predicted x0 at every step, with a scrubber and
// PNG export of both rows.
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { Filmstrip, Pixels } from '../worker/api';
import { downloadCanvas, frameOf, gridCanvas } from './pixel-grid';
import { panelStyles } from './styles';
import './pixel-grid';

/** Every k-th frame (and the last), so long chains fit a strip. */
function thin(p: Pixels, max: number): Pixels {
  const k = Math.max(1, Math.ceil(p.count / max));
  const keep = Array.from({ length: p.count }, (_, i) => i).filter((i) => i % k === 0 || i === p.count - 1);
  const per = p.size * p.size * 4;
  const rgba = new Uint8Array(keep.length * per);
  keep.forEach((i, j) => rgba.set(p.rgba.subarray(i * per, (i + 1) * per), j * per));
  return { count: keep.length, size: p.size, rgba };
}

@customElement('filmstrip-view')
export class FilmstripView extends LitElement {
  static override styles = panelStyles;

  @property({ attribute: false }) film: Filmstrip | undefined;
  @state() private step = 0;

  override render() {
    const f = this.film;
    if (!f) return nothing;
    const steps = f.x0s.count;
    const k = Math.min(this.step, steps);
    // Step k shows x_t going into step k (k = steps: the final sample) and the x0 predicted there.
    const t = k < steps ? f.seq[f.seq.length - 1 - k] : undefined;
    return html`
      <div class="controls">
        <label>Step: <span class="numbers">${k}/${steps}${t !== undefined ? ` (t = ${t})` : ' (final)'}</span>
          <input type="range" aria-label="Filmstrip step" min="0" max=${steps} .value=${String(k)} @input=${(e: Event) => (this.step = Number((e.target as HTMLInputElement).value))} />
        </label>
        <button @click=${() => downloadCanvas(gridCanvas(f.xs, f.xs.count), 'filmstrip-xt.png')}>Export x_t strip PNG</button>
        <button @click=${() => downloadCanvas(gridCanvas(f.x0s, f.x0s.count), 'filmstrip-x0.png')}>Export x0 strip PNG</button>
      </div>
      <div class="row" style="margin-top:8px">
        <div class="figure">x_t<pixel-grid label="x_t at the chosen step" .pixels=${frameOf(f.xs, k)} cols="1" width="128"></pixel-grid></div>
        ${k < steps ? html`<div class="figure">predicted x0<pixel-grid label="x0 at the chosen step" .pixels=${frameOf(f.x0s, k)} cols="1" width="128"></pixel-grid></div>` : nothing}
        <div class="figure">final<pixel-grid label="final sample" .pixels=${frameOf(f.xs, steps)} cols="1" width="128"></pixel-grid></div>
      </div>
      <div class="figure" style="margin-top:8px">x_t, every step
        <pixel-grid label="x_t filmstrip" .pixels=${thin(f.xs, 26)} cols="26" width="780"></pixel-grid></div>
      <div class="figure">predicted x0, every step
        <pixel-grid label="x0 filmstrip" .pixels=${thin(f.x0s, 26)} cols="26" width="780"></pixel-grid></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'filmstrip-view': FilmstripView;
  }
}
