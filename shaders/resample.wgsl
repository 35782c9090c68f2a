// resample.wgsl — 2x resampling between UNet resolutions: nearest upsample and 2x2 average pool,
// forward and backward, as two gather kernels.
//
// Shapes (NCHW, row-major f32): the low-resolution side is (B, C, h, w), the high one (B, C, 2h, 2w).
//   expand2x2  one thread per high-res element:  out[b, c, Y, X]  = scale * src[b, c, Y/2, X/2]
//   reduce2x2  one thread per low-res element:   out[b, c, y, x]  = scale * sum of src's 2x2 block
// The four ops are these two with a scale:
//   upsample forward   expand2x2 scale 1     y  =
//   upsample backward  reduce2x2 scale 1     dx = (+= with FLAG_ACC)   each input fed a 2x2 block
//   avgpool forward    reduce2x2 scale 1/4   y  =
//   avgpool backward   expand2x2 scale 1/4   dx = (+= with FLAG_ACC)   each input is 1/4 of one output
// Forward saves nothing: both ops are linear, backward needs only shapes.
//
// Launches are 1-D over ceil(n / 256) workgroups, split over x and y past 65535 (kernel.ts grid()).

struct Params {
  n: u32,       // elements of out
  h: u32, w: u32,   // low-resolution height and width
  flags: u32,
  scale: f32,
}

const FLAG_ACC: u32 = 1u;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn store(i: u32, v: f32) {
  if ((P.flags & FLAG_ACC) != 0u) { out[i] += v; } else { out[i] = v; }
}

@compute @workgroup_size(WG)
fn expand2x2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let i = thread_index(wid, nwg, WG, lid.x);
  if (i >= P.n) { return; }
  let w2 = 2u * P.w;
  let big_x = i % w2;
  let big_y = (i / w2) % (2u * P.h);
  let nc = i / (w2 * 2u * P.h);
  store(i, P.scale * src[(nc * P.h + big_y / 2u) * P.w + big_x / 2u]);
}

@compute @workgroup_size(WG)
fn reduce2x2(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let i = thread_index(wid, nwg, WG, lid.x);
  if (i >= P.n) { return; }
  let x = i % P.w;
  let y = (i / P.w) % P.h;
  let nc = i / (P.w * P.h);
  let w2 = 2u * P.w;
  let top = (nc * 2u * P.h + 2u * y) * w2 + 2u * x;
  // Same summation order as the CPU reference.
  store(i, P.scale * (src[top] + src[top + 1u] + src[top + w2] + src[top + w2 + 1u]));
}
