// <compare-grid>: one seed over two axes of settings (steps x eta, sampler x steps, skip x steps,
// Clip x0 on/off, ...), a chain per cell, shown side by side with ms/step and exported as one PNG
// with its axis labels and the settings in a tEXt chunk.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { proxy } from 'comlink';
import type { Pixels, SampleResult, SampleSettings } from '../worker/api';
import { MAX_GRID_CELLS } from '../app/sampling';
import { AXES, cellSettings, formatValue, parseAxis, type AxisKey, type AxisValue } from './compare-axes';
import { StoreController, type EngineStore } from './engine-store';
import { exportScale } from './film-media';
import { downloadPng, gridCanvas } from './pixel-grid';
import { PNG_SETTINGS_KEY, settingsToQuery, sharedSettings } from './sample-link';
import { panelStyles } from './styles';
import './pixel-grid';

interface Cell {
  pixels: Pixels;
  msPerStep: number;
}

interface Grid {
  base: SampleSettings;
  rows: [AxisKey, AxisValue[]];
  cols: [AxisKey, AxisValue[]];
  cells: (Cell | undefined)[][];
}

const LABEL_W = 96;
const LABEL_H = 22;

@customElement('compare-grid')
export class CompareGrid extends LitElement {
  static override styles = [panelStyles, css`
    table.grid td, table.grid th { text-align: center; border: 0; padding: 3px 6px; font-size: 12px; }
    input[type='text'] { width: 150px; }
  `];

  @property({ attribute: false }) store: EngineStore | undefined;
  /** The Sample tab's settings: the grid varies two of them and keeps the rest (one sample each). */
  @property({ attribute: false }) base: SampleSettings | undefined;
  @property({ type: Number }) timesteps = 1000;
  @state() private rowKey: AxisKey = 'steps';
  @state() private colKey: AxisKey = 'eta';
  @state() private rowText = AXES[0]!.defaults;
  @state() private colText = AXES[1]!.defaults;
  @state() private grid: Grid | undefined;
  @state() private problem: string | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  private axis(which: 'row' | 'col') {
    const key = which === 'row' ? this.rowKey : this.colKey, text = which === 'row' ? this.rowText : this.colText;
    const name = which === 'row' ? 'Rows' : 'Columns';
    return html`<label>${name}
      <span><select aria-label=${`${name} setting`} @change=${(e: Event) => this.setKey(which, (e.target as HTMLSelectElement).value as AxisKey)}>
        ${AXES.map((a) => html`<option value=${a.key} ?selected=${a.key === key}>${a.label}</option>`)}
      </select>
      <input type="text" aria-label=${`${name} values`} .value=${text} @change=${(e: Event) => this.setText(which, (e.target as HTMLInputElement).value)} /></span>
    </label>`;
  }

  private setKey(which: 'row' | 'col', key: AxisKey): void {
    const defaults = AXES.find((a) => a.key === key)!.defaults;
    if (which === 'row') [this.rowKey, this.rowText] = [key, defaults];
    else [this.colKey, this.colText] = [key, defaults];
  }

  private setText(which: 'row' | 'col', text: string): void {
    if (which === 'row') this.rowText = text;
    else this.colText = text;
  }

  private async run(): Promise<void> {
    const store = this.store, base = this.base;
    if (!store || !base || store.isPending('grid')) return;
    this.problem = undefined;
    let grid: Grid;
    try {
      if (this.rowKey === this.colKey) throw new Error('rows and columns must vary different settings');
      const rows = parseAxis(this.rowKey, this.rowText, this.timesteps), cols = parseAxis(this.colKey, this.colText, this.timesteps);
      if (rows.length * cols.length > MAX_GRID_CELLS) throw new Error(`${rows.length} x ${cols.length} = ${rows.length * cols.length} cells; at most ${MAX_GRID_CELLS}`);
      grid = { base, rows: [this.rowKey, rows], cols: [this.colKey, cols], cells: rows.map(() => cols.map(() => undefined)) };
    } catch (e) {
      this.problem = (e as Error).message;
      return;
    }
    const cells = grid.rows[1].flatMap((rv) => grid.cols[1].map((cv) => cellSettings(base, [grid.rows[0], rv], [grid.cols[0], cv])));
    await store.run('grid', 'sample', () => {
      this.grid = grid;
      return store.engine.sampleGrid(cells, proxy((i: number, result: SampleResult) => {
        grid.cells[Math.floor(i / grid.cols[1].length)]![i % grid.cols[1].length] = { pixels: result.final, msPerStep: result.msPerStep };
        this.grid = { ...grid };
      }));
    });
  }

  /** The grid as one labelled image, each sample at least 128 px (exportScale). */
  private canvas(g: Grid): HTMLCanvasElement {
    const size = g.cells.flat().find((c) => c)?.pixels.size ?? 16;
    const cell = size * exportScale(size), pad = 6;
    const canvas = document.createElement('canvas');
    canvas.width = LABEL_W + g.cols[1].length * (cell + pad);
    canvas.height = LABEL_H + g.rows[1].length * (cell + pad);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#1d2330';
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.imageSmoothingEnabled = false;
    g.cols[1].forEach((v, c) => ctx.fillText(formatValue(g.cols[0], v), LABEL_W + c * (cell + pad), LABEL_H / 2));
    g.rows[1].forEach((v, r) => {
      ctx.fillText(formatValue(g.rows[0], v), 4, LABEL_H + r * (cell + pad) + cell / 2);
      g.cells[r]!.forEach((cl, c) => {
        if (cl) ctx.drawImage(gridCanvas(cl.pixels, 1), LABEL_W + c * (cell + pad), LABEL_H + r * (cell + pad), cell, cell);
      });
    });
    return canvas;
  }

  private export(g: Grid): void {
    const text = { [PNG_SETTINGS_KEY]: settingsToQuery(sharedSettings(g.base, this.store?.info?.tier)), 'ddim-webgpu-grid': `rows=${g.rows[0]}:${g.rows[1].join(',')}; columns=${g.cols[0]}:${g.cols[1].join(',')}` };
    void downloadPng(this.canvas(g), 'comparison.png', text);
  }

  override render() {
    const g = this.grid;
    const running = this.store?.isPending('grid') ?? false;
    return html`
      <p class="muted">One seed (${this.base?.seed ?? 0}), one sample per cell; the other settings are the Sample tab's.</p>
      <div class="controls">
        ${this.axis('row')}${this.axis('col')}
        <button class="primary" @click=${() => this.run()} ?disabled=${running}>Compare</button>
        ${g && g.cells.flat().some((c) => c) ? html`<button @click=${() => this.export(g)}>Export comparison PNG</button>` : nothing}
      </div>
      ${this.problem ? html`<div class="error" role="alert">${this.problem}</div>` : nothing}
      ${g ? html`<div class="scroll" style="margin-top:10px"><table class="grid" data-testid="compare-grid">
        <tr><th></th>${g.cols[1].map((v) => html`<th>${formatValue(g.cols[0], v)}</th>`)}</tr>
        ${g.rows[1].map((rv, r) => html`<tr><th>${formatValue(g.rows[0], rv)}</th>
          ${g.cols[1].map((_, c) => {
            const cl = g.cells[r]![c];
            return html`<td>${cl ? html`<pixel-grid label="comparison cell" .pixels=${cl.pixels} cols="1" width="72"></pixel-grid>
              <span class="numbers muted">${cl.msPerStep.toFixed(1)} ms/step</span>` : html`<span class="muted">…</span>`}</td>`;
          })}</tr>`)}
      </table></div>` : nothing}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'compare-grid': CompareGrid;
  }
}
