// ===== embed/embed
// moec kernel embed/embed (forward of embed)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> ids: array<i32>;  // tokens
@group(0) @binding(1) var<storage, read> table: array<f32>;  // embed.weight
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // embedded

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 65536u) { return; }
  let t = i / 64u;
  let c = i % 64u;
  y[i] = table[u32(clamp(ids[t], 0, 255)) * 64u + c];
}

// ===== embed/embed_grad_table
// moec kernel embed/embed_grad_table (backward of embed)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> ids: array<i32>;  // tokens
@group(0) @binding(1) var<storage, read> d_y: array<f32>;  // grad/embedded
@group(0) @binding(2) var<storage, read_write> d_table: array<f32>;  // grad/embed.weight

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 16384u) { return; }
  let v = i32(i / 64u);
  let c = i % 64u;
  var sum = 0.0;
  for (var t = 0u; t < 1024u; t++) { if (ids[t] == v) { sum += d_y[t * 64u + c]; } }
  d_table[i] += sum;
}

// ===== norm, used by blocks.0.attn_norm/norm, blocks.0.ffn_norm/norm, blocks.1.attn_norm/norm, blocks.1.ffn_norm/norm, final_norm/norm
// moec kernel blocks.0.attn_norm/norm (forward of norm)
// kind=layer eps=0.00001
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> x: array<f32>;  // embedded
@group(0) @binding(1) var<storage, read> weight: array<f32>;  // blocks.0.attn_norm.weight
@group(0) @binding(2) var<storage, read> bias: array<f32>;  // blocks.0.attn_norm.bias
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // blocks.0.attn_norm.y
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;  // blocks.0.attn_norm/rstd
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;  // blocks.0.attn_norm/mean

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  let base = t * 64u;
  var mu = 0.0;
  for (var c = 0u; c < 64u; c++) { mu += x[base + c]; }
  mu = mu / 64.0;
  var v = 0.0;
  for (var c = 0u; c < 64u; c++) { let z = x[base + c] - mu; v += z * z; }
  let r = inverseSqrt(v / 64.0 + 0.000009999999747378752);
  mean[t] = mu;
  rstd[t] = r;
  for (var c = 0u; c < 64u; c++) { y[base + c] = (x[base + c] - mu) * r * weight[c] + bias[c]; }
}

// ===== norm_grad_input, used by blocks.0.attn_norm/norm_grad_input, blocks.0.ffn_norm/norm_grad_input, blocks.1.attn_norm/norm_grad_input, blocks.1.ffn_norm/norm_grad_input, final_norm/norm_grad_input
// moec kernel blocks.0.attn_norm/norm_grad_input (backward of norm)
// kind=layer eps=0.00001
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> x: array<f32>;  // embedded
@group(0) @binding(1) var<storage, read> weight: array<f32>;  // blocks.0.attn_norm.weight
@group(0) @binding(2) var<storage, read> rstd: array<f32>;  // blocks.0.attn_norm/rstd
@group(0) @binding(3) var<storage, read> mean: array<f32>;  // blocks.0.attn_norm/mean
@group(0) @binding(4) var<storage, read> d_y: array<f32>;  // grad/blocks.0.attn_norm.y
@group(0) @binding(5) var<storage, read_write> d_x: array<f32>;  // grad/embedded

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  let base = t * 64u;
  var mg = 0.0;
  var mgx = 0.0;
  for (var c = 0u; c < 64u; c++) {
    let g = d_y[base + c] * weight[c];
    mg += g;
    mgx += g * (x[base + c] - mean[t]) * rstd[t];
  }
  mg = mg / 64.0;
  mgx = mgx / 64.0;
  for (var c = 0u; c < 64u; c++) { let g = d_y[base + c] * weight[c]; d_x[base + c] += rstd[t] * (g - mg - (x[base + c] - mean[t]) * rstd[t] * mgx); }
}

// ===== norm_grad_params, used by blocks.0.attn_norm/norm_grad_params, blocks.0.ffn_norm/norm_grad_params, blocks.1.attn_norm/norm_grad_params, blocks.1.ffn_norm/norm_grad_params, final_norm/norm_grad_params
// moec kernel blocks.0.attn_norm/norm_grad_params (backward of norm)
// kind=layer eps=0.00001
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> x: array<f32>;  // embedded
@group(0) @binding(1) var<storage, read> rstd: array<f32>;  // blocks.0.attn_norm/rstd
@group(0) @binding(2) var<storage, read> mean: array<f32>;  // blocks.0.attn_norm/mean
@group(0) @binding(3) var<storage, read> d_y: array<f32>;  // grad/blocks.0.attn_norm.y
@group(0) @binding(4) var<storage, read_write> d_weight: array<f32>;  // grad/blocks.0.attn_norm.weight
@group(0) @binding(5) var<storage, read_write> d_bias: array<f32>;  // grad/blocks.0.attn_norm.bias

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 64u) { return; }
  let c = i;
  var gw = 0.0;
  var gb = 0.0;
  for (var t = 0u; t < 1024u; t++) {
    let at = t * 64u + c;
    gw += d_y[at] * (x[at] - mean[t]) * rstd[t];
    gb += d_y[at];
  }
  d_weight[c] += gw;
  d_bias[c] += gb;
}

// ===== matmul, used by blocks.0.attn.qkv/matmul, blocks.1.attn.qkv/matmul
// moec kernel blocks.0.attn.qkv/matmul (forward of linear)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;  // blocks.0.attn_norm.y
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // blocks.0.attn.qkv.weight
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;  // blocks.0.qkv

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 12288u) { return; }
  let grp = i / 12288u;
  let tile = i % 12288u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 48u) * 4u;
  let col0 = (tile % 48u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 191u);
  let c1 = min(col0 + 1u, 191u);
  let c2 = min(col0 + 2u, 191u);
  let c3 = min(col0 + 3u, 191u);
  var acc0: array<f32, 16>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = x[r0 * 16u + k4];
    let a1 = x[r1 * 16u + k4];
    let a2 = x[r2 * 16u + k4];
    let a3 = x[r3 * 16u + k4];
    let b0_0 = w[c0 * 16u + k4];
    let b0_1 = w[c1 * 16u + k4];
    let b0_2 = w[c2 * 16u + k4];
    let b0_3 = w[c3 * 16u + k4];
    acc0[0] = fma(a0.w, b0_0.w, fma(a0.z, b0_0.z, fma(a0.y, b0_0.y, fma(a0.x, b0_0.x, acc0[0]))));
    acc0[1] = fma(a0.w, b0_1.w, fma(a0.z, b0_1.z, fma(a0.y, b0_1.y, fma(a0.x, b0_1.x, acc0[1]))));
    acc0[2] = fma(a0.w, b0_2.w, fma(a0.z, b0_2.z, fma(a0.y, b0_2.y, fma(a0.x, b0_2.x, acc0[2]))));
    acc0[3] = fma(a0.w, b0_3.w, fma(a0.z, b0_3.z, fma(a0.y, b0_3.y, fma(a0.x, b0_3.x, acc0[3]))));
    acc0[4] = fma(a1.w, b0_0.w, fma(a1.z, b0_0.z, fma(a1.y, b0_0.y, fma(a1.x, b0_0.x, acc0[4]))));
    acc0[5] = fma(a1.w, b0_1.w, fma(a1.z, b0_1.z, fma(a1.y, b0_1.y, fma(a1.x, b0_1.x, acc0[5]))));
    acc0[6] = fma(a1.w, b0_2.w, fma(a1.z, b0_2.z, fma(a1.y, b0_2.y, fma(a1.x, b0_2.x, acc0[6]))));
    acc0[7] = fma(a1.w, b0_3.w, fma(a1.z, b0_3.z, fma(a1.y, b0_3.y, fma(a1.x, b0_3.x, acc0[7]))));
    acc0[8] = fma(a2.w, b0_0.w, fma(a2.z, b0_0.z, fma(a2.y, b0_0.y, fma(a2.x, b0_0.x, acc0[8]))));
    acc0[9] = fma(a2.w, b0_1.w, fma(a2.z, b0_1.z, fma(a2.y, b0_1.y, fma(a2.x, b0_1.x, acc0[9]))));
    acc0[10] = fma(a2.w, b0_2.w, fma(a2.z, b0_2.z, fma(a2.y, b0_2.y, fma(a2.x, b0_2.x, acc0[10]))));
    acc0[11] = fma(a2.w, b0_3.w, fma(a2.z, b0_3.z, fma(a2.y, b0_3.y, fma(a2.x, b0_3.x, acc0[11]))));
    acc0[12] = fma(a3.w, b0_0.w, fma(a3.z, b0_0.z, fma(a3.y, b0_0.y, fma(a3.x, b0_0.x, acc0[12]))));
    acc0[13] = fma(a3.w, b0_1.w, fma(a3.z, b0_1.z, fma(a3.y, b0_1.y, fma(a3.x, b0_1.x, acc0[13]))));
    acc0[14] = fma(a3.w, b0_2.w, fma(a3.z, b0_2.z, fma(a3.y, b0_2.y, fma(a3.x, b0_2.x, acc0[14]))));
    acc0[15] = fma(a3.w, b0_3.w, fma(a3.z, b0_3.z, fma(a3.y, b0_3.y, fma(a3.x, b0_3.x, acc0[15]))));
  }
  if (ok0 && col0 < 192u) {
    y[r0 * 48u + col0 / 4u] = vec4<f32>(acc0[0], acc0[1], acc0[2], acc0[3]);
  }
  if (ok1 && col0 < 192u) {
    y[r1 * 48u + col0 / 4u] = vec4<f32>(acc0[4], acc0[5], acc0[6], acc0[7]);
  }
  if (ok2 && col0 < 192u) {
    y[r2 * 48u + col0 / 4u] = vec4<f32>(acc0[8], acc0[9], acc0[10], acc0[11]);
  }
  if (ok3 && col0 < 192u) {
    y[r3 * 48u + col0 / 4u] = vec4<f32>(acc0[12], acc0[13], acc0[14], acc0[15]);
  }
}

// ===== matmul_grad_input, used by blocks.0.attn.qkv/matmul_grad_input, blocks.1.attn.qkv/matmul_grad_input
// moec kernel blocks.0.attn.qkv/matmul_grad_input (backward of linear)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> d_y: array<vec4<f32>>;  // grad/blocks.0.qkv
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // blocks.0.attn.qkv.weight
@group(0) @binding(2) var<storage, read_write> d_x: array<vec4<f32>>;  // grad/blocks.0.attn_norm.y

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 4096u;
  let tile = i % 4096u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k4 = 0u; k4 < 48u; k4++) {
    let a0 = d_y[r0 * 48u + k4];
    let a1 = d_y[r1 * 48u + k4];
    let a2 = d_y[r2 * 48u + k4];
    let a3 = d_y[r3 * 48u + k4];
    let b0_0_0 = w[(k4 * 4u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[0]), b0_0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[0]), b0_0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[0]), b0_0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[0]), b0_0_0, accv0[3]);
    let b0_0_1 = w[(k4 * 4u + 1u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[1]), b0_0_1, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[1]), b0_0_1, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[1]), b0_0_1, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[1]), b0_0_1, accv0[3]);
    let b0_0_2 = w[(k4 * 4u + 2u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[2]), b0_0_2, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[2]), b0_0_2, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[2]), b0_0_2, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[2]), b0_0_2, accv0[3]);
    let b0_0_3 = w[(k4 * 4u + 3u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[3]), b0_0_3, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[3]), b0_0_3, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[3]), b0_0_3, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[3]), b0_0_3, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_x[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_x[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_x[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_x[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== matmul_grad_weight, used by blocks.0.attn.qkv/matmul_grad_weight, blocks.1.attn.qkv/matmul_grad_weight
// moec kernel blocks.0.attn.qkv/matmul_grad_weight (backward of linear)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> d_y: array<vec4<f32>>;  // grad/blocks.0.qkv
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;  // blocks.0.attn_norm.y
@group(0) @binding(2) var<storage, read_write> d_w: array<vec4<f32>>;  // grad/blocks.0.attn.qkv.weight

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 768u) { return; }
  let grp = i / 768u;
  let tile = i % 768u;
  let row_begin = 0u;
  let row_end = 192u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k = 0u; k < 1024u; k++) {
    let a4_0 = d_y[k * 48u + row0 / 4u];
    let a0 = a4_0[0];
    let a1 = a4_0[1];
    let a2 = a4_0[2];
    let a3 = a4_0[3];
    let b0_0 = x[k * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0), b0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1), b0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2), b0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3), b0_0, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_w[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_w[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_w[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_w[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== rotary, used by blocks.0.rotary/rotary, blocks.1.rotary/rotary
// moec kernel blocks.0.rotary/rotary (forward of rotary)
// heads=4 seq=64 base=10000
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> x: array<f32>;  // blocks.0.qkv
@group(0) @binding(1) var<storage, read> cos_sin: array<f32>;  // blocks.0.rotary/cos_sin
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // blocks.0.qkv_rotary

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 196608u) { return; }
  let t = i / 192u;
  let col = i % 192u;
  if (col >= 128u) { y[i] = x[i]; return; }
  let c = col % 16u;
  let even = i - (c % 2u);
  let pair = (t % 64u) * 8u + c / 2u;
  let cs = cos_sin[pair * 2u];
  let sn = cos_sin[pair * 2u + 1u];
  let a = x[even];
  let b = x[even + 1u];
  y[i] = select(a * sn + b * cs, a * cs - b * sn, c % 2u == 0u);
}

// ===== rotary_backward, used by blocks.0.rotary/rotary_backward, blocks.1.rotary/rotary_backward
// moec kernel blocks.0.rotary/rotary_backward (backward of rotary)
// heads=4 seq=64 base=10000
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> d_y: array<f32>;  // grad/blocks.0.qkv_rotary
@group(0) @binding(1) var<storage, read> cos_sin: array<f32>;  // blocks.0.rotary/cos_sin
@group(0) @binding(2) var<storage, read_write> d_x: array<f32>;  // grad/blocks.0.qkv

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 196608u) { return; }
  let t = i / 192u;
  let col = i % 192u;
  if (col >= 128u) { d_x[i] += d_y[i]; return; }
  let c = col % 16u;
  let even = i - (c % 2u);
  let pair = (t % 64u) * 8u + c / 2u;
  let cs = cos_sin[pair * 2u];
  let sn = -cos_sin[pair * 2u + 1u];
  let a = d_y[even];
  let b = d_y[even + 1u];
  d_x[i] += select(a * sn + b * cs, a * cs - b * sn, c % 2u == 0u);
}

// ===== attention, used by blocks.0.attention/attention, blocks.1.attention/attention
// moec kernel blocks.0.attention/attention (forward of attention)
// batch=16 seq=64 heads=4
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> qkv: array<f32>;  // blocks.0.qkv_rotary
@group(0) @binding(1) var<storage, read_write> y: array<f32>;  // blocks.0.attn_heads
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;  // blocks.0.attention/lse

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let p = i % 64u;
  let bh = i / 64u;
  let b = bh / 4u;
  let h = bh % 4u;
  let base_t = b * 64u;
  let tq = base_t + p;
  var acc: array<f32, 16>;
  var m = -3.4e38;
  var l = 0.0;
  for (var j = 0u; j <= p; j++) {
    var s = 0.0;
    for (var c = 0u; c < 16u; c++) { s = fma(qkv[(tq) * 192u + h * 16u + c], qkv[(base_t + j) * 192u + 64u + h * 16u + c], s); }
    s = s * 0.25;
    let m_new = max(m, s);
    let correction = exp(m - m_new);
    let w = exp(s - m_new);
    l = l * correction + w;
    for (var c = 0u; c < 16u; c++) { acc[c] = acc[c] * correction + w * qkv[(base_t + j) * 192u + 128u + h * 16u + c]; }
    m = m_new;
  }
  for (var c = 0u; c < 16u; c++) { y[tq * 64u + h * 16u + c] = acc[c] / l; }
  lse[i] = m + log(l);
}

// ===== attention_grad_q, used by blocks.0.attention/attention_grad_q, blocks.1.attention/attention_grad_q
// moec kernel blocks.0.attention/attention_grad_q (backward of attention)
// batch=16 seq=64 heads=4
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> qkv: array<f32>;  // blocks.0.qkv_rotary
@group(0) @binding(1) var<storage, read> y: array<f32>;  // blocks.0.attn_heads
@group(0) @binding(2) var<storage, read> lse: array<f32>;  // blocks.0.attention/lse
@group(0) @binding(3) var<storage, read> d_y: array<f32>;  // grad/blocks.0.attn_heads
@group(0) @binding(4) var<storage, read_write> delta: array<f32>;  // blocks.0.attention/delta
@group(0) @binding(5) var<storage, read_write> d_qkv: array<f32>;  // grad/blocks.0.qkv_rotary

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let p = i % 64u;
  let bh = i / 64u;
  let b = bh / 4u;
  let h = bh % 4u;
  let base_t = b * 64u;
  let tq = base_t + p;
  var dlt = 0.0;
  for (var c = 0u; c < 16u; c++) { dlt = fma(d_y[(tq) * 64u + h * 16u + c], y[tq * 64u + h * 16u + c], dlt); }
  delta[i] = dlt;
  var dq: array<f32, 16>;
  for (var j = 0u; j <= p; j++) {
    var s = 0.0;
    for (var c = 0u; c < 16u; c++) { s = fma(qkv[(tq) * 192u + h * 16u + c], qkv[(base_t + j) * 192u + 64u + h * 16u + c], s); }
    s = s * 0.25;
    let prob = exp(s - lse[i]);
    var dp = 0.0;
    for (var c = 0u; c < 16u; c++) { dp = fma(d_y[(tq) * 64u + h * 16u + c], qkv[(base_t + j) * 192u + 128u + h * 16u + c], dp); }
    let ds = prob * (dp - dlt) * 0.25;
    for (var c = 0u; c < 16u; c++) { dq[c] = fma(ds, qkv[(base_t + j) * 192u + 64u + h * 16u + c], dq[c]); }
  }
  for (var c = 0u; c < 16u; c++) { d_qkv[tq * 192u + h * 16u + c] += dq[c]; }
}

// ===== attention_grad_kv, used by blocks.0.attention/attention_grad_kv, blocks.1.attention/attention_grad_kv
// moec kernel blocks.0.attention/attention_grad_kv (backward of attention)
// batch=16 seq=64 heads=4
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> qkv: array<f32>;  // blocks.0.qkv_rotary
@group(0) @binding(1) var<storage, read> lse: array<f32>;  // blocks.0.attention/lse
@group(0) @binding(2) var<storage, read> delta: array<f32>;  // blocks.0.attention/delta
@group(0) @binding(3) var<storage, read> d_y: array<f32>;  // grad/blocks.0.attn_heads
@group(0) @binding(4) var<storage, read_write> d_qkv: array<f32>;  // grad/blocks.0.qkv_rotary

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let p = i % 64u;
  let bh = i / 64u;
  let b = bh / 4u;
  let h = bh % 4u;
  let base_t = b * 64u;
  let tk = base_t + p;
  var dk: array<f32, 16>;
  var dv: array<f32, 16>;
  for (var q = p; q < 64u; q++) {
    let tq = base_t + q;
    let row = bh * 64u + q;
    var s = 0.0;
    for (var c = 0u; c < 16u; c++) { s = fma(qkv[(tq) * 192u + h * 16u + c], qkv[(tk) * 192u + 64u + h * 16u + c], s); }
    s = s * 0.25;
    let prob = exp(s - lse[row]);
    var dp = 0.0;
    for (var c = 0u; c < 16u; c++) { dp = fma(d_y[(tq) * 64u + h * 16u + c], qkv[(tk) * 192u + 128u + h * 16u + c], dp); dv[c] = fma(prob, d_y[(tq) * 64u + h * 16u + c], dv[c]); }
    let ds = prob * (dp - delta[row]) * 0.25;
    for (var c = 0u; c < 16u; c++) { dk[c] = fma(ds, qkv[(tq) * 192u + h * 16u + c], dk[c]); }
  }
  for (var c = 0u; c < 16u; c++) {
    d_qkv[tk * 192u + 64u + h * 16u + c] += dk[c];
    d_qkv[tk * 192u + 128u + h * 16u + c] += dv[c];
  }
}

// ===== matmul, used by blocks.0.attn.out/matmul, blocks.1.attn.out/matmul
// moec kernel blocks.0.attn.out/matmul (forward of linear)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;  // blocks.0.attn_heads
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // blocks.0.attn.out.weight
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;  // blocks.0.attn_out

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 4096u;
  let tile = i % 4096u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var acc0: array<f32, 16>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = x[r0 * 16u + k4];
    let a1 = x[r1 * 16u + k4];
    let a2 = x[r2 * 16u + k4];
    let a3 = x[r3 * 16u + k4];
    let b0_0 = w[c0 * 16u + k4];
    let b0_1 = w[c1 * 16u + k4];
    let b0_2 = w[c2 * 16u + k4];
    let b0_3 = w[c3 * 16u + k4];
    acc0[0] = fma(a0.w, b0_0.w, fma(a0.z, b0_0.z, fma(a0.y, b0_0.y, fma(a0.x, b0_0.x, acc0[0]))));
    acc0[1] = fma(a0.w, b0_1.w, fma(a0.z, b0_1.z, fma(a0.y, b0_1.y, fma(a0.x, b0_1.x, acc0[1]))));
    acc0[2] = fma(a0.w, b0_2.w, fma(a0.z, b0_2.z, fma(a0.y, b0_2.y, fma(a0.x, b0_2.x, acc0[2]))));
    acc0[3] = fma(a0.w, b0_3.w, fma(a0.z, b0_3.z, fma(a0.y, b0_3.y, fma(a0.x, b0_3.x, acc0[3]))));
    acc0[4] = fma(a1.w, b0_0.w, fma(a1.z, b0_0.z, fma(a1.y, b0_0.y, fma(a1.x, b0_0.x, acc0[4]))));
    acc0[5] = fma(a1.w, b0_1.w, fma(a1.z, b0_1.z, fma(a1.y, b0_1.y, fma(a1.x, b0_1.x, acc0[5]))));
    acc0[6] = fma(a1.w, b0_2.w, fma(a1.z, b0_2.z, fma(a1.y, b0_2.y, fma(a1.x, b0_2.x, acc0[6]))));
    acc0[7] = fma(a1.w, b0_3.w, fma(a1.z, b0_3.z, fma(a1.y, b0_3.y, fma(a1.x, b0_3.x, acc0[7]))));
    acc0[8] = fma(a2.w, b0_0.w, fma(a2.z, b0_0.z, fma(a2.y, b0_0.y, fma(a2.x, b0_0.x, acc0[8]))));
    acc0[9] = fma(a2.w, b0_1.w, fma(a2.z, b0_1.z, fma(a2.y, b0_1.y, fma(a2.x, b0_1.x, acc0[9]))));
    acc0[10] = fma(a2.w, b0_2.w, fma(a2.z, b0_2.z, fma(a2.y, b0_2.y, fma(a2.x, b0_2.x, acc0[10]))));
    acc0[11] = fma(a2.w, b0_3.w, fma(a2.z, b0_3.z, fma(a2.y, b0_3.y, fma(a2.x, b0_3.x, acc0[11]))));
    acc0[12] = fma(a3.w, b0_0.w, fma(a3.z, b0_0.z, fma(a3.y, b0_0.y, fma(a3.x, b0_0.x, acc0[12]))));
    acc0[13] = fma(a3.w, b0_1.w, fma(a3.z, b0_1.z, fma(a3.y, b0_1.y, fma(a3.x, b0_1.x, acc0[13]))));
    acc0[14] = fma(a3.w, b0_2.w, fma(a3.z, b0_2.z, fma(a3.y, b0_2.y, fma(a3.x, b0_2.x, acc0[14]))));
    acc0[15] = fma(a3.w, b0_3.w, fma(a3.z, b0_3.z, fma(a3.y, b0_3.y, fma(a3.x, b0_3.x, acc0[15]))));
  }
  if (ok0 && col0 < 64u) {
    y[r0 * 16u + col0 / 4u] = vec4<f32>(acc0[0], acc0[1], acc0[2], acc0[3]);
  }
  if (ok1 && col0 < 64u) {
    y[r1 * 16u + col0 / 4u] = vec4<f32>(acc0[4], acc0[5], acc0[6], acc0[7]);
  }
  if (ok2 && col0 < 64u) {
    y[r2 * 16u + col0 / 4u] = vec4<f32>(acc0[8], acc0[9], acc0[10], acc0[11]);
  }
  if (ok3 && col0 < 64u) {
    y[r3 * 16u + col0 / 4u] = vec4<f32>(acc0[12], acc0[13], acc0[14], acc0[15]);
  }
}

// ===== matmul_grad_input, used by blocks.0.attn.out/matmul_grad_input, blocks.1.attn.out/matmul_grad_input
// moec kernel blocks.0.attn.out/matmul_grad_input (backward of linear)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> d_y: array<vec4<f32>>;  // grad/blocks.0.attn_out
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // blocks.0.attn.out.weight
@group(0) @binding(2) var<storage, read_write> d_x: array<vec4<f32>>;  // grad/blocks.0.attn_heads

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 4096u;
  let tile = i % 4096u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = d_y[r0 * 16u + k4];
    let a1 = d_y[r1 * 16u + k4];
    let a2 = d_y[r2 * 16u + k4];
    let a3 = d_y[r3 * 16u + k4];
    let b0_0_0 = w[(k4 * 4u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[0]), b0_0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[0]), b0_0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[0]), b0_0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[0]), b0_0_0, accv0[3]);
    let b0_0_1 = w[(k4 * 4u + 1u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[1]), b0_0_1, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[1]), b0_0_1, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[1]), b0_0_1, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[1]), b0_0_1, accv0[3]);
    let b0_0_2 = w[(k4 * 4u + 2u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[2]), b0_0_2, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[2]), b0_0_2, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[2]), b0_0_2, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[2]), b0_0_2, accv0[3]);
    let b0_0_3 = w[(k4 * 4u + 3u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[3]), b0_0_3, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[3]), b0_0_3, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[3]), b0_0_3, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[3]), b0_0_3, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_x[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_x[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_x[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_x[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== matmul_grad_weight, used by blocks.0.attn.out/matmul_grad_weight, blocks.1.attn.out/matmul_grad_weight
// moec kernel blocks.0.attn.out/matmul_grad_weight (backward of linear)
// from specs/st_moe.moe:5: vocab 256  context 64  width 64  depth 2  heads 4

@group(0) @binding(0) var<storage, read> d_y: array<vec4<f32>>;  // grad/blocks.0.attn_out
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;  // blocks.0.attn_heads
@group(0) @binding(2) var<storage, read_write> d_w: array<vec4<f32>>;  // grad/blocks.0.attn.out.weight

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 32u + lid;
  if (i >= 256u) { return; }
  let grp = i / 256u;
  let tile = i % 256u;
  let row_begin = 0u;
  let row_end = 64u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k = 0u; k < 1024u; k++) {
    let a4_0 = d_y[k * 16u + row0 / 4u];
    let a0 = a4_0[0];
    let a1 = a4_0[1];
    let a2 = a4_0[2];
    let a3 = a4_0[3];
    let b0_0 = x[k * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0), b0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1), b0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2), b0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3), b0_0, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_w[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_w[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_w[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_w[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== add, used by blocks.0.residual_attn/add, blocks.0.residual_ffn/add, blocks.1.residual_attn/add, blocks.1.residual_ffn/add
// moec kernel blocks.0.residual_attn/add (forward of add)
// from specs/st_moe.moe:4: model st_moe {

@group(0) @binding(0) var<storage, read> a: array<f32>;  // embedded
@group(0) @binding(1) var<storage, read> b: array<f32>;  // blocks.0.attn_out
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // blocks.0.resid_attn

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 65536u) { return; }
  y[i] = a[i] + b[i];
}

// ===== add_backward, used by blocks.0.residual_attn/add_backward, blocks.0.residual_ffn/add_backward, blocks.1.residual_attn/add_backward, blocks.1.residual_ffn/add_backward
// moec kernel blocks.0.residual_attn/add_backward (backward of add)
// from specs/st_moe.moe:4: model st_moe {

@group(0) @binding(0) var<storage, read> d_y: array<f32>;  // grad/blocks.0.resid_attn
@group(0) @binding(1) var<storage, read_write> d_a: array<f32>;  // grad/embedded
@group(0) @binding(2) var<storage, read_write> d_b: array<f32>;  // grad/blocks.0.attn_out

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 65536u) { return; }
  d_a[i] += d_y[i];
  d_b[i] += d_y[i];
}

// ===== router_logits, used by blocks.0.moe.router/router_logits, blocks.1.moe.router/router_logits
// moec kernel blocks.0.moe.router/router_logits (forward of router)
// score=softmax normalize=per_token temperature=1 learn_temperature=false jitter=0
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;  // blocks.0.ffn_norm.y
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // blocks.0.moe.router.weight
@group(0) @binding(2) var<storage, read_write> logits: array<vec4<f32>>;  // blocks.0.moe.logits

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 512u) { return; }
  let grp = i / 512u;
  let tile = i % 512u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 2u) * 4u;
  let col0 = (tile % 2u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 7u);
  let c1 = min(col0 + 1u, 7u);
  let c2 = min(col0 + 2u, 7u);
  let c3 = min(col0 + 3u, 7u);
  var acc0: array<f32, 16>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = x[r0 * 16u + k4];
    let a1 = x[r1 * 16u + k4];
    let a2 = x[r2 * 16u + k4];
    let a3 = x[r3 * 16u + k4];
    let b0_0 = w[c0 * 16u + k4];
    let b0_1 = w[c1 * 16u + k4];
    let b0_2 = w[c2 * 16u + k4];
    let b0_3 = w[c3 * 16u + k4];
    acc0[0] = fma(a0.w, b0_0.w, fma(a0.z, b0_0.z, fma(a0.y, b0_0.y, fma(a0.x, b0_0.x, acc0[0]))));
    acc0[1] = fma(a0.w, b0_1.w, fma(a0.z, b0_1.z, fma(a0.y, b0_1.y, fma(a0.x, b0_1.x, acc0[1]))));
    acc0[2] = fma(a0.w, b0_2.w, fma(a0.z, b0_2.z, fma(a0.y, b0_2.y, fma(a0.x, b0_2.x, acc0[2]))));
    acc0[3] = fma(a0.w, b0_3.w, fma(a0.z, b0_3.z, fma(a0.y, b0_3.y, fma(a0.x, b0_3.x, acc0[3]))));
    acc0[4] = fma(a1.w, b0_0.w, fma(a1.z, b0_0.z, fma(a1.y, b0_0.y, fma(a1.x, b0_0.x, acc0[4]))));
    acc0[5] = fma(a1.w, b0_1.w, fma(a1.z, b0_1.z, fma(a1.y, b0_1.y, fma(a1.x, b0_1.x, acc0[5]))));
    acc0[6] = fma(a1.w, b0_2.w, fma(a1.z, b0_2.z, fma(a1.y, b0_2.y, fma(a1.x, b0_2.x, acc0[6]))));
    acc0[7] = fma(a1.w, b0_3.w, fma(a1.z, b0_3.z, fma(a1.y, b0_3.y, fma(a1.x, b0_3.x, acc0[7]))));
    acc0[8] = fma(a2.w, b0_0.w, fma(a2.z, b0_0.z, fma(a2.y, b0_0.y, fma(a2.x, b0_0.x, acc0[8]))));
    acc0[9] = fma(a2.w, b0_1.w, fma(a2.z, b0_1.z, fma(a2.y, b0_1.y, fma(a2.x, b0_1.x, acc0[9]))));
    acc0[10] = fma(a2.w, b0_2.w, fma(a2.z, b0_2.z, fma(a2.y, b0_2.y, fma(a2.x, b0_2.x, acc0[10]))));
    acc0[11] = fma(a2.w, b0_3.w, fma(a2.z, b0_3.z, fma(a2.y, b0_3.y, fma(a2.x, b0_3.x, acc0[11]))));
    acc0[12] = fma(a3.w, b0_0.w, fma(a3.z, b0_0.z, fma(a3.y, b0_0.y, fma(a3.x, b0_0.x, acc0[12]))));
    acc0[13] = fma(a3.w, b0_1.w, fma(a3.z, b0_1.z, fma(a3.y, b0_1.y, fma(a3.x, b0_1.x, acc0[13]))));
    acc0[14] = fma(a3.w, b0_2.w, fma(a3.z, b0_2.z, fma(a3.y, b0_2.y, fma(a3.x, b0_2.x, acc0[14]))));
    acc0[15] = fma(a3.w, b0_3.w, fma(a3.z, b0_3.z, fma(a3.y, b0_3.y, fma(a3.x, b0_3.x, acc0[15]))));
  }
  if (ok0 && col0 < 8u) {
    logits[r0 * 2u + col0 / 4u] = vec4<f32>(acc0[0], acc0[1], acc0[2], acc0[3]) * (1.0 / 1.0);
  }
  if (ok1 && col0 < 8u) {
    logits[r1 * 2u + col0 / 4u] = vec4<f32>(acc0[4], acc0[5], acc0[6], acc0[7]) * (1.0 / 1.0);
  }
  if (ok2 && col0 < 8u) {
    logits[r2 * 2u + col0 / 4u] = vec4<f32>(acc0[8], acc0[9], acc0[10], acc0[11]) * (1.0 / 1.0);
  }
  if (ok3 && col0 < 8u) {
    logits[r3 * 2u + col0 / 4u] = vec4<f32>(acc0[12], acc0[13], acc0[14], acc0[15]) * (1.0 / 1.0);
  }
}

// ===== router, used by blocks.0.moe.router/router, blocks.1.moe.router/router
// moec kernel blocks.0.moe.router/router (forward of router)
// score=softmax normalize=per_token temperature=1 learn_temperature=false jitter=0
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> logits: array<f32>;  // blocks.0.moe.logits
@group(0) @binding(1) var<storage, read_write> probs: array<f32>;  // blocks.0.moe.probs

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  var zmax = -3.4e38;
  for (var s = 0u; s < 8u; s++) { zmax = max(zmax, logits[t * 8u + s]); }
  var sum = 0.0;
  for (var s = 0u; s < 8u; s++) { sum += exp(logits[t * 8u + s] - zmax); }
  for (var s = 0u; s < 8u; s++) { probs[t * 8u + s] = exp(logits[t * 8u + s] - zmax) / sum; }
}

// ===== router_grad_logits, used by blocks.0.moe.router/router_grad_logits, blocks.1.moe.router/router_grad_logits
// moec kernel blocks.0.moe.router/router_grad_logits (backward of router)
// score=softmax normalize=per_token temperature=1 learn_temperature=false jitter=0
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> probs: array<f32>;  // blocks.0.moe.probs
@group(0) @binding(1) var<storage, read> d_probs: array<f32>;  // grad/blocks.0.moe.probs
@group(0) @binding(2) var<storage, read> d_logits: array<f32>;  // grad/blocks.0.moe.logits
@group(0) @binding(3) var<storage, read_write> d_raw: array<f32>;  // blocks.0.moe.router/d_raw

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  let inv_tau = 1.0 / 1.0;
  var dotp = 0.0;
  for (var s = 0u; s < 8u; s++) { dotp += probs[t * 8u + s] * d_probs[t * 8u + s]; }
  for (var s = 0u; s < 8u; s++) {
    let at = t * 8u + s;
    var dz = d_logits[at];
    dz += probs[at] * (d_probs[at] - dotp);
    d_raw[at] = dz * inv_tau;
  }
}

// ===== router_grad_input, used by blocks.0.moe.router/router_grad_input, blocks.1.moe.router/router_grad_input
// moec kernel blocks.0.moe.router/router_grad_input (backward of router)
// score=softmax normalize=per_token temperature=1 learn_temperature=false jitter=0
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> d_raw: array<vec4<f32>>;  // blocks.0.moe.router/d_raw
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // blocks.0.moe.router.weight
@group(0) @binding(2) var<storage, read_write> d_x: array<vec4<f32>>;  // grad/blocks.0.ffn_norm.y

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 4096u;
  let tile = i % 4096u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k4 = 0u; k4 < 2u; k4++) {
    let a0 = d_raw[r0 * 2u + k4];
    let a1 = d_raw[r1 * 2u + k4];
    let a2 = d_raw[r2 * 2u + k4];
    let a3 = d_raw[r3 * 2u + k4];
    let b0_0_0 = w[(k4 * 4u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[0]), b0_0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[0]), b0_0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[0]), b0_0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[0]), b0_0_0, accv0[3]);
    let b0_0_1 = w[(k4 * 4u + 1u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[1]), b0_0_1, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[1]), b0_0_1, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[1]), b0_0_1, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[1]), b0_0_1, accv0[3]);
    let b0_0_2 = w[(k4 * 4u + 2u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[2]), b0_0_2, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[2]), b0_0_2, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[2]), b0_0_2, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[2]), b0_0_2, accv0[3]);
    let b0_0_3 = w[(k4 * 4u + 3u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[3]), b0_0_3, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[3]), b0_0_3, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[3]), b0_0_3, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[3]), b0_0_3, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_x[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_x[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_x[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_x[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== router_grad_weight, used by blocks.0.moe.router/router_grad_weight, blocks.1.moe.router/router_grad_weight
// moec kernel blocks.0.moe.router/router_grad_weight (backward of router)
// score=softmax normalize=per_token temperature=1 learn_temperature=false jitter=0
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> d_raw: array<vec4<f32>>;  // blocks.0.moe.router/d_raw
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;  // blocks.0.ffn_norm.y
@group(0) @binding(2) var<storage, read_write> d_w: array<vec4<f32>>;  // grad/blocks.0.moe.router.weight

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 8u + lid;
  if (i >= 32u) { return; }
  let grp = i / 32u;
  let tile = i % 32u;
  let row_begin = 0u;
  let row_end = 8u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k = 0u; k < 1024u; k++) {
    let a4_0 = d_raw[k * 2u + row0 / 4u];
    let a0 = a4_0[0];
    let a1 = a4_0[1];
    let a2 = a4_0[2];
    let a3 = a4_0[3];
    let b0_0 = x[k * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0), b0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1), b0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2), b0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3), b0_0, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_w[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_w[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_w[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_w[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== z_loss, used by blocks.0.moe.z_loss/z_loss, blocks.1.moe.z_loss/z_loss
// moec kernel blocks.0.moe.z_loss/z_loss (forward of z_loss)
// beta=0.001
// from specs/st_moe.moe:13: z_loss 0.001

@group(0) @binding(0) var<storage, read> logits: array<f32>;  // blocks.0.moe.logits
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;  // blocks.0.moe.loss.z

fn lse(t: u32) -> f32 {
  var zmax = -3.4e38;
  for (var s = 0u; s < 8u; s++) { zmax = max(zmax, logits[t * 8u + s]); }
  var sum = 0.0;
  for (var s = 0u; s < 8u; s++) { sum += exp(logits[t * 8u + s] - zmax); }
  return zmax + log(sum);
}
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var k = lid; k < 1024u; k += 256u) { acc += lse(k) * lse(k); }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    loss[0] = 9.765625463842298e-7 * partial[0];
  }
}

// ===== z_loss_backward, used by blocks.0.moe.z_loss/z_loss_backward, blocks.1.moe.z_loss/z_loss_backward
// moec kernel blocks.0.moe.z_loss/z_loss_backward (backward of z_loss)
// beta=0.001
// from specs/st_moe.moe:13: z_loss 0.001

@group(0) @binding(0) var<storage, read> logits: array<f32>;  // blocks.0.moe.logits
@group(0) @binding(1) var<storage, read> d_loss: array<f32>;  // grad/blocks.0.moe.loss.z
@group(0) @binding(2) var<storage, read_write> d_logits: array<f32>;  // grad/blocks.0.moe.logits

fn lse(t: u32) -> f32 {
  var zmax = -3.4e38;
  for (var s = 0u; s < 8u; s++) { zmax = max(zmax, logits[t * 8u + s]); }
  var sum = 0.0;
  for (var s = 0u; s < 8u; s++) { sum += exp(logits[t * 8u + s] - zmax); }
  return zmax + log(sum);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  let l = lse(t);
  let scale = d_loss[0] * 0.0000019531250927684596 * l;
  for (var s = 0u; s < 8u; s++) { d_logits[t * 8u + s] += scale * exp(logits[t * 8u + s] - l); }
}

// ===== select_top_k, used by blocks.0.moe.select/select_top_k, blocks.1.moe.select/select_top_k
// moec kernel blocks.0.moe.select/select_top_k (forward of select_top_k)
// k=2 weights=raw
// from specs/st_moe.moe:10: top_k 2

@group(0) @binding(0) var<storage, read> probs: array<f32>;  // blocks.0.moe.probs
@group(0) @binding(1) var<storage, read_write> token_expert: array<i32>;  // blocks.0.moe.token_expert
@group(0) @binding(2) var<storage, read_write> token_gate: array<f32>;  // blocks.0.moe.token_gate

fn beats(va: f32, ia: u32, vb: f32, ib: u32) -> bool { return va > vb || (va == vb && ia < ib); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  // Each pick is the best expert ranked after the previous pick (no per-thread arrays).
  var prev_v = 3.4e38;
  var prev_e = 0u;
  var total = 0.0;
  for (var j = 0u; j < 2u; j++) {
    var best_v = -3.4e38;
    var best_e = 8u;
    for (var e = 0u; e < 8u; e++) {
      let v = probs[t * 8u + e];
      let after_prev = j == 0u || beats(prev_v, prev_e, v, e);
      if (after_prev && (best_e == 8u || beats(v, e, best_v, best_e))) { best_v = v; best_e = e; }
    }
    prev_v = best_v;
    prev_e = best_e;
    token_expert[t * 2u + j] = i32(best_e);
    let p = probs[t * 8u + best_e];
    token_gate[t * 2u + j] = p;
    total += p;
  }
}

// ===== select_grad_probs, used by blocks.0.moe.select/select_grad_probs, blocks.1.moe.select/select_grad_probs
// moec kernel blocks.0.moe.select/select_grad_probs (backward of select_top_k)
// k=2 weights=raw
// from specs/st_moe.moe:10: top_k 2

@group(0) @binding(0) var<storage, read> token_expert: array<i32>;  // blocks.0.moe.token_expert
@group(0) @binding(1) var<storage, read> d_gate: array<f32>;  // grad/blocks.0.moe.token_gate
@group(0) @binding(2) var<storage, read_write> d_probs: array<f32>;  // grad/blocks.0.moe.probs

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  for (var j = 0u; j < 2u; j++) {
    let e = u32(token_expert[t * 2u + j]);
    d_probs[t * 8u + e] += d_gate[t * 2u + j];
  }
}

// ===== assign, used by blocks.0.moe.assign/assign, blocks.1.moe.assign/assign
// moec kernel blocks.0.moe.assign/assign (forward of assign)
// experts=8 capacity=320 rows=2048
// capacity 320 = min(1024, ceil(1.25 * 2 * 1024 / 8)): capacity_factor * top_k * tokens / experts
// rows 2048 = min(1024 * 2, 8 * 320): choices, at most capacity per expert
// from specs/st_moe.moe:11: capacity_factor 1.25

@group(0) @binding(0) var<storage, read> token_expert: array<i32>;  // blocks.0.moe.token_expert
@group(0) @binding(1) var<storage, read_write> token_slot: array<i32>;  // blocks.0.moe.token_slot
@group(0) @binding(2) var<storage, read_write> slot_token: array<i32>;  // blocks.0.moe.slot_token
@group(0) @binding(3) var<storage, read_write> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(4) var<storage, read_write> load: array<i32>;  // blocks.0.moe.load
@group(0) @binding(5) var<storage, read_write> demand: array<i32>;  // blocks.0.moe.demand

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  // Phase 1: per expert, walk choices in priority order; token_slot holds the position within the expert (or -1 if over capacity).
  for (var e = lid; e < 8u; e += 256u) {
    var seen = 0;
    var kept = 0;
    for (var j = 0u; j < 2u; j++) {
      for (var t = 0u; t < 1024u; t++) {
        let at = t * 2u + j;
        if (token_expert[at] == i32(e)) {
          seen += 1;
          if (kept < 320) { token_slot[at] = kept; kept += 1; } else { token_slot[at] = -1; }
        }
      }
    }
    demand[e] = seen;
    load[e] = kept;
  }
  storageBarrier();
  workgroupBarrier();
  // Phase 2: exclusive prefix sum of the kept counts.
  if (lid == 0u) {
    var run = 0;
    for (var e = 0u; e < 8u; e++) { offsets[e] = run; run += load[e]; }
    offsets[8u] = run;
  }
  storageBarrier();
  workgroupBarrier();
  // Phase 3: positions become rows; rows past the used ones hold -1.
  for (var at = lid; at < 2048u; at += 256u) {
    let pos = token_slot[at];
    if (pos >= 0) {
      let row = offsets[token_expert[at]] + pos;
      token_slot[at] = row;
      slot_token[row] = i32(at / 2u);
    }
  }
  for (var r = u32(offsets[8u]) + lid; r < 2048u; r += 256u) { slot_token[r] = -1; }
}

// ===== balance_loss, used by blocks.0.moe.balance_loss/balance_loss, blocks.1.moe.balance_loss/balance_loss
// moec kernel blocks.0.moe.balance_loss/balance_loss (forward of balance_loss)
// alpha=0.01 k=2
// from specs/st_moe.moe:12: balance_loss 0.01

@group(0) @binding(0) var<storage, read> probs: array<f32>;  // blocks.0.moe.probs
@group(0) @binding(1) var<storage, read> demand: array<i32>;  // blocks.0.moe.demand
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;  // blocks.0.moe.loss.balance

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var k = lid; k < 8192u; k += 256u) { acc += probs[k] * f32(demand[k % 8u]); }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    loss[0] = 3.814697180359872e-8 * partial[0];
  }
}

// ===== balance_loss_backward, used by blocks.0.moe.balance_loss/balance_loss_backward, blocks.1.moe.balance_loss/balance_loss_backward
// moec kernel blocks.0.moe.balance_loss/balance_loss_backward (backward of balance_loss)
// alpha=0.01 k=2
// from specs/st_moe.moe:12: balance_loss 0.01

@group(0) @binding(0) var<storage, read> demand: array<i32>;  // blocks.0.moe.demand
@group(0) @binding(1) var<storage, read> d_loss: array<f32>;  // grad/blocks.0.moe.loss.balance
@group(0) @binding(2) var<storage, read_write> d_probs: array<f32>;  // grad/blocks.0.moe.probs

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 8192u) { return; }
  d_probs[i] += d_loss[0] * 3.814697180359872e-8 * f32(demand[i % 8u]);
}

// ===== expert_up, used by blocks.0.moe.experts/expert_up, blocks.1.moe.experts/expert_up
// moec kernel blocks.0.moe.experts/expert_up (forward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;  // blocks.0.ffn_norm.y
@group(0) @binding(1) var<storage, read> w_up: array<vec4<f32>>;  // blocks.0.moe.experts.up.weight
@group(0) @binding(2) var<storage, read> slot_token: array<i32>;  // blocks.0.moe.slot_token
@group(0) @binding(3) var<storage, read> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(4) var<storage, read_write> pre_up: array<vec4<f32>>;  // blocks.0.moe.experts/pre_up
@group(0) @binding(5) var<storage, read_write> hidden: array<vec4<f32>>;  // blocks.0.moe.experts/hidden

fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}
fn act_gelu(x: f32) -> f32 { return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476)); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 16640u) { return; }
  let block = i / 32u;
  let col0 = (i % 32u) * 4u;
  // Find the expert whose packed blocks cover this one.
  var grp = 8u;
  var first = 0u;
  for (var e = 0u; e < 8u; e++) {
    let blocks = (u32(offsets[e + 1u]) - u32(offsets[e]) + 3u) / 4u;
    if (block < first + blocks) { grp = e; break; }
    first += blocks;
  }
  if (grp == 8u) { return; }
  let row_begin = u32(offsets[grp]);
  let row_end = u32(offsets[grp + 1u]);
  let row0 = row_begin + (block - first) * 4u;
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let src0 = u32(max(slot_token[r0], 0));
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let src1 = u32(max(slot_token[r1], 0));
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let src2 = u32(max(slot_token[r2], 0));
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let src3 = u32(max(slot_token[r3], 0));
  let c0 = min(col0, 127u);
  let c1 = min(col0 + 1u, 127u);
  let c2 = min(col0 + 2u, 127u);
  let c3 = min(col0 + 3u, 127u);
  var acc0: array<f32, 16>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = x[src0 * 16u + k4];
    let a1 = x[src1 * 16u + k4];
    let a2 = x[src2 * 16u + k4];
    let a3 = x[src3 * 16u + k4];
    let b0_0 = w_up[grp * 2048u + c0 * 16u + k4];
    let b0_1 = w_up[grp * 2048u + c1 * 16u + k4];
    let b0_2 = w_up[grp * 2048u + c2 * 16u + k4];
    let b0_3 = w_up[grp * 2048u + c3 * 16u + k4];
    acc0[0] = fma(a0.w, b0_0.w, fma(a0.z, b0_0.z, fma(a0.y, b0_0.y, fma(a0.x, b0_0.x, acc0[0]))));
    acc0[1] = fma(a0.w, b0_1.w, fma(a0.z, b0_1.z, fma(a0.y, b0_1.y, fma(a0.x, b0_1.x, acc0[1]))));
    acc0[2] = fma(a0.w, b0_2.w, fma(a0.z, b0_2.z, fma(a0.y, b0_2.y, fma(a0.x, b0_2.x, acc0[2]))));
    acc0[3] = fma(a0.w, b0_3.w, fma(a0.z, b0_3.z, fma(a0.y, b0_3.y, fma(a0.x, b0_3.x, acc0[3]))));
    acc0[4] = fma(a1.w, b0_0.w, fma(a1.z, b0_0.z, fma(a1.y, b0_0.y, fma(a1.x, b0_0.x, acc0[4]))));
    acc0[5] = fma(a1.w, b0_1.w, fma(a1.z, b0_1.z, fma(a1.y, b0_1.y, fma(a1.x, b0_1.x, acc0[5]))));
    acc0[6] = fma(a1.w, b0_2.w, fma(a1.z, b0_2.z, fma(a1.y, b0_2.y, fma(a1.x, b0_2.x, acc0[6]))));
    acc0[7] = fma(a1.w, b0_3.w, fma(a1.z, b0_3.z, fma(a1.y, b0_3.y, fma(a1.x, b0_3.x, acc0[7]))));
    acc0[8] = fma(a2.w, b0_0.w, fma(a2.z, b0_0.z, fma(a2.y, b0_0.y, fma(a2.x, b0_0.x, acc0[8]))));
    acc0[9] = fma(a2.w, b0_1.w, fma(a2.z, b0_1.z, fma(a2.y, b0_1.y, fma(a2.x, b0_1.x, acc0[9]))));
    acc0[10] = fma(a2.w, b0_2.w, fma(a2.z, b0_2.z, fma(a2.y, b0_2.y, fma(a2.x, b0_2.x, acc0[10]))));
    acc0[11] = fma(a2.w, b0_3.w, fma(a2.z, b0_3.z, fma(a2.y, b0_3.y, fma(a2.x, b0_3.x, acc0[11]))));
    acc0[12] = fma(a3.w, b0_0.w, fma(a3.z, b0_0.z, fma(a3.y, b0_0.y, fma(a3.x, b0_0.x, acc0[12]))));
    acc0[13] = fma(a3.w, b0_1.w, fma(a3.z, b0_1.z, fma(a3.y, b0_1.y, fma(a3.x, b0_1.x, acc0[13]))));
    acc0[14] = fma(a3.w, b0_2.w, fma(a3.z, b0_2.z, fma(a3.y, b0_2.y, fma(a3.x, b0_2.x, acc0[14]))));
    acc0[15] = fma(a3.w, b0_3.w, fma(a3.z, b0_3.z, fma(a3.y, b0_3.y, fma(a3.x, b0_3.x, acc0[15]))));
  }
  if (ok0 && col0 < 128u) {
    let v_pre_up = vec4<f32>(acc0[0], acc0[1], acc0[2], acc0[3]);
    pre_up[r0 * 32u + col0 / 4u] = v_pre_up;
    hidden[r0 * 32u + col0 / 4u] = vec4<f32>(act_gelu(v_pre_up.x), act_gelu(v_pre_up.y), act_gelu(v_pre_up.z), act_gelu(v_pre_up.w));
  }
  if (ok1 && col0 < 128u) {
    let v_pre_up = vec4<f32>(acc0[4], acc0[5], acc0[6], acc0[7]);
    pre_up[r1 * 32u + col0 / 4u] = v_pre_up;
    hidden[r1 * 32u + col0 / 4u] = vec4<f32>(act_gelu(v_pre_up.x), act_gelu(v_pre_up.y), act_gelu(v_pre_up.z), act_gelu(v_pre_up.w));
  }
  if (ok2 && col0 < 128u) {
    let v_pre_up = vec4<f32>(acc0[8], acc0[9], acc0[10], acc0[11]);
    pre_up[r2 * 32u + col0 / 4u] = v_pre_up;
    hidden[r2 * 32u + col0 / 4u] = vec4<f32>(act_gelu(v_pre_up.x), act_gelu(v_pre_up.y), act_gelu(v_pre_up.z), act_gelu(v_pre_up.w));
  }
  if (ok3 && col0 < 128u) {
    let v_pre_up = vec4<f32>(acc0[12], acc0[13], acc0[14], acc0[15]);
    pre_up[r3 * 32u + col0 / 4u] = v_pre_up;
    hidden[r3 * 32u + col0 / 4u] = vec4<f32>(act_gelu(v_pre_up.x), act_gelu(v_pre_up.y), act_gelu(v_pre_up.z), act_gelu(v_pre_up.w));
  }
}

// ===== expert_down, used by blocks.0.moe.experts/expert_down, blocks.1.moe.experts/expert_down
// moec kernel blocks.0.moe.experts/expert_down (forward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> hidden: array<vec4<f32>>;  // blocks.0.moe.experts/hidden
@group(0) @binding(1) var<storage, read> w_down: array<vec4<f32>>;  // blocks.0.moe.experts.down.weight
@group(0) @binding(2) var<storage, read> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;  // blocks.0.moe.expert_out

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 8320u) { return; }
  let block = i / 16u;
  let col0 = (i % 16u) * 4u;
  // Find the expert whose packed blocks cover this one.
  var grp = 8u;
  var first = 0u;
  for (var e = 0u; e < 8u; e++) {
    let blocks = (u32(offsets[e + 1u]) - u32(offsets[e]) + 3u) / 4u;
    if (block < first + blocks) { grp = e; break; }
    first += blocks;
  }
  if (grp == 8u) { return; }
  let row_begin = u32(offsets[grp]);
  let row_end = u32(offsets[grp + 1u]);
  let row0 = row_begin + (block - first) * 4u;
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var acc0: array<f32, 16>;
  for (var k4 = 0u; k4 < 32u; k4++) {
    let a0 = hidden[r0 * 32u + k4];
    let a1 = hidden[r1 * 32u + k4];
    let a2 = hidden[r2 * 32u + k4];
    let a3 = hidden[r3 * 32u + k4];
    let b0_0 = w_down[grp * 2048u + c0 * 32u + k4];
    let b0_1 = w_down[grp * 2048u + c1 * 32u + k4];
    let b0_2 = w_down[grp * 2048u + c2 * 32u + k4];
    let b0_3 = w_down[grp * 2048u + c3 * 32u + k4];
    acc0[0] = fma(a0.w, b0_0.w, fma(a0.z, b0_0.z, fma(a0.y, b0_0.y, fma(a0.x, b0_0.x, acc0[0]))));
    acc0[1] = fma(a0.w, b0_1.w, fma(a0.z, b0_1.z, fma(a0.y, b0_1.y, fma(a0.x, b0_1.x, acc0[1]))));
    acc0[2] = fma(a0.w, b0_2.w, fma(a0.z, b0_2.z, fma(a0.y, b0_2.y, fma(a0.x, b0_2.x, acc0[2]))));
    acc0[3] = fma(a0.w, b0_3.w, fma(a0.z, b0_3.z, fma(a0.y, b0_3.y, fma(a0.x, b0_3.x, acc0[3]))));
    acc0[4] = fma(a1.w, b0_0.w, fma(a1.z, b0_0.z, fma(a1.y, b0_0.y, fma(a1.x, b0_0.x, acc0[4]))));
    acc0[5] = fma(a1.w, b0_1.w, fma(a1.z, b0_1.z, fma(a1.y, b0_1.y, fma(a1.x, b0_1.x, acc0[5]))));
    acc0[6] = fma(a1.w, b0_2.w, fma(a1.z, b0_2.z, fma(a1.y, b0_2.y, fma(a1.x, b0_2.x, acc0[6]))));
    acc0[7] = fma(a1.w, b0_3.w, fma(a1.z, b0_3.z, fma(a1.y, b0_3.y, fma(a1.x, b0_3.x, acc0[7]))));
    acc0[8] = fma(a2.w, b0_0.w, fma(a2.z, b0_0.z, fma(a2.y, b0_0.y, fma(a2.x, b0_0.x, acc0[8]))));
    acc0[9] = fma(a2.w, b0_1.w, fma(a2.z, b0_1.z, fma(a2.y, b0_1.y, fma(a2.x, b0_1.x, acc0[9]))));
    acc0[10] = fma(a2.w, b0_2.w, fma(a2.z, b0_2.z, fma(a2.y, b0_2.y, fma(a2.x, b0_2.x, acc0[10]))));
    acc0[11] = fma(a2.w, b0_3.w, fma(a2.z, b0_3.z, fma(a2.y, b0_3.y, fma(a2.x, b0_3.x, acc0[11]))));
    acc0[12] = fma(a3.w, b0_0.w, fma(a3.z, b0_0.z, fma(a3.y, b0_0.y, fma(a3.x, b0_0.x, acc0[12]))));
    acc0[13] = fma(a3.w, b0_1.w, fma(a3.z, b0_1.z, fma(a3.y, b0_1.y, fma(a3.x, b0_1.x, acc0[13]))));
    acc0[14] = fma(a3.w, b0_2.w, fma(a3.z, b0_2.z, fma(a3.y, b0_2.y, fma(a3.x, b0_2.x, acc0[14]))));
    acc0[15] = fma(a3.w, b0_3.w, fma(a3.z, b0_3.z, fma(a3.y, b0_3.y, fma(a3.x, b0_3.x, acc0[15]))));
  }
  if (ok0 && col0 < 64u) {
    out[r0 * 16u + col0 / 4u] = vec4<f32>(acc0[0], acc0[1], acc0[2], acc0[3]);
  }
  if (ok1 && col0 < 64u) {
    out[r1 * 16u + col0 / 4u] = vec4<f32>(acc0[4], acc0[5], acc0[6], acc0[7]);
  }
  if (ok2 && col0 < 64u) {
    out[r2 * 16u + col0 / 4u] = vec4<f32>(acc0[8], acc0[9], acc0[10], acc0[11]);
  }
  if (ok3 && col0 < 64u) {
    out[r3 * 16u + col0 / 4u] = vec4<f32>(acc0[12], acc0[13], acc0[14], acc0[15]);
  }
}

// ===== expert_down_grad_hidden, used by blocks.0.moe.experts/expert_down_grad_hidden, blocks.1.moe.experts/expert_down_grad_hidden
// moec kernel blocks.0.moe.experts/expert_down_grad_hidden (backward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> d_out: array<vec4<f32>>;  // grad/blocks.0.moe.expert_out
@group(0) @binding(1) var<storage, read> w_down: array<vec4<f32>>;  // blocks.0.moe.experts.down.weight
@group(0) @binding(2) var<storage, read> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(3) var<storage, read> pre_up: array<vec4<f32>>;  // blocks.0.moe.experts/pre_up
@group(0) @binding(4) var<storage, read_write> d_pre_up: array<vec4<f32>>;  // blocks.0.moe.experts/d_pre_up

fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return select(-y, y, x >= 0.0);
}
fn dact_gelu(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_f32(x * 0.7071067811865476));
  return cdf + x * exp(-0.5 * x * x) * 0.3989422804014327;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 16640u) { return; }
  let block = i / 32u;
  let col0 = (i % 32u) * 4u;
  // Find the expert whose packed blocks cover this one.
  var grp = 8u;
  var first = 0u;
  for (var e = 0u; e < 8u; e++) {
    let blocks = (u32(offsets[e + 1u]) - u32(offsets[e]) + 3u) / 4u;
    if (block < first + blocks) { grp = e; break; }
    first += blocks;
  }
  if (grp == 8u) { return; }
  let row_begin = u32(offsets[grp]);
  let row_end = u32(offsets[grp + 1u]);
  let row0 = row_begin + (block - first) * 4u;
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 127u);
  let c1 = min(col0 + 1u, 127u);
  let c2 = min(col0 + 2u, 127u);
  let c3 = min(col0 + 3u, 127u);
  var accv0: array<vec4<f32>, 4>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = d_out[r0 * 16u + k4];
    let a1 = d_out[r1 * 16u + k4];
    let a2 = d_out[r2 * 16u + k4];
    let a3 = d_out[r3 * 16u + k4];
    let b0_0_0 = w_down[grp * 2048u + (k4 * 4u) * 32u + min(col0 / 4u, 31u)];
    accv0[0] = fma(vec4<f32>(a0[0]), b0_0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[0]), b0_0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[0]), b0_0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[0]), b0_0_0, accv0[3]);
    let b0_0_1 = w_down[grp * 2048u + (k4 * 4u + 1u) * 32u + min(col0 / 4u, 31u)];
    accv0[0] = fma(vec4<f32>(a0[1]), b0_0_1, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[1]), b0_0_1, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[1]), b0_0_1, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[1]), b0_0_1, accv0[3]);
    let b0_0_2 = w_down[grp * 2048u + (k4 * 4u + 2u) * 32u + min(col0 / 4u, 31u)];
    accv0[0] = fma(vec4<f32>(a0[2]), b0_0_2, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[2]), b0_0_2, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[2]), b0_0_2, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[2]), b0_0_2, accv0[3]);
    let b0_0_3 = w_down[grp * 2048u + (k4 * 4u + 3u) * 32u + min(col0 / 4u, 31u)];
    accv0[0] = fma(vec4<f32>(a0[3]), b0_0_3, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[3]), b0_0_3, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[3]), b0_0_3, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[3]), b0_0_3, accv0[3]);
  }
  if (ok0 && col0 < 128u) {
    let v_pre_up = pre_up[r0 * 32u + col0 / 4u];
    d_pre_up[r0 * 32u + col0 / 4u] = accv0[0] * vec4<f32>(dact_gelu(v_pre_up.x), dact_gelu(v_pre_up.y), dact_gelu(v_pre_up.z), dact_gelu(v_pre_up.w));
  }
  if (ok1 && col0 < 128u) {
    let v_pre_up = pre_up[r1 * 32u + col0 / 4u];
    d_pre_up[r1 * 32u + col0 / 4u] = accv0[1] * vec4<f32>(dact_gelu(v_pre_up.x), dact_gelu(v_pre_up.y), dact_gelu(v_pre_up.z), dact_gelu(v_pre_up.w));
  }
  if (ok2 && col0 < 128u) {
    let v_pre_up = pre_up[r2 * 32u + col0 / 4u];
    d_pre_up[r2 * 32u + col0 / 4u] = accv0[2] * vec4<f32>(dact_gelu(v_pre_up.x), dact_gelu(v_pre_up.y), dact_gelu(v_pre_up.z), dact_gelu(v_pre_up.w));
  }
  if (ok3 && col0 < 128u) {
    let v_pre_up = pre_up[r3 * 32u + col0 / 4u];
    d_pre_up[r3 * 32u + col0 / 4u] = accv0[3] * vec4<f32>(dact_gelu(v_pre_up.x), dact_gelu(v_pre_up.y), dact_gelu(v_pre_up.z), dact_gelu(v_pre_up.w));
  }
}

// ===== expert_down_grad_weight, used by blocks.0.moe.experts/expert_down_grad_weight, blocks.1.moe.experts/expert_down_grad_weight
// moec kernel blocks.0.moe.experts/expert_down_grad_weight (backward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> d_out: array<vec4<f32>>;  // grad/blocks.0.moe.expert_out
@group(0) @binding(1) var<storage, read> hidden: array<vec4<f32>>;  // blocks.0.moe.experts/hidden
@group(0) @binding(2) var<storage, read> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(3) var<storage, read_write> d_w_down: array<vec4<f32>>;  // grad/blocks.0.moe.experts.down.weight

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 512u;
  let tile = i % 512u;
  let row_begin = 0u;
  let row_end = 64u;
  let row0 = row_begin + (tile / 32u) * 4u;
  let col0 = (tile % 32u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 127u);
  let c1 = min(col0 + 1u, 127u);
  let c2 = min(col0 + 2u, 127u);
  let c3 = min(col0 + 3u, 127u);
  var accv0: array<vec4<f32>, 4>;
  for (var k = u32(offsets[grp]); k < u32(offsets[grp + 1u]); k++) {
    let a4_0 = d_out[k * 16u + row0 / 4u];
    let a0 = a4_0[0];
    let a1 = a4_0[1];
    let a2 = a4_0[2];
    let a3 = a4_0[3];
    let b0_0 = hidden[k * 32u + min(col0 / 4u, 31u)];
    accv0[0] = fma(vec4<f32>(a0), b0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1), b0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2), b0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3), b0_0, accv0[3]);
  }
  if (ok0 && col0 < 128u) {
    d_w_down[grp * 2048u + r0 * 32u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 128u) {
    d_w_down[grp * 2048u + r1 * 32u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 128u) {
    d_w_down[grp * 2048u + r2 * 32u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 128u) {
    d_w_down[grp * 2048u + r3 * 32u + col0 / 4u] += accv0[3];
  }
}

// ===== expert_up_grad_input, used by blocks.0.moe.experts/expert_up_grad_input, blocks.1.moe.experts/expert_up_grad_input
// moec kernel blocks.0.moe.experts/expert_up_grad_input (backward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> d_pre_up: array<vec4<f32>>;  // blocks.0.moe.experts/d_pre_up
@group(0) @binding(1) var<storage, read> w_up: array<vec4<f32>>;  // blocks.0.moe.experts.up.weight
@group(0) @binding(2) var<storage, read> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(3) var<storage, read_write> d_rows: array<vec4<f32>>;  // blocks.0.moe.experts/d_input_rows

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 8320u) { return; }
  let block = i / 16u;
  let col0 = (i % 16u) * 4u;
  // Find the expert whose packed blocks cover this one.
  var grp = 8u;
  var first = 0u;
  for (var e = 0u; e < 8u; e++) {
    let blocks = (u32(offsets[e + 1u]) - u32(offsets[e]) + 3u) / 4u;
    if (block < first + blocks) { grp = e; break; }
    first += blocks;
  }
  if (grp == 8u) { return; }
  let row_begin = u32(offsets[grp]);
  let row_end = u32(offsets[grp + 1u]);
  let row0 = row_begin + (block - first) * 4u;
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k4 = 0u; k4 < 32u; k4++) {
    let a0 = d_pre_up[r0 * 32u + k4];
    let a1 = d_pre_up[r1 * 32u + k4];
    let a2 = d_pre_up[r2 * 32u + k4];
    let a3 = d_pre_up[r3 * 32u + k4];
    let b0_0_0 = w_up[grp * 2048u + (k4 * 4u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[0]), b0_0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[0]), b0_0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[0]), b0_0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[0]), b0_0_0, accv0[3]);
    let b0_0_1 = w_up[grp * 2048u + (k4 * 4u + 1u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[1]), b0_0_1, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[1]), b0_0_1, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[1]), b0_0_1, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[1]), b0_0_1, accv0[3]);
    let b0_0_2 = w_up[grp * 2048u + (k4 * 4u + 2u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[2]), b0_0_2, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[2]), b0_0_2, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[2]), b0_0_2, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[2]), b0_0_2, accv0[3]);
    let b0_0_3 = w_up[grp * 2048u + (k4 * 4u + 3u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[3]), b0_0_3, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[3]), b0_0_3, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[3]), b0_0_3, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[3]), b0_0_3, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_rows[r0 * 16u + col0 / 4u] = accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_rows[r1 * 16u + col0 / 4u] = accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_rows[r2 * 16u + col0 / 4u] = accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_rows[r3 * 16u + col0 / 4u] = accv0[3];
  }
}

// ===== expert_gather_grad_input, used by blocks.0.moe.experts/expert_gather_grad_input, blocks.1.moe.experts/expert_gather_grad_input
// moec kernel blocks.0.moe.experts/expert_gather_grad_input (backward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> d_rows: array<vec4<f32>>;  // blocks.0.moe.experts/d_input_rows
@group(0) @binding(1) var<storage, read> token_slot: array<i32>;  // blocks.0.moe.token_slot
@group(0) @binding(2) var<storage, read_write> d_x: array<vec4<f32>>;  // grad/blocks.0.ffn_norm.y

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 16384u) { return; }
  let t = i / 16u;
  let c = i % 16u;
  var sum = vec4<f32>(0.0);
  for (var j = 0u; j < 2u; j++) {
    let row = token_slot[t * 2u + j];
    if (row >= 0) { sum += d_rows[u32(row) * 16u + c]; }
  }
  d_x[i] += sum;
}

// ===== expert_up_grad_weight, used by blocks.0.moe.experts/expert_up_grad_weight, blocks.1.moe.experts/expert_up_grad_weight
// moec kernel blocks.0.moe.experts/expert_up_grad_weight (backward of expert_ffn)
// activation=gelu rows=2048 gather=true rows_per_expert=320
// from specs/st_moe.moe:8: experts 8 { hidden 128  activation gelu }

@group(0) @binding(0) var<storage, read> d_pre: array<vec4<f32>>;  // blocks.0.moe.experts/d_pre_up
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;  // blocks.0.ffn_norm.y
@group(0) @binding(2) var<storage, read> slot_token: array<i32>;  // blocks.0.moe.slot_token
@group(0) @binding(3) var<storage, read> offsets: array<i32>;  // blocks.0.moe.expert_offsets
@group(0) @binding(4) var<storage, read_write> d_w: array<vec4<f32>>;  // grad/blocks.0.moe.experts.up.weight

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 512u;
  let tile = i % 512u;
  let row_begin = 0u;
  let row_end = 128u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k = u32(offsets[grp]); k < u32(offsets[grp + 1u]); k++) {
    let a4_0 = d_pre[k * 32u + row0 / 4u];
    let a0 = a4_0[0];
    let a1 = a4_0[1];
    let a2 = a4_0[2];
    let a3 = a4_0[3];
    let b0_0 = x[u32(max(slot_token[k], 0)) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0), b0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1), b0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2), b0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3), b0_0, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_w[grp * 2048u + r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_w[grp * 2048u + r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_w[grp * 2048u + r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_w[grp * 2048u + r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== combine, used by blocks.0.moe.combine/combine, blocks.1.moe.combine/combine
// moec kernel blocks.0.moe.combine/combine (forward of combine)
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> expert_out: array<vec4<f32>>;  // blocks.0.moe.expert_out
@group(0) @binding(1) var<storage, read> token_slot: array<i32>;  // blocks.0.moe.token_slot
@group(0) @binding(2) var<storage, read> token_gate: array<f32>;  // blocks.0.moe.token_gate
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;  // blocks.0.moe.routed

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 16384u) { return; }
  let t = i / 16u;
  let c = i % 16u;
  var sum = vec4<f32>(0.0);
  for (var j = 0u; j < 2u; j++) {
    let row = token_slot[t * 2u + j];
    if (row >= 0) { sum = fma(vec4<f32>(token_gate[t * 2u + j]), expert_out[u32(row) * 16u + c], sum); }
  }
  y[i] = sum;
}

// ===== combine_grad_out, used by blocks.0.moe.combine/combine_grad_out, blocks.1.moe.combine/combine_grad_out
// moec kernel blocks.0.moe.combine/combine_grad_out (backward of combine)
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> token_slot: array<i32>;  // blocks.0.moe.token_slot
@group(0) @binding(1) var<storage, read> token_gate: array<f32>;  // blocks.0.moe.token_gate
@group(0) @binding(2) var<storage, read> d_y: array<vec4<f32>>;  // grad/blocks.0.moe.routed
@group(0) @binding(3) var<storage, read_write> d_expert_out: array<vec4<f32>>;  // grad/blocks.0.moe.expert_out

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 32768u) { return; }
  let tj = i / 16u;
  let c = i % 16u;
  let row = token_slot[tj];
  if (row >= 0) { d_expert_out[u32(row) * 16u + c] += vec4<f32>(token_gate[tj]) * d_y[(tj / 2u) * 16u + c]; }
}

// ===== combine_grad_gate, used by blocks.0.moe.combine/combine_grad_gate, blocks.1.moe.combine/combine_grad_gate
// moec kernel blocks.0.moe.combine/combine_grad_gate (backward of combine)
// from specs/st_moe.moe:9: route token_choice {

@group(0) @binding(0) var<storage, read> expert_out: array<vec4<f32>>;  // blocks.0.moe.expert_out
@group(0) @binding(1) var<storage, read> token_slot: array<i32>;  // blocks.0.moe.token_slot
@group(0) @binding(2) var<storage, read> d_y: array<vec4<f32>>;  // grad/blocks.0.moe.routed
@group(0) @binding(3) var<storage, read_write> d_gate: array<f32>;  // grad/blocks.0.moe.token_gate

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 2048u) { return; }
  let t = i / 2u;
  let row = token_slot[i];
  if (row < 0) { return; }
  var dotp = 0.0;
  for (var c = 0u; c < 16u; c++) { let a = d_y[t * 16u + c]; let b = expert_out[u32(row) * 16u + c]; dotp = fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, dotp)))); }
  d_gate[i] += dotp;
}

// ===== lm_head/matmul
// moec kernel lm_head/matmul (forward of linear)
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;  // final_norm.y
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // lm_head.weight
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;  // logits

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 16384u) { return; }
  let grp = i / 16384u;
  let tile = i % 16384u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 64u) * 4u;
  let col0 = (tile % 64u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 255u);
  let c1 = min(col0 + 1u, 255u);
  let c2 = min(col0 + 2u, 255u);
  let c3 = min(col0 + 3u, 255u);
  var acc0: array<f32, 16>;
  for (var k4 = 0u; k4 < 16u; k4++) {
    let a0 = x[r0 * 16u + k4];
    let a1 = x[r1 * 16u + k4];
    let a2 = x[r2 * 16u + k4];
    let a3 = x[r3 * 16u + k4];
    let b0_0 = w[c0 * 16u + k4];
    let b0_1 = w[c1 * 16u + k4];
    let b0_2 = w[c2 * 16u + k4];
    let b0_3 = w[c3 * 16u + k4];
    acc0[0] = fma(a0.w, b0_0.w, fma(a0.z, b0_0.z, fma(a0.y, b0_0.y, fma(a0.x, b0_0.x, acc0[0]))));
    acc0[1] = fma(a0.w, b0_1.w, fma(a0.z, b0_1.z, fma(a0.y, b0_1.y, fma(a0.x, b0_1.x, acc0[1]))));
    acc0[2] = fma(a0.w, b0_2.w, fma(a0.z, b0_2.z, fma(a0.y, b0_2.y, fma(a0.x, b0_2.x, acc0[2]))));
    acc0[3] = fma(a0.w, b0_3.w, fma(a0.z, b0_3.z, fma(a0.y, b0_3.y, fma(a0.x, b0_3.x, acc0[3]))));
    acc0[4] = fma(a1.w, b0_0.w, fma(a1.z, b0_0.z, fma(a1.y, b0_0.y, fma(a1.x, b0_0.x, acc0[4]))));
    acc0[5] = fma(a1.w, b0_1.w, fma(a1.z, b0_1.z, fma(a1.y, b0_1.y, fma(a1.x, b0_1.x, acc0[5]))));
    acc0[6] = fma(a1.w, b0_2.w, fma(a1.z, b0_2.z, fma(a1.y, b0_2.y, fma(a1.x, b0_2.x, acc0[6]))));
    acc0[7] = fma(a1.w, b0_3.w, fma(a1.z, b0_3.z, fma(a1.y, b0_3.y, fma(a1.x, b0_3.x, acc0[7]))));
    acc0[8] = fma(a2.w, b0_0.w, fma(a2.z, b0_0.z, fma(a2.y, b0_0.y, fma(a2.x, b0_0.x, acc0[8]))));
    acc0[9] = fma(a2.w, b0_1.w, fma(a2.z, b0_1.z, fma(a2.y, b0_1.y, fma(a2.x, b0_1.x, acc0[9]))));
    acc0[10] = fma(a2.w, b0_2.w, fma(a2.z, b0_2.z, fma(a2.y, b0_2.y, fma(a2.x, b0_2.x, acc0[10]))));
    acc0[11] = fma(a2.w, b0_3.w, fma(a2.z, b0_3.z, fma(a2.y, b0_3.y, fma(a2.x, b0_3.x, acc0[11]))));
    acc0[12] = fma(a3.w, b0_0.w, fma(a3.z, b0_0.z, fma(a3.y, b0_0.y, fma(a3.x, b0_0.x, acc0[12]))));
    acc0[13] = fma(a3.w, b0_1.w, fma(a3.z, b0_1.z, fma(a3.y, b0_1.y, fma(a3.x, b0_1.x, acc0[13]))));
    acc0[14] = fma(a3.w, b0_2.w, fma(a3.z, b0_2.z, fma(a3.y, b0_2.y, fma(a3.x, b0_2.x, acc0[14]))));
    acc0[15] = fma(a3.w, b0_3.w, fma(a3.z, b0_3.z, fma(a3.y, b0_3.y, fma(a3.x, b0_3.x, acc0[15]))));
  }
  if (ok0 && col0 < 256u) {
    y[r0 * 64u + col0 / 4u] = vec4<f32>(acc0[0], acc0[1], acc0[2], acc0[3]);
  }
  if (ok1 && col0 < 256u) {
    y[r1 * 64u + col0 / 4u] = vec4<f32>(acc0[4], acc0[5], acc0[6], acc0[7]);
  }
  if (ok2 && col0 < 256u) {
    y[r2 * 64u + col0 / 4u] = vec4<f32>(acc0[8], acc0[9], acc0[10], acc0[11]);
  }
  if (ok3 && col0 < 256u) {
    y[r3 * 64u + col0 / 4u] = vec4<f32>(acc0[12], acc0[13], acc0[14], acc0[15]);
  }
}

// ===== lm_head/matmul_grad_input
// moec kernel lm_head/matmul_grad_input (backward of linear)
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> d_y: array<vec4<f32>>;  // grad/logits
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;  // lm_head.weight
@group(0) @binding(2) var<storage, read_write> d_x: array<vec4<f32>>;  // grad/final_norm.y

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 4096u) { return; }
  let grp = i / 4096u;
  let tile = i % 4096u;
  let row_begin = 0u;
  let row_end = 1024u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k4 = 0u; k4 < 64u; k4++) {
    let a0 = d_y[r0 * 64u + k4];
    let a1 = d_y[r1 * 64u + k4];
    let a2 = d_y[r2 * 64u + k4];
    let a3 = d_y[r3 * 64u + k4];
    let b0_0_0 = w[(k4 * 4u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[0]), b0_0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[0]), b0_0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[0]), b0_0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[0]), b0_0_0, accv0[3]);
    let b0_0_1 = w[(k4 * 4u + 1u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[1]), b0_0_1, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[1]), b0_0_1, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[1]), b0_0_1, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[1]), b0_0_1, accv0[3]);
    let b0_0_2 = w[(k4 * 4u + 2u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[2]), b0_0_2, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[2]), b0_0_2, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[2]), b0_0_2, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[2]), b0_0_2, accv0[3]);
    let b0_0_3 = w[(k4 * 4u + 3u) * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0[3]), b0_0_3, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1[3]), b0_0_3, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2[3]), b0_0_3, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3[3]), b0_0_3, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_x[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_x[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_x[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_x[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== lm_head/matmul_grad_weight
// moec kernel lm_head/matmul_grad_weight (backward of linear)
// from specs/st_moe.moe:6: norm layer  position rotary  tie_embeddings false

@group(0) @binding(0) var<storage, read> d_y: array<vec4<f32>>;  // grad/logits
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;  // final_norm.y
@group(0) @binding(2) var<storage, read_write> d_w: array<vec4<f32>>;  // grad/lm_head.weight

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let grp = i / 1024u;
  let tile = i % 1024u;
  let row_begin = 0u;
  let row_end = 256u;
  let row0 = row_begin + (tile / 16u) * 4u;
  let col0 = (tile % 16u) * 4u;
  // Tiles past the group's rows have nothing to do.
  if (row0 >= row_end) { return; }
  let ok0 = row0 < row_end;
  let r0 = min(row0, row_end - 1u);
  let ok1 = row0 + 1u < row_end;
  let r1 = min(row0 + 1u, row_end - 1u);
  let ok2 = row0 + 2u < row_end;
  let r2 = min(row0 + 2u, row_end - 1u);
  let ok3 = row0 + 3u < row_end;
  let r3 = min(row0 + 3u, row_end - 1u);
  let c0 = min(col0, 63u);
  let c1 = min(col0 + 1u, 63u);
  let c2 = min(col0 + 2u, 63u);
  let c3 = min(col0 + 3u, 63u);
  var accv0: array<vec4<f32>, 4>;
  for (var k = 0u; k < 1024u; k++) {
    let a4_0 = d_y[k * 64u + row0 / 4u];
    let a0 = a4_0[0];
    let a1 = a4_0[1];
    let a2 = a4_0[2];
    let a3 = a4_0[3];
    let b0_0 = x[k * 16u + min(col0 / 4u, 15u)];
    accv0[0] = fma(vec4<f32>(a0), b0_0, accv0[0]);
    accv0[1] = fma(vec4<f32>(a1), b0_0, accv0[1]);
    accv0[2] = fma(vec4<f32>(a2), b0_0, accv0[2]);
    accv0[3] = fma(vec4<f32>(a3), b0_0, accv0[3]);
  }
  if (ok0 && col0 < 64u) {
    d_w[r0 * 16u + col0 / 4u] += accv0[0];
  }
  if (ok1 && col0 < 64u) {
    d_w[r1 * 16u + col0 / 4u] += accv0[1];
  }
  if (ok2 && col0 < 64u) {
    d_w[r2 * 16u + col0 / 4u] += accv0[2];
  }
  if (ok3 && col0 < 64u) {
    d_w[r3 * 16u + col0 / 4u] += accv0[3];
  }
}

// ===== cross_entropy/cross_entropy
// moec kernel cross_entropy/cross_entropy (forward of cross_entropy)
// from specs/st_moe.moe:4: model st_moe {

@group(0) @binding(0) var<storage, read> logits: array<f32>;  // logits
@group(0) @binding(1) var<storage, read> targets: array<i32>;  // targets
@group(0) @binding(2) var<storage, read_write> token_loss: array<f32>;  // cross_entropy/token_loss

fn lse(t: u32) -> f32 {
  var zmax = -3.4e38;
  for (var s = 0u; s < 256u; s++) { zmax = max(zmax, logits[t * 256u + s]); }
  var sum = 0.0;
  for (var s = 0u; s < 256u; s++) { sum += exp(logits[t * 256u + s] - zmax); }
  return zmax + log(sum);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  token_loss[i] = lse(i) - logits[i * 256u + u32(targets[i])];
}

// ===== cross_entropy/cross_entropy_mean
// moec kernel cross_entropy/cross_entropy_mean (forward of cross_entropy)
// from specs/st_moe.moe:4: model st_moe {

@group(0) @binding(0) var<storage, read> token_loss: array<f32>;  // cross_entropy/token_loss
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;  // loss.cross_entropy

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var k = lid; k < 1024u; k += 256u) { acc += token_loss[k]; }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) {
    loss[0] = partial[0] / 1024.0;
  }
}

// ===== cross_entropy/cross_entropy_backward
// moec kernel cross_entropy/cross_entropy_backward (backward of cross_entropy)
// from specs/st_moe.moe:4: model st_moe {

@group(0) @binding(0) var<storage, read> logits: array<f32>;  // logits
@group(0) @binding(1) var<storage, read> targets: array<i32>;  // targets
@group(0) @binding(2) var<storage, read> d_loss: array<f32>;  // grad/loss.cross_entropy
@group(0) @binding(3) var<storage, read_write> d_logits: array<f32>;  // grad/logits

fn lse(t: u32) -> f32 {
  var zmax = -3.4e38;
  for (var s = 0u; s < 256u; s++) { zmax = max(zmax, logits[t * 256u + s]); }
  var sum = 0.0;
  for (var s = 0u; s < 256u; s++) { sum += exp(logits[t * 256u + s] - zmax); }
  return zmax + log(sum);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i >= 1024u) { return; }
  let t = i;
  let l = lse(t);
  let scale = d_loss[0] / 1024.0;
  for (var v = 0u; v < 256u; v++) { d_logits[t * 256u + v] += scale * exp(logits[t * 256u + v] - l); }
  d_logits[t * 256u + u32(targets[t])] -= scale;
}
