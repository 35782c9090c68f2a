// <ddim-engine-check>: opens the engine in its worker, shows the adapter, and times UNet forwards.
// Events: none.
import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import type { Remote } from 'comlink';
import type { EngineApi, EngineInfo, ForwardTiming } from '../worker/api';
import { startEngine } from '../worker/client';

@customElement('ddim-engine-check')
export class EngineCheck extends LitElement {
  static override styles = css`
    :host { display: block; font: 15px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
    table { border-collapse: collapse; margin-top: 1rem; }
    td, th { padding: 0.25rem 0.75rem; border-bottom: 1px solid #ddd; text-align: right; }
    .error { color: #b00020; white-space: pre-wrap; }
    button { font: inherit; padding: 0.3rem 0.9rem; }
  `;

  /** Adapter and limits, once the worker has a device. */
  @state() private info: EngineInfo | null = null;
  /** Timings measured so far. */
  @state() private rows: ForwardTiming[] = [];
  @state() private busy = false;
  @state() private error = '';
  private engine: Remote<EngineApi> | null = null;

  override connectedCallback(): void {
    super.connectedCallback();
    this.engine = startEngine();
    this.engine.init().then((info) => (this.info = info), (e: Error) => (this.error = e.message));
  }

  private async time(presetName: string, batch: number): Promise<void> {
    if (!this.engine) return;
    this.busy = true;
    this.error = '';
    try {
      this.rows = [...this.rows, await this.engine.timeForward(presetName, batch, 3)];
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  override render() {
    return html`
      <h1>ddim-webgpu</h1>
      <p>DDPM/DDIM UNets on hand-written WebGPU kernels. The engine runs in a Web Worker.</p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <p data-testid="adapter">${this.info ? html`Adapter: <b>${this.info.adapter}</b>` : this.error ? '' : 'Opening the GPU…'}</p>
      <button ?disabled=${!this.info || this.busy} @click=${() => this.time('tiny', 1)} aria-label="Time the tiny UNet forward">
        Time tiny UNet forward
      </button>
      <button ?disabled=${!this.info || this.busy} @click=${() => this.time('small', 1)} aria-label="Time the small UNet forward">
        Time small UNet forward
      </button>
      ${this.rows.length ? html`<table data-testid="timings">
        <tr><th>model</th><th>parameters</th><th>batch</th><th>ms / forward</th></tr>
        ${this.rows.map((r) => html`<tr><td>${r.config}</td><td>${r.parameters.toLocaleString()}</td><td>${r.batch}</td><td>${r.medianMs.toFixed(1)}</td></tr>`)}
      </table>` : ''}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'ddim-engine-check': EngineCheck;
  }
}
