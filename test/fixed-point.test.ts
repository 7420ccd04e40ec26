// The fixed-point helpers against a BigInt reference of the C arithmetic they stand for.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  INT32_MAX,
  INT32_MIN,
  divideByPowerOfTwo,
  multByPowerOfTwo,
  multiplierValue,
  quantizeMultiplier,
  requantize,
  saturatingDoublingHighMult,
} from '../src/quant/fixed-point.js';

const int32 = fc.integer({ min: INT32_MIN, max: INT32_MAX });
const asInt32 = (x: bigint) => Number(BigInt.asIntN(32, x));

/** CMSIS_NN_USE_SINGLE_ROUNDING: ((val * m) >> (31 - shift - 1)) + 1) >> 1, in int64. */
function requantizeRef(val: number, m: number, shift: number): number {
  const p = BigInt(val) * BigInt(m);
  const total = BigInt(31 - shift);
  return asInt32(((p >> (total - 1n)) + 1n) >> 1n);
}

/** arm_nn_doubling_high_mult: (a*b + nudge) / 2^31 truncated toward zero, saturating. */
function srdhmRef(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const nudge = (a < 0) !== (b < 0) ? 1n - (1n << 30n) : 1n << 30n;
  const p = BigInt(a) * BigInt(b) + nudge;
  return asInt32(p / (1n << 31n));
}

function dividePotRef(x: number, e: number): number {
  if (e === 0) return x;
  const mask = (1 << e) - 1;
  const remainder = x & mask;
  let result = x >> e;
  const threshold = (mask >> 1) + (result < 0 ? 1 : 0);
  if (remainder > threshold) result++;
  return result;
}

describe('fixed-point arithmetic', () => {
  it('requantize rounds the exact product once, half up (single rounding)', () => {
    fc.assert(
      fc.property(int32, fc.integer({ min: 1 << 30, max: INT32_MAX }), fc.integer({ min: -31, max: 30 }), (v, m, s) => {
        expect(requantize(v, m, s)).toBe(requantizeRef(v, m, s));
      }),
      { numRuns: 20000, seed: 7 },
    );
  });

  it('requantize is exact at halves and small values', () => {
    // 3 * 2^30 / 2^31 = 1.5 → 2; -1.5 → -1 (half up), as the C computes it.
    expect(requantize(3, 1 << 30, 0)).toBe(2);
    expect(requantize(-3, 1 << 30, 0)).toBe(-1);
    expect(requantize(1000, 1 << 30, -3)).toBe(63);
    expect(requantize(INT32_MAX, INT32_MAX, 0)).toBe(requantizeRef(INT32_MAX, INT32_MAX, 0));
  });

  it('saturating doubling high multiply matches gemmlowp', () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        expect(saturatingDoublingHighMult(a, b)).toBe(srdhmRef(a, b));
      }),
      { numRuns: 20000, seed: 11 },
    );
    expect(saturatingDoublingHighMult(INT32_MIN, INT32_MIN)).toBe(INT32_MAX);
  });

  it('rounding division by a power of two rounds halves away from zero', () => {
    fc.assert(
      fc.property(int32, fc.integer({ min: 0, max: 31 }), (x, e) => {
        expect(divideByPowerOfTwo(x, e)).toBe(dividePotRef(x, e));
      }),
      { numRuns: 20000, seed: 3 },
    );
    expect(divideByPowerOfTwo(3, 1)).toBe(2);
    expect(divideByPowerOfTwo(-3, 1)).toBe(-2);
  });

  it('multiplication by a power of two saturates', () => {
    expect(multByPowerOfTwo(1 << 29, 2)).toBe(INT32_MAX);
    expect(multByPowerOfTwo(-(1 << 29) - 1, 2)).toBe(INT32_MIN);
    expect(multByPowerOfTwo(12345, 3)).toBe(98760);
  });

  it('quantizeMultiplier keeps 31 bits of the real multiplier', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-9, max: 1e6, noNaN: true }), (real) => {
        const q = quantizeMultiplier(real);
        expect(q.multiplier).toBeGreaterThanOrEqual(1 << 30);
        expect(q.multiplier).toBeLessThanOrEqual(INT32_MAX);
        expect(Math.abs(multiplierValue(q) - real) / real).toBeLessThan(2 ** -30);
      }),
      { numRuns: 5000, seed: 5 },
    );
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 1 << 30, shift: 0 });
    expect(quantizeMultiplier(1)).toEqual({ multiplier: 1 << 30, shift: 1 });
  });
});
