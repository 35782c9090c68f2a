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

/** The tile every GEMM takes unless gemmTile finds another pays. */
export const GEMM_DEFAULT_TILE: GemmTile = { rows: 64, cols: 64 };

/** Output columns of the default tile (the weight-gradient GEMM's always: FLAG_DB's rule counts on
 *  them) and the depth of one K slice (gemm.wgsl TK). */
export const GEMM_COLUMNS = 64;
export const GEMM_K_SLICE = 16;

/** The fewest workgroups a grid of 128-row tiles must keep for them to be chosen: several waves on
 *  the largest GPUs (132-144 SMs, 2-4 of these workgroups resident on each). Below it the 64-row
 *  tile's twice as many workgroups hide latency better than the larger tile's operand reuse pays. */
export const WIDE_TILE_MIN_WORKGROUPS = 1024;

/** Below this many 64 x 64 workgroups a GEMM takes 32 x 32 tiles: two per SM of a 132-SM GPU, the
 *  fewest that keep every SM busy while one waits on memory. Fewer (batch 1 and 8: 4 to 64) leave
 *  most SMs idle, each busy one running a whole 64 x 64 tile's K loop; the 32 x 32 tile's four times
 *  the workgroups divide that latency by up to four. An estimate from the grid arithmetic, not yet a
 *  measurement: `bench/gpu.sh` TILES times the tiles side by side on the next GPU. */
export const SMALL_TILE_MAX_WORKGROUPS = 264;

export interface GemmTileOptions {
  /** The GEMM keeps 64 columns (the weight gradient: its grid is filled by split-K, and FLAG_DB's
   *  column of ones needs room in the last column tile). */
  fullColumns?: boolean;
}

function workgroups(m: number, columnTiles: number, others: number, rows: number): number {
  return Math.ceil(m / rows) * columnTiles * others;
}

/** The tile for an M x N GEMM repeated over z (batch items or K slices). */
export function gemmTile(m: number, n: number, z: number, options: GemmTileOptions = {}): GemmTile {
  const columnTiles = Math.ceil(n / GEMM_COLUMNS);
  if (m >= 128 && workgroups(m, columnTiles, z, 128) >= WIDE_TILE_MIN_WORKGROUPS) return GEMM_TILES['128x64']!;
  if (!options.fullColumns && workgroups(m, columnTiles, z, 64) < SMALL_TILE_MAX_WORKGROUPS) return GEMM_TILES['32x32']!;
  return GEMM_DEFAULT_TILE;
}

const forcedTiles = new WeakMap<GPUDevice, GemmTile>();

/** Makes every GEMM planned on `device` from now on use `tile` (undefined: gemmTile again; a GEMM
 *  that keeps full columns takes the tile's rows only). For measuring and testing each tile on whole
 *  models (`ddim bench --gemm-tile`, the kernel tests); plans made before keep their tiles. */
export function forceGemmTile(device: GPUDevice, tile: GemmTile | undefined): void {
  if (tile === undefined) forcedTiles.delete(device);
  else forcedTiles.set(device, tile);
}

export interface GemmLaunch {
  constants: { ROWS: number; TN: number };
  workgroups: [number, number, number];
}

/** Pipeline constants and grid of an M x N GEMM repeated over z on `device`: the tile from gemmTile
 *  unless forceGemmTile set one; the matrix tier's backend tiles 64 x 64 only. */
export function gemmLaunch(device: GPUDevice, m: number, n: number, z: number, options: GemmTileOptions = {}): GemmLaunch {
  const forced = forcedTiles.get(device);
  let tile = forced ?? gemmTile(m, n, z, options);
  if (deviceTier(device).tier === 'matrix') tile = GEMM_DEFAULT_TILE;
  else if (options.fullColumns) tile = { rows: tile.rows, cols: GEMM_COLUMNS };
  return { constants: { ROWS: tile.rows, TN: tile.cols }, workgroups: [Math.ceil(n / tile.cols), Math.ceil(m / tile.rows), z] };
}
