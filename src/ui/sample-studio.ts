// The Sample tab: sampler settings, a live grid of x_t and the predicted x0 at every step, the
// filmstrip of one sample, the first-step question, interpolation between two seeds.
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { proxy } from 'comlink';
import { SKIP_TYPES, describeChain, timestepSequence, type SkipType } from '../diffusion/timesteps';
import { SAMPLERS, type SamplerKind } from '../diffusion/samplers';
import type { Filmstrip, FirstStepReport, Pixels, SampleSettings, StepFrame } from '../worker/api';
import { StoreController, type EngineStore } from './engine-store';
import { downloadCanvas, frameOf, gridCanvas } from './pixel-grid';
import { panelStyles } from './styles';
import './pixel-grid';
import './filmstrip-view';

interface Shown {
  settings: SampleSettings;
  final: Pixels;
  msPerStep: number;
  completed: boolean;
}

@customElement('sample-studio')
export class SampleStudio extends LitElement {
  static override styles = panelStyles;

  @property({ attribute: false }) store: EngineStore | undefined;
  // Clip x0 starts on, as in diffusers' DDIMScheduler: unclipped DDIM from a small, briefly trained
  // model drifts out of the data range (see the README's table); the checkbox shows both.
  @state() private settings: SampleSettings = { modelId: '', sampler: 'generalized', steps: 50, eta: 0, skip: 'uniform', seed: 0, batch: 4, clipX0: true, previews: true };
  @state() private view: 'both' | 'xt' | 'x0' = 'both';
  @state() private frame: StepFrame | undefined;
  @state() private results: Shown[] = [];
  @state() private film: Filmstrip | undefined;
  @state() private filmIndex = 0;
  @state() private first: FirstStepReport | undefined;
  @state() private seedB = 1;
  @state() private frames = 8;
  @state() private interpolation: Pixels | undefined;
  @state() private animFrame = 0;
  private animTimer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.animTimer);
  }

  private get running(): boolean {
    return this.store?.job !== undefined;
  }

  private modelId(): string {
    return this.store?.selected?.id ?? '';
  }

  private set<K extends keyof SampleSettings>(key: K, value: SampleSettings[K], rerender = false): void {
    this.settings = { ...this.settings, [key]: value };
    // Idle slider changes re-render with the same seed, the previous result kept beside the new one.
    const shown = this.results[0]?.settings;
    if (rerender && !this.running && shown && shown[key] !== value) void this.sample();
  }

  async sample(): Promise<void> {
    const store = this.store;
    if (!store || this.running) return;
    const settings = { ...this.settings, modelId: this.modelId() };
    this.film = undefined;
    this.first = undefined;
    const result = await store.run('sampling', () => store.engine.sample(settings, proxy((f: StepFrame) => {
      this.frame = f;
    })));
    if (!result) return;
    this.results = [{ settings, final: result.final, msPerStep: result.msPerStep, completed: result.completed }, ...this.results].slice(0, 2);
    if (result.stepsDone > 0) {
      this.filmIndex = Math.min(this.filmIndex, settings.batch - 1);
      [this.film, this.first] = await Promise.all([store.engine.filmstrip(this.filmIndex), store.engine.firstStep()]);
    }
  }

  private async showFilm(i: number): Promise<void> {
    this.filmIndex = i;
    if (this.store && !this.running) this.film = await this.store.engine.filmstrip(i);
  }

  private async interpolate(): Promise<void> {
    const store = this.store;
    if (!store || this.running) return;
    const settings = { ...this.settings, modelId: this.modelId() };
    const strip = await store.run('interpolation', () => store.engine.interpolate(settings, this.seedB, this.frames));
    if (!strip) return;
    this.interpolation = strip;
    clearInterval(this.animTimer);
    this.animFrame = 0;
    this.animTimer = setInterval(() => (this.animFrame = (this.animFrame + 1) % strip.count), 250);
  }

  /** The timesteps the chain will run with these settings, for the selected model's T. */
  private chainText(): string {
    const T = this.store?.selected?.diffusion.num_diffusion_timesteps ?? 1000;
    try {
      return `runs ${describeChain(timestepSequence(this.settings.skip, this.settings.steps, T))}`;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private controls() {
    const s = this.settings;
    const models = this.store?.models ?? [];
    const num = (e: Event): number => Number((e.target as HTMLInputElement).value);
    return html`
      <div class="controls">
        <label>Model
          <select aria-label="Model" @change=${(e: Event) => this.store?.select((e.target as HTMLSelectElement).value)}>
            ${models.map((m) => html`<option value=${m.id} ?selected=${m.id === this.modelId()}>${m.name}</option>`)}
          </select>
        </label>
        <label>Sampler
          <select aria-label="Sampler" @change=${(e: Event) => this.set('sampler', (e.target as HTMLSelectElement).value as SamplerKind, true)}>
            ${SAMPLERS.map((k) => html`<option value=${k} ?selected=${k === s.sampler}>${k}</option>`)}
          </select>
        </label>
        <label>Steps: <span class="numbers">${s.steps}</span>
          <input type="range" aria-label="Steps" min="1" max="1000" .value=${String(s.steps)} @input=${(e: Event) => this.set('steps', num(e))} @change=${(e: Event) => this.set('steps', num(e), true)} />
          <span class="muted" data-testid="chain" title="The timesteps the model sees, noisiest first (the reference's skip rules)">${this.chainText()}</span>
        </label>
        <label>eta: <span class="numbers">${s.eta.toFixed(2)}</span>
          <input type="range" aria-label="eta" min="0" max="1" step="0.01" .value=${String(s.eta)} ?disabled=${s.sampler === 'ddpm_noisy'}
            @input=${(e: Event) => this.set('eta', num(e))} @change=${(e: Event) => this.set('eta', num(e), true)} />
        </label>
        <label>Skip
          <select aria-label="Skip" @change=${(e: Event) => this.set('skip', (e.target as HTMLSelectElement).value as SkipType, true)}>
            ${SKIP_TYPES.map((k) => html`<option value=${k} ?selected=${k === s.skip}>${k}</option>`)}
          </select>
        </label>
        <label>Seed
          <span><input type="number" aria-label="Seed" min="0" .value=${String(s.seed)} @change=${(e: Event) => this.set('seed', Math.max(0, Math.floor(num(e))))} />
          <button aria-label="Random seed" title="Random seed" @click=${() => this.set('seed', Math.floor(Math.random() * 1e6))}>🎲</button></span>
        </label>
        <label>Batch size
          <input type="number" aria-label="Batch size" min="1" max="64" .value=${String(s.batch)} @change=${(e: Event) => this.set('batch', Math.min(64, Math.max(1, Math.floor(num(e)))))} />
        </label>
        <label class="inline"><input type="checkbox" aria-label="Live preview" .checked=${s.previews} @change=${(e: Event) => this.set('previews', (e.target as HTMLInputElement).checked)} />Live preview</label>
        <label class="inline"><input type="checkbox" aria-label="Clip x0" .checked=${s.clipX0} @change=${(e: Event) => this.set('clipX0', (e.target as HTMLInputElement).checked, true)} />Clip x0</label>
        <label>Show
          <select aria-label="Show" @change=${(e: Event) => (this.view = (e.target as HTMLSelectElement).value as 'both')}>
            <option value="both">x_t and x0 side by side</option><option value="xt">x_t</option><option value="x0">predicted x0</option>
          </select>
        </label>
        <button class="primary" @click=${() => this.sample()} ?disabled=${this.running || models.length === 0}>Sample</button>
        <button @click=${() => this.store?.engine.stop()} ?disabled=${!this.running}>Stop</button>
      </div>`;
  }

  private progress() {
    const f = this.frame;
    if (!f) return html`<p class="muted">Press Sample: the grid shows x_t and the x0 the model predicts at every step.</p>`;
    const eta = ((f.total - f.step) * f.msPerStep) / 1000;
    return html`
      <div class="controls">
        <progress max=${f.total} .value=${f.step} aria-label="Sampling progress"></progress>
        <span class="numbers" data-testid="progress">step ${f.step}/${f.total} · t = ${f.t} · ${f.msPerStep.toFixed(1)} ms/step · ETA ${eta.toFixed(1)} s</span>
      </div>
      <div class="row" style="margin-top:10px">
        ${this.view !== 'x0' && f.xt ? html`<div class="figure">x_t<pixel-grid data-testid="xt" label="x_t at the current step" .pixels=${f.xt} cols=${Math.ceil(Math.sqrt(f.xt.count))}></pixel-grid></div>` : nothing}
        ${this.view !== 'xt' && f.x0 ? html`<div class="figure">predicted x0<pixel-grid data-testid="x0" label="predicted x0 at the current step" .pixels=${f.x0} cols=${Math.ceil(Math.sqrt(f.x0.count))}></pixel-grid></div>` : nothing}
      </div>`;
  }

  private describe(s: SampleSettings): string {
    return `${s.sampler}${s.sampler === 'generalized' ? `, eta ${s.eta.toFixed(2)}` : ''}, ${s.steps} steps (${s.skip}), seed ${s.seed}${s.clipX0 ? ', x0 clipped' : ''}`;
  }

  private resultsPanel() {
    if (this.results.length === 0) return nothing;
    return html`<section><h2>Results</h2><div class="row">
      ${this.results.map((r, i) => html`<div class="figure">
        <pixel-grid data-testid=${i === 0 ? 'final' : 'previous'} label="sample grid" .pixels=${r.final} cols=${Math.ceil(Math.sqrt(r.final.count))} width="200"></pixel-grid>
        <span>${i === 0 ? 'latest' : 'previous'}: ${this.describe(r.settings)}${r.completed ? '' : ' (stopped)'}</span>
        <span class="numbers">${r.msPerStep.toFixed(1)} ms/step</span>
        ${i === 0 ? html`<button @click=${() => downloadCanvas(gridCanvas(r.final, Math.ceil(Math.sqrt(r.final.count))), 'samples.png')}>Export grid PNG</button>` : nothing}
      </div>`)}
    </div></section>`;
  }

  private firstStepPanel() {
    const r = this.first;
    if (!r) return nothing;
    const cols = Math.ceil(Math.sqrt(r.final.count));
    return html`<section><h2>The first-step question</h2>
      <p class="muted">Why can't the x0 predicted at the first step be the result? The model's first guess is the mean of everything x_T could become: a blurry average. The chain commits to details step by step.</p>
      <div class="row">
        <div class="figure">x0 predicted at the first step<pixel-grid label="x0 at the first step" .pixels=${r.firstX0} cols=${cols} width="180"></pixel-grid></div>
        <div class="figure">final sample<pixel-grid label="final sample" .pixels=${r.final} cols=${cols} width="180"></pixel-grid></div>
        <div class="figure">|difference| (scaled)<pixel-grid label="difference" .pixels=${r.difference} cols=${cols} width="180"></pixel-grid></div>
        <table data-testid="first-step-table"><tr><th>sample</th><th>MSE</th><th>PSNR</th></tr>
          ${r.mse.map((m, i) => html`<tr><td>${i}</td><td class="numbers">${m.toFixed(4)}</td><td class="numbers">${r.psnr[i]!.toFixed(1)} dB</td></tr>`)}
        </table>
      </div></section>`;
  }

  private interpolationPanel() {
    const p = this.interpolation;
    return html`<section><h2>Interpolation</h2>
      <div class="controls">
        <span class="muted">From seed ${this.settings.seed} to</span>
        <label>Seed B<input type="number" aria-label="Seed B" min="0" .value=${String(this.seedB)} @change=${(e: Event) => (this.seedB = Math.max(0, Math.floor(Number((e.target as HTMLInputElement).value))))} /></label>
        <label>Frames<input type="number" aria-label="Frames" min="2" max="64" .value=${String(this.frames)} @change=${(e: Event) => (this.frames = Math.min(64, Math.max(2, Math.floor(Number((e.target as HTMLInputElement).value)))))} /></label>
        <button @click=${() => this.interpolate()} ?disabled=${this.running}>Interpolate</button>
      </div>
      ${p ? html`<div class="row" style="margin-top:10px">
        <pixel-grid data-testid="interpolation" label="interpolation strip" .pixels=${p} cols=${p.count} width=${Math.min(900, 64 * p.count)}></pixel-grid>
        <pixel-grid label="interpolation animation" .pixels=${frameOf(p, this.animFrame)} cols="1" width="96"></pixel-grid>
      </div>` : nothing}
    </section>`;
  }

  override render() {
    return html`
      <section><h2>Sample</h2>${this.controls()}
        ${this.store?.error ? html`<div class="error" role="alert">${this.store.error}</div>` : nothing}
        <div style="margin-top:12px">${this.progress()}</div>
      </section>
      ${this.resultsPanel()}
      ${this.film ? html`<section><h2>Filmstrip</h2>
        <label class="inline">Sample <input type="number" aria-label="Filmstrip sample" min="0" max=${this.settings.batch - 1} .value=${String(this.filmIndex)}
          @change=${(e: Event) => this.showFilm(Math.floor(Number((e.target as HTMLInputElement).value)))} /></label>
        <filmstrip-view .film=${this.film}></filmstrip-view></section>` : nothing}
      ${this.firstStepPanel()}
      ${this.interpolationPanel()}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sample-studio': SampleStudio;
  }
}
