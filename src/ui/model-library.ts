// The Models tab: every model (the bundled one and those in IndexedDB) with its config, size and
// training steps; import (reference or diffusers layout, with an optional config.json), export in
// the reference layout, rename, delete; storage use and quota.
import { LitElement, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { describeConfig } from '../nn/config';
import type { ModelEntry } from '../worker/api';
import { StoreController, type EngineStore } from './engine-store';
import { atTime } from './flash';
import { panelStyles } from './styles';

const MB = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;

/** A model's structure in words: its config, a layered model's sub-models, or the ideal denoiser's data. */
function describeModel(m: ModelEntry): string {
  const c = m.config;
  if (!c) return `the exact posterior mean of the training images, ${m.resolution} px (no weights)`;
  const unet = describeConfig(c);
  return m.chain ? `layered: ${m.chain.length - 1} time-free sub-models (t = ${[...m.chain].slice(1).reverse().join(', ')}), each ${unet}` : unet;
}

@customElement('model-library')
export class ModelLibrary extends LitElement {
  static override styles = panelStyles;

  @property({ attribute: false }) store: EngineStore | undefined;
  @state() private message: string | undefined;
  @state() private error: string | undefined;
  @state() private storage: { usage: number; quota: number; persisted: boolean } | undefined;
  private configFile: File | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refreshStorage();
  }

  private async refreshStorage(): Promise<void> {
    this.storage = await this.store?.engine.storage();
  }

  private async act(what: () => Promise<string | undefined>): Promise<void> {
    this.error = undefined;
    this.message = undefined;
    try {
      const done = await what();
      this.message = done && `${done} (${atTime()})`;
    } catch (e) {
      this.error = (e as Error).message;
    }
    await this.store?.refreshModels();
    await this.refreshStorage();
  }

  private async importFile(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    if (!file || !this.store) return;
    const engine = this.store.engine;
    const config = this.configFile ? await this.configFile.text() : undefined;
    await this.act(async () => {
      const entry = await engine.importModel(file.name, await file.arrayBuffer(), config);
      return `imported "${entry.name}": ${entry.parameters.toLocaleString('en-US')} parameters`;
    });
    input.value = '';
  }

  private async download(id: string, name: string): Promise<void> {
    await this.act(async () => {
      const bytes = await this.store!.engine.exportModel(id);
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
      a.download = `${name.replace(/[^\w.-]+/g, '_')}.safetensors`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      return `exported "${name}" in the reference layout`;
    });
  }

  override render() {
    const models = this.store?.models ?? [];
    const s = this.storage;
    return html`
      <section><h2>Import weights</h2>
        <p class="muted">A .safetensors file in this project's reference layout (ermongroup/ddim names) or diffusers' UNet2DModel layout
          (e.g. google/ddpm-cifar10-32), or a layered model (one UNet per step, as <code>ddim research train</code> writes). Its config comes from the
          file's metadata, from a config.json you choose with it, or from the tensor shapes.</p>
        <div class="controls">
          <label>config.json (optional)<input type="file" aria-label="Model config.json" accept=".json,application/json" @change=${(e: Event) => (this.configFile = (e.target as HTMLInputElement).files?.[0])} /></label>
          <label>Weights<input type="file" aria-label="Import weights" accept=".safetensors" @change=${(e: Event) => this.importFile(e.target as HTMLInputElement)} /></label>
        </div>
        ${this.message ? html`<p data-testid="library-message" role="status">${this.message}</p>` : nothing}
        ${this.error ? html`<div class="error" role="alert" data-testid="library-error">${this.error}</div>` : nothing}
      </section>
      <section><h2>Models</h2>
        <div class="scroll"><table data-testid="models">
          <tr><th>name</th><th>config</th><th>parameters</th><th>trained steps</th><th>size</th><th>added</th><th></th></tr>
          ${models.map((m) => html`<tr>
            <td>${m.name}</td>
            <td class="cell-text">${describeModel(m)}</td>
            <td class="numbers">${m.parameters.toLocaleString('en-US')}</td>
            <td class="numbers">${m.trainingSteps ? m.trainingSteps.toLocaleString('en-US') : '—'}</td>
            <td class="numbers nowrap">${m.kind === 'ideal' ? '—' : MB(m.bytes)}</td>
            <td>${m.source === 'bundled' ? 'bundled' : new Date(m.created).toLocaleDateString()}</td>
            <td class="nowrap">
              ${m.kind === 'ideal' ? nothing : html`<button aria-label=${`Export ${m.name}`} @click=${() => this.download(m.id, m.name)}>Export</button>`}
              ${m.source !== 'bundled' ? html`
                <button aria-label=${`Rename ${m.name}`} @click=${() => { const n = prompt('New name', m.name); if (n) void this.act(async () => { await this.store!.engine.renameModel(m.id, n); return `renamed to "${n}"`; }); }}>Rename</button>
                <button aria-label=${`Delete ${m.name}`} @click=${() => { if (confirm(`Delete "${m.name}" from this browser? Its weights are gone for good unless you exported them.`)) void this.act(async () => { await this.store!.engine.deleteModel(m.id); return `deleted "${m.name}"`; }); }}>Delete</button>` : nothing}
            </td></tr>`)}
        </table></div>
        ${s ? html`<p class="muted numbers" data-testid="storage">Storage: ${MB(s.usage)} used of ${MB(s.quota)}${s.persisted ? ' · persistent' : ' · may be evicted under storage pressure'}</p>` : nothing}
      </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'model-library': ModelLibrary;
  }
}
