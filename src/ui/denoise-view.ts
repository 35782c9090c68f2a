// The Denoise tab: a clean image (a held-out emoji or your own), noised to x_t at a chosen t; the
// model's one-shot x0 prediction against the DDIM chain from t, both scored against the clean image,
// and the one-shot error across t for that image. DDIM inversion carries the same image up to x_T,
// back down (its reconstruction PSNR) and re-samples from that x_T with another eta or step count.
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { DenoiseResult, InversionResult, Pixels } from '../worker/api';
import { decodeImageFile } from '../train/decode-browser';
import { StoreController, type EngineStore } from './engine-store';
import { clampedInt } from './fields';
import { panelStyles } from './styles';
import './pixel-grid';
import './line-chart';
import './job-panel';

/** Below this PSNR a DDIM reconstruction is another image (the bundled model on one emoji: 14 dB at 10 steps, 31 dB at 50), and the panel says why. */
const POOR_RECONSTRUCTION_DB = 20;
/** Inversion steps that reconstruct the bundled emoji closely (31 dB at 50). */
const WELL_INVERTING_STEPS = 50;
const PICKER = 24;

/** The t slider's [min, max, step]: any t of T, or a layered model's chain (its t above 0, evenly spaced). */
function tRange(seq: readonly number[] | undefined, T: number): [number, number, number] {
  return seq ? [seq[1]!, seq[seq.length - 1]!, seq[1]! - seq[0]!] : [0, T - 1, 1];
}
const PICKER_COLS = 12;

@customElement('denoise-view')
export class DenoiseView extends LitElement {
  static override styles = panelStyles;

  @property({ attribute: false }) store: EngineStore | undefined;
  @state() private choices: Pixels | undefined;
  private indices: number[] = [];
  @state() private picked = 0;
  @state() private own: { name: string; rgb: Uint8Array; preview: Pixels } | undefined;
  @state() private t = 500;
  @state() private steps = 10;
  @state() private seed = 0;
  /** The last result, with the t it was made at (the controls may have moved since; the result names its chain's steps). */
  @state() private result: { result: DenoiseResult; t: number } | undefined;
  @state() private ownError: string | undefined;
  @state() private inversion = { steps: 50, resampleSteps: 20, resampleEta: 0 };
  @state() private inverted: { result: InversionResult; resampleEta: number } | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  private get model() {
    return this.store?.selected;
  }

  /** A layered model's t snaps to its chain's timesteps. */
  protected override willUpdate(): void {
    const seq = this.model?.chain;
    if (!seq) return;
    const [lo, hi, step] = tRange(seq, 0);
    const t = Math.min(hi, Math.max(lo, Math.round(this.t / step) * step));
    if (t !== this.t) this.t = t;
  }

  override async updated(): Promise<void> {
    const m = this.model;
    if (m && (!this.choices || (this.choices.count > 0 && this.choices.size !== m.resolution)) && this.store) {
      this.choices = { count: 0, size: m.resolution, rgba: new Uint8Array() }; // loading
      const { pixels, indices } = await this.store.engine.datasetImages(m.resolution, PICKER);
      this.indices = indices;
      this.choices = pixels;
    }
  }

  private async chooseFile(e: Event): Promise<void> {
    const file = (e.target as HTMLInputElement).files?.[0];
    const m = this.model;
    if (!file || !m) return;
    this.ownError = undefined;
    try {
      const size = m.resolution;
      const rgb = await decodeImageFile(file, size);
      const rgba = new Uint8Array(size * size * 4);
      for (let p = 0; p < size * size; p++) rgba.set([rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!, 255], p * 4);
      this.own = { name: file.name, rgb, preview: { count: 1, size, rgba } };
    } catch (err) {
      this.ownError = (err as Error).message;
    }
  }

  private async run(): Promise<void> {
    const store = this.store, m = this.model;
    if (!store || !m || store.tabPending('denoise')) return;
    const request = { modelId: m.id, image: this.image(), t: this.t, steps: this.steps, seed: this.seed };
    const r = await store.run('denoising', 'denoise', () => store.engine.denoise(request));
    if (r) this.result = { result: r, t: request.t };
  }

  private image() {
    return this.own ? { kind: 'rgb' as const, rgb: this.own.rgb } : { kind: 'dataset' as const, index: this.indices[this.picked] ?? 0 };
  }

  private async invert(): Promise<void> {
    const store = this.store, m = this.model;
    if (!store || !m || store.tabPending('denoise')) return;
    const r = await store.run('inversion', 'denoise', () => store.engine.invert({ modelId: m.id, image: this.image(), ...this.inversion, seed: this.seed }));
    if (r) this.inverted = { result: r, resampleEta: this.inversion.resampleEta };
  }

  private inversionPanel() {
    const v = this.inversion, r = this.inverted?.result, used = this.inverted;
    const num = (e: Event): number => Math.max(0, Number((e.target as HTMLInputElement).value));
    return html`<section><h2>DDIM inversion</h2>
      <p class="muted">Run the deterministic chain (eta 0) backwards: the chosen image goes up to the x_T that DDIM would turn back into it.
        Sampling down the same timesteps reconstructs it where the steps are small enough (each inversion step assumes eps barely changes from one t to the next: tens of steps, not a few);
        sampling from that x_T with another eta or number of steps shows how much of the image the noise holds.</p>
      <div class="controls">
        <label>Inversion steps<input type="number" aria-label="Inversion steps" min="1" max="1000" .value=${String(v.steps)} @change=${(e: Event) => (this.inversion = { ...v, steps: clampedInt(e, 1, 1000, v.steps) })} /></label>
        <label>Re-sample steps<input type="number" aria-label="Re-sample steps" min="1" max="1000" .value=${String(v.resampleSteps)} @change=${(e: Event) => (this.inversion = { ...v, resampleSteps: clampedInt(e, 1, 1000, v.resampleSteps) })} /></label>
        <label>Re-sample eta<input type="number" aria-label="Re-sample eta" min="0" max="1" step="0.1" .value=${String(v.resampleEta)} @change=${(e: Event) => (this.inversion = { ...v, resampleEta: num(e) })} /></label>
        <button class="primary" @click=${() => this.invert()} ?disabled=${!!this.store?.tabPending('denoise') || !this.model || this.model.chain !== undefined}>Invert</button>
        ${this.model?.chain ? html`<span class="muted">A layered model cannot be inverted: the inversion starts with eps at t = 0, where it has no sub-model.</span>` : nothing}
      </div>
      ${r ? html`<div class="row" style="margin-top:10px">
        <div class="figure">image<pixel-grid label="image to invert" .pixels=${r.clean} cols="1" width="112"></pixel-grid></div>
        <div class="figure">its x_T (t = ${r.seq.at(-1)})<pixel-grid label="inverted x_T" .pixels=${r.xT} cols="1" width="112"></pixel-grid></div>
        <div class="figure">reconstruction<pixel-grid label="reconstruction" .pixels=${r.reconstruction} cols="1" width="112"></pixel-grid></div>
        <div class="figure">re-sampled<pixel-grid label="re-sampled from x_T" .pixels=${r.resampled} cols="1" width="112"></pixel-grid></div>
        <table data-testid="inversion-scores"><tr><th></th><th>PSNR</th></tr>
          <tr><td>reconstruction (${r.seq.length} steps, eta 0)</td><td class="numbers" data-testid="inversion-psnr">${r.reconstructionPsnr.toFixed(2)} dB</td></tr>
          <tr><td>re-sampled (${r.resampledSteps} steps, eta ${used?.resampleEta})</td><td class="numbers">${r.resampledPsnr.toFixed(2)} dB</td></tr></table>
      </div>
      ${r.reconstructionPsnr < POOR_RECONSTRUCTION_DB ? html`<div class="note" role="status" data-testid="inversion-poor">The reconstruction is not the image (${r.reconstructionPsnr.toFixed(1)} dB), so this x_T does not hold it:
        ${r.seq.length < WELL_INVERTING_STEPS ? `${r.seq.length} inversion steps are too coarse for the assumption above; ${WELL_INVERTING_STEPS} or more invert the bundled emoji closely.`
          : `even at ${r.seq.length} steps the model's eps along this image's path breaks the assumption above (an image unlike its training data does that).`}</div>` : nothing}` : nothing}
    </section>`;
  }

  /** Arrow keys move the pick through the grid (left/right by one, up/down by a row). */
  private pickByKey(e: KeyboardEvent): void {
    const n = this.choices?.count ?? 0;
    const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -PICKER_COLS, ArrowDown: PICKER_COLS };
    const d = step[e.key];
    if (d === undefined || n === 0) return;
    e.preventDefault();
    this.picked = Math.min(n - 1, Math.max(0, this.picked + d));
    this.own = undefined;
  }

  private pick(e: MouseEvent): void {
    const c = this.choices;
    if (!c || c.count === 0) return;
    const target = e.currentTarget as HTMLElement;
    const rect = target.getBoundingClientRect();
    const cols = PICKER_COLS, rows = Math.ceil(c.count / cols);
    const col = Math.floor(((e.clientX - rect.left) / rect.width) * cols), row = Math.floor(((e.clientY - rect.top) / rect.height) * rows);
    const i = row * cols + col;
    if (i >= 0 && i < c.count) {
      this.picked = i;
      this.own = undefined;
    }
  }

  override render() {
    const m = this.model;
    const T = m?.diffusion.num_diffusion_timesteps ?? 1000;
    // A layered model denoises at its chain's timesteps only (one sub-model each): t moves among them.
    const seq = m?.chain;
    const [tMin, tMax, tStep] = tRange(seq, T);
    const shown = this.result, r = shown?.result;
    const busy = this.store?.tabPending('denoise') ?? false;
    return html`
      <section><h2>Denoise</h2>
        <p class="muted">Noise a clean image to x_t, then compare the model's one-shot x0 prediction at t with the DDIM chain from t (eta 0). Model: ${m?.name ?? '…'}.</p>
        <div class="row">
          <div class="figure">held-out emoji (click to pick #${this.picked})
            ${this.choices && this.choices.count > 0 ? html`<pixel-grid data-testid="picker" label=${`held-out images to pick from; #${this.picked} picked, arrow keys move`} tabindex="0"
              @click=${(e: MouseEvent) => this.pick(e)} @keydown=${(e: KeyboardEvent) => this.pickByKey(e)} .pixels=${this.choices} cols=${PICKER_COLS} width="384" style="cursor:pointer"></pixel-grid>` : html`<span class="muted">loading…</span>`}
          </div>
          <div class="figure">or your own image
            <input type="file" aria-label="Your own image" accept="image/png,image/jpeg,image/webp" @change=${(e: Event) => this.chooseFile(e)} />
            ${this.own ? html`<span>${this.own.name}</span><pixel-grid label="your image" .pixels=${this.own.preview} cols="1" width="64"></pixel-grid>` : nothing}
            ${this.ownError ? html`<div class="error" role="alert">${this.ownError}</div>` : nothing}
          </div>
        </div>
        <div class="controls" style="margin-top:10px">
          <label>t: <span class="numbers">${this.t}</span>
            <input type="range" aria-label="t" min=${tMin} max=${tMax} step=${tStep} .value=${String(this.t)} @input=${(e: Event) => (this.t = Number((e.target as HTMLInputElement).value))}
              @change=${() => this.result && !this.store?.current && this.run()} /></label>
          <label title=${seq ? 'a layered model runs its own chain from t' : ''}>Chain steps<input type="number" aria-label="Chain steps" min="1" max="1000" ?disabled=${seq !== undefined} .value=${String(this.steps)} @change=${(e: Event) => (this.steps = Math.max(1, Math.floor(Number((e.target as HTMLInputElement).value))))} /></label>
          <label>Noise seed<input type="number" aria-label="Noise seed" min="0" .value=${String(this.seed)} @change=${(e: Event) => (this.seed = Math.max(0, Math.floor(Number((e.target as HTMLInputElement).value))))} /></label>
          <button class="primary" @click=${() => this.run()} ?disabled=${busy || !m}>Denoise</button>
        </div>
        <job-panel .store=${this.store} tab="denoise"></job-panel>
        ${this.store?.errorOf('denoise') ? html`<div class="error" role="alert">${this.store.errorOf('denoise')}</div>` : nothing}
        ${this.store?.noteOf('denoise') ? html`<div class="note" role="status">${this.store.noteOf('denoise')}</div>` : nothing}
      </section>
      ${r && shown ? html`<section><h2>At t = ${shown.t}</h2>
        <div class="row">
          <div class="figure">clean<pixel-grid label="clean image" .pixels=${r.clean} cols="1" width="128"></pixel-grid></div>
          <div class="figure">x_t<pixel-grid label="noised image" .pixels=${r.xt} cols="1" width="128"></pixel-grid></div>
          <div class="figure">one-shot x0<pixel-grid label="one-shot x0" .pixels=${r.oneShot} cols="1" width="128"></pixel-grid></div>
          <div class="figure">DDIM chain from t<pixel-grid label="chain result" .pixels=${r.chain} cols="1" width="128"></pixel-grid></div>
          <table data-testid="denoise-scores">
            <tr><th></th><th>MSE</th><th>PSNR</th></tr>
            <tr><td>one-shot x0</td><td class="numbers">${r.oneShotMse.toFixed(4)}</td><td class="numbers">${r.oneShotPsnr.toFixed(2)} dB</td></tr>
            <tr><td title=${`t = ${r.chainTimesteps.join(', ')}`}>chain (${r.chainTimesteps.length} step${r.chainTimesteps.length === 1 ? '' : 's'})</td><td class="numbers">${r.chainMse.toFixed(4)}</td><td class="numbers">${r.chainPsnr.toFixed(2)} dB</td></tr>
          </table>
        </div>
        <h3 style="margin-top:12px">One-shot x0 error against t, this image and noise</h3>
        <line-chart .points=${r.curve.map((p) => ({ x: p.t, y: p.mse }))} xLabel="t" yLabel="MSE" logY></line-chart>
      </section>` : nothing}
      ${this.inversionPanel()}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'denoise-view': DenoiseView;
  }
}
