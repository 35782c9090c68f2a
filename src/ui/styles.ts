// Shared look of the studio's panels and controls. Colours are the custom properties of index.html
// (they inherit into every shadow root), light or dark with the system's colour scheme.
import { css } from 'lit';

export const panelStyles = css`
  :host { display: block; color: var(--text); font: 14px/1.45 system-ui, sans-serif; }
  section { background: var(--panel); border-radius: 10px; box-shadow: 0 1px 3px #0001, 0 0 0 1px var(--edge); padding: 14px 16px; margin-bottom: 14px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  h3 { font-size: 13px; margin: 0 0 6px; color: var(--label); font-weight: 600; }
  .controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: end; }
  label { display: flex; flex-direction: column; gap: 3px; font-size: 12px; color: var(--label); }
  label.inline { flex-direction: row; align-items: center; gap: 6px; }
  input[type='number'] { width: 84px; }
  input, select, button { font: inherit; color: inherit; }
  label, select { max-width: 100%; }
  input[type='number'], input[type='text'], select { padding: 4px 6px; border: 1px solid var(--border); border-radius: 6px; background: var(--panel); }
  button { padding: 6px 14px; border-radius: 6px; border: 1px solid var(--border); background: var(--button); cursor: pointer; }
  button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
  button:disabled { opacity: 0.5; cursor: default; }
  :focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
  .row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
  .figure { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: var(--label); max-width: 100%; }
  .muted { color: var(--muted); font-size: 12px; }
  .error { color: var(--error); background: var(--error-bg); border: 1px solid var(--error-border); border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
  .note { background: var(--notice-bg); border: 1px solid var(--notice-border); border-radius: 6px; padding: 6px 10px; margin: 8px 0; font-size: 12px; }
  .numbers { font-variant-numeric: tabular-nums; }
  progress { width: 260px; max-width: 100%; }
  table { border-collapse: collapse; font-size: 13px; }
  td, th { padding: 4px 10px; text-align: left; border-bottom: 1px solid var(--line); }
  .scroll { overflow-x: auto; max-width: 100%; }
  .nowrap { white-space: nowrap; }
  .flag { color: var(--error); font-size: 11px; font-weight: 600; }
  td.cell-text { min-width: 180px; }
  details.explain { font-size: 12px; color: var(--label); margin: 6px 0; }
  details.explain summary { cursor: pointer; color: var(--accent); }
  details.explain p { margin: 4px 0 4px 14px; max-width: 70ch; }
  @media (max-width: 520px) {
    section { padding: 10px 10px; }
    .controls { gap: 8px 12px; }
  }
`;
