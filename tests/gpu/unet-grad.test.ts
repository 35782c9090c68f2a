// The UNet backward on WebGPU checked against central differences of its own forward: d(loss)/dx
// (what chains of UNets backpropagate through) and a parameter gradient, with dropout on.
import { describe, expect, it } from 'vitest';
import { submitDispatches, withErrorScopes } from '../../src/gpu/kernel';
import { readTensor, readTensors, upload } from '../../src/gpu/tensor';
import { parseConfig } from '../../src/nn/config';
import { UNet } from '../../src/nn/unet';
import { setRngState } from '../../src/kernels/rng';
import { randomTensor, useGpu } from './harness';

const gpu = useGpu();

const CONFIG = parseConfig({
  ch: 16, out_ch: 3, ch_mult: [1, 2], num_res_blocks: 1, attn_resolutions: [4], dropout: 0.2,
  in_channels: 3, resolution: 8, resamp_with_conv: true, norm_groups: 'auto',
});

describe('UNet backward on WebGPU', () => {
  it('matches central differences of the forward for d(loss)/dx and a weight, with dropout', async () => {
    const d = gpu.device;
    const B = 3;
    const net = new UNet(d, CONFIG, { batch: B, grad: true });
    // Deterministic, non-trivial weights: small uniform noise keeps every activation in range.
    const flat = randomTensor([net.layout.totalFloats], 11, 0.15).data;
    upload(d, net.params.flat, flat);
    setRngState(d, net.rngState!, 1234, 7);
    const x = randomTensor([B, 3, 8, 8], 12);
    upload(d, net.t, new Float32Array([5, 400, 999]));
    // loss = sum(eps * r): d(loss)/d(eps) = r.
    const r = randomTensor([B, 3, 8, 8], 13);
    upload(d, net.deps!, r.data);
    const loss = async (input: Float32Array) => {
      upload(d, net.x, input);
      submitDispatches(d, net.forward);
      const eps = await readTensor(d, net.eps);
      return eps.reduce((s, v, i) => s + v * r.data[i]!, 0);
    };
    upload(d, net.x, x.data);
    await withErrorScopes(d, 'unet forward+backward', () => {
      const encoder = d.createCommandEncoder();
      encoder.clearBuffer(net.grads!.flat.buffer);
      const pass = encoder.beginComputePass();
      net.encodeForward(pass);
      net.encodeBackward(pass);
      pass.end();
      d.queue.submit([encoder.finish()]);
    });
    const [dx, grads] = await readTensors(d, [net.dx!, net.grads!.flat]);

    // Directional derivative along a random u: (L(x + hu) - L(x - hu)) / 2h vs <dx, u>.
    const u = randomTensor(x.shape, 14);
    const h = 1e-2;
    const shifted = (s: number) => x.data.map((v, i) => v + s * h * u.data[i]!);
    const numeric = ((await loss(shifted(1))) - (await loss(shifted(-1)))) / (2 * h);
    const analytic = dx!.reduce((s, v, i) => s + v * u.data[i]!, 0);
    expect(Math.abs(numeric - analytic)).toBeLessThanOrEqual(1e-2 * Math.abs(analytic) + 1e-3);

    // One conv weight deep in the net, perturbed in place in the flat parameter buffer.
    const name = 'mid.block_1.conv1.weight';
    const at = net.layout.offsets.get(name)! + 17;
    const perturbed = async (delta: number) => {
      const p = flat.slice();
      p[at]! += delta;
      upload(d, net.params.flat, p);
      return loss(x.data);
    };
    const numericW = ((await perturbed(h)) - (await perturbed(-h))) / (2 * h);
    expect(Math.abs(numericW - grads![at]!)).toBeLessThanOrEqual(1e-2 * Math.abs(grads![at]!) + 1e-3);
  });

  it('sums the split-K weight gradients in several dispatches with the bits of one', async () => {
    const d = gpu.device;
    // 16 px at batch 2: the 16 px convolutions' weight gradients are split in two (512 pixels each)
    const config = { ...CONFIG, resolution: 16, attn_resolutions: [8] };
    const B = 2;
    // All partial copies in one buffer (one sum), or room for the largest alone (a sum per filling).
    const nets = [undefined, 1].map((floats) => new UNet(d, config, { batch: B, grad: true, dropout: false, splitSumsFloats: floats, label: floats ? 'one at a time' : 'all at once' }));
    const sums = nets.map((net) => net.backward.filter((k) => k.kernel === 'reduce.sum_rows_table').length);
    expect(sums[0], 'the split copies\' sum and the per-sample sums').toBe(2);
    expect(sums[1]).toBeGreaterThan(4);
    const params = randomTensor([nets[0]!.layout.totalFloats], 21, 0.15).data;
    const x = randomTensor([B, 3, 16, 16], 22).data, deps = randomTensor([B, 3, 16, 16], 23).data;
    const grads: Float32Array[] = [];
    for (const net of nets) {
      upload(d, net.params.flat, params);
      upload(d, net.x, x);
      upload(d, net.t, new Float32Array([3, 900]));
      upload(d, net.deps!, deps);
      await withErrorScopes(d, net.options.label!, () => submitDispatches(d, [...net.forward, ...net.backward]));
      grads.push(await readTensor(d, net.grads!.flat));
      net.destroy();
    }
    expect(new Uint32Array(grads[1]!.buffer)).toEqual(new Uint32Array(grads[0]!.buffer));
  });
});
