// elementwise.wgsl — one-thread-per-element ops: in-place add.
//
// Shapes: n is the element count of the tensor the threads walk:
//   add_into         y += alpha x, same shape (residual and fan-out sums; alpha 1 there, the
//                    layered chain's coefficients otherwise); y = alpha x without FLAG_ACC (the
//                    first writer of a gradient)
// Nothing is saved. (SiLU is fused into groupnorm.wgsl and linear.wgsl; the UNet's skip concatenation
// is read in place by groupnorm.wgsl and conv2d.wgsl, never written out.)
//
// Launches are 1-D over ceil(n / 256) workgroups, split over x and y past 65535 (kernel.ts grid()).

struct Params {
  n: u32, flags: u32, alpha: f32,
}

const FLAG_ACC: u32 = 1u;
const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> P: Params;

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
