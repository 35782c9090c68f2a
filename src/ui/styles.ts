// Shared look of the studio's panels and controls.
import { css } from 'lit';

export const panelStyles = css`
  :host { display: block; color: #1d2330; font: 14px/1.45 system-ui, sans-serif; }
  section { background: #fff; border-radius: 10px; box-shadow: 0 1px 3px #0001, 0 0 0 1px #0000000d; padding: 14px 16px; margin-bottom: 14px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  h3 { font-size: 13px; margin: 0 0 6px; color: #4a5468; font-weight: 600; }
  .controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: end; }
  label { display: flex; flex-direction: column; gap: 3px; font-size: 12px; color: #4a5468; }
  label.inline { flex-direction: row; align-items: center; gap: 6px; }
  input[type='number'] { width: 84px; }
  input, select, button { font: inherit; }
  input[type='number'], input[type='text'], select { padding: 4px 6px; border: 1px solid #c9cfdb; border-radius: 6px; background: #fff; }
  button { padding: 6px 14px; border-radius: 6px; border: 1px solid #c9cfdb; background: #f6f7fa; cursor: pointer; }
  button.primary { background: #3257d6; border-color: #3257d6; color: #fff; }
  button:disabled { opacity: 0.5; cursor: default; }
  .row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
  .figure { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: #4a5468; }
  .muted { color: #6b7385; font-size: 12px; }
  .error { color: #b42318; background: #fef3f2; border: 1px solid #fecdca; border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
  .numbers { font-variant-numeric: tabular-nums; }
  progress { width: 260px; }
  table { border-collapse: collapse; font-size: 13px; }
  td, th { padding: 4px 10px; text-align: left; border-bottom: 1px solid #eef0f4; }
`;
