// Helpers every kernel family shares. WGSL has no include: gpu/kernel.ts appends this file to each
// family's code when it builds the shader module (appended, so the line numbers of a compiler
// message about a family's own code stay true; at module scope WGSL does not care about order).
//
// Launches of more than 65535 workgroups are split over x and y (kernel.ts grid()); these give the
// workgroup's index in the flattened launch, and a thread's for `wg` threads per workgroup.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn thread_index(wid: vec3u, nwg: vec3u, wg: u32, li: u32) -> u32 {
  return workgroup_index(wid, nwg) * wg + li;
}

// The logistic function, numerically safe for any v: exp of a large argument is never formed (WGSL
// leaves overflow to infinity implementation-defined). SiLU is v * sigmoid(v) (linear, timestep).
fn sigmoid(v: f32) -> f32 {
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

// The sum (max) over a workgroup of 256 threads, in a fixed pairing, so the result does not depend
// on thread timing (loss, reduce, ideal). A workgroup array's size is part of its type and WGSL has no
// generics, so families with another workgroup size (attention, groupnorm: 64) keep their own.
var<workgroup> lanes256: array<f32, 256>;

fn workgroup_max256(li: u32, x: f32) -> f32 {
  lanes256[li] = x;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { lanes256[li] = max(lanes256[li], lanes256[li + s]); }
    workgroupBarrier();
  }
  let top = lanes256[0];
  workgroupBarrier(); // as below
  return top;
}

fn workgroup_sum256(li: u32, x: f32) -> f32 {
  lanes256[li] = x;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (li < s) { lanes256[li] += lanes256[li + s]; }
    workgroupBarrier();
  }
  let total = lanes256[0];
  workgroupBarrier(); // a second sum in the same kernel must not overwrite lanes256[0] before all have read it
  return total;
}
