// Per-kernel GPU time of a list of prepared dispatches (a forward pass, a training step), summed by
// kernel family: where the time of a step goes, and the GFLOP/s its GEMMs reach.
//
// With the adapter's `timestamp-query` feature each dispatch runs in a compute pass of its own with
// timestamps at its start and end (GPU time, ns). Without it (SwiftShader, some browsers) each
// dispatch is submitted alone and timed on the host to its completion: the shares are right to the
// extent that submit overhead is small next to the kernels (true on a CPU adapter), the speed is not
// the GPU's. Either way a pass per dispatch removes the overlap of neighbouring dispatches, so the
// sum is at least the time of the same dispatches in one pass.
import { recordDispatches, submitDispatches, type Dispatch } from './kernel';

export type ProfileClock = 'timestamp-query' | 'host (submit per dispatch)';

export interface FamilyTime {
  family: string;
  dispatches: number;
  ms: number;
  share: number;
  /** Floating-point operations per run, where the kernels know them (else 0). */
  flops: number;
  /** Achieved GFLOP/s over the family's kernels with known FLOPs (null when none). */
  gflops: number | null;
}

export interface Profile {
  clock: ProfileClock;
  /** Mean ms per run of the whole list, summed over dispatches. */
  totalMs: number;
  families: FamilyTime[];
}

/** Kernel families, first match wins (entry points as "shader.entry"). */
const FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/^conv2d\.forward$/, 'conv forward GEMM'],
  [/^conv2d\.backward$/, 'conv backward GEMMs'],
  [/^reduce\.sum_rows_table$/, 'split-reduction sums'],
  [/^groupnorm\./, 'groupnorm'],
  [/^(attention|matmul)\./, 'attention'],
  [/^(linear|timestep)\./, 'linear, time embedding'],
  [/^(adam|reduce)\./, 'optimizer (clip, Adam, EMA)'],
  [/^(elementwise|resample|rng|loss|diffusion|pixels)\./, 'elementwise, resample, loss'],
  [/^ideal\./, 'ideal denoiser'],
];

export function kernelFamily(kernel: string): string {
  for (const [re, name] of FAMILIES) if (re.test(kernel)) return name;
  return 'other';
}

const QUERIES_PER_SET = 4096;
const MAP_READ = 0x1;

/** Mean ms per dispatch over `iters` runs of the list, by GPU timestamps. */
async function timestampTimes(device: GPUDevice, dispatches: readonly Dispatch[], iters: number): Promise<Float64Array> {
  const per = QUERIES_PER_SET / 2;
  const sums = new Float64Array(dispatches.length);
  for (let start = 0; start < dispatches.length; start += per) {
    const chunk = dispatches.slice(start, start + per);
    const querySet = device.createQuerySet({ label: 'profile.queries', type: 'timestamp', count: 2 * chunk.length });
    const resolve = device.createBuffer({ label: 'profile.resolve', size: 16 * chunk.length, usage: 0x200 /* QUERY_RESOLVE */ | 0x4 /* COPY_SRC */ });
    const read = device.createBuffer({ label: 'profile.read', size: 16 * chunk.length, usage: MAP_READ | 0x8 /* COPY_DST */ });
    for (let it = 0; it < iters; it++) {
      const encoder = device.createCommandEncoder({ label: 'profile' });
      chunk.forEach((d, i) => {
        const pass = encoder.beginComputePass({ label: d.label, timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        recordDispatches(pass, [d]);
        pass.end();
      });
      encoder.resolveQuerySet(querySet, 0, 2 * chunk.length, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, read, 0, 16 * chunk.length);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(MAP_READ);
      const ns = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      for (let i = 0; i < chunk.length; i++) {
        const dt = ns[2 * i + 1]! - ns[2 * i]!;
        sums[start + i]! += dt > 0n ? Number(dt) / 1e6 : 0;
      }
    }
    querySet.destroy();
    resolve.destroy();
    read.destroy();
  }
  return sums.map((s) => s / iters);
}

/** Mean ms per dispatch over `iters` runs, each dispatch submitted alone and awaited. */
async function hostTimes(device: GPUDevice, dispatches: readonly Dispatch[], iters: number): Promise<Float64Array> {
  const sums = new Float64Array(dispatches.length);
  for (let it = 0; it < iters; it++) {
    for (let i = 0; i < dispatches.length; i++) {
      const d = dispatches[i]!;
      const t0 = performance.now();
      submitDispatches(device, [d], d.label);
      await device.queue.onSubmittedWorkDone();
      sums[i]! += performance.now() - t0;
    }
  }
  return sums.map((s) => s / iters);
}

/** Times every dispatch of the list (after one untimed run that warms caches) and sums by family. */
export async function profileDispatches(device: GPUDevice, dispatches: readonly Dispatch[], iters: number): Promise<Profile> {
  const clock: ProfileClock = device.features.has('timestamp-query') ? 'timestamp-query' : 'host (submit per dispatch)';
  const time = clock === 'timestamp-query' ? timestampTimes : hostTimes;
  await time(device, dispatches, 1);
  const ms = await time(device, dispatches, iters);
  const byFamily = new Map<string, { dispatches: number; ms: number; flops: number; flopMs: number }>();
  dispatches.forEach((d, i) => {
    const f = kernelFamily(d.kernel);
    const e = byFamily.get(f) ?? { dispatches: 0, ms: 0, flops: 0, flopMs: 0 };
    e.dispatches++;
    e.ms += ms[i]!;
    if (d.flops > 0) {
      e.flops += d.flops;
      e.flopMs += ms[i]!;
    }
    byFamily.set(f, e);
  });
  const totalMs = ms.reduce((a, b) => a + b, 0);
  const families = [...byFamily.entries()]
    .map(([family, e]) => ({
      family, dispatches: e.dispatches, ms: e.ms, share: totalMs > 0 ? e.ms / totalMs : 0, flops: e.flops,
      gflops: e.flops > 0 && e.flopMs > 0 ? e.flops / (e.flopMs * 1e6) : null,
    }))
    .sort((a, b) => b.ms - a.ms);
  return { clock, totalMs, families };
}

/** The profile as text lines: family, dispatches, ms, share, GFLOP/s. */
export function formatProfile(title: string, p: Profile): string[] {
  const lines = [`${title}: ${p.totalMs.toFixed(3)} ms summed over kernels (${p.clock})`, '  family                          kernels        ms   share   GFLOP/s'];
  for (const f of p.families) {
    lines.push(`  ${f.family.padEnd(30)}${String(f.dispatches).padStart(9)}${f.ms.toFixed(3).padStart(10)}${(100 * f.share).toFixed(1).padStart(7)}%${(f.gflops === null ? '-' : f.gflops.toFixed(1)).padStart(10)}`);
  }
  return lines;
}
