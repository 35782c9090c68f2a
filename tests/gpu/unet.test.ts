// The whole UNet forward on WebGPU vs the PyTorch goldens: eps and the module outputs act/*.
import { describe, expect, it } from 'vitest';
import { submitDispatches, withErrorScopes } from '../../src/gpu/kernel';
import { readTensors, upload } from '../../src/gpu/tensor';
import { getTensor } from '../../src/io/safetensors';
import { configFromMetadata } from '../../src/nn/config';
import { UNet } from '../../src/nn/unet';
import { silu } from '../../src/ref/activation';
import { loadReference } from '../unit/ref-helpers';
import { expectMaxAbs, useGpu } from './harness';

const gpu = useGpu();

// README: whole-UNet forward, max |got - ref| <= 1e-4 * max(1, max |ref|).
const UNET_TOL = 1e-4;

// Planned both ways (UNetOptions.normaliseOnLoad): the norm_out activation exists only where the
// GroupNorm outputs are written.
async function forwardAgainstGolden(weightsFile: string, goldenFile: string, normaliseOnLoad = true) {
  const d = gpu.device;
  const weights = loadReference(weightsFile);
  const golden = loadReference(goldenFile);
  const x = getTensor(golden, 'x');
  const net = new UNet(d, configFromMetadata(weights.metadata, weightsFile), { batch: x.shape[0]!, normaliseOnLoad });
  net.params.load(weights, weightsFile);
  upload(d, net.x, x.data);
  upload(d, net.t, getTensor(golden, 't').data);
  await withErrorScopes(d, 'unet forward', () => submitDispatches(d, net.forward, 'forward'));
  const actNames = [...golden.tensors.keys()].filter((n) => n.startsWith('act/')).map((n) => n.slice(4))
    .filter((n) => !(normaliseOnLoad && n === 'norm_out'));
  const tensors = [net.eps, ...actNames.map((n) => net.activations.get(n === 'norm_out' ? 'norm_out.silu' : n)!)];
  const [eps, ...acts] = await readTensors(d, tensors);
  expectMaxAbs(eps!, getTensor(golden, 'eps').data, UNET_TOL, `${goldenFile} eps`);
  actNames.forEach((n, i) => {
    // The engine fuses SiLU into norm_out; compare with SiLU applied to the reference's norm_out.
    const ref = n === 'norm_out' ? silu(getTensor(golden, `act/${n}`)).data : getTensor(golden, `act/${n}`).data;
    expectMaxAbs(acts[i]!, ref, UNET_TOL, `${goldenFile} act/${n}`);
  });
  return { net, golden };
}

describe('UNet forward on WebGPU', () => {
  it('reproduces unet-tiny: eps and every recorded activation', async () => {
    const { net, golden } = await forwardAgainstGolden('unet-tiny.safetensors', 'unet-tiny.forward.safetensors');
    const [temb] = await readTensors(gpu.device, [net.activations.get('temb_sinusoid')!]);
    expectMaxAbs(temb!, getTensor(golden, 'temb_sinusoid').data, UNET_TOL, 'temb_sinusoid');
  });

  it('reproduces unet-tiny with its GroupNorm outputs written (norm_out among the activations)', async () => {
    const { net } = await forwardAgainstGolden('unet-tiny.safetensors', 'unet-tiny.forward.safetensors', false);
    expect(net.activations.has('norm_out.silu')).toBe(true);
  });

  it('reproduces the time-free layered variant (norm_groups auto, no temb)', async () => {
    await forwardAgainstGolden('unet-layered.safetensors', 'unet-layered.forward.safetensors');
  });

  it('refuses a plan whose tensor exceeds the adapter buffer limit, naming it', () => {
    const cfg = configFromMetadata(loadReference('unet-tiny.safetensors').metadata, 'w');
    const limit = Math.min(gpu.device.limits.maxBufferSize, gpu.device.limits.maxStorageBufferBindingSize);
    const batch = Math.ceil(limit / (32 * 16 * 16 * 4)) + 1; // conv_in's output alone exceeds the limit
    expect(() => new UNet(gpu.device, cfg, { batch })).toThrow(/unet\.conv_in: tensor \[\d+,32,16,16\] needs \d+ bytes, more than this adapter allows in one buffer/);
  });

  it('rejects weights with a wrong shape, naming the tensor and both shapes', () => {
    const weights = loadReference('unet-tiny.safetensors');
    const cfg = configFromMetadata(weights.metadata, 'w');
    const net = new UNet(gpu.device, { ...cfg, ch: 64 }, { batch: 1 });
    expect(() => net.params.load(weights, 'w.safetensors')).toThrow(/w\.safetensors: tensor "temb\.dense\.0\.weight" has shape \[128,32\], model expects \[256,64\]/);
  });
});
