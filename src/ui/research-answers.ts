// <research-answers>: the seed question's answers as measured (public/answers: tools/answers_torch.py's
// numbers and figure, bench/answers.sh's runs): a verdict per hypothesis with the numbers, budget and
// uncertainty behind it (ui/answers.ts writes them from the numbers), the first-step x0 and final
// samples of every model from the same noises, and the training curves of the layered variants.
import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { TIME, verdicts, type Answers } from './answers';
import { SERIES_COLORS, type Series } from './line-chart';
import { panelStyles } from './styles';
import './line-chart';

const asset = (file: string): string => `${import.meta.env.BASE_URL}answers/${file}`;

/** The curves worth a line: the bundled layered models and the ablations, by their run names. */
const CURVE_LABELS: Record<string, string> = {
  layer: 'layer loss', end2end: 'end to end', e2e_correction: 'end to end, noise supervision', e2e_teacher: 'end to end, teacher forcing',
  e2e_gtA: 'end to end, ground truth A', e2e_gtB: 'end to end, ground truth B', e2e_ch8: 'end to end, ch 8', e2e_globalclip: 'end to end, one clip', layer_ch8: 'layer loss, ch 8',
};
const MODEL_LABELS: Record<string, string> = { ...CURVE_LABELS, [TIME]: 'time-conditioned (bundled)', ideal: 'ideal denoiser' };
/** The figure's models, top to bottom (answers.json names each pair of rows "<model>: ..."). */
const figureModels = (a: Answers): string[] => a.h2.grid_rows.map((r) => r.slice(0, r.lastIndexOf(': ')));

@customElement('research-answers')
export class ResearchAnswers extends LitElement {
  static override styles = [panelStyles, css`
    .verdict { border-left: 3px solid var(--border); padding: 4px 10px; margin: 8px 0; }
    .verdict[data-verdict='supported'] { border-color: #2f9e5b; }
    .verdict[data-verdict='not supported'] { border-color: var(--error); }
    .verdict[data-verdict='partly supported'] { border-color: #c79a10; }
    .verdict b.v { text-transform: uppercase; font-size: 11px; letter-spacing: 0.04em; }
    .verdict ul { margin: 4px 0; padding-left: 18px; font-size: 12px; color: var(--label); }
    img { image-rendering: pixelated; max-width: 100%; border-radius: 4px; box-shadow: 0 0 0 1px var(--edge); }
    /* One label per pair of image rows: the label column stretches to the image's height and shares it
       out. The image keeps its size (a narrow screen scrolls the figure sideways): shrunk, its rows
       would get shorter than the labels and drift from them. */
    .samples { display: grid; grid-template-columns: max-content 420px; gap: 8px; }
    .samples img { max-width: none; }
    .samples .labels { display: flex; flex-direction: column; font-size: 12px; color: var(--label); }
    .samples .labels span { flex: 1 1 0; display: flex; flex-direction: column; justify-content: center; text-align: right; }
    .samples .labels small { font-size: 10px; }
  `];

  @state() private answers: Answers | undefined;
  @state() private problem: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const res = await fetch(asset('answers.json'));
      if (!res.ok) throw new Error(`answers/answers.json: HTTP ${res.status}`);
      this.answers = (await res.json()) as Answers;
    } catch (e) {
      this.problem = (e as Error).message;
    }
  }

  private curves(a: Answers): Series[] {
    return Object.entries(a.curves).filter(([name]) => name in CURVE_LABELS).map(([name, points], i) => ({
      label: CURVE_LABELS[name]!, color: SERIES_COLORS[i % SERIES_COLORS.length]!, dashed: name.startsWith('e2e_'),
      points: points.map((p) => ({ x: p.evals, y: p.fd_final })),
    }));
  }

  override render() {
    const a = this.answers;
    if (this.problem) return html`<p class="error">${this.problem}</p>`;
    if (!a) return html`<p class="muted">loading the measured answers…</p>`;
    return html`
      <p class="muted">Measured ${a.measured} by <code>bench/answers.sh</code> and <code>tools/answers_torch.py</code> (PyTorch on a CPU, the engine's models and objectives; the experiments below run the same measures on this adapter).</p>
      ${verdicts(a).map((v) => html`<div class="verdict" data-testid=${`verdict-${v.id}`} data-verdict=${v.verdict}>
        <div><b>${v.id}</b> ${v.claim} <b class="v">${v.verdict}</b></div>
        <ul>${v.evidence.map((e) => html`<li>${e}</li>`)}</ul></div>`)}
      <div class="row" style="margin-top:10px">
        <figure class="figure" style="margin:0">
          <div class="scroll"><div class="samples">
            <div class="labels">${figureModels(a).map((m) => html`<span>${MODEL_LABELS[m] ?? m}<small>first-step x0 / final</small></span>`)}</div>
            <img src=${asset('samples.png')} width="420" alt="For each model, a row of first-step x0 and a row of final samples from the same noises" />
          </div></div>
          <figcaption>Per model, from the same noises: the x0 it predicts at the first step (top row) and its final samples (bottom row).</figcaption>
        </figure>
        <line-chart .series=${this.curves(a)} xLabel="image-gradient evaluations" yLabel="FD of final samples" wholeX logY width="460" height="280"></line-chart>
      </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'research-answers': ResearchAnswers;
  }
}
