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

/** Output rows of a workgroup tile (gemm.wgsl ROWS): 64 (4x4 outputs per thread) or 128 (8x4). */
export type GemmRows = 64 | 128;

/** The row tile every GEMM takes unless gemmRows finds the larger one pays. */
export const GEMM_DEFAULT_ROWS: GemmRows = 64;

/** Output columns of a workgroup tile (gemm.wgsl TN) and the depth of one K slice (TK). */
export const GEMM_COLUMNS = 64;
export const GEMM_K_SLICE = 16;

/** The fewest workgroups a grid of 128-row tiles must keep for them to be chosen: several waves on
 *  the largest GPUs (132-144 SMs, 2-4 of these workgroups resident on each). Below it the 64-row
 *  tile's twice as many workgroups hide latency better than the larger tile's operand reuse pays. */
export const WIDE_TILE_MIN_WORKGROUPS = 1024;

/** The row tile for a GEMM with M rows whose grid has `others` workgroups per row of tiles (column
 *  tiles times batch or split slices). */
export function gemmRows(m: number, others: number): GemmRows {
  return m >= 128 && Math.ceil(m / 128) * others >= WIDE_TILE_MIN_WORKGROUPS ? 128 : GEMM_DEFAULT_ROWS;
}

const forcedRows = new WeakMap<GPUDevice, GemmRows>();

/** Makes every GEMM planned on `device` from now on use `rows` (undefined: gemmRows again). For
 *  measuring and testing each tile on whole models (`ddim bench --gemm-rows`, the kernel tests);
 *  plans made before keep their tiles. */
export function forceGemmRows(device: GPUDevice, rows: GemmRows | undefined): void {
  if (rows === undefined) forcedRows.delete(device);
  else forcedRows.set(device, rows);
}

export interface GemmLaunch {
  constants: { ROWS: GemmRows };
  workgroups: [number, number, number];
}

/** Pipeline constants and grid of an M x N GEMM repeated over z (batch items or K slices) on
 *  `device`: the row tile from gemmRows unless forceGemmRows set one. */
export function gemmLaunch(device: GPUDevice, m: number, n: number, z: number): GemmLaunch {
  const columnTiles = Math.ceil(n / GEMM_COLUMNS);
  // gemm_matrix.wgsl tiles 64 rows only.
  const matrix = deviceTier(device).tier === 'matrix';
  const rows = matrix ? GEMM_DEFAULT_ROWS : forcedRows.get(device) ?? gemmRows(m, columnTiles * z);
  return { constants: { ROWS: rows }, workgroups: [columnTiles, Math.ceil(m / rows), z] };
}
