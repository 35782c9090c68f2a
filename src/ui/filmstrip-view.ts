// <filmstrip-view>: one sample's chain as two aligned rows, x_t going into each step above the x0
// predicted at that step, with the final sample at the end of the x_t row. Every step is shown up to
// MAX_COLUMNS; past that both rows show the same steps (every stride-th and the last) and say so.
// Moving the slider or pointing at (tapping, on touch screens) a column shows that step's numbers
// (<step-details>); the chain exports as a labelled grid PNG of every step (with the sampling
// settings in its text chunk) and as an animated GIF.
import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { Filmstrip, Pixels } from '../worker/api';
import { denoisingGif, exportScale, filmColumns, imagesOf, tile } from './film-media';
import { downloadBytes, downloadPng } from './pixel-grid';
import { panelStyles } from './styles';
import './pixel-grid';
import './step-details';

/** Most columns of the strips on the page (the export shows every step). */
const MAX_COLUMNS = 25;
/** Steps per row of the exported grid. */
const EXPORT_COLUMNS = 10;
/** Whether the device has no hover (touch): the wording says tap. */
const touch = typeof matchMedia === 'function' && matchMedia('(hover: none)').matches;

/** The labelled export of a chain: rows of EXPORT_COLUMNS steps, x_t above x0, t over each column. */
function filmCanvas(f: Filmstrip): HTMLCanvasElement {
  const steps = f.x0s.count, size = f.xs.size, scale = exportScale(size, 64), cell = size * scale, gap = 6, label = 16;
  const xs = imagesOf(f.xs), x0s = imagesOf(f.x0s);
  const cols = Math.min(EXPORT_COLUMNS, steps + 1), blocks = Math.ceil((steps + 1) / cols);
  const canvas = document.createElement('canvas');
  canvas.width = 44 + cols * (cell + gap);
  canvas.height = blocks * (label + 2 * cell + 3 * gap);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#1d2330';
  for (let b = 0; b < blocks; b++) {
    const top = b * (label + 2 * cell + 3 * gap);
    ctx.fillText('x_t', 4, top + label + cell / 2);
    ctx.fillText('x0', 4, top + label + gap + cell + cell / 2);
    for (let c = 0; c < cols; c++) {
      const k = b * cols + c;
      if (k > steps) break;
      const x = 44 + c * (cell + gap);
      ctx.fillText(k < steps ? `t=${f.coefficients[k]!.t}` : 'final', x, top + 12);
      const put = (img: Uint8Array, y: number): void => {
        const r = tile([img], size, 1, scale, 0);
        ctx.putImageData(new ImageData(new Uint8ClampedArray(r.rgba.buffer as ArrayBuffer), r.width, r.height), x, y);
      };
      put(xs[k]!, top + label);
      if (k < steps) put(x0s[k]!, top + label + gap + cell);
    }
  }
  return canvas;
}

@customElement('filmstrip-view')
export class FilmstripView extends LitElement {
  static override styles = [panelStyles, css`pixel-grid { cursor: crosshair; }`];

  @property({ attribute: false }) film: Filmstrip | undefined;
  @property({ attribute: false }) abar: Float64Array | undefined;
  /** tEXt entries for the exported PNG (the settings that made the chain). */
  @property({ attribute: false }) pngText: Record<string, string> = {};
  /** A step to show (the one Step just ran); the slider and the strips move it on from there. */
  @property({ type: Number }) selected: number | undefined;
  @state() private step = 0;

  protected override willUpdate(changed: PropertyValues): void {
    if (changed.has('selected') && this.selected !== undefined) this.step = this.selected;
  }

  /** The strips: one grid of two rows (x_t in, final sample last; x0 below), the same steps in both. */
  private strips(f: Filmstrip, columns: number[]): Pixels {
    const xs = imagesOf(f.xs), x0s = imagesOf(f.x0s), per = f.xs.size * f.xs.size * 4;
    const blank = new Uint8Array(per).fill(255);
    const row1 = [...columns.map((k) => xs[k]!), xs[f.x0s.count]!], row2 = [...columns.map((k) => x0s[k]!), blank];
    const rgba = new Uint8Array((row1.length + row2.length) * per);
    [...row1, ...row2].forEach((img, i) => rgba.set(img, i * per));
    return { count: row1.length + row2.length, size: f.xs.size, rgba };
  }

  /** The step of the column under the pointer (the final column: the sample). */
  private point(e: MouseEvent, columns: number[], steps: number): void {
    const box = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const cell = Math.floor(((e.clientX - box.left) / box.width) * (columns.length + 1));
    this.step = cell >= columns.length ? steps : columns[Math.max(0, cell)]!;
  }

  override render() {
    const f = this.film;
    if (!f) return nothing;
    const steps = f.x0s.count, total = f.coefficients.length, complete = steps === total;
    const k = Math.min(this.step, steps);
    const t = k < steps ? f.coefficients[k]!.t : undefined;
    const { columns, stride } = filmColumns(steps, MAX_COLUMNS);
    const shown = stride === 1 ? `every step (${steps})` : `one step in ${stride} (${columns.length} of ${steps}, the last included)`;
    const strips = this.strips(f, columns);
    return html`
      <div class="controls">
        <label>Step: <span class="numbers" data-testid="film-step">${k < steps ? `${k + 1} of ${complete ? steps : `${total} (${steps} run so far)`} (t = ${t})` : complete ? `final sample (after ${steps} steps)` : `x_t after step ${steps} of ${total} (not final)`}</span>
          <input type="range" aria-label="Filmstrip step" min="0" max=${steps} .value=${String(k)} @input=${(e: Event) => (this.step = Number((e.target as HTMLInputElement).value))} />
        </label>
        <button @click=${() => downloadPng(filmCanvas(f), 'filmstrip.png', { ...this.pngText, 'ddim-webgpu-film': `x_t (row 1) and predicted x0 (row 2) at t = ${f.coefficients.slice(0, steps).map((c) => c.t).join(', ')}` })}>Export filmstrip PNG</button>
        <button @click=${() => downloadBytes(denoisingGif(f), 'denoising.gif', 'image/gif')} ?disabled=${steps === 0}>Export denoising GIF</button>
      </div>
      <step-details style="margin-top:8px" .film=${f} .abar=${this.abar} step=${k}></step-details>
      <p class="muted" data-testid="film-shown">Row 1: x_t going into the step (${complete ? 'the final sample' : `x_t after step ${steps} of ${total}`} last); row 2: the x0 predicted at that step. Shown: ${shown}.
        ${touch ? 'Tap a column' : 'Point at a column'} (or move the slider) for its step's numbers.</p>
      <div class="figure scroll">
        <pixel-grid data-testid="filmstrip" label=${`x_t and predicted x0 at ${shown}`} .pixels=${strips} cols=${columns.length + 1} width=${Math.min(900, (columns.length < 12 ? 56 : 34) * (columns.length + 1))}
          @mousemove=${(e: MouseEvent) => this.point(e, columns, steps)} @click=${(e: MouseEvent) => this.point(e, columns, steps)}></pixel-grid></div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'filmstrip-view': FilmstripView;
  }
}
