// ONNX Runtime Web's side of the benchmark: one InferenceSession per (model, batch) on the
// 'webgpu' execution provider, inputs created once as CPU tensors, outputs read back to the host
// (the default output location), so one session.run is: upload x and t, run, download eps.
// ORT is imported at run time from the URL bench/run.mjs serves (node_modules/onnxruntime-web/dist,
// untouched by Vite); only its types are imported statically.
import type * as OrtTypes from 'onnxruntime-web';
import { type BenchRequest } from './common';

export type Ort = typeof OrtTypes;

export async function loadOrt(req: BenchRequest): Promise<Ort> {
  const ort = (await import(/* @vite-ignore */ req.ortModuleUrl)) as Ort;
  // One wasm thread: the bench server sends no COOP/COEP headers, and the model's kernels run on WebGPU.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = req.ortWasmPrefix;
  ort.env.logLevel = 'warning';
  // The engine's acquireDevice asks for 'high-performance': ask the same, so that on a machine with
  // two GPUs both sides get the same adapter (the table warns when their adapter info differs).
  ort.env.webgpu.powerPreference = 'high-performance';
  return ort;
}

/** Adapter info of the device ORT created (after its first WebGPU session). */
export async function ortAdapterInfo(ort: Ort): Promise<string | null> {
  try {
    const device = (await ort.env.webgpu.device) as GPUDevice;
    const info = device.adapterInfo;
    return info ? describeAdapter(info) : null;
  } catch {
    return null;
  }
}

export function describeAdapter(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export interface GraphInfo {
  inputs: string[];
  outputs: string[];
  inputMetadata: unknown;
}

/** One ONNX model: its graph read once (through the CPU provider, which compiles nothing), then one session per batch. */
export class OrtModel {
  private constructor(
    private readonly ort: Ort,
    private readonly bytes: Uint8Array,
    private readonly what: string,
    private readonly x: OrtTypes.InferenceSession.TensorValueMetadata,
    private readonly t: OrtTypes.InferenceSession.TensorValueMetadata,
    private readonly output: string,
    readonly graph: GraphInfo,
  ) {}

  /** The graph must take x [B,C,R,R] and t [B] (float32 or int64) and return one output, eps. */
  static async open(ort: Ort, bytes: Uint8Array, what: string): Promise<OrtModel> {
    const probe = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const graph: GraphInfo = { inputs: [...probe.inputNames], outputs: [...probe.outputNames], inputMetadata: probe.inputMetadata };
    const meta = new Map(probe.inputMetadata.map((m) => [m.name, m]));
    await probe.release();
    const x = meta.get('x');
    const t = meta.get('t');
    if (!x?.isTensor || !t?.isTensor || graph.outputs.length !== 1) {
      throw new Error(`${what}: expected tensor inputs x and t and one output, the graph has inputs [${graph.inputs}] and outputs [${graph.outputs}]`);
    }
    if (t.type !== 'float32' && t.type !== 'int64') throw new Error(`${what}: input t has dtype ${t.type}; the bench feeds float32 or int64`);
    return new OrtModel(ort, bytes, what, x, t, graph.outputs[0]!, graph);
  }

  /** A session for x of `xShape` (B, C, R, R). A dynamic (named) batch dimension is pinned with
   *  freeDimensionOverrides; a fixed one must equal B. */
  async plan(xShape: readonly number[], x: Float32Array, t: Float32Array): Promise<OrtForward> {
    const batch = xShape[0]!;
    const ort = this.ort;
    const bdim = this.x.shape[0];
    const overrides: Record<string, number> = {};
    if (typeof bdim === 'string') overrides[bdim] = batch;
    else if (bdim !== batch) throw new Error(`${this.what}: the ONNX batch dimension is fixed at ${bdim}; batch ${batch} cannot run`);
    const session = await ort.InferenceSession.create(this.bytes, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      freeDimensionOverrides: overrides,
    });
    const feeds = {
      x: new ort.Tensor('float32', x, [...xShape]),
      t: this.t.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(t, (v) => BigInt(v)), [batch]) : new ort.Tensor('float32', t, [batch]),
    };
    return new OrtForward(session, feeds, this.output);
  }
}

export class OrtForward {
  constructor(
    private readonly session: OrtTypes.InferenceSession,
    private readonly feeds: Record<string, OrtTypes.Tensor>,
    private readonly output: string,
  ) {}

  /** One session.run: inputs uploaded, forward, eps downloaded. */
  async run(): Promise<Float32Array> {
    const out = await this.session.run(this.feeds);
    const eps = out[this.output]!;
    if (eps.type !== 'float32') throw new Error(`ORT output ${this.output} has dtype ${eps.type}, expected float32`);
    return eps.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
