// What a training step draws on the host, as a function of (seed, step) alone, so a resumed run
// repeats the uninterrupted one: the batch's images and flips, the timesteps, and (for trainers that
// draw it on the host) the noise. Every trainer draws from these Philox streams; the GPU noise of the
// time-conditioned trainer uses NOISE_STREAM too, and dropout its UNet's own stream.
import { uniform } from '../host/rng';
import { gatherBatch, type ImageDataset } from './data';

export const INDEX_STREAM = 1;
export const TIMESTEP_STREAM = 2;
export const FLIP_STREAM = 3;
export const NOISE_STREAM = 4;

/** Gathers step k's batch (indices uniform over the dataset, each mirrored with probability 1/2 when `randomFlip`) into `out`. */
export function drawBatch(data: ImageDataset, seed: number, step: number, batch: number, randomFlip: boolean, out: Float32Array): void {
  const indices = Array.from(uniform(seed, INDEX_STREAM, step, batch), (u) => Math.floor(u * data.count));
  const flips = Array.from(uniform(seed, FLIP_STREAM, step, batch), (u) => randomFlip && u < 0.5);
  gatherBatch(data, indices, flips, out);
}

/** Step k's timesteps, uniform integers in [0, T). */
export function drawTimesteps(seed: number, step: number, batch: number, T: number): number[] {
  return Array.from(uniform(seed, TIMESTEP_STREAM, step, batch), (u) => Math.floor(u * T));
}
