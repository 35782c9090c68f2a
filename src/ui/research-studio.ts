// The Research tab: the seed question, "why can't the x0 predicted at the first step be the
// result?", as three experiments on time-conditioned and layered models (one time-free UNet per
// DDIM step): (1) one-shot x0 vs the chain from a noised held-out image, against t; (2) the first
// step's x0 from pure noise next to the final sample, with the Fréchet distance of each set;
// (3) a budget comparison, training a time-conditioned UNet and layered models (layer loss, end to
// end) for the same number of image-gradient evaluations, sample quality against training time.
import { proxy } from 'comlink';
import { formatDuration } from '../app/progress';
import { DEFAULT_DIFFUSION } from '../diffusion/schedule';
import { describeChain, timestepSequence } from '../diffusion/timesteps';
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { BUNDLED_ARCHITECTURE, PRESETS } from '../nn/presets';
import type { UNetConfig } from '../nn/config';
import { ARM_KINDS, DEFAULT_BUDGET, type ArmKind } from '../research/budget';
import { MAX_FIRST_STEP_SAMPLES, MAX_ONE_SHOT_IMAGES, MAX_SEEDS, NUM_BLOCK_RANGE, experimentEvaluations } from '../app/research';
import { collapsedSet } from '../eval/sets';
import type { BudgetRunEntry, BudgetSpec, FirstStepStudyResult, ModelEntry, OneShotStudy, ResearchModelInfo, ResearchRequest, SetBounds, SetStats, Stat } from '../worker/api';
import { StoreController, type EngineStore } from './engine-store';
import { SERIES_COLORS, type Series } from './line-chart';
import { panelStyles } from './styles';
import './line-chart';
import './pixel-grid';
import './job-panel';
import './research-answers';

/** Time-conditioned architectures for the budget comparison (16 px, the bundled emoji). */
const TIME_MODELS: Record<string, { label: string; config: UNetConfig }> = {
  emoji16: { label: 'the bundled model\'s (ch 32, ch_mult 1,2,2)', config: BUNDLED_ARCHITECTURE },
  tiny: { label: 'tiny (ch 32, ch_mult 1,2)', config: PRESETS.tiny! },
};

const ARM_LABELS: Record<ArmKind, string> = { time: 'time-conditioned', recipe: 'time-conditioned, new recipe', layer: 'layered, layer loss', end2end: 'layered, end to end' };

/** A measured number: "3.94", or "3.94 ± 0.21" over several seeds. */
function fmtStat(s: Stat, digits = 2): string {
  return s.sd > 0 ? `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}` : s.mean.toFixed(digits);
}

/** A set's FD, marked where the set collapsed (eval/sets.ts collapsedSet): a low FD that is no sample. */
function fdCell(set: SetStats, bounds: SetBounds, digits = 2) {
  const collapsed = collapsedSet(set.spread.mean, bounds.real.spread.mean);
  return html`<td title=${collapsed ? `collapsed: spread ${set.spread.mean.toFixed(3)} against the training images' ${bounds.real.spread.mean.toFixed(3)}` : nothing}>${fmtStat(set.fd, digits)}${collapsed ? html` <b class="flag">collapsed</b>` : nothing}</td>`;
}

function csvDownload(name: string, text: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

@customElement('research-studio')
export class ResearchStudio extends LitElement {
  static override styles = [panelStyles, css`
    .models { display: flex; flex-direction: column; gap: 2px; }
    fieldset { border: 1px solid var(--rule); border-radius: 8px; padding: 6px 10px; }
    legend { font-size: 12px; color: var(--label); }
    .pair { display: grid; grid-template-columns: auto auto; gap: 4px 10px; align-items: center; font-size: 12px; color: var(--label); }
  `];

  @property({ attribute: false }) store: EngineStore | undefined;
  @state() private models: ResearchModelInfo[] = [];
  @state() private chosen = new Set<string>();
  @state() private numBlock = 10;
  @state() private n = 16;
  @state() private samples = 64;
  @state() private seed = 0;
  @state() private oneShot: OneShotStudy | undefined;
  /** Seeds the experiments repeat over (their numbers as mean ± sd). */
  @state() private seeds = 1;
  @state() private first: FirstStepStudyResult | undefined;
  @state() private runs: BudgetRunEntry[] = [];
  /** Experiment 3's measured rates, for the settings (rateKey) they were measured with. */
  @state() private rates: { key: string; rates: { arm: ArmKind; evalsPerSecond: number }[] } | undefined;
  @state() private fitMinutes = 5;
  /** Image evaluations per second of the last experiment 1 or 2 on this adapter. */
  @state() private evalRate: number | undefined;
  @state() private shown: BudgetRunEntry | undefined;
  @state() private budget = {
    name: 'budget comparison', evals: 4_000, points: DEFAULT_BUDGET.points, samples: DEFAULT_BUDGET.samples, seed: 0,
    lr: DEFAULT_BUDGET.optimizer.lr, emaRate: DEFAULT_BUDGET.optimizer.emaRate, timeBatch: DEFAULT_BUDGET.timeBatch, recipeBatch: DEFAULT_BUDGET.recipeBatch, layeredBatch: DEFAULT_BUDGET.layeredBatch,
    arms: new Set<ArmKind>(ARM_KINDS), timeModel: 'emoji16', numBlock: 10, layeredCh: 16,
  };
  private loaded = false;
  /** The page's model list the experiments' list was read for: a new one (a model saved, imported or
   *  deleted in another tab) is read again. */
  private modelsOf: readonly ModelEntry[] | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  override async updated(): Promise<void> {
    const s = this.store;
    if (!s) return;
    if (s.models !== this.modelsOf) {
      this.modelsOf = s.models;
      await this.readModels(s);
    }
    if (!this.loaded) {
      this.loaded = true;
      this.runs = await s.engine.listBudgetRuns();
      this.shown = this.runs[0];
    }
  }

  /** The models the experiments can run; the first time, the bundled ones and the ideal denoiser (the
   *  reference every model is measured against) are chosen; later, the choice stays, less deleted models. */
  private async readModels(s: EngineStore): Promise<void> {
    const first = this.models.length === 0, of = this.modelsOf;
    let models: ResearchModelInfo[];
    try {
      models = await s.engine.researchModels();
    } catch (e) {
      s.setError('research', (e as Error).message);
      return;
    }
    if (of !== this.modelsOf) return; // a newer list is being read
    this.models = models;
    const ids = new Set(models.map((m) => m.id));
    this.chosen = first
      ? new Set(models.filter((m) => m.id.startsWith('bundled:') || m.kind === 'ideal').map((m) => m.id))
      : new Set([...this.chosen].filter((id) => ids.has(id)));
  }

  private request(n: number): ResearchRequest {
    return { modelIds: this.models.filter((m) => this.chosen.has(m.id)).map((m) => m.id), n, seed: this.seed, seeds: this.seeds, numBlock: this.numBlock };
  }

  /** The chain of the time-conditioned models and the ideal denoiser: range(0, T, T // num_block), as
   *  the seed code builds it (num_block 3 gives t = 999, 666, 333: three steps; 10 gives nine). */
  private get timeChain(): number[] {
    return timestepSequence('uniform', this.numBlock, DEFAULT_DIFFUSION.num_diffusion_timesteps);
  }

  /** Image evaluations (one image through one UNet forward) an experiment runs on the chosen models. */
  private evaluations(kind: 'oneshot' | 'firststep'): number {
    const own = this.timeChain.length - 1;
    const steps = this.models.filter((m) => this.chosen.has(m.id)).map((m) => (m.numBlock !== undefined ? m.numBlock - 1 : own));
    return experimentEvaluations(kind, steps, kind === 'oneshot' ? this.n : this.samples, this.seeds);
  }

  /** What an experiment will run, and how long that takes at the rate the last experiment measured here. */
  private cost(kind: 'oneshot' | 'firststep') {
    const evals = this.evaluations(kind);
    return html`<p class="muted" data-testid=${`${kind}-cost`}>${evals.toLocaleString('en-US')} image evaluations (UNet forwards of one image)${this.evalRate
      ? html`: about <b>${formatDuration(evals / this.evalRate)}</b> at the ${this.evalRate.toPrecision(3)} per second the last experiment measured here.`
      : '; the time shows once an experiment has run here (its job panel gives the ETA from its first steps).'}</p>`;
  }

  /** Runs experiment 1 or 2 and keeps its rate of image evaluations for the next estimate. */
  private async runExperiment<T>(kind: 'oneshot' | 'firststep', job: 'oneShot' | 'firstStep', call: () => Promise<T>): Promise<T | undefined> {
    const s = this.store!;
    // Timed from the job's start: the question asked before it and its wait in the queue do not count.
    const evals = this.evaluations(kind);
    let t0 = 0;
    const r = await s.run(job, 'research', () => ((t0 = performance.now()), call()));
    if (r) this.evalRate = evals / ((performance.now() - t0) / 1000);
    return r;
  }

  private async runOneShot(): Promise<void> {
    const s = this.store;
    if (!s || s.isPending('oneShot')) return;
    const r = await this.runExperiment('oneshot', 'oneShot', () => s.engine.researchOneShot(this.request(this.n)));
    if (r) this.oneShot = r;
  }

  private async runFirstStep(): Promise<void> {
    const s = this.store;
    if (!s || s.isPending('firstStep')) return;
    const r = await this.runExperiment('firststep', 'firstStep', () => s.engine.researchFirstStep(this.request(this.samples)));
    if (r) this.first = r;
  }

  private budgetSpec(): BudgetSpec {
    const b = this.budget;
    return {
      name: b.name, evals: b.evals, points: b.points, samples: b.samples, seed: b.seed, lr: b.lr, emaRate: b.emaRate, timeBatch: b.timeBatch, recipeBatch: b.recipeBatch, layeredBatch: b.layeredBatch,
      arms: ARM_KINDS.filter((a) => b.arms.has(a)), timeConfig: TIME_MODELS[b.timeModel]!.config, numBlock: b.numBlock, layeredCh: b.layeredCh,
    };
  }

  /** What the measured rates belong to: the arms and every setting that changes a step's cost. */
  private rateKey(): string {
    const { arms, timeModel, timeBatch, recipeBatch, layeredBatch, layeredCh, numBlock } = this.budget;
    return JSON.stringify([[...arms].sort(), timeModel, timeBatch, recipeBatch, layeredBatch, layeredCh, numBlock]);
  }

  private async measureRates(): Promise<void> {
    const s = this.store;
    if (!s || s.isPending('calibration')) return;
    const key = this.rateKey();
    const rates = await s.run('calibration', 'research', () => s.engine.researchBudgetRates(this.budgetSpec()));
    if (rates) {
      this.rates = { key, rates };
      this.fitBudget();
    }
  }

  /** Evaluations per arm that make the comparison's training last `fitMinutes` at the measured rates. */
  private fitBudget(): void {
    const r = this.rates;
    if (!r || r.key !== this.rateKey()) return;
    const secondsPerEval = r.rates.reduce((a, x) => a + 1 / x.evalsPerSecond, 0);
    this.budget = { ...this.budget, evals: Math.max(1, Math.floor((this.fitMinutes * 60) / secondsPerEval)) };
  }

  /** The comparison's training time at the measured rates, or how to get them. */
  private estimate() {
    const r = this.rates;
    if (!r || r.key !== this.rateKey()) {
      return html`Not measured for these settings on this adapter yet: <b>Measure</b> trains each arm for two steps and times the second. On a CPU adapter (SwiftShader) a step takes seconds to minutes, so keep the budget to a few thousand evaluations.`;
    }
    const seconds = r.rates.reduce((a, x) => a + this.budget.evals / x.evalsPerSecond, 0);
    return html`On this adapter: ${r.rates.map((x) => `${ARM_LABELS[x.arm]} ${x.evalsPerSecond.toPrecision(3)}`).join(', ')} evaluations/s, so ${this.budget.evals.toLocaleString('en-US')} evaluations per arm train in about
      <b>${formatDuration(seconds)}</b>, plus the sampling at each of the ${this.budget.points} points.`;
  }

  private async runBudget(): Promise<void> {
    const s = this.store;
    if (!s || s.isPending('budget')) return;
    const spec = this.budgetSpec();
    await s.run('budget', 'research', () => s.engine.researchBudget(spec, proxy((run: BudgetRunEntry) => {
      this.shown = run;
      this.runs = [run, ...this.runs.filter((r) => r.id !== run.id)];
    })));
    this.runs = await s.engine.listBudgetRuns();
  }

  private async deleteRun(id: string): Promise<void> {
    const s = this.store;
    if (!s) return;
    try {
      await s.engine.deleteBudgetRun(id);
    } catch (e) {
      s.setError('research', (e as Error).message);
    }
    this.runs = await s.engine.listBudgetRuns();
    if (this.shown?.id === id) this.shown = this.runs[0];
  }

  private async exportCsv(run: BudgetRunEntry): Promise<void> {
    const s = this.store;
    if (!s) return;
    const text = await s.engine.budgetCsv(run.id);
    csvDownload(`${run.spec.name.replace(/[^\w.-]+/g, '_')}.csv`, text);
  }

  private num(label: string, value: number, set: (v: number) => void, opts: { min?: number; max?: number; step?: string; title?: string } = {}) {
    return html`<label title=${opts.title ?? ''}>${label}<input type="number" aria-label=${label} min=${opts.min ?? 0} max=${opts.max ?? 1e9} step=${opts.step ?? '1'} .value=${String(value)}
      @change=${(e: Event) => set(Number((e.target as HTMLInputElement).value))} /></label>`;
  }

  /** "at n = 16: training images 19.5, noise 95.8 (FD below n = 192 is biased upwards: compare with these only)". */
  private boundsNote(b: SetBounds) {
    return html`<p class="muted" data-testid="fd-bounds">At n = ${b.n}, ${b.n} training images score FD ${fmtStat(b.real.fd)} (what real images score at this n) and ${b.n} clamped noises ${fmtStat(b.noise.fd, 1)} (the ceiling).
      ${b.n < b.reliableN ? html`<b>Below n = ${b.reliableN} the FD is biased upwards</b> (the 192 pooled features' covariance cannot be full rank): compare these numbers with each other and with the training images' at this n, not with the README's at 384.` : ''}
      Roughness 1 is as sharp as the held-out emoji (below: blurred, above: noisy); spread is the per-value deviation across a set (0: every image the same).
      A set marked <b>collapsed</b> (spread under a fifth of the training images') is one picture over and over: the FD of a few images does not see that, and can score it below real images.</p>`;
  }

  private oneShotSection() {
    const study = this.oneShot, curves = study?.curves;
    const series: Series[] = curves ? curves.flatMap((c, i) => [
      { label: `${c.name}: one-shot`, points: c.rows.map((r) => ({ x: r.t, y: r.oneShot.mean })), color: SERIES_COLORS[i % SERIES_COLORS.length]!, dashed: true },
      { label: `${c.name}: chain`, points: c.rows.map((r) => ({ x: r.t, y: r.chain.mean })), color: SERIES_COLORS[i % SERIES_COLORS.length]! },
    ]) : [];
    return html`<section><h2>1 · One-shot x0 against the chain</h2>
      <p class="muted">${this.n} held-out emoji are noised to x_t at every t of the chain; each model predicts x0 in one step (dashed) or runs its chain from x_t down to t = 0 (solid).
        MSE per value against the clean image rewards a blurry average; the FD of the set of predictions against the held-out emoji and its roughness tell whether they look like emoji.</p>
      <div class="controls">
        ${this.num('Held-out images', this.n, (v) => (this.n = Math.max(2, Math.min(MAX_ONE_SHOT_IMAGES, Math.floor(v)))), { min: 2, max: MAX_ONE_SHOT_IMAGES })}
        <button class="primary" @click=${() => this.runOneShot()} ?disabled=${!!this.store?.isPending('oneShot') || this.chosen.size === 0}>Run experiment 1</button>
      </div>
      ${this.cost('oneshot')}
      ${study && curves ? html`${this.boundsNote(study.bounds)}<div class="row" style="margin-top:10px">
        <line-chart data-testid="oneshot-chart" .series=${series} xLabel="t" yLabel="MSE" logY width="620" height="280"></line-chart>
        <div class="scroll"><table class="numbers" data-testid="oneshot-table"><tr><th>model</th><th>t</th><th>one-shot MSE</th><th>chain MSE</th><th>one-shot FD</th><th>chain FD</th><th>one-shot roughness</th><th>chain roughness</th></tr>
          ${curves.flatMap((c) => c.rows.map((r) => html`<tr><td>${c.name}</td><td>${r.t}</td><td>${fmtStat(r.oneShot, 4)}</td><td>${fmtStat(r.chain, 4)}</td>
            ${fdCell(r.oneShotSet, study.bounds, 1)}${fdCell(r.chainSet, study.bounds, 1)}<td>${fmtStat(r.oneShotSet.roughness)}</td><td>${fmtStat(r.chainSet.roughness)}</td></tr>`))}</table></div>
      </div>` : nothing}
    </section>`;
  }

  private firstStepSection() {
    const f = this.first;
    return html`<section><h2>2 · The first step from pure noise</h2>
      <p class="muted">From the same pure noise: the x0 each model predicts at its first step (the largest t) and its final sample, each set scored against the held-out emoji.
        The ideal denoiser (the exact posterior mean of the training images) shows what a perfect model of the data would do at both ends.</p>
      <div class="controls">
        ${this.num('Samples', this.samples, (v) => (this.samples = Math.max(2, Math.min(MAX_FIRST_STEP_SAMPLES, Math.floor(v)))), { min: 2, max: MAX_FIRST_STEP_SAMPLES })}
        <button class="primary" @click=${() => this.runFirstStep()} ?disabled=${!!this.store?.isPending('firstStep') || this.chosen.size === 0}>Run experiment 2</button>
      </div>
      ${this.cost('firststep')}
      ${f ? html`${this.boundsNote(f.bounds)}<div class="scroll"><table class="numbers" data-testid="firststep-table" style="margin-top:10px">
          <tr><th>model</th><th>parameters</th><th>FD first-step x0</th><th>FD final</th><th>roughness first</th><th>roughness final</th><th>spread first</th><th>spread final</th><th>MSE(first, final)</th></tr>
          ${f.models.map((m) => html`<tr><td>${m.name}</td><td>${m.parameters.toLocaleString('en-US')}</td>${fdCell(m.first, f.bounds)}${fdCell(m.last, f.bounds)}
            <td>${fmtStat(m.first.roughness)}</td><td>${fmtStat(m.last.roughness)}</td><td>${fmtStat(m.first.spread, 3)}</td><td>${fmtStat(m.last.spread, 3)}</td><td>${fmtStat(m.mseFirstFinal, 4)}</td></tr>`)}
          <tr><td>real training images (at this n)</td><td></td><td></td><td>${fmtStat(f.bounds.real.fd)}</td><td></td><td>${fmtStat(f.bounds.real.roughness)}</td><td></td><td>${fmtStat(f.bounds.real.spread, 3)}</td><td></td></tr>
          <tr><td>clamped Gaussian noise (ceiling)</td><td></td><td></td><td>${fmtStat(f.bounds.noise.fd, 1)}</td><td></td><td>${fmtStat(f.bounds.noise.roughness)}</td><td></td><td>${fmtStat(f.bounds.noise.spread, 3)}</td><td></td></tr>
        </table></div>
        <div class="row" style="margin-top:10px">${f.models.map((m) => html`<div class="figure">${m.name}
          <div class="pair">first x0<pixel-grid label=${`${m.name}: first-step x0`} .pixels=${m.firstX0} cols="8" width="256"></pixel-grid>
          final<pixel-grid label=${`${m.name}: final samples`} .pixels=${m.final} cols="8" width="256"></pixel-grid></div></div>`)}</div>` : nothing}
    </section>`;
  }

  private budgetSection() {
    const b = this.budget;
    const set = (patch: Partial<typeof b>): void => {
      this.budget = { ...b, ...patch };
    };
    const run = this.shown;
    const byArm = (x: (p: BudgetRunEntry['points'][number]) => number): Series[] => run ? ARM_KINDS.filter((a) => run.points.some((p) => p.arm === a)).map((a, i) => ({
      label: ARM_LABELS[a], color: SERIES_COLORS[i]!, points: run.points.filter((p) => p.arm === a).map((p) => ({ x: x(p), y: p.fd })),
    })) : [];
    const busy = !!this.store?.isPending('budget');
    return html`<section><h2>3 · Budget comparison</h2>
      <p class="muted">Each arm trains on the bundled emoji for the same number of image-gradient evaluations (one UNet forward and backward for one image: a time-conditioned step costs its batch, a layered step its batch times its sub-models), then samples over the same chain (num_block steps, eta 0) at evenly spaced points; FD of pooled pixels against the held-out emoji. Runs are kept in this browser.</p>
      <div class="controls">
        <label>Name<input type="text" aria-label="Run name" .value=${b.name} @change=${(e: Event) => set({ name: (e.target as HTMLInputElement).value || 'budget comparison' })} /></label>
        ${this.num('Evaluations per arm', b.evals, (v) => set({ evals: Math.max(1, Math.floor(v)) }), { min: 1 })}
        ${this.num('Points', b.points, (v) => set({ points: Math.max(1, Math.floor(v)) }), { min: 1, max: 50 })}
        ${this.num('FD samples', b.samples, (v) => set({ samples: Math.max(2, Math.floor(v)) }), { min: 2 })}
        <label>Time-conditioned model<select aria-label="Time-conditioned model" @change=${(e: Event) => set({ timeModel: (e.target as HTMLSelectElement).value })}>
          ${Object.entries(TIME_MODELS).map(([id, m]) => html`<option value=${id} ?selected=${b.timeModel === id}>${m.label}</option>`)}</select></label>
        ${this.num('Layered num_block', b.numBlock, (v) => set({ numBlock: Math.max(2, Math.floor(v)) }), { min: 2, max: 100 })}
        ${this.num('Layered ch', b.layeredCh, (v) => set({ layeredCh: Math.max(4, Math.floor(v)) }), { min: 4, max: 256 })}
        ${this.num('Time batch', b.timeBatch, (v) => set({ timeBatch: Math.max(1, Math.floor(v)) }), { min: 1 })}
        ${this.num('Recipe batch', b.recipeBatch, (v) => set({ recipeBatch: Math.max(1, Math.floor(v)) }), { min: 1 })}
        ${this.num('Layered batch', b.layeredBatch, (v) => set({ layeredBatch: Math.max(1, Math.floor(v)) }), { min: 1 })}
        ${this.num('Learning rate', b.lr, (v) => set({ lr: v }), { step: 'any', title: 'of the time-conditioned and layered arms; the new recipe has its own schedule' })}
        ${this.num('EMA rate', b.emaRate, (v) => set({ emaRate: v }), { step: 'any' })}
        <fieldset><legend>Arms</legend>${ARM_KINDS.map((a) => html`<label class="inline"><input type="checkbox" aria-label=${`arm ${ARM_LABELS[a]}`} .checked=${b.arms.has(a)}
          @change=${(e: Event) => { const arms = new Set(b.arms); if ((e.target as HTMLInputElement).checked) arms.add(a); else arms.delete(a); set({ arms }); }} />${ARM_LABELS[a]}</label>`)}</fieldset>
        <button @click=${() => this.measureRates()} ?disabled=${!!this.store?.isPending('calibration') || b.arms.size === 0}>Measure</button>
        ${this.num('Fit to minutes', this.fitMinutes, (v) => { this.fitMinutes = Math.max(1, v); this.fitBudget(); }, { min: 1, max: 600, title: 'With the rates measured: set the evaluations per arm so that the training takes this long' })}
        <button class="primary" @click=${() => this.runBudget()} ?disabled=${busy || b.arms.size === 0}>Run experiment 3</button>
      </div>
      <p class="muted" data-testid="budget-estimate">${this.estimate()}</p>
      ${run ? html`<h3 style="margin-top:12px">${run.spec.name} · ${run.state}${run.message ? `: ${run.message}` : ''} · ${run.spec.evals.toLocaleString('en-US')} evaluations per arm</h3>
        <div class="row">
          <line-chart data-testid="budget-time-chart" .series=${byArm((p) => p.trainSeconds)} xLabel="training seconds" yLabel="FD" width="460" height="240"></line-chart>
          <line-chart data-testid="budget-evals-chart" .series=${byArm((p) => p.evals)} xLabel="image-gradient evaluations" yLabel="FD" wholeX width="460" height="240"></line-chart>
        </div>
        <table class="numbers" data-testid="budget-table"><tr><th>arm</th><th>parameters</th><th>step</th><th>evaluations</th><th>train s</th><th>loss</th><th>FD</th></tr>
          ${run.points.map((p) => html`<tr><td>${ARM_LABELS[p.arm]}</td><td>${p.parameters.toLocaleString('en-US')}</td><td>${p.step}</td><td>${p.evals.toLocaleString('en-US')}</td><td>${p.trainSeconds.toFixed(1)}</td><td>${p.loss.toFixed(3)}</td><td>${p.fd.toFixed(2)}</td></tr>`)}</table>` : nothing}
      ${this.runs.length ? html`<h3 style="margin-top:12px">Stored runs</h3><table data-testid="budget-runs">${this.runs.map((r) => html`<tr>
          <td>${r.spec.name}</td><td class="muted">${new Date(r.created).toLocaleString()}</td><td>${r.state}</td><td class="numbers">${r.points.length} points</td>
          <td><button @click=${() => (this.shown = r)}>Show</button> <button @click=${() => this.exportCsv(r)}>Export CSV</button>
            <button @click=${() => this.deleteRun(r.id)} ?disabled=${busy && r.state === 'running'}>Delete</button></td></tr>`)}</table>` : nothing}
    </section>`;
  }

  override render() {
    const s = this.store;
    return html`
      <section><h2>Research: why can't the first step's x0 be the result?</h2>
        <p class="muted">The hypotheses this project started from (its seed question), each tested below: a diffusion model is a denoiser plus a generator. Each UNet denoises a·x0 + b·ε well (H1); from pure noise its first x0 is not a sample and a chain is needed (H2);
          training the chain end to end fails, because of (1) parameters, (2) supervision on x0 instead of the noise, or (3) DDIM in between (H3); a smaller model can still be trained as a denoiser end to end (H4).
          Layered models (one time-free UNet per DDIM step, trained per step or end to end through the chain) and the ideal denoiser (the exact posterior mean of the training images) test these.</p>
        <h3>The answers, measured</h3>
        <research-answers></research-answers>
      </section>
      <section><h2>Run the experiments on this adapter</h2>
        <p class="muted" data-testid="experiment-chain">Time-conditioned models and the ideal denoiser run ${describeChain(this.timeChain.slice(1))} (num_block ${this.numBlock}: seq = range(0, T, T // num_block), as the seed code builds it); a layered model runs its own chain.</p>
        <div class="controls">
          <fieldset><legend>Models</legend><div class="models">${this.models.map((m) => html`<label class="inline"><input type="checkbox" aria-label=${`model ${m.name}`} .checked=${this.chosen.has(m.id)}
            @change=${(e: Event) => { const c = new Set(this.chosen); if ((e.target as HTMLInputElement).checked) c.add(m.id); else c.delete(m.id); this.chosen = c; }} />
            ${m.name} <span class="muted">(${m.kind === 'time' ? 'time-conditioned' : m.kind === 'ideal' ? 'the exact posterior mean of the training images, no parameters' : `layered, num_block ${m.numBlock}`}${m.kind === 'ideal' ? '' : `, ${m.parameters.toLocaleString('en-US')} parameters`})</span></label>`)}</div></fieldset>
          ${this.num('Chain steps (num_block) for time-conditioned models', this.numBlock, (v) => (this.numBlock = Math.max(NUM_BLOCK_RANGE[0], Math.min(NUM_BLOCK_RANGE[1], Math.floor(v)))), { min: NUM_BLOCK_RANGE[0], max: NUM_BLOCK_RANGE[1] })}
          ${this.num('Seed', this.seed, (v) => (this.seed = Math.max(0, Math.floor(v))))}
          ${this.num('Seeds', this.seeds, (v) => (this.seeds = Math.max(1, Math.min(MAX_SEEDS, Math.floor(v)))), { min: 1, max: MAX_SEEDS, title: 'Repeat experiments 1 and 2 over this many seeds (seed, seed + 1, ...): every number becomes mean ± sd' })}
        </div>
        <job-panel .store=${s} tab="research"></job-panel>
        ${s?.errorOf('research') ? html`<div class="error" role="alert">${s.errorOf('research')}</div>` : nothing}
        ${s?.noteOf('research') ? html`<div class="note" role="status">${s.noteOf('research')}</div>` : nothing}
      </section>
      ${this.oneShotSection()}
      ${this.firstStepSection()}
      ${this.budgetSection()}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'research-studio': ResearchStudio;
  }
}
