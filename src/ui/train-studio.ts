// The Train tab: dataset (bundled emoji or your images), model (presets or custom fields, with its
// parameter count and GPU memory), hyperparameters with what the run will cost against what the
// recipe needs (RECIPE_MILESTONES, at the rate measured on this adapter) and warnings for settings
// that cannot work; Train, and the job panel's Pause / Stop with its ETA; a live loss chart,
// images/s and EMA previews captioned with what to expect; the stored runs, resumable after a
// reload, the latest shown as it was left.
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { proxy } from 'comlink';
import type { UNetConfig } from '../nn/config';
import { PRESETS } from '../nn/presets';
import { RECIPE_MILESTONES, type LossWeighting, type LrDecay } from '../train/recipe';
import { countOf } from '../app/progress';
import { datasetName, lossScaleSkipsText, milestoneMismatch, resumeText, runExpectation, storedState, runWarnings } from '../app/training';
import { MAX_TRAIN_BATCH, type TrainerOptions } from '../train/trainer';
import { configNotes, fieldsOf, formConfig, formResolution, restoreTrainForm, TRAIN_FORM_KEY, trainingProblem, type Dataset, type ModelFields, type TrainForm } from './train-form';
import type { MemoryEstimate, Pixels, RunEntry, StoredImageInfo, TrainProgress, TrainSpec } from '../worker/api';
import { StoreController, type EngineStore } from './engine-store';
import { Flash } from './flash';
import { removeIcon } from './icons';
import { panelStyles } from './styles';
import './pixel-grid';
import './line-chart';
import './job-panel';
import { own } from '../host/own';

const NO_CHECKPOINT = 'The run ended before its first checkpoint: nothing was saved (Pause saves one; Stop keeps only those saved already)';

/** A stored run that reached its steps: nothing to resume. */
const finished = (run: RunEntry): boolean => run.step >= run.targetSteps;

/** The form as the last visit left it (TrainForm: stored in localStorage as it changes). */
function storedForm(): TrainForm {
  try {
    return restoreTrainForm(localStorage.getItem(TRAIN_FORM_KEY));
  } catch {
    return restoreTrainForm(null); // storage disabled: the defaults
  }
}

const FORM_KEYS = ['data', 'userSize', 'fields', 'options', 'steps', 'checkpointEvery', 'previewEvery', 'name'] as const;

/** A number field's text: an empty or unreadable entry (NaN) stays empty, as typed. */
const shown = (v: number): string => (Number.isNaN(v) ? '' : String(v));


@customElement('train-studio')
export class TrainStudio extends LitElement {
  static override styles = panelStyles;

  @property({ attribute: false }) store: EngineStore | undefined;
  private readonly initial = storedForm();
  @state() private data: Dataset = this.initial.data;
  @state() private userSize = this.initial.userSize;
  @state() private fields: ModelFields = this.initial.fields;
  // The cosine decay spans the run (decaySteps = steps at Train).
  @state() private options: TrainerOptions = this.initial.options;
  @state() private steps = this.initial.steps;
  @state() private checkpointEvery = this.initial.checkpointEvery;
  @state() private previewEvery = this.initial.previewEvery;
  @state() private name = this.initial.name;
  @state() private memory: MemoryEstimate | undefined;
  @state() private configError: string | undefined;
  @state() private losses: number[] = [];
  @state() private progress: TrainProgress | undefined;
  @state() private preview: Pixels | undefined;
  /** The step the preview was drawn at. */
  @state() private previewStep = 0;
  /** The run the progress panel shows (its batch sizes the evaluations). */
  @state() private shownRun: { id: string; batch: number } | undefined;
  @state() private runs: RunEntry[] = [];
  @state() private images: StoredImageInfo[] = [];
  @state() private smoothing = 0.9;
  @state() private importMessage: string | undefined;
  /** Every file the last import skipped, with why. */
  @state() private importErrors: string[] = [];
  /** What happened to files the last import added (a crop that left out much of the image). */
  @state() private importNotes: string[] = [];
  /** The run whose checkpoint Save as model is putting in the library (one at a time). */
  @state() private savingRun: string | undefined;
  /** The outcome of the last action on a stored run (Save as model). */
  private readonly runMessage = new Flash(this, 8000);
  private estimateTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refresh();
  }

  // The form survives a reload as it was typed.
  protected override updated(changed: Map<PropertyKey, unknown>): void {
    if (!FORM_KEYS.some((k) => changed.has(k))) return;
    const form: TrainForm = { data: this.data, userSize: this.userSize, fields: this.fields, options: this.options, steps: this.steps, checkpointEvery: this.checkpointEvery, previewEvery: this.previewEvery, name: this.name };
    try {
      localStorage.setItem(TRAIN_FORM_KEY, JSON.stringify(form));
    } catch {
      // storage disabled or full: the form lives for this visit only
    }
  }

  private async refresh(): Promise<void> {
    if (!this.store) return;
    [this.runs, this.images] = await Promise.all([this.store.engine.listRuns(), this.store.engine.listImages()]);
    // After a reload, the latest run as it was left: its loss chart, its last preview, its saved step.
    const latest = this.runs[0];
    if (!this.shownRun && latest) this.showStored(latest);
    this.scheduleEstimate();
  }

  private showStored(run: RunEntry): void {
    this.shownRun = { id: run.id, batch: run.options.batch };
    this.losses = run.losses.slice(0, run.step);
    this.preview = run.preview;
    this.previewStep = run.previewStep ?? 0;
    this.progress = { runId: run.id, targetSteps: run.targetSteps, losses: [], imagesPerSecond: run.imagesPerSecond ?? 0, ...storedState(run) };
  }

  private get resolution(): number {
    return formResolution({ data: this.data, userSize: this.userSize });
  }

  /** The model config of the form, or an error naming the bad field. */
  private config(): UNetConfig {
    return formConfig(this.fields, this.resolution);
  }

  /** The Dataset select's value: a bundled set, or the user's images at 16 or 32 px ("user16"). */
  private setData(value: string): void {
    const user = /^user(16|32)$/.exec(value);
    this.data = user ? 'user' : (value as Dataset);
    if (user) this.userSize = Number(user[1]);
    this.scheduleEstimate();
  }

  /** What the form's model does differently from what its fields say. */
  private notes(): string[] {
    try {
      return configNotes(this.config());
    } catch {
      return [];
    }
  }

  private setPreset(name: string): void {
    const p = own(PRESETS, name);
    if (p) this.fields = fieldsOf(name, p);
    else this.fields = { ...this.fields, preset: 'custom' };
    this.scheduleEstimate();
  }

  private setField<K extends keyof ModelFields>(k: K, v: ModelFields[K]): void {
    this.fields = { ...this.fields, [k]: v, preset: 'custom' };
    this.scheduleEstimate();
  }

  private scheduleEstimate(): void {
    clearTimeout(this.estimateTimer);
    this.estimateTimer = setTimeout(async () => {
      try {
        const cfg = this.config();
        this.configError = undefined;
        // An impossible batch is the Training panel's problem; there is no memory to estimate for it.
        const b = this.options.batch;
        this.memory = Number.isInteger(b) && b >= 1 && b <= MAX_TRAIN_BATCH ? await this.store?.engine.estimateMemory(cfg, b) : undefined;
      } catch (e) {
        this.configError = (e as Error).message;
        this.memory = undefined;
      }
    }, 250);
  }

  private onProgress = (p: TrainProgress): void => {
    this.progress = p;
    if (p.losses.length) this.losses = [...this.losses, ...p.losses];
    if (p.preview) {
      this.preview = p.preview;
      this.previewStep = p.step;
    }
  };

  /** The first problem with the training fields, named by its label (shown as they are typed). */
  private get problem(): string | undefined {
    return trainingProblem({ options: this.options, steps: this.steps, checkpointEvery: this.checkpointEvery, previewEvery: this.previewEvery });
  }

  /** Whether training runs, waits in the queue, or waits for the answer to starting it. */
  private get pending(): boolean {
    return this.store?.isPending('training') ?? false;
  }

  private async train(): Promise<void> {
    const store = this.store;
    if (!store || this.pending) return;
    let config: UNetConfig;
    try {
      config = this.config();
    } catch (e) {
      this.configError = (e as Error).message;
      return;
    }
    if (this.problem) return;
    const options = { ...this.options, decaySteps: this.steps };
    const spec: TrainSpec = { name: this.name, dataset: this.data, config, options, steps: this.steps, checkpointEvery: this.checkpointEvery, previewEvery: this.previewEvery };
    await store.run('training', 'train', () => {
      this.progress = undefined;
      this.losses = [];
      this.preview = undefined;
      this.shownRun = { id: '', batch: spec.options.batch };
      return store.engine.train(spec, proxy(this.onProgress));
    });
    this.endedByError();
    await this.refresh();
  }

  /** A run that threw mid-training last reported 'running': its status says it ended (the error shows above). */
  private endedByError(): void {
    if (this.store?.errorOf('train') && this.progress?.state === 'running') this.progress = { ...this.progress, state: 'error' };
  }

  private async resume(run: RunEntry): Promise<void> {
    const store = this.store;
    if (!store || this.pending) return;
    await store.run('training', 'train', () => {
      this.showStored(run);
      return store.engine.resumeRun(run.id, proxy(this.onProgress));
    });
    this.endedByError();
    await this.refresh();
  }

  private async addFiles(files: FileList | File[] | null | undefined): Promise<void> {
    if (!files || !this.store) return;
    try {
      const r = await this.store.engine.addImages([...files]);
      this.importMessage = `added ${countOf(r.added, 'image')}${r.errors.length ? `; skipped ${r.errors.length}:` : ''}`;
      this.importErrors = r.errors;
      this.importNotes = r.notes;
      // Images just added are what the next run should train on.
      if (r.added > 0 && this.data !== 'user') {
        this.data = 'user';
        this.scheduleEstimate();
      }
    } catch (e) {
      this.importMessage = (e as Error).message;
      this.importErrors = [];
      this.importNotes = [];
    }
    await this.refresh();
  }

  private async saveAsModel(id: string): Promise<void> {
    if (!this.store || this.savingRun) return;
    this.savingRun = id;
    try {
      const m = await this.store.engine.runToModel(id);
      this.runMessage.show(`saved "${m.name}" to the library`);
      await this.store.refreshModels();
    } catch (e) {
      this.runMessage.show(`could not save the model: ${(e as Error).message}`, 30_000);
    } finally {
      this.savingRun = undefined;
    }
  }

  private async deleteRun(r: RunEntry): Promise<void> {
    try {
      await this.store?.engine.deleteRun(r.id);
      if (this.shownRun?.id === r.id) {
        this.shownRun = undefined;
        this.progress = undefined;
        this.losses = [];
        this.preview = undefined;
      }
    } catch (e) {
      this.runMessage.show((e as Error).message, 30_000);
    }
    await this.refresh();
  }

  private async removeImage(id: string): Promise<void> {
    await this.store?.engine.removeImage(id);
    await this.refresh();
  }

  private async removeAllImages(): Promise<void> {
    if (!confirm(`Remove all ${countOf(this.images.length, 'image')} of yours from this browser? Runs and models trained on them are kept.`)) return;
    await this.store?.engine.removeAllImages();
    await this.refresh();
  }

  /** A number field's value; empty or not a number is NaN, which the form's checks name. */
  private num(e: Event): number {
    const text = (e.target as HTMLInputElement).value.trim();
    return text === '' ? NaN : Number(text);
  }

  private datasetPanel() {
    return html`<section><h2>Data</h2>
      <div class="controls">
        <label>Dataset
          <select aria-label="Dataset" @change=${(e: Event) => this.setData((e.target as HTMLSelectElement).value)}>
            <option value="emoji16" ?selected=${this.data === 'emoji16'}>Emoji 16 px (3,408 train images)</option>
            <option value="emoji32" ?selected=${this.data === 'emoji32'}>Emoji 32 px (3,408 train images)</option>
            ${[16, 32].map((size) => html`<option value=${`user${size}`} ?selected=${this.data === 'user' && this.userSize === size}>Your images, ${size} px (${this.images.length})</option>`)}
          </select>
        </label>
        <label>Add images
          <input type="file" aria-label="Add images" multiple accept="image/png,image/jpeg,image/webp" @change=${(e: Event) => this.addFiles((e.target as HTMLInputElement).files)} /></label>
        <label>Add a folder
          <input type="file" aria-label="Add a folder" webkitdirectory @change=${(e: Event) => this.addFiles((e.target as HTMLInputElement).files)} /></label>
      </div>
      <div class="muted" style="margin-top:6px; border: 2px dashed var(--border); border-radius: 8px; padding: 10px"
        @dragover=${(e: DragEvent) => e.preventDefault()} @drop=${(e: DragEvent) => { e.preventDefault(); void this.addFiles(e.dataTransfer?.files); }}>
        Drop PNG, JPEG or WebP files here: each is cropped to its centre square, resized, and kept in this browser (IndexedDB).
        ${this.importMessage ? html`<div data-testid="import-message">${this.importMessage}
          ${this.importErrors.length ? html`<ul class="errors">${this.importErrors.map((e) => html`<li>${e}</li>`)}</ul>` : nothing}
          ${this.importNotes.length ? html`<ul data-testid="import-notes">${this.importNotes.map((n) => html`<li>${n}</li>`)}</ul>` : nothing}</div>` : nothing}
      </div>
      ${this.images.length ? html`<div class="muted" style="margin-top:8px" data-testid="image-count">${countOf(this.images.length, 'image')} of yours
          <button style="margin-left:8px;padding:0 6px" @click=${() => this.removeAllImages()}>Remove all</button></div>
        <div class="row" style="gap:6px;margin-top:4px">${this.images.map((img) => html`<div class="figure" title=${img.name}>
          <pixel-grid label=${img.name} .pixels=${img.thumbnail} cols="1" width="48"></pixel-grid>
          <button aria-label=${`Remove ${img.name}`} style="padding:0 4px" @click=${() => this.removeImage(img.id)}>${removeIcon}</button></div>`)}</div>` : nothing}
    </section>`;
  }

  private modelPanel() {
    const f = this.fields;
    const m = this.memory;
    return html`<section><h2>Model</h2>
      <div class="controls">
        <label>Preset<select aria-label="Preset" @change=${(e: Event) => this.setPreset((e.target as HTMLSelectElement).value)}>
          ${[...Object.keys(PRESETS), 'custom'].map((p) => html`<option value=${p} ?selected=${p === f.preset}>${p}</option>`)}</select></label>
        <label>ch<input type="number" aria-label="ch" min="32" step="32" .value=${shown(f.ch)} @change=${(e: Event) => this.setField('ch', this.num(e))} /></label>
        <label>ch_mult<input type="text" aria-label="ch_mult" size="8" .value=${f.ch_mult} @change=${(e: Event) => this.setField('ch_mult', (e.target as HTMLInputElement).value)} /></label>
        <label>num_res_blocks<input type="number" aria-label="num_res_blocks" min="1" .value=${shown(f.num_res_blocks)} @change=${(e: Event) => this.setField('num_res_blocks', this.num(e))} /></label>
        <label>attn_resolutions<input type="text" aria-label="attn_resolutions" size="6" .value=${f.attn_resolutions} @change=${(e: Event) => this.setField('attn_resolutions', (e.target as HTMLInputElement).value)} /></label>
        <label>dropout<input type="number" aria-label="dropout" min="0" max="0.9" step="0.05" .value=${shown(f.dropout)} @change=${(e: Event) => this.setField('dropout', this.num(e))} /></label>
      </div>
      <p class="numbers" data-testid="model-size">${this.configError ? html`<span class="error">${this.configError}</span>`
        : m ? html`${m.parameters.toLocaleString('en-US')} parameters · ${(m.trainBytes / 2 ** 20).toFixed(1)} MiB of GPU memory at batch ${this.options.batch} (${this.resolution} px)
          ${m.fits ? '' : html`<span class="error">${m.problem}</span>`}` : 'estimating…'}</p>
      ${this.configError ? nothing : this.notes().map((n) => html`<p class="note" data-testid="model-note">${n}</p>`)}
    </section>`;
  }

  private hyperPanel() {
    const o = this.options;
    const set = <K extends keyof TrainerOptions>(k: K, v: TrainerOptions[K]): void => {
      this.options = { ...this.options, [k]: v };
      if (k === 'batch') this.scheduleEstimate();
    };
    const noImages = this.data === 'user' && this.images.length === 0;
    return html`<section><h2>Training</h2>
      <div class="controls">
        <label>Run name<input type="text" aria-label="Run name" .value=${this.name} @change=${(e: Event) => (this.name = (e.target as HTMLInputElement).value)} /></label>
        <label>Learning rate<input type="number" aria-label="Learning rate" step="0.0001" .value=${shown(o.lr)} @change=${(e: Event) => set('lr', this.num(e))} /></label>
        <label>Batch size<input type="number" aria-label="Training batch size" min="1" max="256" .value=${shown(o.batch)} @change=${(e: Event) => set('batch', this.num(e))} /></label>
        <label>EMA rate<input type="number" aria-label="EMA rate" step="0.0001" .value=${shown(o.emaRate)} @change=${(e: Event) => set('emaRate', this.num(e))} /></label>
        <label>Grad clip<input type="number" aria-label="Grad clip" step="0.1" .value=${shown(o.gradClip)} @change=${(e: Event) => set('gradClip', this.num(e))} /></label>
        <label>Warmup steps<input type="number" aria-label="Warmup steps" min="0" .value=${shown(o.warmupSteps)} @change=${(e: Event) => set('warmupSteps', this.num(e))} /></label>
        <label>Steps<input type="number" aria-label="Training steps" min="1" .value=${shown(this.steps)} @change=${(e: Event) => (this.steps = this.num(e))} /></label>
        <label>Checkpoint every<input type="number" aria-label="Checkpoint every" min="1" .value=${shown(this.checkpointEvery)} @change=${(e: Event) => (this.checkpointEvery = this.num(e))} /></label>
        <label>Preview every<input type="number" aria-label="Preview every" min="0" .value=${shown(this.previewEvery)} @change=${(e: Event) => (this.previewEvery = this.num(e))} /></label>
        <label title="Cosine decay of the learning rate to a tenth over the run, after the warmup">LR schedule
          <select aria-label="LR schedule" @change=${(e: Event) => set('lrDecay', (e.target as HTMLSelectElement).value as LrDecay)}>
            <option value="cosine" ?selected=${o.lrDecay === 'cosine'}>cosine decay</option><option value="none" ?selected=${o.lrDecay === 'none'}>constant</option>
          </select></label>
        <label title="min-SNR-5 (Hang et al. 2023): less weight on the nearly clean timesteps, whose noise is hard to see and easy to overfit">Loss weighting
          <select aria-label="Loss weighting" @change=${(e: Event) => set('lossWeight', (e.target as HTMLSelectElement).value as LossWeighting)}>
            <option value="min_snr" ?selected=${o.lossWeight === 'min_snr'}>min-SNR (γ ${o.snrGamma})</option><option value="none" ?selected=${o.lossWeight === 'none'}>none (the reference)</option>
          </select></label>
        <label class="inline" title="EMA decay min(rate, (1 + n) / (10 + n)) after n steps: the average forgets the random start quickly"><input type="checkbox" aria-label="EMA warmup" .checked=${o.emaWarmup} @change=${(e: Event) => set('emaWarmup', (e.target as HTMLInputElement).checked)} />EMA warmup</label>
        <label class="inline"><input type="checkbox" aria-label="Random flip" .checked=${o.randomFlip} @change=${(e: Event) => set('randomFlip', (e.target as HTMLInputElement).checked)} />Random flip</label>
        <button class="primary" @click=${() => this.train()} ?disabled=${this.pending || noImages || !!this.problem || !!this.configError || (this.memory !== undefined && !this.memory.fits)}>Train</button>
      </div>
      ${this.problem ? html`<div class="error" role="alert" data-testid="train-problem">${this.problem}</div>` : this.expectationLine()}
      ${this.store?.errorOf('train') ? html`<div class="error" role="alert">${this.store.errorOf('train')}</div>` : nothing}
      ${this.store?.noteOf('train') ? html`<div class="note" role="status">${this.store.noteOf('train')}</div>` : nothing}
    </section>`;
  }

  /**
   * What the run will cost against what the recipe needs, at the rate measured here (this session's
   * run, else the latest stored run of the same model and batch), and the settings that cannot work.
   */
  private expectationLine() {
    const p = this.store?.isRunning('training') ? this.progress : undefined;
    const rate = (p && p.imagesPerSecond > 0 ? p.imagesPerSecond : undefined) ?? this.runs.find((r) => r.imagesPerSecond && this.sameWork(r))?.imagesPerSecond;
    const e = runExpectation(p?.targetSteps ?? this.steps, p ? this.shownRun?.batch ?? this.options.batch : this.options.batch, p?.step ?? 0, rate, this.mismatch(p !== undefined));
    const count = this.data === 'user' ? this.images.length : undefined;
    const warnings = runWarnings(this.steps, this.options, count);
    return html`<p class="muted" data-testid="train-expectation">${e.text}</p>
      ${warnings.length ? html`<div class="note" role="status" data-testid="train-warnings">${warnings.map((w) => html`<div>${w}</div>`)}</div>` : nothing}`;
  }

  /** Whether a stored run's measured rate applies to the form's run: the same model and batch. */
  private sameWork(r: RunEntry): boolean {
    try {
      return r.options.batch === this.options.batch && JSON.stringify(r.config) === JSON.stringify(this.config());
    } catch {
      return false;
    }
  }

  /** How the running run's model and data (or the form's) differ from the recipe milestones' (milestoneMismatch). */
  private mismatch(running: boolean): string | undefined {
    const id = this.progress?.runId ?? this.shownRun?.id;
    const run = running ? this.runs.find((r) => r.id === id) : undefined;
    if (run) return milestoneMismatch(run.config, run.dataset);
    try {
      return milestoneMismatch(this.config(), this.data);
    } catch {
      return undefined; // the form's config error is shown by the model panel
    }
  }

  /** The preview's caption: when it was drawn, and whether noise is what to expect there. */
  private previewCaption(): string {
    const evals = this.previewStep * (this.shownRun?.batch ?? this.options.batch);
    const at = `EMA samples at step ${this.previewStep.toLocaleString('en-US')} (${evals.toLocaleString('en-US')} image evaluations; 10 DDIM steps, x0 clipped)`;
    return evals < RECIPE_MILESTONES.noiseUntil
      ? `${at}: noise is expected this early; with the recipe, samples take shape after ~${RECIPE_MILESTONES.noiseUntil.toLocaleString('en-US')} evaluations and are recognisable at ~${RECIPE_MILESTONES.recognisable.toLocaleString('en-US')}`
      : at;
  }

  private livePanel() {
    const p = this.progress;
    // Before any run: the job panel alone, which shows a Train that waits in the queue.
    if (!p && this.losses.length === 0) return html`<job-panel .store=${this.store} tab="train"></job-panel>`;
    const last = this.losses.slice(-20);
    const recent = last.reduce((a, b) => a + b, 0) / Math.max(1, last.length);
    const live = this.store?.isRunning('training') ?? false;
    // The shown run, where Resume can continue it: its button beside its status, not only in the runs table.
    const resumable = this.runs.find((r) => r.id === p?.runId && r.checkpointKey && !finished(r));
    const status = !p ? '' : live && p.state === 'running' && p.imagesPerSecond === 0
      ? `starting at step ${p.step}/${p.targetSteps}: building the model and compiling its kernels…`
      : `${p.state} · step ${p.step}/${p.targetSteps} · ${p.savedStep > 0 ? `saved at step ${p.savedStep}` : 'no checkpoint yet'}${p.imagesPerSecond > 0 ? ` · ${p.imagesPerSecond.toFixed(2)} images/s` : ''}${p.lossScaleSkips ? ` · ${lossScaleSkipsText(p.lossScaleSkips)}` : ''}${live ? '' : resumeText(p)}`;
    return html`<section><h2>Progress</h2>
      <job-panel .store=${this.store} tab="train"></job-panel>
      <div class="row">
        <div>
          <p class="numbers" data-testid="train-status">${status}${this.losses.length ? ` · loss (last 20) ${recent.toFixed(2)}` : ''}
            ${resumable && !live ? html`<button data-testid="resume-shown" @click=${() => this.resume(resumable)} ?disabled=${this.pending}>Resume from step ${resumable.step}</button>` : nothing}</p>
          ${p?.message ? html`<div class="note" role="status" data-testid="train-message">${p.message}</div>` : nothing}
          ${this.losses.length ? html`<line-chart data-testid="loss-chart" .points=${this.losses.map((y, i) => ({ x: i + 1, y }))} smoothing=${this.smoothing} xLabel="step" yLabel="loss" logY wholeX></line-chart>
          <label class="inline">Smoothing <input type="range" aria-label="Smoothing" min="0" max="0.99" step="0.01" .value=${shown(this.smoothing)} @input=${(e: Event) => (this.smoothing = this.num(e))} /></label>
          <p class="muted" style="max-width:420px">The loss is the reference's: the squared error of the predicted noise, summed over each image's 3 x size x size values (768 at 16 px, 3,072 at 32 px) and averaged over the batch, so a model that predicts no noise scores about that count; min-SNR weights (the default) lower the share of the nearly clean timesteps.</p>` : nothing}
        </div>
        ${this.preview ? html`<div class="figure" style="max-width:260px"><span data-testid="preview-caption">${this.previewCaption()}</span><pixel-grid data-testid="train-preview" label="EMA preview samples" .pixels=${this.preview} cols="2" width="160"></pixel-grid></div>` : nothing}
      </div>
    </section>`;
  }

  private runsPanel() {
    if (this.runs.length === 0) return nothing;
    const busy = this.pending;
    return html`<section><h2>Runs in this browser</h2>
      <div class="scroll"><table data-testid="runs"><tr><th>name</th><th title="The step of its last checkpoint: where Resume continues">saved step</th><th>model</th><th>data</th><th>saved</th><th></th></tr>
        ${this.runs.map((r) => html`<tr>
          <td>${r.name}</td><td class="numbers">${r.step}/${r.targetSteps}</td>
          <td>ch ${r.config.ch}, ch_mult [${r.config.ch_mult.join(', ')}], ${r.config.resolution} px</td><td>${datasetName(r.dataset)}</td>
          <td>${new Date(r.updated).toLocaleString()}</td>
          <td>
            <button @click=${() => this.resume(r)} ?disabled=${busy || !r.checkpointKey || finished(r)}
              title=${finished(r) ? 'The run has reached its last step' : !r.checkpointKey ? NO_CHECKPOINT : nothing}>Resume</button>
            <button @click=${() => this.saveAsModel(r.id)} ?disabled=${!r.checkpointKey || this.savingRun !== undefined} title=${r.checkpointKey ? nothing : NO_CHECKPOINT}>Save as model</button>
            <button @click=${() => this.deleteRun(r)} ?disabled=${busy && this.progress?.runId === r.id}>Delete</button>
          </td></tr>`)}
      </table></div>${this.runMessage.text ? html`<div role="status" data-testid="run-message">${this.runMessage.text}</div>` : nothing}</section>`;
  }

  override render() {
    return html`${this.datasetPanel()}${this.modelPanel()}${this.hyperPanel()}${this.livePanel()}${this.runsPanel()}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'train-studio': TrainStudio;
  }
}
