// Launcher for shaders/reduce.wgsl: the gradients' norms and clip factors (one per clip group), and the
// second stage of split reductions.
import code from '../../shaders/reduce.wgsl?raw';
import { grid, makeDispatch, placeholderSink, type Dispatch, type KernelSource } from '../gpu/kernel';
import { alignFloats, createTensor, createTensorFrom, numel, spanOf, viewTensor, type Tensor } from '../gpu/tensor';
import { expectShape } from './shapes';

const shader: KernelSource = { name: 'reduce', code };
const CHUNK = 4096; // elements per sumsq_partial workgroup (WG * PER_THREAD in the shader)
const FLAG_LOSS_SCALE = 1;

/** One clip group: its gradients in one flat buffer, zeros between the views. */
export interface GradGroup {
  grads: Tensor;    // (n)
  label: string;
}

export interface GradNormArgs {
  /** One norm and clip factor per group (the layered model clips each sub-model alone). */
  groups: readonly GradGroup[];
  /** Clip threshold; <= 0 leaves scale at 1 (the norm is still computed, for logging). */
  maxNorm: number;
  /** The dynamic loss scale the gradients were computed with (reduce.wgsl FLAG_LOSS_SCALE): its
   *  state (4) = (S, good steps, -, skipped steps), updated by the step, which it skips for every
   *  group or none. */
  lossScale?: LossScaleState;
  label: string;
}

export interface LossScaleState {
  scaler: Tensor;
  /** Good steps in a row after which S doubles. */
  growthInterval: number;
}

export interface GradNorms {
  /** One sumsq_partial per group, then one norm_clip for them all. */
  dispatches: Dispatch[];
  /** (4) per group, as `groups`: (norm, scale, skipped, loss scale used). */
  outs: Tensor[];
}

/**
 * Per group, (sqrt(sum g^2), min(1, maxNorm / (norm + 1e-6))), as torch.nn.utils.clip_grad_norm_
 * computes them; adamStep applies the scale. Allocates at plan time the outputs (a
 * `${label}.norms` buffer, one aligned (4) view per group) and the scratch (`${label}.partials`,
 * ceil(n / 4096) floats per group, padded to the largest).
 */
export function gradNormAndClip(device: GPUDevice, a: GradNormArgs): GradNorms {
  if (a.groups.length === 0) throw new Error(`${a.label}: no gradient groups to clip`);
  const sizes = a.groups.map((g) => {
    const n = numel(g.grads.shape);
    expectShape(g.grads, [n], a.label);
    return n;
  });
  if (a.lossScale) expectShape(a.lossScale.scaler, [4], a.label);
  const stride = alignFloats(Math.max(...sizes.map((n) => Math.ceil(n / CHUNK))));
  const outStride = alignFloats(4);
  const partials = createTensor(device, [a.groups.length * stride], `${a.label}.partials`);
  const norms = createTensor(device, [a.groups.length * outStride], `${a.label}.norms`);
  const outs = a.groups.map((g, k) => viewTensor(norms, k * outStride, [4], `${g.label}.clip`));
  const common = { max_norm: a.maxNorm, flags: a.lossScale ? FLAG_LOSS_SCALE : 0, growth_interval: a.lossScale?.growthInterval ?? 0, groups: a.groups.length, out_stride: outStride };
  const dispatches = a.groups.map((g, k) => {
    const nparts = Math.ceil(sizes[k]! / CHUNK);
    return makeDispatch(device, {
      shader, entry: 'sumsq_partial', label: `${g.label}.clip.partial`, uniforms: { ...common, n: sizes[k]!, nparts },
      tensors: [[g.grads, 'read'], [viewTensor(partials, k * stride, [nparts], `${g.label}.clip.partials`), 'write']],
      workgroups: grid(nparts),
    });
  });
  dispatches.push(makeDispatch(device, {
    shader, entry: 'norm_clip', label: a.label, uniforms: { ...common, n: 0, nparts: stride },
    tensors: [[partials, 'read'], [norms, 'write'], [a.lossScale?.scaler ?? placeholderSink(device), 'write']],
    workgroups: [1, 1, 1],
  }));
  return { dispatches, outs };
}

const TABLE_WORDS = 7;   // reduce.wgsl sum_rows_table: (src, rows, count, split, out, out2, stride)

/**
 * The second stage of split reductions, deferred so that one dispatch sums many of them instead of
 * a dispatch each: a backward's per-sample partial sums (its bias and GroupNorm parameter
 * gradients), all summed at the backward's end, and its split-K weight gradients' partial copies,
 * summed whenever the buffer is full (takeInTurn). Each reduction's (rows, count) partials get their
 * own rows of one buffer (`take`), so no later kernel overwrites them before they are summed; `add`
 * queues a sum into its outputs (all in one buffer, the flat gradients), and `dispatch` adds every
 * queued sum (each in row order: its bits whatever else the dispatch sums), after which the buffer is
 * free again.
 */
export class RowSums {
  readonly partials: Tensor;
  private used = 0;
  /** Takes no sum has been queued for yet. */
  private readonly unqueued = new Set<Tensor>();
  /** Each queued sum: `count` columns from `first` of src's rows, into out (and out2). */
  private readonly sums: { src: Tensor; first: number; count: number; out: Tensor; out2?: Tensor }[] = [];

  /** `floats`: the sum of RowSums.floats over every take to come. */
  constructor(device: GPUDevice, floats: number, readonly label: string) {
    this.partials = createTensor(device, [Math.max(floats, 1)], `${label}.row_partials`);
  }

  /** The floats a take of `shape` uses (its views stay aligned). */
  static floats(shape: readonly number[]): number {
    return alignFloats(numel(shape));
  }

  /** Rows of partials (rows, count) of their own, to be written by one kernel and summed by `add`. */
  take(shape: readonly [number, number], label: string): Tensor {
    const offset = this.used;
    this.used += RowSums.floats(shape);
    if (this.used > this.partials.shape[0]!) {
      throw new Error(`${this.label}: planner bug: partials ${label} [${shape}] overrun the ${this.partials.shape[0]} floats reserved`);
    }
    const t = viewTensor(this.partials, offset, shape, label);
    this.unqueued.add(t);
    return t;
  }

  /** A take whose sum is queued (add) before the next take of the buffer: the split-K weight
   *  gradients', which together may need more floats than the buffer holds. Where these partials do
   *  not fit behind those queued, `before` is the dispatch that sums those first (record it before the
   *  partials' writer), after which the buffer starts over. */
  takeInTurn(device: GPUDevice, shape: readonly [number, number], label: string): { partials: Tensor; before: Dispatch[] } {
    const full = this.used > 0 && this.used + RowSums.floats(shape) > this.partials.shape[0]!;
    const before = full ? this.dispatch(device) : [];
    return { partials: this.take(shape, label), before };
  }

  /** Queues out (and out2) += the sum of src's rows, in row order (reduce.wgsl sum_rows_table); src
   *  is a take. */
  add(src: Tensor, out: Tensor, out2?: Tensor): void {
    this.addColumns(src, 0, src.shape[1]!, out, out2);
  }

  /** Queues out (and out2) += the sum over src's rows of their `count` columns from `first` (a
   *  stacked convolution's share of partial copies that hold all of them). */
  addColumns(src: Tensor, first: number, count: number, out: Tensor, out2?: Tensor): void {
    const [rows, width] = src.shape as [number, number];
    expectShape(src, [rows, width], src.label);
    if (src.buffer !== this.partials.buffer) throw new Error(`${this.label}: ${src.label} is not a take of these row sums`);
    if (first < 0 || first + count > width) throw new Error(`${this.label}: columns ${first} to ${first + count} of ${src.label}, which has ${width}`);
    expectShape(out, [count - (out2 ? numel(out2.shape) : 0)], out.label);
    this.unqueued.delete(src);
    this.sums.push({ src, first, count, out, out2 });
  }

  /** The one dispatch of every queued sum (none when nothing was queued); every take must have been
   *  queued, since the buffer is free for new takes after it. */
  dispatch(device: GPUDevice): Dispatch[] {
    if (this.unqueued.size > 0) throw new Error(`${this.label}: planner bug: ${this.unqueued.size} partials taken but not queued for a sum`);
    if (this.sums.length === 0) return [];
    const outs = spanOf(this.sums.flatMap((e) => (e.out2 ? [e.out, e.out2] : [e.out])), `${this.label}.row_sum_outputs`);
    const table = new Uint32Array(this.sums.length * TABLE_WORDS);
    let k = 0;
    this.sums.forEach((e, i) => {
      const [rows, stride] = e.src.shape as [number, number];
      const out = outs.offsets[k++]!;
      const out2 = e.out2 ? outs.offsets[k++]! : 0;
      table.set([(e.src.offset - this.partials.offset) / 4 + e.first, rows, e.count, numel(e.out.shape), out, out2, stride], i * TABLE_WORDS);
    });
    const tableTensor = createTensorFrom(device, [table.length], new Float32Array(table.buffer), `${this.label}.row_sum_table`);
    const widest = Math.max(...this.sums.map((e) => e.count));
    const entries = this.sums.length;
    this.sums.length = 0;
    this.used = 0;
    return [makeDispatch(device, {
      shader, entry: 'sum_rows_table', label: `${this.label}.row_sums`,
      uniformStruct: 'TableParams',
      uniforms: { entries },
      tensors: [[this.partials, 'read'], [outs.span, 'write'], [tableTensor, 'read']],
      workgroups: [Math.ceil(widest / 256), entries, 1],
    })];
  }
}
