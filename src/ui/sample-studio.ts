// The Sample tab: sampler settings (kept in the URL, so a link reproduces the same pixels), the
// schedule with the chain's timesteps, a live grid of x_t and the predicted x0 at every step, Step /
// Continue through the chain with each step's numbers, the filmstrip of one sample, the first-step
// question, a comparison grid, interpolation between two seeds; exported PNGs carry the settings and
// dropping one back restores them.
import { LitElement, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { proxy } from 'comlink';
import { SKIP_TYPES, describeChain, timestepSequence, type SkipType } from '../diffusion/timesteps';
import { SAMPLERS, type SamplerKind } from '../diffusion/samplers';
import { alphaBars, betaSchedule, type DiffusionConfig } from '../diffusion/schedule';
import { readPngText } from '../io/png';
import { MAX_SAMPLE_BATCH, MAX_SEED } from '../app/sampling';
import { clampedInt } from './fields';
import type { Filmstrip, FirstStepReport, Pixels, SampleResult, SampleSettings, StepFrame } from '../worker/api';
import { StoreController, type EngineStore } from './engine-store';
import { Flash, atTime } from './flash';
import { diceIcon } from './icons';
import { downloadPng, exportGrid, frameOf } from './pixel-grid';
import { LINK_KEYS, PNG_SETTINGS_KEY, hasSettings, settingsFromQuery, settingsToQuery, sharedSettings, type SharedSettings } from './sample-link';
import { panelStyles } from './styles';
import './pixel-grid';
import './filmstrip-view';
import './schedule-chart';
import './step-details';
import './compare-grid';
import './job-panel';
import { firstStepText, fmtK } from './first-step';

/** The last result of `f` while its arguments are the same objects: values derived at render time
 *  (a schedule, a chain's coefficients) are computed when their inputs change, not on every frame. */
function lastOf<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  let last: { args: A; result: R } | undefined;
  return (...args: A): R => {
    if (!last || args.some((v, i) => v !== last!.args[i])) last = { args, result: f(...args) };
    return last.result;
  };
}

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
  // Clip x0 starts off, as the DDIM paper samples: the bundled model's plain DDIM turns under 2% of its
  // samples into noise (0.5% at 20 steps, 1.0% at 50) and clipping costs FD (the README's Table 1).
  @state() private settings: SampleSettings = { modelId: '', sampler: 'generalized', steps: 50, eta: 0, skip: 'uniform', seed: 0, batch: 4, clipX0: false, previews: true };
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
  /** A chain Step or Stop left part-way: Step and Continue run it on. */
  @state() private paused: { settings: SampleSettings; done: number; total: number } | undefined;
  /** The settings of the chain this tab runs now. */
  private chainSettings: SampleSettings | undefined;
  /** A setting changed while this tab's chain ran: it was stopped, to run again on the new settings. */
  private rerunWanted = false;
  /** The step Step ran last, shown with its numbers. */
  @state() private stepShown: number | undefined;
  /** What a link or a dropped PNG could not restore, or what it did (with when). */
  @state() private notes: string[] = [];
  private readonly linkState = new Flash(this);
  private linkRead = false;
  private animTimer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.animTimer);
  }

  /** Whether a job of this tab runs (another tab's job does not disable its buttons: starting asks). */
  private get running(): boolean {
    return this.store?.current?.tab === 'sample';
  }

  /** Whether a job of this tab runs, waits in the queue, or waits for the answer to starting it. */
  private get pending(): boolean {
    return this.store?.tabPending('sample') ?? false;
  }

  private modelId(): string {
    return this.store?.selected?.id ?? '';
  }

  private set<K extends keyof SampleSettings>(key: K, value: SampleSettings[K], rerender = false): void {
    if (this.settings[key] !== value) this.paused = undefined;
    this.settings = { ...this.settings, [key]: value };
    // Once a result is shown, a changed setting re-renders it with the same seed, the previous
    // result kept beside the new one (the first result comes from Sample).
    const shown = this.results[0]?.settings;
    const store = this.store, current = store?.current;
    if (!rerender || !shown || !store) return;
    if (!current) {
      if (shown[key] !== value) void this.advance('sample');
    } else if (current.tab === 'sample' && current.job === 'sampling' && store.queued.length === 0 && this.chainSettings?.[key] !== value) {
      // This tab's chain runs on other settings: it stops at its next step and the chain runs again
      // on the controls' settings when it ends. Never while a job waits in the queue (its turn would
      // come first, and the re-render would have to ask to stop it), and another tab's job is never
      // stopped by a slider: then Sample applies the settings once the engine is free.
      this.rerunWanted = true;
      if (!current.request) void store.stop();
    }
  }

  /** The settings of a shared link, read once when the models are known; others are left as they are. */
  protected override willUpdate(): void {
    // A chain left part-way belongs to its model: picking another one (here or in the Models tab), or
    // deleting it, ends it, so Continue never runs a model the controls no longer show.
    if (this.paused && this.paused.settings.modelId !== this.modelId()) this.paused = undefined;
    const models = this.store?.models;
    if (this.linkRead || !models?.length) return;
    this.linkRead = true;
    if (hasSettings(location.search)) this.restore(location.search, 'the link');
  }

  /** Keeps the URL's query on the current settings (other parameters, such as ?debug, stay). */
  protected override updated(changed: PropertyValues): void {
    super.updated(changed);
    if (!this.linkRead) return;
    const q = new URLSearchParams(location.search);
    for (const k of LINK_KEYS) q.delete(k);
    const query = [settingsToQuery(this.shared({ ...this.settings, modelId: this.modelId() })), q.toString()].filter((p) => p).join('&');
    if (location.search !== `?${query}`) history.replaceState(history.state, '', `${location.pathname}?${query}${location.hash}`);
  }

  /**
   * Applies settings written by settingsToQuery (a link or a PNG's text chunk), noting what it ignored
   * and, when it changed anything, what it restored and when (a reload of the page's own URL changes nothing: no note).
   */
  private restore(text: string, source: string): void {
    const bundled = (this.store?.models ?? []).filter((m) => m.source === 'bundled').map((m) => m.id);
    const { settings, notes } = settingsFromQuery(text, bundled);
    const { modelId, precision, ...rest } = settings;
    const before = settingsToQuery(this.shared({ ...this.settings, modelId: this.modelId() }));
    if (modelId) this.store?.select(modelId);
    this.settings = { ...this.settings, ...rest };
    const changed = settingsToQuery(this.shared({ ...this.settings, modelId: this.modelId() })) !== before;
    if (changed) this.paused = undefined;
    this.notes = notes.length ? [`Some settings of ${source} were not used (${atTime()}); their defaults stand:`, ...notes]
      : changed ? [`Settings restored from ${source} ${atTime()}.`] : [];
    // The tier is the engine's, chosen when the page opened: a different one is reported, not applied.
    const info = this.store?.info;
    if (precision && info && precision !== info.tier) {
      this.notes = [...this.notes, `${source} was made in precision ${precision}; this page runs in ${info.tier}${info.tierNote ? ` (${info.tierNote})` : ''}. Open the page with ?precision=${precision} to use it.`];
    }
  }

  private shared(s: SampleSettings): SharedSettings {
    return sharedSettings(s, this.store?.info?.tier);
  }

  private async dropPng(e: DragEvent): Promise<void> {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) await this.openPng(file);
  }

  private async openPng(file: File): Promise<void> {
    try {
      const text = readPngText(new Uint8Array(await file.arrayBuffer()), file.name).get(PNG_SETTINGS_KEY);
      if (text === undefined) throw new Error(`${file.name}: this PNG carries no ddim-webgpu settings (only images exported by the studio do)`);
      this.restore(text, file.name);
    } catch (err) {
      this.notes = [(err as Error).message];
    }
  }

  private async copyLink(): Promise<void> {
    try {
      await navigator.clipboard.writeText(location.href);
      this.linkState.show('Link copied.');
    } catch {
      this.linkState.show(`Copy this link: ${location.href}`, 30_000);
    }
  }

  /** Sample runs a whole new chain, Step one step (of the paused chain, or of a new one), Continue the rest. */
  private async advance(mode: 'sample' | 'step' | 'continue'): Promise<void> {
    const store = this.store;
    if (!store || this.pending) return;
    const resume = mode !== 'sample' && this.paused !== undefined;
    const settings = resume ? this.paused!.settings : { ...this.settings, modelId: this.modelId() };
    const onFrame = proxy((f: StepFrame) => {
      this.frame = f;
    });
    if (!resume) {
      this.film = undefined;
      this.first = undefined;
      this.stepShown = undefined;
    }
    const maxSteps = mode === 'step' ? 1 : undefined;
    // The filmstrip and the first-step panel are read inside the job: a queued job that starts when
    // this one ends would otherwise replace the chain they are read from.
    const filmIndex = Math.min(this.filmIndex, settings.batch - 1);
    this.chainSettings = settings;
    const done = await store.run('sampling', 'sample', async () => {
      const result: SampleResult = await (resume ? store.engine.continueSample(onFrame, maxSteps) : store.engine.sample(settings, onFrame, maxSteps));
      if (result.stepsDone === 0) return { result };
      try {
        const [film, first] = await Promise.all([store.engine.filmstrip(filmIndex), store.engine.firstStep()]);
        return { result, film, first };
      } catch (e) {
        // The GPU can go away between the chain and these reads (a device loss): say so, keep the result.
        return { result, readError: (e as Error).message };
      }
    });
    this.chainSettings = undefined;
    const rerun = this.rerunWanted;
    this.rerunWanted = false;
    if (rerun && !store.errorOf('sample')) {
      // The chain stopped for newer settings: unless it ended first, it is neither a result nor a
      // chain to continue.
      queueMicrotask(() => void this.advance('sample'));
      if (!done?.result.completed) return;
    }
    if (!done) return;
    const { result } = done;
    this.paused = result.completed ? undefined : { settings, done: result.stepsDone, total: result.steps };
    if (mode !== 'step' || result.completed) {
      this.results = [{ settings, final: result.final, msPerStep: result.msPerStep, completed: result.completed }, ...this.results].slice(0, 2);
    }
    this.stepShown = mode === 'step' ? result.stepsDone - 1 : undefined;
    if (result.stepsDone > 0) this.filmIndex = filmIndex;
    if ('film' in done) [this.film, this.first] = [done.film, done.first];
    if ('readError' in done) store.setError('sample', `the chain's filmstrip could not be read: ${done.readError}`);
  }

  private readonly scheduleOf = lastOf((d: DiffusionConfig) => alphaBars(betaSchedule(d)));
  /** The timesteps the controls' chain will run, or why there are none. */
  private readonly chainOf = lastOf((skip: SkipType, steps: number, T: number): { seq: number[] } | { error: string } => {
    try {
      return { seq: timestepSequence(skip, steps, T) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  });

  /** The schedule of the selected model (abar_t for t = 0..T-1). */
  private abar(): Float64Array | undefined {
    const d = this.store?.selected?.diffusion;
    return d ? this.scheduleOf(d) : undefined;
  }

  /** The chain the controls will run: the selected model's own when it fixes it (a layered model), else the settings'. */
  private chain(): { seq: number[] } | { error: string } {
    const fixed = this.store?.selected?.chain;
    return fixed ? { seq: fixed } : this.chainOf(this.settings.skip, this.settings.steps, this.store?.selected?.diffusion.num_diffusion_timesteps ?? 1000);
  }

  private async showFilm(i: number): Promise<void> {
    this.filmIndex = i;
    if (this.store && !this.running) this.film = await this.store.engine.filmstrip(i);
  }

  private async interpolate(): Promise<void> {
    const store = this.store;
    if (!store || this.pending) return;
    const settings = { ...this.settings, modelId: this.modelId() };
    const strip = await store.run('interpolation', 'sample', () => store.engine.interpolate(settings, this.seedB, this.frames));
    if (!strip) return;
    this.interpolation = strip;
    clearInterval(this.animTimer);
    this.animFrame = 0;
    this.animTimer = setInterval(() => (this.animFrame = (this.animFrame + 1) % strip.count), 250);
  }

  /** The chain the controls will run, in words (or why there is none), for the selected model's T. */
  private chainText(): string {
    const fixed = this.store?.selected?.chain;
    if (fixed) return `runs ${describeChain(fixed.slice(1))}: the layered model's own chain, one sub-model per step (steps, eta, skip and sampler do not apply)`;
    const c = this.chain();
    return 'seq' in c ? `runs ${describeChain(c.seq)}` : c.error;
  }

  private controls() {
    const s = this.settings;
    const models = this.store?.models ?? [];
    const num = (e: Event): number => Number((e.target as HTMLInputElement).value);
    // A layered model runs its own chain: the chain's settings do not apply (chainText says so).
    const fixed = this.store?.selected?.chain !== undefined;
    return html`
      <div class="controls">
        <label>Model
          <select aria-label="Model" @change=${(e: Event) => this.store?.select((e.target as HTMLSelectElement).value)}>
            ${models.map((m) => html`<option value=${m.id} ?selected=${m.id === this.modelId()}>${m.name}</option>`)}
          </select>
        </label>
        <label>Sampler
          <select aria-label="Sampler" ?disabled=${fixed} @change=${(e: Event) => this.set('sampler', (e.target as HTMLSelectElement).value as SamplerKind, true)}>
            ${SAMPLERS.map((k) => html`<option value=${k} ?selected=${k === s.sampler}>${k}</option>`)}
          </select>
        </label>
        <label>Steps: <span class="numbers">${s.steps}</span>
          <input type="range" aria-label="Steps" min="1" max="1000" .value=${String(s.steps)} ?disabled=${fixed} @input=${(e: Event) => this.set('steps', num(e))} @change=${(e: Event) => this.set('steps', num(e), true)} />
          <span class="muted" data-testid="chain" title="The timesteps the model sees, noisiest first (the reference's skip rules)">${this.chainText()}</span>
        </label>
        <label>eta: <span class="numbers">${s.eta.toFixed(2)}</span>
          <input type="range" aria-label="eta" min="0" max="1" step="0.01" .value=${String(s.eta)} ?disabled=${fixed || s.sampler === 'ddpm_noisy'}
            @input=${(e: Event) => this.set('eta', num(e))} @change=${(e: Event) => this.set('eta', num(e), true)} />
        </label>
        <label>Skip
          <select aria-label="Skip" ?disabled=${fixed} @change=${(e: Event) => this.set('skip', (e.target as HTMLSelectElement).value as SkipType, true)}>
            ${SKIP_TYPES.map((k) => html`<option value=${k} ?selected=${k === s.skip}>${k}</option>`)}
          </select>
        </label>
        <label>Seed
          <span><input type="number" aria-label="Seed" min="0" .value=${String(s.seed)} @change=${(e: Event) => this.set('seed', clampedInt(e, 0, MAX_SEED, s.seed))} />
          <button aria-label="Random seed" title="Random seed" @click=${() => this.set('seed', Math.floor(Math.random() * 1e6))}>${diceIcon}</button></span>
        </label>
        <label>Batch size
          <input type="number" aria-label="Batch size" min="1" max=${MAX_SAMPLE_BATCH} .value=${String(s.batch)} @change=${(e: Event) => this.set('batch', clampedInt(e, 1, MAX_SAMPLE_BATCH, s.batch))} />
        </label>
        <label class="inline"><input type="checkbox" aria-label="Live preview" .checked=${s.previews} @change=${(e: Event) => this.set('previews', (e.target as HTMLInputElement).checked)} />Live preview</label>
        <label class="inline"><input type="checkbox" aria-label="Clip x0" .checked=${s.clipX0} ?disabled=${fixed} @change=${(e: Event) => this.set('clipX0', (e.target as HTMLInputElement).checked, true)} />Clip x0</label>
        <label>Show
          <select aria-label="Show" @change=${(e: Event) => (this.view = (e.target as HTMLSelectElement).value as 'both')}>
            <option value="both">x_t and x0 side by side</option><option value="xt">x_t</option><option value="x0">predicted x0</option>
          </select>
        </label>
        <button class="primary" @click=${() => this.advance('sample')} ?disabled=${this.pending || models.length === 0}>Sample</button>
        <button @click=${() => this.advance('step')} ?disabled=${this.pending || models.length === 0}
          title="Run one step of the chain and show its numbers">${this.paused ? `Step ${this.paused.done + 1}/${this.paused.total}` : 'Step'}</button>
        <button @click=${() => this.advance('continue')} ?disabled=${this.pending || !this.paused}>Continue</button>
        <button @click=${() => this.copyLink()} title="A link with these settings: opening it samples the same pixels">Copy link</button>
        <label class="inline" title="Restore the settings of a PNG exported here (or drop it on this panel)">Open PNG settings
          <input type="file" aria-label="Open PNG settings" accept="image/png" @change=${(e: Event) => {
            const f = (e.target as HTMLInputElement).files?.[0];
            if (f) void this.openPng(f);
          }} /></label>
      </div>
      ${this.linkState.text ? html`<p class="muted" role="status" data-testid="link-state">${this.linkState.text}</p>` : nothing}
      ${this.notes.length ? html`<div class="note" role="status" data-testid="settings-notes">${this.notes.map((n) => html`<div>${n}</div>`)}</div>` : nothing}
      ${this.explanations()}`;
  }

  private explanations() {
    return html`<details class="explain"><summary>What am I looking at?</summary>
      <p><b>x_t</b> is the image at noise level t: sqrt(abar_t)·x0 + sqrt(1 − abar_t)·noise. Sampling starts from pure noise (x_T) and walks t down to 0.</p>
      <p><b>predicted x0</b> is the model's guess of the clean image at each step, x0 = (x_t − sqrt(1 − abar_t)·eps) / sqrt(abar_t), from the noise eps it predicts.</p>
      <p><b>eta</b> sets how much fresh noise each step adds: 0 is DDIM (deterministic, the same seed gives the same image), 1 is close to DDPM's ancestral sampling.</p>
      <p><b>skip</b> picks which of the T timesteps run: uniform takes every T/steps-th, quad crowds them near t = 0 where the details form.</p>
      <p><b>Step</b> runs one step and writes out its update; the filmstrip shows the same numbers for any step you hover.</p>
      <p>Your images, models and runs never leave this page.</p>
    </details>`;
  }

  private progress() {
    const f = this.frame;
    if (!f) return html`<p class="muted">Press Sample: the grid shows x_t and the x0 the model predicts at every step.</p>`;
    // While the chain runs, the job panel above has its progress bar, rate and ETA: this line names
    // the step the pictures show. A chain that ended, or that Step or Stop left, shows how far it got.
    const live = this.running && this.store?.isRunning('sampling');
    const state = !live && this.paused ? ` · paused at step ${this.paused.done} of ${this.paused.total}: Step or Continue runs on` : '';
    return html`
      <div class="controls">
        ${live ? nothing : html`<progress max=${f.total} .value=${f.step} aria-label="Sampling progress"></progress>`}
        <span class="numbers" data-testid="progress">step ${f.step}/${f.total} · t = ${f.t}${live ? '' : ` · ${f.msPerStep.toFixed(1)} ms/step`}${state}</span>
      </div>
      <div class="row" style="margin-top:10px">
        ${this.view !== 'x0' && f.xt ? html`<div class="figure">x_t<pixel-grid data-testid="xt" label="x_t at the current step" .pixels=${f.xt} cols=${Math.ceil(Math.sqrt(f.xt.count))}></pixel-grid></div>` : nothing}
        ${this.view !== 'xt' && f.x0 ? html`<div class="figure">predicted x0<pixel-grid data-testid="x0" label="predicted x0 at the current step" .pixels=${f.x0} cols=${Math.ceil(Math.sqrt(f.x0.count))}></pixel-grid></div>` : nothing}
      </div>`;
  }

  /** A result's model by name (results outlive a model deleted from the library). */
  private modelName(id: string): string {
    return this.store?.models.find((m) => m.id === id)?.name ?? 'a model no longer in the library';
  }

  private describe(s: SampleSettings): string {
    return `${s.sampler}${s.sampler === 'generalized' ? `, eta ${s.eta.toFixed(2)}` : ''}, ${s.steps} steps (${s.skip}), seed ${s.seed}${s.clipX0 ? ', x0 clipped' : ''}`;
  }

  private resultsPanel() {
    if (this.results.length === 0) return nothing;
    return html`<section><h2>Results</h2>
      <p class="muted" data-testid="rerender-hint">Changing the sampler, steps, eta, skip or Clip x0 now samples again with the same seed, and keeps the previous result beside the new one (a chain of this tab that runs stops first; while another job runs or waits, press Sample when it ends).</p>
      <div class="row">
      ${this.results.map((r, i) => html`<div class="figure">
        <pixel-grid data-testid=${i === 0 ? 'final' : 'previous'} label="sample grid" .pixels=${r.final} cols=${Math.ceil(Math.sqrt(r.final.count))} width="200"></pixel-grid>
        <span>${i === 0 ? 'latest' : 'previous'}: ${this.describe(r.settings)}${r.completed ? '' : ' (stopped)'}</span>
        <span class="muted" data-testid=${`${i === 0 ? 'final' : 'previous'}-model`}>${this.modelName(r.settings.modelId)}</span>
        <span class="numbers">${r.msPerStep.toFixed(1)} ms/step</span>
        ${i === 0 ? html`<button @click=${() => downloadPng(exportGrid(r.final, Math.ceil(Math.sqrt(r.final.count))), 'samples.png', { [PNG_SETTINGS_KEY]: settingsToQuery(this.shared(r.settings)) })}
          title="Each sample scaled up (nearest neighbour) to at least 128 px, the settings in the PNG">Export grid PNG</button>` : nothing}
      </div>`)}
    </div></section>`;
  }

  private firstStepPanel() {
    const r = this.first;
    if (!r) return nothing;
    // A chain Step or Stop left part-way has no final sample to compare with yet.
    if (this.paused) {
      return html`<section><h2>The first-step question</h2><p class="muted" data-testid="first-step-waiting">The x0 of the first step is compared with the final sample once the chain reaches t = 0
        (step ${this.paused.done} of ${this.paused.total} done: Continue runs the rest).</p></section>`;
    }
    const cols = Math.ceil(Math.sqrt(r.final.count));
    const ideal = r.ideal;
    return html`<section><h2>The first-step question</h2>
      <p data-testid="first-step-text">${firstStepText(r)}</p>
      <div class="row">
        <div class="figure">x0 the model predicts at the first step<pixel-grid label="x0 at the first step" .pixels=${r.firstX0} cols=${cols} width="180"></pixel-grid></div>
        ${ideal ? html`<div class="figure">the ideal denoiser's x0 for the same x_T<pixel-grid data-testid="first-step-ideal" label="ideal denoiser's x0 at the first step" .pixels=${ideal.x0} cols=${cols} width="180"></pixel-grid></div>` : nothing}
        <div class="figure">final sample<pixel-grid label="final sample" .pixels=${r.final} cols=${cols} width="180"></pixel-grid></div>
        <div class="figure">|first x0 − final| (scaled)<pixel-grid label="difference" .pixels=${r.difference} cols=${cols} width="180"></pixel-grid></div>
        <table data-testid="first-step-table"><tr><th>sample</th>${ideal ? html`<th title="RMS per value of the model's eps minus the ideal denoiser's (eps itself has RMS about 1)">eps error</th><th title="the eps error times ${fmtK(r.k1)}">x0 error</th>` : nothing}<th>MSE(first, final)</th><th>PSNR</th></tr>
          ${r.mse.map((m, i) => html`<tr><td>${i}</td>${ideal ? html`<td class="numbers">${ideal.epsRms[i]!.toFixed(4)}</td><td class="numbers">${ideal.x0Rms[i]!.toFixed(2)}</td>` : nothing}<td class="numbers">${m.toFixed(4)}</td><td class="numbers">${r.psnr[i]!.toFixed(1)} dB</td></tr>`)}
        </table>
      </div></section>`;
  }

  private interpolationPanel() {
    const p = this.interpolation;
    return html`<section><h2>Interpolation</h2>
      <div class="controls">
        <span class="muted">From seed ${this.settings.seed} to</span>
        <label>Seed B<input type="number" aria-label="Seed B" min="0" .value=${String(this.seedB)} @change=${(e: Event) => (this.seedB = clampedInt(e, 0, MAX_SEED, this.seedB))} /></label>
        <label>Frames<input type="number" aria-label="Frames" min="2" max=${MAX_SAMPLE_BATCH} .value=${String(this.frames)} @change=${(e: Event) => (this.frames = clampedInt(e, 2, MAX_SAMPLE_BATCH, this.frames))} /></label>
        <button @click=${() => this.interpolate()} ?disabled=${this.pending}>Interpolate</button>
      </div>
      ${p ? html`<div class="row" style="margin-top:10px">
        <pixel-grid data-testid="interpolation" label="interpolation strip" .pixels=${p} cols=${p.count} width=${Math.min(900, 64 * p.count)}></pixel-grid>
        <pixel-grid label="interpolation animation" .pixels=${frameOf(p, this.animFrame)} cols="1" width="96"></pixel-grid>
      </div>` : nothing}
    </section>`;
  }

  private schedulePanel(abar: Float64Array | undefined) {
    if (!abar) return nothing;
    const c = this.chain();
    const seq = 'seq' in c ? c.seq : []; // else chainText() says why these settings give no chain
    const current = this.running ? this.frame?.t : this.stepShown !== undefined ? this.film?.coefficients[this.stepShown]?.t : undefined;
    return html`<details class="explain" open><summary>The noise schedule</summary>
      <schedule-chart .abar=${abar} .seq=${seq} current=${current ?? nothing}></schedule-chart></details>`;
  }

  override render() {
    const abar = this.abar();
    const shownSettings = this.paused?.settings ?? this.results[0]?.settings;
    return html`
      <section @dragover=${(e: DragEvent) => e.preventDefault()} @drop=${(e: DragEvent) => this.dropPng(e)}><h2>Sample</h2>${this.controls()}
        <job-panel .store=${this.store} tab="sample"></job-panel>
        ${this.store?.errorOf('sample') ? html`<div class="error" role="alert">${this.store.errorOf('sample')}</div>` : nothing}
        ${this.store?.noteOf('sample') ? html`<div class="note" role="status">${this.store.noteOf('sample')}</div>` : nothing}
        ${this.schedulePanel(abar)}
        <div style="margin-top:12px">${this.progress()}</div>
      </section>
      ${this.resultsPanel()}
      ${this.film ? html`<section><h2>${this.stepShown !== undefined && this.paused ? `Step ${this.stepShown + 1} of ${this.paused.total}` : 'Filmstrip'}</h2>
        <label class="inline">Sample <input type="number" aria-label="Filmstrip sample" min="0" max=${this.settings.batch - 1} .value=${String(this.filmIndex)}
          @change=${(e: Event) => this.showFilm(Math.floor(Number((e.target as HTMLInputElement).value)))} /></label>
        <filmstrip-view .film=${this.film} .abar=${abar} .selected=${this.stepShown}
          .pngText=${shownSettings ? { [PNG_SETTINGS_KEY]: settingsToQuery(this.shared(shownSettings)) } : {}}></filmstrip-view></section>` : nothing}
      ${this.firstStepPanel()}
      <section><h2>Comparison grid</h2>
        <compare-grid .store=${this.store} .base=${{ ...this.settings, modelId: this.modelId() }} timesteps=${abar?.length ?? 1000}></compare-grid></section>
      ${this.interpolationPanel()}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'sample-studio': SampleStudio;
  }
}
