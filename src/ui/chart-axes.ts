// The line chart's axes: where ticks go and how they read (pure, so the tests check them without a page).

/** A tick label: whole numbers as they are ("0", "1,000"), others to two significant places or decimals. */
export function tickLabel(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

/**
 * Tick values for an axis from lo to hi: round steps (1, 2 or 5 x 10^k) on a linear axis, powers of
 * ten on a log one (values given as log10), always with both ends. `gap` (a share of the range) keeps
 * inner ticks off the ends: a tenth, or more where the labels are wide. `whole`: only whole numbers
 * between the ends (an axis of counts).
 */
export function ticks(lo: number, hi: number, log: boolean, most = 5, gap = 0.1, whole = false): number[] {
  if (!(hi > lo)) return [lo];
  const inner: number[] = [];
  if (log) {
    for (let p = Math.ceil(lo); p <= Math.floor(hi); p++) inner.push(p);
  } else {
    const raw = (hi - lo) / most, mag = 10 ** Math.floor(Math.log10(raw));
    // A count's axis (steps, evaluations) steps by whole numbers: no tick at 1.5 steps.
    const step = Math.max(whole ? 1 : 0, [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw)!);
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) inner.push(Number(v.toPrecision(12)));
  }
  // The ends, and no inner tick crowding them.
  const room = (hi - lo) * gap;
  return [lo, ...inner.filter((v) => v - lo > room && hi - v > room), hi];
}
