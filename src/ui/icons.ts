// The studio's icons as inline SVG: they draw the same everywhere, with no emoji font (a missing one
// shows an empty box), in the text colour (light and dark).
import { svg } from 'lit';

/** A die showing five: the Random seed button. */
export const diceIcon = svg`<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" style="vertical-align:-3px">
  <rect x="1.5" y="1.5" width="13" height="13" rx="3" fill="none" stroke="currentColor" stroke-width="1.4"/>
  <g fill="currentColor"><circle cx="5" cy="5" r="1.2"/><circle cx="11" cy="5" r="1.2"/><circle cx="8" cy="8" r="1.2"/><circle cx="5" cy="11" r="1.2"/><circle cx="11" cy="11" r="1.2"/></g></svg>`;

/** A cross: buttons that remove something. */
export const removeIcon = svg`<svg viewBox="0 0 12 12" width="10" height="10" aria-hidden="true">
  <path d="M2 2l8 8M10 2l-8 8" stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/></svg>`;
