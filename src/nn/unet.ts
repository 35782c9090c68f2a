// The DDPM/DDIM UNet (Ho et al. 2020; the ermongroup/ddim `Model`) planned onto WebGPU kernels.
//
// Planning happens once per (config, batch): every activation, saved statistic and gradient is
// allocated here, and every kernel call becomes a prepared Dispatch. A forward pass is then one
// replay of `forward` into a compute pass (no readback, no per-kernel submit); with `grad`, the
// backward pass is `backward`, replayed after the caller has written d(loss)/d(eps) into `deps`.
//
// Gradients follow llm.c's rule: parameter gradients accumulate (+=, the trainer zeroes them);
// activation gradients are assigned by their first writer and accumulated by the rest, which the
// planner tracks per tensor (a tensor that fans out, like a skip connection, gets several writers).
import { recordDispatches, type Dispatch } from '../gpu/kernel';
import { GpuOwner } from '../gpu/owner';
import { alignFloats, createTensor, numel, reshape, viewTensor, type Tensor, type TensorStorage } from '../gpu/tensor';
import { attentionBackward, attentionForward, attentionFusesProjection } from '../kernels/attention';
import { conv2dBackward, conv2dBiasInGemm, conv2dBiasPartialsShape, conv2dForward, conv2dNormalisesOnLoad, convInputShape, splitSumsFloats, weightGradSplit, type ConvInputNorm, type WeightGradSplit } from '../kernels/conv2d';
import { groupNormBackward, groupNormForward, groupNormPartialsShape, groupNormStatistics, groupNormStoresF16 } from '../kernels/groupnorm';
import { gemmOperandsExact } from '../kernels/gemm';
import { RowSums } from '../kernels/reduce';
import { linearBackward, linearForward, linearLayersBackward, linearLayersForward } from '../kernels/linear';
import { avgPoolBackward, avgPoolForward, upsampleBackward, upsampleForward } from '../kernels/resample';
import { createRngState, dropoutBackward, dropoutForward } from '../kernels/rng';
import { fusesTimeEmbeddingMlp, timeEmbeddingMlp, timestepEmbedding } from '../kernels/timestep';
import { CONV1X1, CONV3X3, DOWNSAMPLE3X3, type ConvGeometry } from '../host/layers';
import { normGroups } from '../host/layers';
import { architecture, parameterSpecs, type Architecture, type ResBlockSpec } from './architecture';
import type { UNetConfig } from './config';
import { ParamStore, paramLayout, type ParamLayout } from './params';

export interface UNetOptions {
  batch: number;
  /** Plan the backward pass (parameter gradients and d(loss)/dx). */
  grad?: boolean;
  /** Apply dropout (training mode); defaults to `grad`. Needs config.dropout > 0 to matter. */
  dropout?: boolean;
  /** Use this tensor as the input x (B, C, H, W) instead of allocating one: chains of UNets. */
  input?: Tensor;
  /** Parameters to use (shared with another plan of the same config); allocated when absent. */
  params?: ParamStore;
  /** With grad: where parameter gradients accumulate; allocated when absent. */
  grads?: ParamStore;
  /** RNG state for dropout masks (seed, offset); created when dropout is on and none is given. */
  rngState?: Tensor;
  /** Store the activations that only convolutions read (the GroupNorm outputs where written, or the
   *  dropout after one) as f16 pairs: half their bytes, written and read. Default: in the reduced precision tiers,
   *  whose GEMMs round every operand to f16 as they stage it, so the results keep their bits; the fp32
   *  tier stores f32 (an f16 activation there would round what its GEMMs use exactly). */
  halfActivations?: boolean;
  /** Normalise the GroupNorm outputs that convolutions read inside those convolutions, as they load
   *  them (kernels/conv2d.ts ConvInputNorm): the GroupNorm dispatch computes its statistics alone and
   *  its output is never written, in the forward nor kept for the backward (whose weight gradients
   *  normalise again as they gather). The same values either way. Default: where the adapter has the
   *  storage bindings for it (kernels/conv2d.ts conv2dNormalisesOnLoad); a GroupNorm followed by
   *  dropout writes its output regardless. */
  normaliseOnLoad?: boolean;
  /** With grad: the floats of the buffer that holds the split-K weight gradients' partial copies
   *  until a dispatch sums them (one per filling). Default: splitSumsFloats, room for all of them up
   *  to SPLIT_SCRATCH_BYTES; never less than the largest one takes. */
  splitSumsFloats?: number;
  label?: string;
}

/** Two tensors concatenated along channels, read in place by the kernels that consume them (the up
 *  path's skip concatenation: its GroupNorm and its ResBlock's shortcut), never written out. */
interface Concat {
  readonly a: Tensor;
  readonly b: Tensor;
  readonly shape: readonly number[];
}

/** A module input: a tensor, or a concatenation of two. */
type Input = Tensor | Concat;

function isConcat(x: ConvSource): x is Concat {
  return 'a' in x;
}

/** An input as the kernels take it: x, and x2 for a concatenation's second part. */
function parts(x: Input): { x: Tensor; x2?: Tensor } {
  return isConcat(x) ? { x: x.a, x2: x.b } : { x };
}

/** A GroupNorm's output never written out (UNetOptions.normaliseOnLoad): the convolutions that read
 *  it normalise `normalised` as they load it, with `norm`'s table. Its gradient is a tensor. */
interface Normalised {
  readonly normalised: Input;
  readonly norm: ConvInputNorm;
  readonly shape: readonly number[];
  readonly label: string;
}

/** What a convolution reads: a module input, or a GroupNorm's output normalised as it is loaded. */
type ConvSource = Input | Normalised;

function isNormalised(x: ConvSource): x is Normalised {
  return 'normalised' in x;
}

/** A convolution's input as its kernels take it: x, x2 and the normalisation. */
function convParts(x: ConvSource): { x: Tensor; x2?: Tensor; norm?: ConvInputNorm } {
  return isNormalised(x) ? { ...parts(x.normalised), norm: x.norm } : parts(x);
}

/** What a convolution adds to its GEMM (conv2d.ts Conv2dForwardArgs) and its backward must undo. */
interface ConvExtras {
  /** Added per (sample, channel): the time-embedding projection. Its gradient (the per-(sample,
   *  channel) sums of dy) is made by the backward of the GroupNorm that alone reads this
   *  convolution's output (norm(..., planeSumsOf)), not by a dispatch here. */
  chan?: Tensor;
  /** Added in the forward's epilogue; its gradient is added by the GroupNorm that reads the same
   *  input (a Residual given to norm()). */
  residual?: Tensor;
  upsample?: boolean;
}

/** A block's identity shortcut out = x + f(x), where x also feeds the block's first GroupNorm: that
 *  GroupNorm's backward adds out's gradient into x's (no dispatch of its own). `out` is set once the
 *  block is planned. */
interface Residual {
  out?: Tensor;
}

/** Whatever has a gradient: a tensor, or a GroupNorm output that is not one. */
type Activation = Tensor | Normalised;

interface GradSlot {
  tensor: Tensor;
  written: boolean;
}

export class UNet {
  readonly layout: ParamLayout;
  readonly params: ParamStore;
  /** Input image (B, C, H, W) and per-sample timesteps (B): written by the caller. */
  readonly x: Tensor;
  readonly t: Tensor;
  /** Output noise prediction (B, out_ch, H, W). */
  readonly eps: Tensor;
  /** Module outputs by reference module name ("mid.attn_1"; "norm_out.silu", after the fused SiLU, only
   *  where the GroupNorm outputs are written: not with normaliseOnLoad). */
  readonly activations = new Map<string, Tensor>();
  readonly forward: Dispatch[] = [];
  readonly backward: Dispatch[] = [];
  /** With `grad`: gradients in the parameters' layout, d(loss)/d(eps) to fill, and d(loss)/dx. */
  readonly grads: ParamStore | null = null;
  readonly deps: Tensor | null = null;
  readonly dx: Tensor | null = null;
  readonly rngState: Tensor | null = null;
  /** Every buffer this plan allocated (parameters and gradients unless given), freed by destroy(). */
  readonly owner: GpuOwner;

  private readonly device: GPUDevice;
  private readonly label: string;
  private readonly dropoutOn: boolean;
  /** How the activations that only convolutions read are stored (UNetOptions.halfActivations). */
  private readonly convInputStorage: TensorStorage;
  private readonly backwardSteps: (() => void)[] = [];
  private readonly gradSlots = new Map<Activation, GradSlot>();
  private readonly normaliseOnLoad: boolean;
  private temb: Tensor | null = null;
  /** Every ResBlock's temb_proj output (B, cout), by block name: views of one tensor, one dispatch. */
  private readonly tembProj = new Map<string, Tensor>();
  private dropoutStream = 0;
  /** The split-K weight gradients' partial copies (RowSums.takeInTurn): the floats all of them and
   *  the largest take, counted while the forward is planned, size their buffer (splitSumsFloats). */
  private splitFloats = { all: 0, largest: 0 };
  private splitSums: RowSums | null = null;
  /** The per-(sample, channel) partials of every bias and GroupNorm gradient, summed in one dispatch
   *  at the backward's end: the floats they take, counted while the forward is planned. */
  private rowSumFloats = 0;
  private rowSums: RowSums | null = null;

  constructor(device: GPUDevice, readonly config: UNetConfig, readonly options: UNetOptions) {
    this.device = device;
    this.label = options.label ?? 'unet';
    this.owner = new GpuOwner(this.label);
    const scope = this.owner.open();
    try {
      const B = options.batch;
      const { in_channels: C, resolution: R } = config;
      if (!Number.isInteger(B) || B < 1) throw new Error(`${this.label}: batch must be a positive integer, got ${B}`);
      this.layout = paramLayout(parameterSpecs(config));
      this.params = options.params ?? new ParamStore(device, this.layout, `${this.label}.params`);
      const wantGrad = options.grad ?? false;
      this.dropoutOn = (options.dropout ?? wantGrad) && config.dropout > 0;
      this.convInputStorage = (options.halfActivations ?? !gemmOperandsExact(device)) ? 'f16' : 'f32';
      this.normaliseOnLoad = options.normaliseOnLoad ?? conv2dNormalisesOnLoad(device);
      if (this.dropoutOn) this.rngState = options.rngState ?? createRngState(device, `${this.label}.rng`);
      this.x = options.input ?? this.act([B, C, R, R], 'x');
      this.t = createTensor(device, [B], `${this.label}.t`);
      this.eps = this.build();
      if (wantGrad) {
        this.grads = options.grads ?? new ParamStore(device, this.layout, `${this.label}.grads`);
        if (this.splitFloats.all > 0) {
          const { all, largest } = this.splitFloats;
          const floats = Math.max(largest, options.splitSumsFloats ?? splitSumsFloats(all, largest, device.limits));
          this.splitSums = new RowSums(device, floats, `${this.label}.split_sums`);
        }
        this.rowSums = new RowSums(device, this.rowSumFloats, this.label);
        this.deps = this.grad(this.eps);
        this.gradSlots.get(this.eps)!.written = true;
        for (const step of this.backwardSteps.reverse()) step();
        this.backward.push(...(this.splitSums?.dispatch(device) ?? []), ...this.rowSums.dispatch(device));
        this.dx = this.grad(this.x);
      }
      scope.keep();
    } finally {
      scope.close();
    }
  }

  /** Frees every GPU buffer of this plan (not parameters or gradients it was given). */
  destroy(): void {
    this.owner.destroy();
  }

  /** Records the forward pass into an open compute pass. */
  encodeForward(pass: GPUComputePassEncoder): void {
    recordDispatches(pass, this.forward);
  }

  encodeBackward(pass: GPUComputePassEncoder): void {
    if (!this.grads) throw new Error(`${this.label}: planned without grad; no backward pass`);
    recordDispatches(pass, this.backward);
  }

  // ---- planning helpers -------------------------------------------------------------------------

  private act(shape: readonly number[], name: string, storage: TensorStorage = 'f32'): Tensor {
    return createTensor(this.device, shape, `${this.label}.${name}`, storage);
  }

  private p(name: string): Tensor {
    return this.params.get(name);
  }

  private g(name: string): Tensor {
    return this.grads!.get(name);
  }

  /** The gradient tensor of activation `t` (allocated on first use). */
  private grad(t: Activation): Tensor {
    let slot = this.gradSlots.get(t);
    if (!slot) {
      slot = { tensor: this.act(t.shape, `d(${t.label.slice(this.label.length + 1)})`), written: false };
      this.gradSlots.set(t, slot);
    }
    return slot.tensor;
  }

  /** Whether the next write into grad(t) must accumulate; marks it written. */
  private acc(t: Activation): boolean {
    this.grad(t);
    const slot = this.gradSlots.get(t)!;
    const was = slot.written;
    slot.written = true;
    return was;
  }

  /** Makes `tensor` the gradient of activation t, written by an assigning kernel (before any other writer). */
  private gradAt(t: Tensor, tensor: Tensor): Tensor {
    if (this.gradSlots.has(t)) throw new Error(`${this.label}: planner bug: the gradient of ${t.label} exists before it is placed`);
    this.gradSlots.set(t, { tensor, written: true });
    return tensor;
  }

  /** Records that a weight gradient split as `split` will take its partial copies from splitSums. */
  private needSplitSums(split: WeightGradSplit): void {
    if (!this.options.grad || split.splits === 1) return;
    const floats = alignFloats(split.scratchFloats);
    this.splitFloats = { all: this.splitFloats.all + floats, largest: Math.max(this.splitFloats.largest, floats) };
  }

  /** Records that the backward will take partials of `shape` from the row sums. */
  private needRowSums(shape: readonly number[]): void {
    if (this.options.grad) this.rowSumFloats += RowSums.floats(shape);
  }

  private onBackward(step: () => void): void {
    this.backwardSteps.push(step);
  }

  /** The output shape of a convolution of x (with `upsample`, of x's nearest 2x upsampling). */
  private convOutShape(x: ConvSource, cout: number, g: ConvGeometry, upsample?: boolean): number[] {
    const [B, , H, W] = convInputShape(x.shape, upsample) as [number, number, number, number];
    const k = g === CONV1X1 ? 1 : 3;
    return [B, cout, (H + g.pad[0] + g.pad[2] - k) / g.stride + 1, (W + g.pad[1] + g.pad[3] - k) / g.stride + 1];
  }

  /** A convolution of x (with `upsample`, of x's nearest 2x upsampling, never written out); with
   *  `shortcut`, plus the 1x1 convolution `shortcut.name` of shortcut.x in the same GEMM. */
  private conv(x: Tensor | Normalised, name: string, cout: number, g: ConvGeometry, extra: ConvExtras & { shortcut?: { x: Input; name: string } } = {}): Tensor {
    const { shortcut, ...own } = extra;
    const y = this.act(this.convOutShape(x, cout, g, extra.upsample), name);
    const sc = shortcut && { ...parts(shortcut.x), w: this.p(`${shortcut.name}.weight`), bias: this.p(`${shortcut.name}.bias`) };
    this.forward.push(conv2dForward(this.device, { ...convParts(x), w: this.p(`${name}.weight`), bias: this.p(`${name}.bias`), ...own, shortcut: sc, y, geometry: g, label: name }));
    this.convGrad(x, name, y, g, own);
    if (shortcut) this.convGrad(shortcut.x, shortcut.name, y, CONV1X1);
    return y;
  }

  /** Plans the backward of convolution `name` of x into y, whichever forward dispatch computed it
   *  (its own, or a GEMM it shares: the forward saves nothing the backward needs). */
  private convGrad(x: ConvSource, name: string, y: Tensor, g: ConvGeometry, extra: ConvExtras = {}): void {
    const xs = convInputShape(x.shape, extra.upsample);
    const w = this.p(`${name}.weight`);
    const split = weightGradSplit(xs, w.shape, g, this.device.limits);
    this.needSplitSums(split);
    // Rows for the per-sample sums of dy: chan's gradient (taken by the GroupNorm that reads y), or
    // the bias gradient's first stage where it is not in the GEMM.
    if (extra.chan || !conv2dBiasInGemm(this.device, xs, w.shape, g, split, true)) this.needRowSums(conv2dBiasPartialsShape(xs, w.shape));
    this.onBackward(() => {
      const dy = this.grad(y);
      // With upsample, the gradient wrt the upsampled input, summed over each 2x2 block into x's after.
      let du: Tensor | undefined;
      let downsum: Dispatch | undefined;
      if (extra.upsample) {
        if (isConcat(x)) throw new Error(`${this.label}: planner bug: ${name} upsamples a concatenation`);
        du = this.act(xs, `d(${name}.nearest)`);
        downsum = upsampleBackward(this.device, { dy: du, dx: this.grad(x), accumulate: this.acc(x), label: name });
      }
      // The time-embedding add's gradient is the per-(sample, channel) sum of dy, the bias gradient's
      // first stage too: a take of the row sums (it lives until they are summed at the end), made by
      // the backward of the GroupNorm that reads y.
      const dchan = extra.chan && this.gradSlots.get(extra.chan)?.tensor;
      if (extra.chan && !dchan) throw new Error(`${this.label}: planner bug: ${name}'s chan gradient was not made by its GroupNorm`);
      this.backward.push(...conv2dBackward(this.device, {
        ...convParts(x), w, dy, geometry: g, upsample: extra.upsample, label: name,
        input: du ? { dx: du, accumulate: false } : this.inputGrads(x),
        params: { dw: this.g(`${name}.weight`), db: this.g(`${name}.bias`), dbPartials: dchan, rowSums: this.rowSums!, split, splitSums: this.splitSums ?? undefined },
      }));
      if (downsum) this.backward.push(downsum);
    });
  }

  /** GroupNorm (then SiLU) of x; with `residual`, its backward also adds the gradient of the block
   *  output into x's; with `planeSumsOf` (the chan added into x by the convolution that made it,
   *  whose output only this GroupNorm reads), it also makes chan's gradient: x's gradient summed per
   *  (sample, channel). Its output is read by convolutions alone, or with `toDropout` by a dropout
   *  (whose output is then the convolution's input): normalised as they load it (normaliseOnLoad), or
   *  stored (as convInputStorage; for a dropout, f32). */
  private norm(x: Input, name: string, silu: boolean, residual?: Residual, planeSumsOf?: Tensor, toDropout = false): Tensor | Normalised {
    const [B, C] = x.shape as [number, number];
    const groups = normGroups(C, this.config.norm_groups);
    const outName = `${name}${silu ? '.silu' : ''}`;
    const stats = this.act([2, B, groups], `${name}.stats`);
    const args = { ...parts(x), w: this.p(`${name}.weight`), b: this.p(`${name}.bias`), stats, groups, silu, label: name };
    let y: Tensor | Normalised;
    if (this.normaliseOnLoad) {
      const table = this.act([B, C, 4], `${name}.table`);
      this.forward.push(groupNormStatistics(this.device, { ...args, table }));
      y = { normalised: x, norm: { table, silu }, shape: x.shape, label: `${this.label}.${outName}` };
    } else {
      const half = !toDropout && this.convInputStorage === 'f16' && groupNormStoresF16(x.shape, groups);
      y = this.act(x.shape, outName, half ? 'f16' : 'f32');
      this.forward.push(groupNormForward(this.device, { ...args, y }));
    }
    this.needRowSums(groupNormPartialsShape(x.shape));
    this.onBackward(() => {
      if (residual && !residual.out) throw new Error(`${this.label}: planner bug: ${name}'s block has no output for its residual`);
      const planeSums = planeSumsOf && this.gradAt(planeSumsOf, this.rowSums!.take([B, C], `d(${name}.input planes)`));
      this.backward.push(groupNormBackward(this.device, {
        ...args, dy: this.grad(y), ...this.inputGrads(x), dw: this.g(`${name}.weight`), db: this.g(`${name}.bias`), rowSums: this.rowSums!,
        residualGrad: residual && this.grad(residual.out!), planeSums,
      }));
    });
    return y;
  }

  /** Where a kernel writes the gradient of input x (dx2: a concatenation's second part; a normalised
   *  input's is one tensor), and whether it accumulates there. */
  private inputGrads(x: ConvSource): { dx: Tensor; dx2?: Tensor; accumulate: boolean } {
    if (!isConcat(x)) return { dx: this.grad(x), accumulate: this.acc(x) };
    const accumulate = this.acc(x.a);
    if (this.acc(x.b) !== accumulate) throw new Error(`${this.label}: planner bug: the parts of a concatenation have different gradient states`);
    return { dx: this.grad(x.a), dx2: this.grad(x.b), accumulate };
  }

  private linear(x: Tensor, name: string, out: number, siluInput: boolean, inputGrad: boolean): Tensor {
    const y = this.act([x.shape[0]!, out], name);
    this.forward.push(linearForward(this.device, { x, w: this.p(`${name}.weight`), b: this.p(`${name}.bias`), y, siluInput, label: name }));
    this.linearGrad(x, name, y, siluInput, inputGrad);
    return y;
  }

  /** Plans the backward of the linear layer `name` (y = b + w a(x)), whatever dispatch ran its forward. */
  private linearGrad(x: Tensor, name: string, y: Tensor, siluInput: boolean, inputGrad: boolean): void {
    this.onBackward(() => {
      const dx = inputGrad ? { dx: this.grad(x), accumulateDx: this.acc(x) } : {};
      this.backward.push(...linearBackward(this.device, {
        x, w: this.p(`${name}.weight`), dy: this.grad(y), ...dx, dw: this.g(`${name}.weight`), db: this.g(`${name}.bias`), siluInput, label: name,
      }));
    });
  }

  /** Dropout of x (a GroupNorm's output, normalised as the dropout loads it where it is not written),
   *  read by a convolution alone (stored as convInputStorage where it holds whole words). */
  private dropout(x: Tensor | Normalised, name: string): Tensor | Normalised {
    if (!this.dropoutOn) return x;
    const y = this.act(x.shape, name, numel(x.shape) % 2 === 0 ? this.convInputStorage : 'f32');
    const a = { state: this.rngState!, stream: this.dropoutStream++, p: this.config.dropout, label: name };
    const source = convParts(x);
    if (source.x2) throw new Error(`${this.label}: planner bug: ${name} drops out of a concatenation's GroupNorm`);
    this.forward.push(dropoutForward(this.device, { ...a, x: source.x, norm: source.norm, y }));
    this.onBackward(() => {
      this.backward.push(dropoutBackward(this.device, { ...a, dy: this.grad(y), dx: this.grad(x), accumulate: this.acc(x) }));
    });
    return y;
  }

  // ---- modules ------------------------------------------------------------------------------------

  private resBlock(x: Input, s: ResBlockSpec): Tensor {
    const n = s.name;
    if (s.cin === s.cout && isConcat(x)) throw new Error(`${this.label}: planner bug: ${n} adds a concatenation as its residual`);
    const residual: Residual | undefined = s.cin === s.cout ? {} : undefined;
    const h1 = this.norm(x, `${n}.norm1`, true, residual);
    const chan = this.tembProj.get(n);
    const h2 = this.conv(h1, `${n}.conv1`, s.cout, CONV3X3, chan ? { chan } : {});
    // norm2 alone reads h2: its backward also sums h2's gradient per plane, the time embedding's.
    const h3 = this.dropout(this.norm(h2, `${n}.norm2`, true, undefined, chan, this.dropoutOn), `${n}.dropout`);
    // A nin_shortcut (channel counts differ) runs inside conv2's GEMM; else x is added in its epilogue.
    const extra = residual ? { residual: x as Tensor } : { shortcut: { x, name: `${n}.nin_shortcut` } };
    const out = this.conv(h3, `${n}.conv2`, s.cout, CONV3X3, extra);
    if (residual) residual.out = out;
    this.activations.set(n, out);
    return out;
  }

  private attnBlock(x: Tensor, name: string): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    const N = H * W;
    const residual: Residual = {};
    const hn = this.norm(x, `${name}.norm`, false, residual);
    const [q, k, v] = this.stackedConv1x1(hn, name, ['q', 'k', 'v'], C);
    const p = this.act([B, N, N], `${name}.softmax`);
    const a = this.act([B, C, H, W], `${name}.attended`);
    const flat = (t: Tensor) => reshape(t, [B, C, N]);
    // proj_out and the residual inside the attention's own dispatch where the rule allows, else a 1x1 conv
    const fuseProj = attentionFusesProjection(C, N);
    const out = fuseProj ? this.act(x.shape, `${name}.proj_out`) : null;
    const proj = out ? { w: this.p(`${name}.proj_out.weight`), bias: this.p(`${name}.proj_out.bias`), residual: flat(x), out: flat(out) } : undefined;
    this.forward.push(...attentionForward(this.device, { q: flat(q!), k: flat(k!), v: flat(v!), p, y: flat(a), proj, label: name }));
    this.onBackward(() => {
      const scratch = this.act([B, N, N], `${name}.dsoftmax`);
      // Stacked as q, k and v are: dq and dk are one GEMM dispatch, and the three convolutions' backward one more.
      const [dq, dk, dv] = this.stackedGrads([q!, k!, v!], `${name}.qkv`);
      this.backward.push(...attentionBackward(this.device, {
        q: flat(q!), k: flat(k!), v: flat(v!), p, dy: flat(this.grad(a)), dq: flat(dq!), dk: flat(dk!), dv: flat(dv!), scratch, label: name,
      }));
    });
    let y: Tensor;
    if (out) {
      this.convGrad(a, `${name}.proj_out`, out, CONV1X1, { residual: x });
      y = out;
    } else {
      y = this.conv(a, `${name}.proj_out`, C, CONV1X1, { residual: x });
    }
    residual.out = y;
    this.activations.set(name, y);
    return y;
  }

  /** The 1x1 convolutions `name.part` of x in one GEMM, their outputs views of one tensor. */
  private stackedConv1x1(x: Tensor | Normalised, name: string, parts: readonly string[], cout: number): Tensor[] {
    const shape = this.convOutShape(x, cout, CONV1X1);
    const slot = alignFloats(shape.reduce((a, b) => a * b, 1));
    const all = this.act([parts.length * slot], `${name}.${parts.join('')}`);
    const convs = parts.map((p, i) => ({
      name: `${name}.${p}`, w: this.p(`${name}.${p}.weight`), bias: this.p(`${name}.${p}.bias`), y: viewTensor(all, i * slot, shape, `${this.label}.${name}.${p}`),
    }));
    const [first, ...rest] = convs as [typeof convs[0], ...typeof convs];
    this.forward.push(conv2dForward(this.device, { ...convParts(x), ...first, stacked: rest, geometry: CONV1X1, label: `${name}.${parts.join('')}` }));
    // One backward dispatch for all of them (their output gradients stacked as the outputs are): a
    // weight gradient of G Co rows, split and with its biases as one convolution of that shape.
    const stackedW = [convs.length * cout, ...first.w.shape.slice(1)];
    const split = weightGradSplit(x.shape, stackedW, CONV1X1, this.device.limits);
    this.needSplitSums(split);
    if (!conv2dBiasInGemm(this.device, x.shape, stackedW, CONV1X1, split, true)) convs.forEach(() => this.needRowSums(conv2dBiasPartialsShape(x.shape, first.w.shape)));
    this.onBackward(() => {
      const grads = (c: typeof first) => ({ dw: this.g(`${c.name}.weight`), db: this.g(`${c.name}.bias`) });
      this.backward.push(...conv2dBackward(this.device, {
        ...convParts(x), w: first.w, dy: this.grad(first.y), geometry: CONV1X1, label: `${name}.${parts.join('')}`,
        input: this.inputGrads(x), params: { ...grads(first), split, splitSums: this.splitSums ?? undefined, rowSums: this.rowSums! },
        stacked: rest.map((c) => ({ w: c.w, dy: this.grad(c.y), ...grads(c) })),
      }));
    });
    return convs.map((c) => c.y);
  }

  /** The gradients of `ts`, views of one tensor at regular slots (stacked outputs), as views of one
   *  tensor at the same slots, each to be written by an assigning kernel. */
  private stackedGrads(ts: readonly Tensor[], name: string): Tensor[] {
    const slot = alignFloats(numel(ts[0]!.shape));
    const all = this.act([ts.length * slot], `d(${name})`);
    return ts.map((t, i) => this.gradAt(t, viewTensor(all, i * slot, t.shape, `${this.label}.d(${t.label.slice(this.label.length + 1)})`)));
  }

  private downsample(x: Tensor, name: string): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    let y: Tensor;
    if (this.config.resamp_with_conv) {
      y = this.conv(x, `${name}.conv`, C, DOWNSAMPLE3X3);
    } else {
      y = this.act([B, C, H / 2, W / 2], name);
      const out = y;
      this.forward.push(avgPoolForward(this.device, { x, y: out, label: name }));
      this.onBackward(() => this.backward.push(avgPoolBackward(this.device, { dy: this.grad(out), dx: this.grad(x), accumulate: this.acc(x), label: name })));
    }
    this.activations.set(name, y);
    return y;
  }

  private upsample(x: Tensor, name: string): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    let y: Tensor;
    if (this.config.resamp_with_conv) {
      // The conv reads x's nearest upsampling as it gathers: no dispatch, no tensor for it.
      y = this.conv(x, `${name}.conv`, C, CONV3X3, { upsample: true });
    } else {
      y = this.act([B, C, H * 2, W * 2], `${name}.nearest`);
      const out = y;
      this.forward.push(upsampleForward(this.device, { x, y: out, label: name }));
      this.onBackward(() => this.backward.push(upsampleBackward(this.device, { dy: this.grad(out), dx: this.grad(x), accumulate: this.acc(x), label: name })));
    }
    this.activations.set(name, y);
    return y;
  }

  /** a and b concatenated along channels: no dispatch, the consumers read both (Concat). */
  private concat(a: Tensor, b: Tensor): Concat {
    const [B, Ca, H, W] = a.shape as [number, number, number, number];
    return { a, b, shape: [B, Ca + b.shape[1]!, H, W] };
  }

  private timeEmbedding(arch: Architecture): void {
    if (!this.config.use_time_embed) return;
    const B = this.options.batch;
    const sinusoid = this.act([B, this.config.ch], 'temb_sinusoid');
    this.activations.set('temb_sinusoid', sinusoid);
    const t4 = this.config.ch * 4;
    if (fusesTimeEmbeddingMlp(this.config.ch, t4)) {
      // The embedding and both dense layers in one dispatch; the backward per layer, as unfused.
      const h = this.act([B, t4], 'temb.dense.0');
      this.temb = this.act([B, t4], 'temb.dense.1');
      const p = (name: string) => this.p(`temb.${name}`);
      this.forward.push(timeEmbeddingMlp(this.device, {
        t: this.t, y: sinusoid, w0: p('dense.0.weight'), b0: p('dense.0.bias'), w1: p('dense.1.weight'), b1: p('dense.1.bias'), h, temb: this.temb, label: 'temb',
      }));
      this.linearGrad(sinusoid, 'temb.dense.0', h, false, false);
      this.linearGrad(h, 'temb.dense.1', this.temb, true, true);
    } else {
      this.forward.push(timestepEmbedding(this.device, { t: this.t, y: sinusoid, label: 'temb_sinusoid' }));
      const h = this.linear(sinusoid, 'temb.dense.0', t4, false, false);
      this.temb = this.linear(h, 'temb.dense.1', t4, true, true);
    }
    // Every ResBlock's temb_proj reads silu(temb): all of them in one dispatch, each output an aligned
    // view of one tensor; the backward too (after every block's, which write the output gradients).
    const blocks = [...arch.down.flatMap((l) => l.blocks), arch.mid.block1, arch.mid.block2, ...arch.up.flatMap((l) => l.blocks)];
    const all = this.act([blocks.reduce((sum, b) => sum + alignFloats(B * b.cout), 0)], 'temb_proj');
    let offset = 0;
    const layers = blocks.map((b) => {
      const y = viewTensor(all, offset, [B, b.cout], `${this.label}.${b.name}.temb_proj`);
      offset += alignFloats(B * b.cout);
      this.tembProj.set(b.name, y);
      return { w: this.p(`${b.name}.temb_proj.weight`), b: this.p(`${b.name}.temb_proj.bias`), y };
    });
    this.forward.push(linearLayersForward(this.device, { x: this.temb, layers, siluInput: true, label: 'temb_proj' }));
    const temb = this.temb;
    this.onBackward(() => {
      // The blocks in backward order: d(temb) sums their terms as one dispatch per block would.
      const grads = blocks.map((b, i) => ({ w: layers[i]!.w, dy: this.grad(layers[i]!.y), dw: this.g(`${b.name}.temb_proj.weight`), db: this.g(`${b.name}.temb_proj.bias`) })).reverse();
      this.backward.push(...linearLayersBackward(this.device, { x: temb, layers: grads, dx: this.grad(temb), accumulateDx: this.acc(temb), siluInput: true, label: 'temb_proj' }));
    });
  }

  private build(): Tensor {
    const arch = architecture(this.config);
    this.timeEmbedding(arch);
    let h = this.conv(this.x, 'conv_in', this.config.ch, CONV3X3);
    this.activations.set('conv_in', h);
    const skips = [h];
    for (const level of arch.down) {
      level.blocks.forEach((b, j) => {
        h = this.resBlock(h, b);
        const attn = level.attn[j];
        if (attn) h = this.attnBlock(h, attn);
        skips.push(h);
      });
      if (level.resample) {
        h = this.downsample(h, level.resample);
        skips.push(h);
      }
    }
    h = this.resBlock(h, arch.mid.block1);
    h = this.attnBlock(h, arch.mid.attn);
    h = this.resBlock(h, arch.mid.block2);
    for (const level of arch.up) {
      level.blocks.forEach((b, j) => {
        h = this.resBlock(this.concat(h, skips.pop()!), b);
        const attn = level.attn[j];
        if (attn) h = this.attnBlock(h, attn);
      });
      if (level.resample) h = this.upsample(h, level.resample);
    }
    const hn = this.norm(h, 'norm_out', true);
    if (!isNormalised(hn)) this.activations.set('norm_out.silu', hn);
    return this.conv(hn, 'conv_out', this.config.out_ch, CONV3X3);
  }
}
