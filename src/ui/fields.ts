// Whole-number fields that clamp what is typed: the field then shows the value used, so "-3" or an
// empty box never stays on screen while another number runs.

/** The integer typed into `e`'s input, clamped to [lo, hi] (empty or not a number: `current`),
 *  written back into the input. */
export function clampedInt(e: Event, lo: number, hi: number, current: number): number {
  const input = e.target as HTMLInputElement;
  const typed = input.value.trim() === '' ? NaN : Number(input.value);
  const v = Number.isFinite(typed) ? Math.min(hi, Math.max(lo, Math.floor(typed))) : current;
  input.value = String(v);
  return v;
}
