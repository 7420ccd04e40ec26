// Requantize: the same reals under other int8 parameters,
// y = clamp(requant(x + inputOffset) + outputOffset).

import type { RequantizeOp } from '../ir.js';
import { requantize, wrap32 } from '../../quant/fixed-point.js';
import { clamp, type Env, Q7_MAX, Q7_MIN } from './env.js';

/** One element of a Requantize. */
export function requantizeElement(op: RequantizeOp, x: number): number {
  return clamp(wrap32(requantize(x + op.inputOffset, op.requant.multiplier, op.requant.shift) + op.outputOffset), Q7_MIN, Q7_MAX);
}

/** The requantization of every int8 value, indexed by value + 128 (what a fused loop reads). */
export function requantizeTable(op: RequantizeOp): Int8Array {
  return Int8Array.from({ length: 256 }, (_, i) => requantizeElement(op, i - 128));
}

export function runRequantize(op: RequantizeOp, env: Env): void {
  env.write(op.outputs[0], Int8Array.from(env.read(op.inputs[0]), (x) => requantizeElement(op, x)));
}
