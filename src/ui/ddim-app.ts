// <ddim-app>: the studio's shell. Without WebGPU it explains how to get it; with it, it starts the
// engine worker and shows the Sample, Denoise, Train, Research and Models tabs.
import { proxy } from 'comlink';
import { LitElement, css, html, nothing } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { JOBS, type GpuEvent } from '../worker/api';
import { startEngine } from '../worker/client';
import { EngineStore, StoreController } from './engine-store';
import './sample-studio';
import './denoise-view';
import './train-studio';
import './model-library';
import './research-studio';

type Tab = 'sample' | 'denoise' | 'train' | 'research' | 'models';
const TABS: [Tab, string][] = [['sample', 'Sample'], ['denoise', 'Denoise'], ['train', 'Train'], ['research', 'Research'], ['models', 'Models']];

@customElement('ddim-app')
export class DdimApp extends LitElement {
  static override styles = css`
    :host { display: block; max-width: 1180px; margin: 0 auto; padding: 18px; font: 14px/1.45 system-ui, sans-serif; color: var(--text); }
    @media (max-width: 520px) { :host { padding: 10px; } }
    header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; margin-bottom: 12px; }
    h1 { font-size: 20px; margin: 0; }
    .adapter { color: var(--muted); font-size: 12px; }
    nav { display: flex; gap: 4px; margin-bottom: 14px; border-bottom: 1px solid var(--rule); overflow-x: auto; }
    nav button { font: inherit; border: 0; background: none; padding: 8px 14px; cursor: pointer; border-bottom: 2px solid transparent; color: var(--label); }
    button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
    nav button[aria-selected='true'] { border-bottom-color: var(--accent); color: var(--text); font-weight: 600; }
    .nogpu { background: var(--panel); border-radius: 10px; padding: 20px 24px; box-shadow: 0 0 0 1px var(--edge); max-width: 720px; }
    .error { color: var(--error); }
    code { background: var(--code-bg); padding: 1px 5px; border-radius: 4px; }
    footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
    .gpu-notice { background: var(--notice-bg); border: 1px solid var(--notice-border); border-radius: 8px; padding: 8px 12px; margin-bottom: 12px; }
    .gpu-notice p { margin: 2px 0; }
    .gpu-notice .lost, .gpu-notice .error { color: var(--error); }
  `;

  @state() private tab: Tab = 'sample';
  @state() private failure: string | undefined;
  private store: EngineStore | undefined;
  private readonly hasWebGpu = typeof navigator !== 'undefined' && 'gpu' in navigator;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.hasWebGpu && !this.store) void this.start();
  }

  private async start(): Promise<void> {
    const store = new EngineStore(startEngine());
    try {
      store.info = await store.engine.init(proxy((e: GpuEvent) => store.gpuEvent(e)));
      await navigator.storage?.persist?.().catch(() => false);
      await store.refreshModels();
      this.store = store;
      // ?debug: a handle for checking recovery by hand and in the e2e test (destroys the GPU device).
      if (new URLSearchParams(location.search).has('debug')) {
        (window as unknown as { ddimDebug: unknown }).ddimDebug = { loseDevice: () => store.engine.loseDevice() };
      }
      this.requestUpdate();
    } catch (e) {
      this.failure = (e as Error).message;
    }
  }

  private noWebGpu() {
    return html`<div class="nogpu" data-testid="no-webgpu">
      <h2>This browser has no WebGPU</h2>
      <p>ddim-webgpu samples and trains diffusion models on your GPU through WebGPU, and <code>navigator.gpu</code> is missing here.</p>
      <ul>
        <li><b>Chrome / Edge 113+</b> (Windows, macOS, ChromeOS, Android 12+): WebGPU is on by default. On Linux, start Chrome with
          <code>--enable-unsafe-webgpu --enable-features=Vulkan</code> or enable <code>chrome://flags/#enable-unsafe-webgpu</code>.</li>
        <li><b>Firefox</b> 141+ on Windows; elsewhere set <code>dom.webgpu.enabled</code> to true in <code>about:config</code>.</li>
        <li><b>Safari</b> 26+ on macOS, iOS and iPadOS; in older versions enable WebGPU under Develop → Feature Flags.</li>
      </ul>
      <p>WebGPU needs a secure context: open the app over <code>https://</code> or <code>http://localhost</code>.</p>
    </div>`;
  }

  override render() {
    if (!this.hasWebGpu) return html`<header><h1>ddim-webgpu</h1></header>${this.noWebGpu()}`;
    if (this.failure) {
      return html`<header><h1>ddim-webgpu</h1></header><div class="nogpu" role="alert"><h2>WebGPU could not start</h2>
        <p class="error">${this.failure}</p><p>Your browser exposes WebGPU but gave no usable adapter; check that hardware acceleration is on, or try another browser.</p></div>`;
    }
    const s = this.store;
    return html`
      <header><h1>ddim-webgpu</h1>
        <span class="adapter" data-testid="adapter">${s?.info ? `Adapter: ${s.info.adapter}` : 'starting the GPU engine…'}</span>
        ${s?.job ? html`<span class="adapter" data-testid="job">busy: ${JOBS[s.job]}</span>` : nothing}
      </header>
      ${s?.gpuNotices.length ? html`<div class="gpu-notice" role="alert" data-testid="gpu-notice">
        ${s.gpuNotices.map((n) => html`<p class=${n.kind}>${n.message}</p>`)}
        <button @click=${() => s.dismissGpuNotices()}>Dismiss</button></div>` : nothing}
      <nav role="tablist">${TABS.map(([id, label]) => html`<button role="tab" aria-selected=${String(this.tab === id)} @click=${() => (this.tab = id)}>${label}</button>`)}</nav>
      ${!s ? nothing : this.tab === 'sample' ? html`<sample-studio .store=${s}></sample-studio>`
        : this.tab === 'denoise' ? html`<denoise-view .store=${s}></denoise-view>`
        : this.tab === 'train' ? html`<train-studio .store=${s}></train-studio>`
        : this.tab === 'research' ? html`<research-studio .store=${s}></research-studio>`
        : html`<model-library .store=${s}></model-library>`}
      <footer data-testid="privacy">Your images, models and training runs stay in this browser (IndexedDB): nothing is uploaded, and
        the page may connect only to the server it came from, for its own files (its Content-Security-Policy).</footer>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'ddim-app': DdimApp;
  }
}
