// Real-valued biases as int32. PyTorch's QAT export leaves biases in float: ONNX Runtime adds
// them to the float product, while an integer kernel adds them to the int32 accumulator. At the
// product's own scale s_x·s_w the bias is off by up to half a unit of that scale, the same on
// every call; inside a recurrence that constant error steers the state away from the float
// model's. Scaling the sum of products by 2^shift keeps `shift` more bits of the bias.

import { roundHalfEven } from '../onnx/ops.js';
import { quantizeMultiplier } from './fixed-point.js';

/** At most this many extra bits: int8 weights scaled by 2^8 still fit int16. */
export const MAX_ACCUMULATOR_SHIFT = 8;

export interface BiasBounds {
  /** K: products per output. */
  depth: number;
  /** max |w + weightOffset| over the weights. */
  maxWeight: number;
  /** max |x + inputOffset|. */
  maxInput: number;
}

export interface QuantizedBias {
  shift: number;
  data: Int32Array;
}

/**
 * The largest shift up to `maxShift` for which the scaled weights fit int16 (the portable
 * kernels widen them at compile time), the scaled sum plus the bias stays inside int32 for any
 * input, and every row's requantization by ratio/2^shift is still representable.
 */
export function quantizeBias(real: ArrayLike<number>, productScales: number[], requantRatios: number[], bounds: BiasBounds, maxShift: number): QuantizedBias {
  const at = (shift: number) => Array.from({ length: real.length }, (_, i) => roundHalfEven((real[i] * 2 ** shift) / productScales[i]));
  for (let shift = maxShift; shift > 0; shift--) {
    if (bounds.maxWeight * 2 ** shift > 32767) continue;
    const data = at(shift);
    const largestBias = data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    if (bounds.depth * bounds.maxInput * bounds.maxWeight * 2 ** shift + largestBias > 2 ** 31 - 1) continue;
    if (requantRatios.some((r) => r > 0 && quantizeMultiplier(r / 2 ** shift).multiplier === 0)) continue;
    return { shift, data: Int32Array.from(data) };
  }
  return { shift: 0, data: Int32Array.from(at(0), (v) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v))) };
}
