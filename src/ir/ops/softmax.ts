// Softmax over the last axis with the fixed-point arithmetic of CMSIS-NN's arm_softmax_s8
// (TFLite's integer softmax): differences to the row maximum, scaled to Q5.26, exponentiated
// with gemmlowp's exp_on_negative_values, summed in Q12.19, inverted with Newton-Raphson, and
// written as int8 at scale 1/256, zero point -128.

import type { SoftmaxOp } from '../ir.js';
import {
  INT32_MAX,
  INT32_MIN,
  clz32,
  divideByPowerOfTwo,
  multByPowerOfTwo,
  quantizeMultiplier,
  saturatingDoublingHighMult as mulSat,
  wrap32,
} from '../../quant/fixed-point.js';
import { clamp, type Env, Q7_MAX, Q7_MIN } from './env.js';

const ACCUM_BITS = 12;

/** exp(x) for x <= 0 in Q5.26, result in Q0.31 (gemmlowp's exp_on_negative_values). */
export function expOnNegativeValues(val: number): number {
  const quarter = 1 << 24;
  const valModMinusQuarter = (val & (quarter - 1)) - quarter;
  const remainder = valModMinusQuarter - val;
  const x = wrap32(valModMinusQuarter * 32 + (1 << 28));
  const x2 = mulSat(x, x);
  // exp(x) on [-1/4, 0) by its Taylor polynomial around -1/8; exp(-1/8) in Q0.31 is 1895147668.
  const poly = divideByPowerOfTwo(wrap32(mulSat(wrap32(divideByPowerOfTwo(mulSat(x2, x2), 2) + mulSat(x2, x)), 715827883) + x2), 1);
  let result = wrap32(1895147668 + mulSat(1895147668, wrap32(x + poly)));
  // Multiply by exp(-2^k / 4) for each set bit k of the remainder, in Q0.31.
  const factors = [1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242];
  factors.forEach((f, i) => {
    if (remainder & (1 << (24 + i))) result = mulSat(result, f);
  });
  return val === 0 ? INT32_MAX : result;
}

/** 1 / (1 + x) for x in [0, 1) in Q0.31, result in Q1.30 read as Q0.31 (gemmlowp). */
export function oneOverOnePlusX(val: number): number {
  const sum = val + INT32_MAX;
  const halfDenominator = Math.trunc((sum + (sum >= 0 ? 1 : -1)) / 2);
  let x = wrap32(1515870810 + mulSat(halfDenominator, -1010580540));
  const one = 1 << 29;
  for (let i = 0; i < 3; i++) {
    x = wrap32(x + multByPowerOfTwo(mulSat(x, wrap32(one - mulSat(halfDenominator, x))), 2));
  }
  return multByPowerOfTwo(x, 1);
}

export function runSoftmax(op: SoftmaxOp, env: Env): void {
  const x = env.read(op.inputs[0]);
  const shape = env.tensor(op.inputs[0]).shape;
  const n = shape[shape.length - 1];
  const out = new Int8Array(x.length);
  const mask = 2 ** op.shift;
  for (let r = 0; r < x.length / n; r++) {
    const row = x.subarray(r * n, (r + 1) * n);
    let max = row[0];
    for (let c = 1; c < n; c++) max = Math.max(max, row[c]);
    const exps = Array.from(row, (v) => {
      const diff = v - max;
      return diff >= op.diffMin ? expOnNegativeValues(mulSat(wrap32(diff * mask), op.multiplier)) : undefined;
    });
    let sum = 0;
    for (const e of exps) if (e !== undefined) sum = wrap32(sum + divideByPowerOfTwo(e, ACCUM_BITS));
    const headroom = clz32(sum);
    const shiftedScale = oneOverOnePlusX(sum > 0 ? wrap32(wrap32(sum * 2 ** headroom) - INT32_MIN) : INT32_MIN);
    const bitsOverUnit = ACCUM_BITS - headroom + 23;
    exps.forEach((e, c) => {
      if (e === undefined) {
        out[r * n + c] = Q7_MIN;
        return;
      }
      const res = divideByPowerOfTwo(mulSat(shiftedScale, e), bitsOverUnit) + Q7_MIN;
      out[r * n + c] = clamp(res, Q7_MIN, Q7_MAX);
    });
  }
  env.write(op.outputs[0], out);
}

/**
 * TFLite's softmax preprocessing (PreprocessSoftmaxScaling with 5 integer bits, and
 * CalculateInputRadius): the multiplier and left shift that take input differences to Q5.26,
 * and the smallest difference whose exponential is not negligible.
 */
export function softmaxParams(inputScale: number, beta = 1): { multiplier: number; shift: number; diffMin: number } {
  const integerBits = 5;
  const real = Math.min(beta * inputScale * 2 ** (31 - integerBits), 2 ** 31 - 1);
  const q = quantizeMultiplier(real);
  const shift = Math.max(q.shift, 0);
  const radius = Math.floor(((2 ** integerBits - 1) * 2 ** (31 - integerBits)) / 2 ** shift);
  return { multiplier: q.multiplier, shift, diffMin: -radius };
}
