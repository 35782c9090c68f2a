// 2-D convolution (cross-correlation, like PyTorch) on NCHW tensors, forward and backward.
//   x (N, Ci, H, W), w (Co, Ci, K, K), b (Co) -> y (N, Co, Ho, Wo)
//   y[n,co,oh,ow] = b[co] + sum_{ci,kh,kw} w[co,ci,kh,kw] * x[n, ci, oh*s - padTop + kh, ow*s - padLeft + kw]
// Taps that land outside x read zero. The padding is given per side because the UNet downsample pads
// only right and bottom (ermongroup/ddim: F.pad(x, (0,1,0,1)) then a stride-2 valid conv).
// Backward needs only x and w (no saved activations). Sums run in float64 and round once on store.

import type { HostTensor } from '../host/tensor';
import { convOutSize, type ConvGeometry } from '../host/layers';
import { dims, expectShape, zeros } from './tensor';

interface ConvShape {
  N: number; Ci: number; H: number; W: number;
  Co: number; K: number; Ho: number; Wo: number;
}

function convShape(x: HostTensor, w: HostTensor, g: ConvGeometry, what: string): ConvShape {
  const [N, Ci, H, W] = dims(x, 4, `${what} x`);
  const [Co, wCi, K, K2] = dims(w, 4, `${what} w`);
  if (wCi !== Ci || K2 !== K) {
    throw new Error(`${what}: w has shape [${w.shape.join(',')}], expected [Co,${Ci},K,K] for x [${x.shape.join(',')}]`);
  }
  const [top, left, bottom, right] = g.pad;
  const Ho = convOutSize(H, K, g.stride, top, bottom);
  const Wo = convOutSize(W, K, g.stride, left, right);
  if (Ho < 1 || Wo < 1) throw new Error(`${what}: x [${x.shape.join(',')}] is smaller than the ${K}x${K} kernel`);
  return { N, Ci, H, W, Co, K, Ho, Wo };
}

export function conv2d(x: HostTensor, w: HostTensor, b: HostTensor | null, g: ConvGeometry): HostTensor {
  const { N, Ci, H, W, Co, K, Ho, Wo } = convShape(x, w, g, 'conv2d');
  if (b !== null) expectShape(b, [Co], 'conv2d b');
  const [top, left] = g.pad;
  const y = zeros([N, Co, Ho, Wo]);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Co; co++) {
      for (let oh = 0; oh < Ho; oh++) {
        for (let ow = 0; ow < Wo; ow++) {
          let sum = b === null ? 0 : b.data[co];
          for (let ci = 0; ci < Ci; ci++) {
            for (let kh = 0; kh < K; kh++) {
              const ih = oh * g.stride - top + kh;
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < K; kw++) {
                const iw = ow * g.stride - left + kw;
                if (iw < 0 || iw >= W) continue;
                sum += w.data[((co * Ci + ci) * K + kh) * K + kw] * x.data[((n * Ci + ci) * H + ih) * W + iw];
              }
            }
          }
          y.data[((n * Co + co) * Ho + oh) * Wo + ow] = sum;
        }
      }
    }
  }
  return y;
}

/** Gradients of sum(y * dy) for y = conv2d(x, w, b, g); dy (N, Co, Ho, Wo). */
export function conv2dBackward(
  x: HostTensor,
  w: HostTensor,
  dy: HostTensor,
  g: ConvGeometry,
): { dx: HostTensor; dw: HostTensor; db: HostTensor } {
  const { N, Ci, H, W, Co, K, Ho, Wo } = convShape(x, w, g, 'conv2dBackward');
  expectShape(dy, [N, Co, Ho, Wo], 'conv2dBackward dy');
  const [top, left] = g.pad;
  const dx = zeros(x.shape);
  const dw = zeros(w.shape);
  const db = zeros([Co]);

  // dx as a gather over the outputs each input pixel feeds: input ih is read by output oh through
  // tap kh when oh*s - top + kh = ih, i.e. oh = (ih + top - kh) / s must be a whole in-range number.
  // (A GPU kernel computes dx this way too: one thread per input pixel, no atomics.)
  for (let n = 0; n < N; n++) {
    for (let ci = 0; ci < Ci; ci++) {
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          let sum = 0;
          for (let co = 0; co < Co; co++) {
            for (let kh = 0; kh < K; kh++) {
              const ohs = ih + top - kh;
              if (ohs < 0 || ohs % g.stride !== 0 || ohs / g.stride >= Ho) continue;
              const oh = ohs / g.stride;
              for (let kw = 0; kw < K; kw++) {
                const ows = iw + left - kw;
                if (ows < 0 || ows % g.stride !== 0 || ows / g.stride >= Wo) continue;
                const ow = ows / g.stride;
                sum += w.data[((co * Ci + ci) * K + kh) * K + kw] * dy.data[((n * Co + co) * Ho + oh) * Wo + ow];
              }
            }
          }
          dx.data[((n * Ci + ci) * H + ih) * W + iw] = sum;
        }
      }
    }
  }

  // dw[co,ci,kh,kw] = sum over batch and output pixels of dy * the input pixel that tap read.
  for (let co = 0; co < Co; co++) {
    for (let ci = 0; ci < Ci; ci++) {
      for (let kh = 0; kh < K; kh++) {
        for (let kw = 0; kw < K; kw++) {
          let sum = 0;
          for (let n = 0; n < N; n++) {
            for (let oh = 0; oh < Ho; oh++) {
              const ih = oh * g.stride - top + kh;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < Wo; ow++) {
                const iw = ow * g.stride - left + kw;
                if (iw < 0 || iw >= W) continue;
                sum += dy.data[((n * Co + co) * Ho + oh) * Wo + ow] * x.data[((n * Ci + ci) * H + ih) * W + iw];
              }
            }
          }
          dw.data[((co * Ci + ci) * K + kh) * K + kw] = sum;
        }
      }
    }
  }

  // db[co] = sum of dy over batch and output pixels.
  for (let co = 0; co < Co; co++) {
    let sum = 0;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < Ho * Wo; i++) sum += dy.data[(n * Co + co) * Ho * Wo + i];
    }
    db.data[co] = sum;
  }
  return { dx, dw, db };
}
