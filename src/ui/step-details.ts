// <step-details>: one step of a chain with its numbers, for the Step button and the filmstrip's
// hover: x_t going in, the x0 predicted there and x_t coming out; t, abar_t and the coefficients of
// the update x_next = a x0 + b x_t + c noise + d eps (stepCoefficients, the sampler's own numbers);
// and simple statistics of each image.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { alphaBarAt } from '../diffusion/schedule';
import type { Filmstrip } from '../worker/api';
import { frameStats, type FrameStats } from './film-media';
import { frameOf } from './pixel-grid';
import { panelStyles } from './styles';
import './pixel-grid';

function fmt(v: number): string {
  return v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
}

@customElement('step-details')
export class StepDetails extends LitElement {
  static override styles = [panelStyles, css`
    .eq { font-family: ui-monospace, monospace; font-size: 12px; margin: 4px 0; overflow-wrap: anywhere; }
    td, th { padding: 2px 8px; }
  `];

  @property({ attribute: false }) film: Filmstrip | undefined;
  @property({ attribute: false }) abar: Float64Array | undefined;
  /** The step to show (0 = the noisiest); steps = the final sample. */
  @property({ type: Number }) step = 0;

  private stats(label: string, s: FrameStats) {
    return html`<tr><td>${label}</td><td class="numbers">${s.mean.toFixed(3)}</td><td class="numbers">${s.std.toFixed(3)}</td><td class="numbers">${(100 * s.clipped).toFixed(1)}%</td></tr>`;
  }

  override render() {
    const f = this.film, abar = this.abar;
    if (!f || !abar) return nothing;
    const steps = f.x0s.count, k = Math.min(this.step, steps);
    if (k === steps) {
      // Before the chain's end (Step, Stop) the last frame is an x_t on the way, not a sample.
      const total = f.coefficients.length;
      const what = steps === total ? `final sample (after ${steps} steps)` : `x_t after step ${steps} of ${total} (not final)`;
      return html`<div class="row"><div class="figure">${what}<pixel-grid label=${what} .pixels=${frameOf(f.xs, k)} cols="1" width="96"></pixel-grid></div>
        <table><tr><th></th><th>mean</th><th>std</th><th>at 0/255</th></tr>${this.stats(steps === total ? 'sample' : 'x_t', frameStats(f.xs, k))}</table></div>`;
    }
    const c = f.coefficients[k];
    const at = c ? alphaBarAt(abar, c.t) : NaN, an = c ? alphaBarAt(abar, c.tNext) : NaN;
    return html`<div data-testid="step-details" data-step=${k} data-t=${c?.t ?? ''}>
      <div class="row">
        <div class="figure">x_t in (t = ${c?.t})<pixel-grid label="x_t before the step" .pixels=${frameOf(f.xs, k)} cols="1" width="96"></pixel-grid></div>
        <div class="figure">predicted x0<pixel-grid label="x0 predicted at the step" .pixels=${frameOf(f.x0s, k)} cols="1" width="96"></pixel-grid></div>
        <div class="figure">x_t out (t = ${c && c.tNext >= 0 ? c.tNext : 'final'})<pixel-grid label="x_t after the step" .pixels=${frameOf(f.xs, k + 1)} cols="1" width="96"></pixel-grid></div>
        <table><tr><th></th><th>mean</th><th>std</th><th>at 0/255</th></tr>
          ${this.stats('x_t in', frameStats(f.xs, k))}${this.stats('x0', frameStats(f.x0s, k))}${this.stats('x_t out', frameStats(f.xs, k + 1))}</table>
      </div>
      ${c ? html`<p class="numbers" data-testid="step-numbers" data-coefficients=${JSON.stringify([c.t, c.tNext, c.a, c.b, c.c, c.d])}>
        step ${k + 1}/${f.coefficients.length}: t = ${c.t} → ${c.tNext >= 0 ? c.tNext : 'the end'}; abar_t = ${fmt(at)}, abar_next = ${fmt(an)}</p>
        <p class="eq">x0 = ${fmt(c.k0)}·x_t − ${fmt(c.k1)}·eps${c.clip ? ', clipped to [-1, 1]' : ''}</p>
        <p class="eq">x_next = ${fmt(c.a)}·x0 + ${fmt(c.b)}·x_t + ${fmt(c.c)}·noise + ${fmt(c.d)}·eps</p>` : nothing}
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'step-details': StepDetails;
  }
}
