// Every precision tier's variant of the GEMM families' modules (conv2d with its input as f32, as f16
// pairs and normalised as loaded) is valid WGSL, checked by a second compiler (naga, wgpu's): SwiftShader has no
// shader-f16, so Dawn cannot compile the f16 tier's module here; the fp32 and emulated variants also
// run on it (tests/gpu). The matrix tier's module
// (chromium_experimental_subgroup_matrix) only Tint knows, on an adapter with the feature: bench/gpu.sh.
import { validate, parseWgsl, NagaError } from 'naga-wasm';
import { describe, expect, it } from 'vitest';
import matmulCode from '../../shaders/matmul.wgsl?raw';
import { moduleCode, type KernelSource } from '../../src/gpu/kernel';
import { gemmLibrary, gemmOperandCode, type GemmOperands } from '../../src/kernels/gemm';
import { CONV2D_SOURCES } from '../../src/kernels/conv2d';

const FAMILIES: KernelSource[] = [CONV2D_SOURCES.f32, CONV2D_SOURCES.f16, CONV2D_SOURCES.normalised, { name: 'matmul', code: matmulCode, library: gemmLibrary }];

/** naga's report for `code`, or '' when it parses and validates. */
function nagaErrors(code: string): string {
  try {
    using module = parseWgsl(code);
    using _ = validate(module);
    return '';
  } catch (e) {
    return e instanceof NagaError ? e.formatted : String(e);
  }
}

describe('GEMM module variants per tier', () => {
  for (const operands of ['fp32', 'f16-emulated', 'f16'] as GemmOperands[]) {
    for (const shader of FAMILIES) {
      it(`${[shader.name, shader.declarations?.key].filter(Boolean).join('/')} with ${operands} operands validates`, () => {
        const code = moduleCode(shader, { key: operands, ...gemmOperandCode(operands) });
        expect(nagaErrors(code)).toBe('');
      });
    }
  }

  it('the check can fail: an f16 tile widened wrongly is reported', () => {
    const broken = { enables: 'enable f16;', declarations: 'alias GemmOperand = vec4h;\nfn gemm_operand(v: vec4f) -> vec4h { return v; }' };
    expect(nagaErrors(moduleCode(FAMILIES[3]!, { key: 'broken', ...broken }))).toMatch(/error/);
  });
});
