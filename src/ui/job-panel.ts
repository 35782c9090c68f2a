// <job-panel>: the engine's running job, where it was started and how far it is: a progress bar,
// units done of the total, the measured rate and the ETA (from the worker's reports), what it does
// now, and Stop (and Pause, for training) acting on that job alone. A Stop or Pause is acknowledged
// at once ("stopping after step 13 of 50…") and lands at the job's next step boundary. With `tab`,
// the panel shows only that tab's job (inside the tab); with `except`, the job of any other tab (the
// page's header, naming its tab), so a job is shown once wherever one looks; and the jobs queued.
import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { JOBS } from '../worker/api';
import { StoreController, jobStatus, tabName, type EngineStore, type TabId } from './engine-store';
import { panelStyles } from './styles';

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

@customElement('job-panel')
export class JobPanel extends LitElement {
  static override styles = [panelStyles, css`
    :host { display: block; }
    .job { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; font-size: 12px; }
    .job b { font-weight: 600; }
    progress { width: 180px; }
    button { padding: 3px 10px; font-size: 12px; }
    .queued { color: var(--muted); font-size: 12px; }
    .queued button { padding: 0 6px; }
  `];

  @property({ attribute: false }) store: EngineStore | undefined;
  /** Only this tab's job (inside the tab). */
  @property() tab: TabId | undefined;
  /** The job of any tab but this one, naming its tab (the header, `except` the tab shown). */
  @property() except: TabId | undefined;

  /** Ticks the elapsed time and the ETA between the worker's reports while a job is shown. */
  private clock: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    new StoreController(this, () => this.store);
  }

  protected override updated(): void {
    const showing = this.renderRoot.querySelector('.job') !== null;
    if (showing && !this.clock) this.clock = setInterval(() => this.requestUpdate(), 1000);
    if (!showing && this.clock) {
      clearInterval(this.clock);
      this.clock = undefined;
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.clock);
    this.clock = undefined;
  }

  override render() {
    const s = this.store, c = s?.current;
    const shows = (tab: TabId): boolean => (this.tab ? tab === this.tab : tab !== this.except);
    const mine = c && shows(c.tab) ? c : undefined;
    const queued = (s?.queued ?? []).map((q, i) => ({ ...q, i })).filter((q) => shows(q.tab));
    if (!mine && queued.length === 0) return nothing;
    const p = mine?.progress;
    return html`${mine ? html`<div class="job" role="status" aria-live="polite" data-testid=${this.tab ? `job-${this.tab}` : 'job'} data-job=${mine.job}>
        <b>${capital(JOBS[mine.job])}</b>${this.tab ? nothing : html`<span class="muted">(${tabName(mine.tab)} tab)</span>`}
        <progress max=${p?.total ?? 1} .value=${p ? p.done : 0} aria-label=${`${JOBS[mine.job]} progress`}></progress>
        <span class="numbers" data-testid="job-status">${jobStatus(mine)}</span>
        ${mine.job === 'training' ? html`<button @click=${() => s!.pause()} ?disabled=${mine.request !== undefined} aria-label="Pause training">Pause</button>` : nothing}
        <button @click=${() => s!.stop()} ?disabled=${mine.request === 'stop'} aria-label=${`Stop ${JOBS[mine.job]}`}
          title=${mine.job === 'training' ? 'Ends the run after this step, keeping its last checkpoint (Pause saves this step first)' : nothing}>Stop</button>
      </div>` : nothing}
      ${queued.map((q) => html`<div class="queued" data-testid="queued">then ${JOBS[q.job]} (${tabName(q.tab)} tab)
        <button aria-label=${`Remove ${JOBS[q.job]} from the queue`} @click=${() => s!.unqueue(q.i)}>Cancel</button></div>`)}`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'job-panel': JobPanel;
  }
}
