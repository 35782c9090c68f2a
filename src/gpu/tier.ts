// Precision tiers: which arithmetic the GEMMs (conv2d's three implicit GEMMs, matmul's attention
// products) use on a device. Decided once, when the device is acquired, from what the adapter offers
// and what the user asked for; every GEMM planned on the device then builds on that tier's variant of
// shaders/gemm.wgsl (src/kernels/gemm.ts). Tensors stay f32 in storage in every tier, but for the
// reduced tiers' f16 activations: those only their GEMMs read, which round them to f16 anyway
// (nn/unet.ts UNetOptions.halfActivations).
//
//   fp32             f32 operands, f32 accumulation. Every adapter. Bit for bit the engine before tiers.
//   f16              operands rounded to f16 as they are staged into workgroup memory (f16 tiles), f32
//                    accumulation. Needs `shader-f16`.
//   matrix           the subgroup-matrix builtins (tensor cores), f16 operands, f32 results. Needs
//                    `shader-f16`, `subgroups` and `chromium-experimental-subgroup-matrix` with an
//                    f16 x f16 -> f32 16x16x16 config, and subgroups of 32. Not yet run on a GPU.
//   matrix-emulated  the matrix tier's arithmetic in core WGSL: the same staged tiles, operands rounded
//                    to f16 through pack2x16float / unpack2x16float, f32 accumulation. Any adapter:
//                    how the suite checks the precision contract without a GPU.
// Nothing picks a reduced tier by itself: 'auto' is fp32 until a GPU run has matched the builtin and
// f16 backends against the emulated one (README, "Precision tiers").

export const TIERS = ['fp32', 'f16', 'matrix', 'matrix-emulated'] as const;
export type Tier = (typeof TIERS)[number];
export type PrecisionRequest = Tier | 'auto';

export function isTier(s: string): s is Tier {
  return (TIERS as readonly string[]).includes(s);
}

/** A precision as typed (`--precision`, `?precision=`): a tier or 'auto'; anything else names the choices. */
export function parsePrecision(s: string, where: string): PrecisionRequest {
  if (s === 'auto' || isTier(s)) return s;
  throw new Error(`${where}: unknown precision "${s}" (choose auto, ${TIERS.join(', ')})`);
}

/** A subgroup-matrix configuration as Dawn reports it (GPUAdapterInfo.subgroupMatrixConfigs). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/** What the tier choice reads from an adapter. */
export interface AdapterOffer {
  features: ReadonlySet<string>;
  subgroupMatrixConfigs: readonly SubgroupMatrixConfig[];
  /** The adapter in words, for the messages. */
  name: string;
  /** GPUAdapterInfo's subgroup sizes, where the adapter reports them. */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

/** The subgroup size shaders/gemm_matrix.wgsl is written for. */
const MATRIX_SUBGROUP = 32;

export interface TierChoice {
  tier: Tier;
  /** Features to request with the device for this tier. */
  features: GPUFeatureName[];
  /** The f16 x f16 -> f32 subgroup-matrix shapes the matrix tier may tile with (empty otherwise). */
  matrixConfigs: SubgroupMatrixConfig[];
}

const NEEDS: Record<Tier, readonly string[]> = {
  fp32: [],
  f16: ['shader-f16'],
  matrix: ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'],
  'matrix-emulated': [],
};

const HOW_TO_ENABLE =
  'in Node, `ddim --gpu-features unsafe` (or DDIM_GPU_FEATURES=unsafe) turns on Dawn\'s toggles for them; ' +
  'in Chrome, shader-f16 needs a supporting GPU and subgroup matrices need --enable-unsafe-webgpu';

/** The f16 operand, f32 result configurations: the only ones the matrix tier uses. */
export function f16MatrixConfigs(offer: AdapterOffer): SubgroupMatrixConfig[] {
  return offer.subgroupMatrixConfigs.filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32');
}

/**
 * The tier for `request` on an adapter offering `offer`. A tier the adapter cannot run is an error
 * naming the missing feature; 'auto' is fp32 (the reduced tiers are opt-in, see the header).
 */
export function chooseTier(request: PrecisionRequest, offer: AdapterOffer): TierChoice {
  const tier: Tier = request === 'auto' ? 'fp32' : request;
  const missing = NEEDS[tier].filter((f) => !offer.features.has(f));
  if (missing.length > 0) {
    throw new Error(`precision ${tier} needs the adapter feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which ${offer.name} does not offer (${HOW_TO_ENABLE}); precision matrix-emulated runs the matrix tier's arithmetic on any adapter`);
  }
  const matrixConfigs = tier === 'matrix' ? f16MatrixConfigs(offer) : [];
  if (tier === 'matrix' && !matrixConfigs.some((c) => c.M === 16 && c.N === 16 && c.K === 16)) {
    const have = offer.subgroupMatrixConfigs.map((c) => `${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`).join(', ') || 'none';
    throw new Error(`precision matrix needs an f16 x f16 -> f32 subgroup-matrix configuration of 16x16x16 (the shape its GEMM tiles with); ${offer.name} offers ${have}`);
  }
  if (tier === 'matrix' && !(offer.subgroupMinSize === MATRIX_SUBGROUP && offer.subgroupMaxSize === MATRIX_SUBGROUP)) {
    throw new Error(`precision matrix needs subgroups of exactly ${MATRIX_SUBGROUP} invocations (its GEMM gives each of 8 subgroups two blocks); ${offer.name} has ${offer.subgroupMinSize ?? '?'} to ${offer.subgroupMaxSize ?? '?'}`);
  }
  return { tier, features: [...NEEDS[tier]] as GPUFeatureName[], matrixConfigs };
}

const tiers = new WeakMap<GPUDevice, TierChoice>();

/** Records the tier a device was acquired with (gpu/device.ts); plans made on it read it from here. */
export function setDeviceTier(device: GPUDevice, choice: TierChoice): void {
  tiers.set(device, choice);
}

/** The tier of `device`: fp32 for a device acquired without one (tests that make their own). */
export function deviceTier(device: GPUDevice): TierChoice {
  return tiers.get(device) ?? { tier: 'fp32', features: [], matrixConfigs: [] };
}
