// elementwise.wgsl — one-thread-per-element ops: channel concat and in-place add.
//
// Shapes (NCHW, row-major f32); n is the element count of the tensor the threads walk:
//   concat_forward   a (B, Ca, H, W), b (B, Cb, H, W) -> y (B, Ca+Cb, H, W), a's channels first
//                    (the UNet's torch.cat([h, skip], dim=1)):           y =
//   concat_backward  dy (B, Ca+Cb, H, W) -> da, db, split in one pass:   da, db = (+= with FLAG_ACC:
//                    the skip tensors fan out, so their gradients are sums)
//   add_into         y += alpha x, same shape (residual and fan-out sums; alpha 1 there, the
//                    layered chain's coefficients otherwise); y = alpha x without FLAG_ACC (the
//                    first writer of a gradient)
// Nothing is saved: concat needs only shapes. (SiLU is fused into groupnorm.wgsl and linear.wgsl.)
//
// Launches are 1-D over ceil(n / 256) workgroups, split over x and y past 65535 (kernel.ts grid()).

struct Params {
  n: u32, flags: u32,
  ca: u32, cb: u32, hw: u32,   // concat only
  alpha: f32,                  // add_into only
}

const FLAG_ACC: u32 = 1u;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> P: Params;

// ---- concat -------------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> cat_a: array<f32>;
@group(0) @binding(2) var<storage, read> cat_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> cat_y: array<f32>;

@compute @workgroup_size(WG)
fn concat_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let i = thread_index(wid, nwg, WG, lid.x);
  if (i >= P.n) { return; }
  let c_all = P.ca + P.cb;
  let s = i % P.hw;
  let c = (i / P.hw) % c_all;
  let b = i / (P.hw * c_all);
  if (c < P.ca) {
    cat_y[i] = cat_a[(b * P.ca + c) * P.hw + s];
  } else {
    cat_y[i] = cat_b[(b * P.cb + c - P.ca) * P.hw + s];
  }
}

@group(0) @binding(1) var<storage, read> catg_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> catg_da: array<f32>;
@group(0) @binding(3) var<storage, read_write> catg_db: array<f32>;

@compute @workgroup_size(WG)
fn concat_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  let i = thread_index(wid, nwg, WG, lid.x);
  if (i >= P.n) { return; }
  let c_all = P.ca + P.cb;
  let s = i % P.hw;
  let c = (i / P.hw) % c_all;
  let b = i / (P.hw * c_all);
  let g = catg_dy[i];
  let acc = (P.flags & FLAG_ACC) != 0u;
  if (c < P.ca) {
    let o = (b * P.ca + c) * P.hw + s;
    if (acc) { catg_da[o] += g; } else { catg_da[o] = g; }
  } else {
    let o = (b * P.cb + c - P.ca) * P.hw + s;
    if (acc) { catg_db[o] += g; } else { catg_db[o] = g; }
  }
}

// ---- add_into --------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> y_out: array<f32>;

@compute @workgroup_size(WG)
fn add_into(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = thread_index(wid, nwg, WG, lid.x);
  if (i >= P.n) { return; }
  let v = P.alpha * x_in[i];
  if ((P.flags & FLAG_ACC) != 0u) { y_out[i] += v; } else { y_out[i] = v; }
}
