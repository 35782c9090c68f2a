// pixels.wgsl — model images to displayable pixels, on the GPU, so previews never read floats back.
//
//   to_rgba8  x (N, C, H, W) f32, values in [-1, 1], C = 3 (or 1: grey) -> out[offset ..] (N, H, W) u32, each
//             an RGBA8 pixel with red in the low byte (the byte order of ImageData on little-endian
//             hosts), alpha 255; byte = floor(clamp((v + 1) / 2, 0, 1) * 255 + 0.5), as ref/pixels.ts.
// Forward only (display); nothing is saved. One thread per pixel, 1-D over ceil(N*H*W / 256)
// workgroups, split over x and y past 65535 (kernel.ts grid()).

// offset (in pixels) lets one buffer hold many frames: the sampler's filmstrip on the GPU.
struct Params { pixels: u32, channels: u32, hw: u32, offset: u32 }

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn to_byte(v: f32) -> u32 {
  return u32(floor(clamp((v + 1.0) * 0.5, 0.0, 1.0) * 255.0 + 0.5));
}

@compute @workgroup_size(256)
fn to_rgba8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = thread_index(wid, nwg, WG, lid.x);
  if (i >= P.pixels) { return; }
  let n = i / P.hw;
  let p = i % P.hw;
  let base = n * P.channels * P.hw + p;
  let g_off = select(0u, P.hw, P.channels == 3u);
  let b_off = select(0u, 2u * P.hw, P.channels == 3u);
  out[P.offset + i] = to_byte(x[base]) | (to_byte(x[base + g_off]) << 8u) | (to_byte(x[base + b_off]) << 16u) | (255u << 24u);
}
