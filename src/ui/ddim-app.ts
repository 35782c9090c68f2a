// <ddim-app>: the studio's shell. Without WebGPU it explains how to get it; with it, it starts the
// engine worker and shows the Sample, Denoise, Train, Research and Models tabs (the ARIA tabs pattern:
// arrow keys, Home and End move between them). A tab is built the first time it is shown and kept for
// the whole visit, hidden while another is shown, so its settings, its results and the live view of
// its job are there when it is shown again. Each tab has a fixed place in the list: Lit matches an
// unkeyed list by position, so a list of the visited tabs alone would rebuild a tab's element when a
// tab before it is first shown. The header shows the running job wherever it was started,
// with its progress, ETA and Stop, and asks what to do when a job is started while another runs.
import { proxy } from 'comlink';
import { LitElement, css, html, nothing } from 'lit';
import { customElement, query, state } from 'lit/decorators.js';
import { JOBS, type GpuEvent, type JobEvent } from '../worker/api';
import { startEngine } from '../worker/client';
import { EngineStore, StoreController, TABS, tabName, type TabId } from './engine-store';
import './sample-studio';
import './denoise-view';
import './train-studio';
import './model-library';
import './research-studio';
import './job-panel';
import { parsePrecision, type PrecisionRequest } from '../gpu/tier';

/** The tier `?precision=` asks for (auto when absent), with a note when the value is not one. */
function askedPrecision(search: string): { precision: PrecisionRequest; note?: string } {
  const raw = new URLSearchParams(search).get('precision');
  if (raw === null) return { precision: 'auto' };
  try {
    return { precision: parsePrecision(raw, '?precision') };
  } catch (e) {
    return { precision: 'auto', note: `${(e as Error).message}; running in auto` };
  }
}

@customElement('ddim-app')
export class DdimApp extends LitElement {
  static override styles = css`
    :host { display: block; max-width: 1180px; margin: 0 auto; padding: 18px; font: 14px/1.45 system-ui, sans-serif; color: var(--text); }
    @media (max-width: 520px) { :host { padding: 10px; } }
    header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; margin-bottom: 12px; }
    h1 { font-size: 20px; margin: 0; }
    .adapter { color: var(--muted); font-size: 12px; }
    nav { display: flex; flex-wrap: wrap; gap: 2px; margin-bottom: 14px; border-bottom: 1px solid var(--rule); }
    nav button { font: inherit; border: 0; background: none; padding: 8px 14px; cursor: pointer; border-bottom: 2px solid transparent; color: var(--label); }
    @media (max-width: 520px) { nav button { padding: 8px 9px; } }
    button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
    nav button[aria-selected='true'] { border-bottom-color: var(--accent); color: var(--text); font-weight: 600; }
    .jobbar { flex-basis: 100%; }
    dialog { border: 1px solid var(--border); border-radius: 10px; background: var(--panel); color: var(--text); max-width: 460px; }
    dialog::backdrop { background: #0006; }
    dialog .actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; }
    dialog button { font: inherit; color: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid var(--border); background: var(--button); cursor: pointer; }
    dialog button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
    .nogpu { background: var(--panel); border-radius: 10px; padding: 20px 24px; box-shadow: 0 0 0 1px var(--edge); max-width: 720px; }
    .error { color: var(--error); }
    code { background: var(--code-bg); padding: 1px 5px; border-radius: 4px; }
    footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
    .gpu-notice { background: var(--notice-bg); border: 1px solid var(--notice-border); border-radius: 8px; padding: 8px 12px; margin-bottom: 12px; }
    .gpu-notice p { margin: 2px 0; }
    .gpu-notice .lost, .gpu-notice .error { color: var(--error); }
  `;

  @state() private tab: TabId = 'sample';
  @state() private failure: string | undefined;
  /** Tabs shown at least once: built then, kept for the visit. */
  private readonly visited = new Set<TabId>(['sample']);
  private store: EngineStore | undefined;
  private readonly hasWebGpu = typeof navigator !== 'undefined' && 'gpu' in navigator;
  @query('dialog') private dialog: HTMLDialogElement | null | undefined;

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
      const { precision, note } = askedPrecision(location.search);
      store.info = await store.engine.init(proxy((e: GpuEvent) => store.gpuEvent(e)), proxy((e: JobEvent) => store.jobEvent(e)), precision);
      if (note) store.info = { ...store.info, tierNote: note };
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

  private show(tab: TabId, focus = false): void {
    this.tab = tab;
    this.visited.add(tab);
    if (focus) void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${tab}`)?.focus());
  }

  /** The ARIA tabs pattern: Left/Right move to the neighbouring tab (wrapping), Home/End to the ends. */
  private tabKey(e: KeyboardEvent): void {
    const i = TABS.findIndex(([id]) => id === this.tab);
    const to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    this.show(TABS[(to + TABS.length) % TABS.length]![0], true);
  }

  protected override updated(): void {
    const d = this.dialog;
    if (d && !d.open) d.showModal();
    // The running job, as an attribute: what tests and scripts wait on.
    const job = this.store?.current?.job;
    if (job) this.setAttribute('data-job', job);
    else this.removeAttribute('data-job');
  }

  /** The question asked when a job is started while another runs. */
  private conflictDialog() {
    const c = this.store?.conflict;
    if (!c) return nothing;
    const running = `${JOBS[c.running.job]} (${tabName(c.running.tab)} tab)`, wanted = JOBS[c.wanted.job];
    return html`<dialog aria-labelledby="conflict-title" data-testid="job-conflict" @cancel=${(e: Event) => { e.preventDefault(); c.answer('cancel'); }}>
      <h2 id="conflict-title" style="font-size:16px;margin:0 0 6px">The engine is busy</h2>
      <p>The engine runs one job at a time, and ${running} is running. Start ${wanted} anyway?</p>
      <div class="actions">
        <button @click=${() => c.answer('queue')}>Start ${wanted} after it</button>
        <button @click=${() => c.answer('stop')}>Stop ${JOBS[c.running.job]} and start ${wanted}</button>
        <button class="primary" @click=${() => c.answer('cancel')} autofocus>Cancel</button>
      </div></dialog>`;
  }

  private panel(id: TabId) {
    const s = this.store!;
    switch (id) {
      case 'sample': return html`<sample-studio .store=${s}></sample-studio>`;
      case 'denoise': return html`<denoise-view .store=${s}></denoise-view>`;
      case 'train': return html`<train-studio .store=${s}></train-studio>`;
      case 'research': return html`<research-studio .store=${s}></research-studio>`;
      case 'models': return html`<model-library .store=${s}></model-library>`;
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
        <span class="adapter" data-testid="adapter">${s?.info ? html`Adapter: ${s.info.adapter} · <span data-testid="tier"
          title="The GEMMs' arithmetic (README, Precision tiers); ?precision=fp32|f16|matrix|matrix-emulated chooses it">precision ${s.info.tier}</span>` : 'starting the GPU engine…'}</span>
        ${s?.info?.tierNote ? html`<span class="adapter" role="note" data-testid="tier-note">${s.info.tierNote}</span>` : nothing}
        <job-panel class="jobbar" .store=${s} except=${this.tab}></job-panel>
      </header>
      ${s?.gpuNotices.length ? html`<div class="gpu-notice" role="alert" data-testid="gpu-notice">
        ${s.gpuNotices.map((n) => html`<p class=${n.kind}>${n.message}</p>`)}
        <button @click=${() => s.dismissGpuNotices()}>Dismiss</button></div>` : nothing}
      <nav role="tablist" aria-label="Studio" @keydown=${(e: KeyboardEvent) => this.tabKey(e)}>${TABS.map(([id, label]) => html`<button role="tab" id=${`tab-${id}`}
        aria-selected=${String(this.tab === id)} aria-controls=${`panel-${id}`} tabindex=${this.tab === id ? 0 : -1} @click=${() => this.show(id)}>${label}</button>`)}</nav>
      ${!s ? nothing : TABS.map(([id]) => this.visited.has(id) ? html`<div role="tabpanel" id=${`panel-${id}`} aria-labelledby=${`tab-${id}`} ?hidden=${this.tab !== id}>${this.panel(id)}</div>` : nothing)}
      ${this.conflictDialog()}
      <footer data-testid="privacy">Your images, models and training runs stay in this browser (IndexedDB): nothing is uploaded, and
        the page may connect only to the server it came from, for its own files (its Content-Security-Policy).</footer>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'ddim-app': DdimApp;
  }
}
