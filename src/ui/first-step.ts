// The first-step panel's words, written from the numbers of the chain's first step (the Sample tab):
// the amplification of eps there, the ideal denoiser's x0 for the same x_T and the model's distance
// from it. Pure, so the tests check the text without a page.
import type { FirstStepReport } from '../worker/api';

/** A coefficient as the panel prints it: "157.4", "2.31". */
export const fmtK = (k: number): string => (k >= 10 ? k.toFixed(1) : k.toPrecision(3));
/** The median: the middle value, or the mean of the two middle ones for an even count. */
export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** The first-step panel's explanation, written from the numbers of this chain's first step. */
export function firstStepText(r: FirstStepReport): string {
  const k = fmtK(r.k1);
  const head = `At the first step (t = ${r.t}) the chain computes x0 = ${fmtK(r.k0)}·x_t − ${k}·eps: any error in the model's eps reaches x0 multiplied by ${k}.`;
  const tail = ` The chain then commits to details step by step; the final sample differs from this first x0 by MSE ${median(r.mse).toFixed(3)} (median over the batch).`;
  const i = r.ideal;
  if (!i) return head + tail;
  const eps = median(i.epsRms), x0 = median(i.x0Rms), mean = median(i.meanMse);
  const blur = mean < 0.01 ? `the blurry average of everything x_T could become: its x0 is within MSE ${mean.toFixed(4)} of the training images' mean image`
    : `a blend of the training images (MSE ${mean.toFixed(3)} from their mean image)`;
  const look = x0 > 0.5 ? `That is why the model's first x0 is saturated noise rather than a blur: the error, not the average, is what it shows.`
    : `Small enough that the model's first x0 looks like the ideal's average.`;
  return `${head} For the same x_T, ${i.name} (the exact posterior mean E[x0 | x_T] under them) predicts ${blur}. The model's eps differs from the ideal's by RMS ${eps.toFixed(4)} per value (eps itself has RMS about 1), which becomes RMS ${x0.toFixed(2)} in x0, where the whole image range is 2. ${look}${tail}`;
}

