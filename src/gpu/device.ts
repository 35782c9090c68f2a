// Acquires a GPUDevice the same way in the browser (navigator.gpu) and in Node
// (the `webgpu` npm package, Dawn). Requests the adapter's own buffer limits:
// the defaults (128 MiB bindings) are too small for CIFAR-size models. The precision tier
// (gpu/tier.ts) is chosen here, once, and the features it needs are requested with the device.
import { chooseTier, setDeviceTier, type PrecisionRequest, type SubgroupMatrixConfig, type Tier } from './tier';

export interface DeviceOptions {
  /** Use the software adapter (SwiftShader) even where a hardware one exists. */
  forceFallbackAdapter?: boolean;
  powerPreference?: GPUPowerPreference;
  /** The precision tier (default 'auto': fp32). A tier the adapter cannot run is an error. */
  precision?: PrecisionRequest;
}

export interface AcquiredDevice {
  device: GPUDevice;
  /** Human-readable adapter description, e.g. "swiftshader (google)". */
  adapterName: string;
  /** The precision tier every GEMM planned on the device uses. */
  tier: Tier;
}

/** Limits worth raising to the adapter's maximum. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function acquireDevice(gpu: GPU | undefined, opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  if (!gpu) {
    throw new Error(
      'WebGPU is not available: navigator.gpu is missing. Use a browser with WebGPU enabled ' +
        '(Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu) on a secure context (https or localhost).',
    );
  }
  const adapter = await gpu.requestAdapter({
    forceFallbackAdapter: opts.forceFallbackAdapter ?? false,
    powerPreference: opts.powerPreference ?? 'high-performance',
  });
  if (!adapter) {
    throw new Error('WebGPU is present but no GPU adapter was found (requestAdapter returned null).');
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const info = adapter.info;
  const adapterName = [info.description || info.device || info.architecture || 'unknown adapter', info.vendor ? `(${info.vendor})` : '']
    .filter(Boolean)
    .join(' ');
  // Dawn lists the subgroup-matrix shapes on the adapter info; @webgpu/types does not declare them yet.
  const subgroupMatrixConfigs = (info as GPUAdapterInfo & { subgroupMatrixConfigs?: SubgroupMatrixConfig[] }).subgroupMatrixConfigs ?? [];
  const choice = chooseTier(opts.precision ?? 'auto', {
    features: adapter.features, subgroupMatrixConfigs, name: adapterName, subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize,
  });
  // Timestamps let `ddim bench --profile` time each kernel on the GPU; nothing else depends on them.
  const requiredFeatures: GPUFeatureName[] = [...choice.features];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ label: 'ddim-webgpu', requiredLimits, requiredFeatures });
  setDeviceTier(device, choice);
  return { device, adapterName, tier: choice.tier };
}
