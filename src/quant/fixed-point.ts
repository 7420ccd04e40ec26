// Fixed-point arithmetic with exactly the integer semantics of CMSIS-NN's C code on a
// Cortex-M (two's complement int32 that wraps, arithmetic right shifts), in plain JS numbers.
//
// Products of two int32 need up to 62 bits; they are split into halves so that every partial
// result stays below 2^53 and is exact in a double. The functions are checked against a BigInt
// reference in test/fixed-point.test.ts.

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
const TWO_POW_31 = 2147483648;
const TWO_POW_32 = 4294967296;

/** The int32 that C gets for an integer value (exact in a double) outside the int32 range. */
export function wrap32(x: number): number {
  return (x | 0) === x ? x : Number(BigInt.asIntN(32, BigInt(x)));
}

/**
 * Saturating rounding doubling high multiply (arm_nn_doubling_high_mult, gemmlowp's
 * SaturatingRoundingDoublingHighMul): (a * b + nudge) / 2^31 truncated toward zero, with the
 * nudge rounding half away from zero; INT32_MIN * INT32_MIN saturates.
 */
export function saturatingDoublingHighMult(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const negative = a < 0 !== b < 0;
  const nudge = negative ? 1 - 1073741824 : 1073741824;
  // floor division, then correct toward zero for negative totals with a remainder.
  const q = floorMulAddDiv31(a, b, nudge);
  const exactMultiple = mulAddMod31IsZero(a, b, nudge);
  return wrap32(q < 0 && !exactMultiple ? q + 1 : q);
}

/** floor((a * b + c) / 2^31) for int32 a, b and |c| < 2^31, exactly. */
function floorMulAddDiv31(a: number, b: number, c: number): number {
  // a = ah * 2^16 + al with 0 <= al < 2^16; both partial products are below 2^48.
  const al = a & 0xffff;
  const ah = (a - al) / 65536;
  const hi = ah * b; // |hi| < 2^47
  const lo = al * b + c; // |lo| < 2^49
  // a*b + c = hi * 2^16 + lo; write hi = hq * 2^15 + hr with 0 <= hr < 2^15.
  const hr = ((hi % 32768) + 32768) % 32768;
  const hq = (hi - hr) / 32768;
  return hq + Math.floor((hr * 65536 + lo) / TWO_POW_31);
}

function mulAddMod31IsZero(a: number, b: number, c: number): boolean {
  const al = a & 0xffff;
  const ah = (a - al) / 65536;
  const hi = ah * b;
  const lo = al * b + c;
  const hr = ((hi % 32768) + 32768) % 32768;
  return (hr * 65536 + lo) % TWO_POW_31 === 0;
}

/** Rounding division by 2^exponent, midpoints away from zero (arm_nn_divide_by_power_of_two). */
export function divideByPowerOfTwo(dividend: number, exponent: number): number {
  if (exponent === 0) return dividend;
  // C leaves shifts of 32 or more undefined; on a Cortex-M the mask becomes all ones and the
  // shift gives 0 or -1, so the rounding step yields 1 or -1 (softmax rows of 512 maxima).
  if (exponent >= 32) return dividend >= 0 ? 1 : -1;
  const mask = 2 ** exponent - 1;
  const remainder = dividend & mask;
  let result = dividend >> exponent;
  let threshold = mask >>> 1;
  if (result < 0) threshold++;
  if (remainder > threshold) result++;
  return result;
}

/**
 * Requantization: val · multiplier · 2^shift / 2^31, rounded once, half up, of the exact
 * 64-bit product. This is CMSIS-NN's arm_nn_requantize built with CMSIS_NN_USE_SINGLE_ROUNDING
 * (TFLite's TFLITE_SINGLE_ROUNDING), which every generated project defines.
 *
 * The default CMSIS-NN build rounds twice (a rounding doubling high multiply, then a rounding
 * shift); on a quantized model that differs from the model's own Q/DQ arithmetic in about one
 * output of a hundred per op, and the differences compound through a recurrence. One rounding
 * of the exact product agrees with Q/DQ except at exact ties.
 */
export function requantize(val: number, multiplier: number, shift: number): number {
  const total = 31 - shift;
  if (val > -4194304 && val < 4194304) {
    // |val · multiplier| < 2^53: the product, the addition and the division are exact.
    return wrap32(Math.floor((val * multiplier + 2 ** (total - 1)) / 2 ** total));
  }
  const p = BigInt(val) * BigInt(multiplier);
  return Number(BigInt.asIntN(32, ((p >> BigInt(total - 1)) + 1n) >> 1n));
}

/** Saturating multiplication by 2^exp (arm_nn_mult_by_power_of_two), 0 <= exp < 31. */
export function multByPowerOfTwo(val: number, exp: number): number {
  const thresh = 2 ** (31 - exp) - 1;
  if (val > thresh) return INT32_MAX;
  if (val < -thresh) return INT32_MIN;
  return wrap32(val * 2 ** exp);
}

export interface QuantizedMultiplier {
  multiplier: number;
  shift: number;
}

/**
 * A positive real multiplier as a Q31 mantissa and a power-of-two shift (TFLite's
 * QuantizeMultiplier): real = multiplier / 2^31 · 2^shift, multiplier in [2^30, 2^31).
 */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (!(real > 0) || !Number.isFinite(real)) return { multiplier: 0, shift: 0 };
  let shift = Math.floor(Math.log2(real)) + 1;
  let fraction = real / 2 ** shift;
  // log2 can be off by one near powers of two; bring fraction into [0.5, 1).
  while (fraction >= 1) {
    fraction /= 2;
    shift++;
  }
  while (fraction < 0.5) {
    fraction *= 2;
    shift--;
  }
  let q = Math.round(fraction * TWO_POW_31);
  if (q === TWO_POW_31) {
    q /= 2;
    shift++;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (shift > 30) return { multiplier: INT32_MAX, shift: 30 };
  return { multiplier: q, shift };
}

/** The real value a quantized multiplier stands for. */
export function multiplierValue(m: QuantizedMultiplier): number {
  return (m.multiplier / TWO_POW_31) * 2 ** m.shift;
}

/** Count of leading zero bits of an int32 taken as unsigned. */
export function clz32(x: number): number {
  return Math.clz32(x);
}

/** 2^32-periodic addition of int32 values, as C's int32 arithmetic on the target. */
export function add32(a: number, b: number): number {
  return wrap32(a + b);
}

export { TWO_POW_31, TWO_POW_32 };
