// Shape checks shared by the launchers: a wrong shape is a bug in the caller, caught at plan time.
import type { Tensor } from '../gpu/tensor';

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function expectShape(t: Tensor, shape: readonly number[], label: string): void {
  if (!sameShape(t.shape, shape)) {
    throw new Error(`${label}: tensor "${t.label}" has shape [${t.shape}], expected [${shape}]`);
  }
}
