// Quantization parameters: what they mean, how they compare, how they are chosen from ranges.
//
// Activations are int8 asymmetric; uint8 tensors of an ONNX model are moved to int8 by
// subtracting 128 from values and zero point, which represents exactly the same reals.

import type { QuantParams } from '../onnx/graph.js';

export function perTensor(dtype: QuantParams['dtype'], scale: number, zeroPoint: number): QuantParams {
  return { dtype, scale: [scale], zeroPoint: [zeroPoint] };
}

export function isPerTensor(q: QuantParams): boolean {
  return q.scale.length === 1;
}

export function sameQuant(a: QuantParams | undefined, b: QuantParams | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.dtype !== b.dtype || a.scale.length !== b.scale.length) return false;
  if ((a.axis ?? -1) !== (b.axis ?? -1) && a.scale.length > 1) return false;
  for (let i = 0; i < a.scale.length; i++) {
    if (Math.fround(a.scale[i]) !== Math.fround(b.scale[i]) || a.zeroPoint[i] !== b.zeroPoint[i]) return false;
  }
  return true;
}

/** The same reals, stored as int8: uint8 values and zero points move down by 128. */
export function toInt8Domain(q: QuantParams): QuantParams {
  if (q.dtype !== 'uint8') return q;
  return { ...q, dtype: 'int8', zeroPoint: q.zeroPoint.map((z) => z - 128) };
}

export function describeQuant(q: QuantParams): string {
  if (q.scale.length === 1) return `${q.dtype} s=${fmt(q.scale[0])} zp=${q.zeroPoint[0]}`;
  const lo = Math.min(...q.scale);
  const hi = Math.max(...q.scale);
  return `${q.dtype} per-axis(${q.axis}) ×${q.scale.length} s=${fmt(lo)}..${fmt(hi)}`;
}

function fmt(x: number): string {
  return x.toPrecision(4);
}

/**
 * Asymmetric int8 parameters covering [min, max] (widened to include 0, as zero must be exact),
 * the TFLite/PyTorch way: scale = (max - min) / 255, zero point rounded into range.
 */
export function chooseActivationParams(min: number, max: number): QuantParams {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (hi - lo < 1e-12) return perTensor('int8', 1 / 256, 0);
  const scale = (hi - lo) / 255;
  const zp = Math.round(-128 - lo / scale);
  return perTensor('int8', Math.fround(scale), Math.min(127, Math.max(-128, zp)));
}

/** Symmetric int8 weights, one scale per output channel (row of a [N, K] matrix). */
export function chooseSymmetricScale(maxAbs: number): number {
  return maxAbs > 0 ? Math.fround(maxAbs / 127) : 1;
}
