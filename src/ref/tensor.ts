// Small helpers shared by the CPU references: allocation and shape checks whose errors name the
// op and the argument, so a wrong call fails at the reference instead of reading out of bounds.

import { shapeSize, type HostTensor } from '../host/tensor';

/** A zero-filled tensor of this shape. */
export function zeros(shape: readonly number[]): HostTensor {
  return { shape: [...shape], data: new Float32Array(shapeSize(shape)) };
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Throws `what: shape [..], expected rank N` unless `t` has `rank` dimensions; returns the shape. */
export function dims(t: HostTensor, rank: number, what: string): number[] {
  if (t.shape.length !== rank || t.data.length !== shapeSize(t.shape)) {
    throw new Error(`${what}: shape ${fmtShape(t.shape)} with ${t.data.length} values, expected a rank-${rank} tensor`);
  }
  return t.shape;
}

/** Throws `what: shape [..], expected [..]` unless `t` has exactly this shape. */
export function expectShape(t: HostTensor, shape: readonly number[], what: string): void {
  const same = t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]);
  if (!same || t.data.length !== shapeSize(shape)) {
    throw new Error(`${what}: shape ${fmtShape(t.shape)} with ${t.data.length} values, expected ${fmtShape(shape)}`);
  }
}
