// The GEMM microkernel (shaders/gemm.wgsl) the GEMM families build on, its backend per precision tier
// (gemm_tiles.wgsl with the tier's operands, or gemm_matrix.wgsl), and its tile shape per GEMM.
import code from '../../shaders/gemm.wgsl?raw';
import tilesCode from '../../shaders/gemm_tiles.wgsl?raw';
import matrixCode from '../../shaders/gemm_matrix.wgsl?raw';
import type { KernelLibrary } from '../gpu/kernel';
import { deviceTier, type Tier } from '../gpu/tier';

/** How a GEMM's operands are staged and multiplied: gemm_tiles.wgsl with f32, f16-rounded (in f32)
 *  or f16 tiles, or gemm_matrix.wgsl's subgroup matrices. */
export type GemmOperands = 'fp32' | 'f16-emulated' | 'f16' | 'matrix';

export function gemmOperands(tier: Tier): GemmOperands {
  return tier === 'matrix-emulated' ? 'f16-emulated' : tier;
}

/** gemm_tiles.wgsl with a tier's GemmOperand and gemm_operand. */
function tiles(operand: string, convert: string): string {
  return `${tilesCode}\nalias GemmOperand = ${operand};\nfn gemm_operand(v: vec4f) -> ${operand} { return ${convert}; }`;
}

/** Each backend's part of the module: its enables, and its code appended after gemm.wgsl. */
const BACKEND_CODE: Record<GemmOperands, { enables: string; declarations: string }> = {
  fp32: { enables: '', declarations: tiles('vec4f', 'v') },
  'f16-emulated': { enables: '', declarations: tiles('vec4f', 'f16_round4(v)') },
  f16: { enables: 'enable f16;', declarations: tiles('vec4h', 'vec4h(f16_round4(v))') },
  matrix: { enables: 'enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;', declarations: matrixCode },
};

/** Whether the device's GEMMs multiply f32 operands as they are (the fp32 tier), not rounded to f16. */
export function gemmOperandsExact(device: GPUDevice): boolean {
  return gemmOperands(deviceTier(device).tier) === 'fp32';
}

/** The backend's part of a module for `operands` (the naga check of every variant builds on it). */
export function gemmOperandCode(operands: GemmOperands): { enables: string; declarations: string } {
  return BACKEND_CODE[operands];
}

/** gemm.wgsl, a KernelSource's `library` for the families that use it (conv2d, matmul), in the
 *  variant of the device's tier. */
export const gemmLibrary: KernelLibrary = {
  code,
  variant(device) {
    const operands = gemmOperands(deviceTier(device).tier);
    return { key: operands === 'fp32' ? '' : operands, ...BACKEND_CODE[operands] };
  },
};

/** A workgroup's output tile (gemm.wgsl ROWS x TN): 64 x 64 (256 threads of 4x4 outputs), 128 x 64
 *  (8x4) or 32 x 32 (64 threads of 4x4). */
export interface GemmTile {
  rows: 32 | 64 | 128;
  cols: 32 | 64;
}

/** Every tile the microkernel can run, by name ("64x64"), for `ddim bench --gemm-tile` and the tests. */
export const GEMM_TILES: Readonly<Record<string, GemmTile>> = {
  '32x32': { rows: 32, cols: 32 },
  '64x64': { rows: 64, cols: 64 },
  '128x64': { rows: 128, cols: 64 },
};

/** The tile a dispatch takes unless gemmTile finds another pays. */
export const GEMM_DEFAULT_TILE: GemmTile = { rows: 64, cols: 64 };

/** The depth of one K slice (gemm.wgsl TK). */
export const GEMM_K_SLICE = 16;

/** Below this many 64 x 64 workgroups a dispatch takes 32 x 32 tiles: two per SM of a 132-SM GPU,
 *  the fewest that keep every SM busy while one waits on memory. Fewer (batch 1 and 8: 4 to 64 for a
 *  forward convolution) leave most SMs idle, each busy one running a whole 64 x 64 tile's K loop; the
 *  32 x 32 tile's four times the workgroups divide that latency by up to four. An estimate from the
 *  grid arithmetic, not yet a measurement: `bench/gpu.sh` TILES times the tiles side by side on the
 *  next GPU. */
export const SMALL_TILE_MAX_WORKGROUPS = 264;

/** One GEMM of a dispatch: M x N outputs, repeated z times (batch items or K slices). */
export interface GemmShape {
  m: number;
  n: number;
  z: number;
}

/** Workgroups of a dispatch running these GEMMs side by side on `tile`. */
export function gemmWorkgroups(gemms: readonly GemmShape[], tile: GemmTile): number {
  return gemms.reduce((sum, g) => sum + Math.ceil(g.m / tile.rows) * Math.ceil(g.n / tile.cols) * g.z, 0);
}

/** The tile for a dispatch of these GEMMs (one, or a convolution's two backward GEMMs side by side):
 *  32 x 32 where the 64 x 64 grid is below SMALL_TILE_MAX_WORKGROUPS, else 64 x 64.
 *  The 128 x 64 tile is never chosen: the one GPU measurement of a 128-row tile (an H200, small at
 *  batch 64, the kernel before this microkernel) ran at 0.78x of the 64-row tile, and no measurement
 *  has shown a shape where it wins. It stays runnable (`ddim bench --gemm-tile 128x64`, `bench/gpu.sh`
 *  TILES) so that a GPU can show one. */
export function gemmTile(gemms: readonly GemmShape[]): GemmTile {
  if (gemmWorkgroups(gemms, GEMM_DEFAULT_TILE) < SMALL_TILE_MAX_WORKGROUPS) return GEMM_TILES['32x32']!;
  return GEMM_DEFAULT_TILE;
}

const forcedTiles = new WeakMap<GPUDevice, GemmTile>();

/** Makes every GEMM planned on `device` from now on use `tile` (undefined: gemmTile again). For
 *  measuring and testing each tile on whole models (`ddim bench --gemm-tile`, the kernel tests);
 *  plans made before keep their tiles. */
export function forceGemmTile(device: GPUDevice, tile: GemmTile | undefined): void {
  if (tile === undefined) forcedTiles.delete(device);
  else forcedTiles.set(device, tile);
}

/** The tile of a dispatch of these GEMMs on `device`: gemmTile unless forceGemmTile set one; the
 *  matrix tier's backend tiles 64 x 64 only. */
export function gemmTileOn(device: GPUDevice, gemms: readonly GemmShape[]): GemmTile {
  if (deviceTier(device).tier === 'matrix') return GEMM_DEFAULT_TILE;
  return forcedTiles.get(device) ?? gemmTile(gemms);
}

/** The threads of a workgroup on `tile` (gemm.wgsl GEMM_THREADS): 256, or 64 for 32 x 32. */
export function gemmThreads(tile: GemmTile): number {
  return (tile.cols / 4) * (Math.min(tile.rows, 64) / 4);
}

/** A tile as the pipeline constants of gemm.wgsl. */
export function gemmConstants(tile: GemmTile): { ROWS: number; TN: number } {
  return { ROWS: tile.rows, TN: tile.cols };
}

export interface GemmLaunch {
  constants: { ROWS: number; TN: number };
  workgroups: [number, number, number];
}

/** Pipeline constants and grid (columns, rows, z) of one M x N GEMM repeated over z on `device`. */
export function gemmLaunch(device: GPUDevice, m: number, n: number, z: number): GemmLaunch {
  const tile = gemmTileOn(device, [{ m, n, z }]);
  return { constants: gemmConstants(tile), workgroups: [Math.ceil(n / tile.cols), Math.ceil(m / tile.rows), z] };
}
