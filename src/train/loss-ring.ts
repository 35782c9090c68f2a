// Each step's losses (and whatever else a trainer watches, such as the gradient norm) copied on the
// GPU into a ring, read back once per call of trainSteps: nothing is read back between steps. The
// read stops a run at the first value that is not finite, naming its step.
import { createTensor, readTensor, type Tensor } from '../gpu/tensor';

/** Most steps one trainSteps call runs (the ring's rows). */
const MAX_STEPS_PER_CALL = 1024;

/** A run whose loss or gradient norm stopped being finite: training stops there, nothing is saved. */
export class TrainingDiverged extends Error {
  /** `values`: the step's watched values by name, e.g. { loss, 'gradient norm' }. */
  constructor(readonly step: number, values: Record<string, number>) {
    super(`training diverged at step ${step}: ${Object.entries(values).map(([k, v]) => `${k} ${v}`).join(', ')}; nothing after the last checkpoint is saved ` +
      '(lower the learning rate, or resume from the last checkpoint)');
    this.name = 'TrainingDiverged';
  }
}

export class LossRing {
  private readonly ring: Tensor;

  /** `names`: the values recorded per step, each the first float of a tensor. */
  constructor(device: GPUDevice, readonly names: readonly string[], label: string) {
    this.ring = createTensor(device, [MAX_STEPS_PER_CALL * names.length], `${label}.losses`);
  }

  /** Refuses a call of more steps than the ring holds; `who` names the trainer. */
  static checkSteps(n: number, who: string): void {
    if (!Number.isInteger(n) || n < 1 || n > MAX_STEPS_PER_CALL) throw new Error(`${who}: steps per call must be in [1, ${MAX_STEPS_PER_CALL}], got ${n}`);
  }

  /** Records row `i` of this call: float at[j] (default the first) of each tensor j, in the order of `names`. */
  record(encoder: GPUCommandEncoder, i: number, values: readonly Tensor[], at: readonly number[] = []): void {
    const K = this.names.length;
    values.forEach((t, j) => encoder.copyBufferToBuffer(t.buffer, t.offset + 4 * (at[j] ?? 0), this.ring.buffer, this.ring.offset + (i * K + j) * 4, 4));
  }

  /** The `n` rows of this call (its first step is `firstStep`); throws TrainingDiverged at the first non-finite value. */
  async read(device: GPUDevice, n: number, firstStep: number): Promise<Float32Array[]> {
    const K = this.names.length;
    const ring = await readTensor(device, this.ring);
    const rows = Array.from({ length: n }, (_, i) => ring.slice(i * K, (i + 1) * K));
    rows.forEach((row, i) => {
      if (!row.every(Number.isFinite)) throw new TrainingDiverged(firstStep + i, Object.fromEntries(this.names.map((name, j) => [name, row[j]!])));
    });
    return rows;
  }
}
