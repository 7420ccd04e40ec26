// Elementwise Add (also Sub, with a negative input-2 multiplier) and Mul on int8, with the
// arithmetic of CMSIS-NN's arm_elementwise_add_s8 and arm_elementwise_mul_s8 (TFLite's
// integer ADD/SUB/MUL): both inputs of an Add are shifted left by leftShift (20), rescaled to
// a common scale, summed and rescaled to the output. Sums wrap as the C's int32 sums do.
// leftShift must be 16 or more: below that, CMSIS-NN's DSP path reads lanes as unsigned.

import type { AddOp, MulOp } from '../ir.js';
import { quantizeMultiplier, requantize, wrap32 } from '../../quant/fixed-point.js';
import { clamp, type Env } from './env.js';

/** One element of an Add. */
export function addElement(op: AddOp, a: number, b: number): number {
  const scale = 2 ** op.leftShift;
  const x = requantize((a + op.input1Offset) * scale, op.input1.multiplier, op.input1.shift);
  const y = requantize((b + op.input2Offset) * scale, op.input2.multiplier, op.input2.shift);
  const sum = wrap32(requantize(wrap32(x + y), op.output.multiplier, op.output.shift) + op.outputOffset);
  return clamp(sum, op.activationMin, op.activationMax);
}

/**
 * The rescaling of one Add input for every int8 value, indexed by value + 128: what addElement
 * computes for that input before the sum (the fused loops read it from a table).
 */
export function addInputTable(op: AddOp, input: 1 | 2): Int32Array {
  const offset = input === 1 ? op.input1Offset : op.input2Offset;
  const r = input === 1 ? op.input1 : op.input2;
  return Int32Array.from({ length: 256 }, (_, i) => requantize((i - 128 + offset) * 2 ** op.leftShift, r.multiplier, r.shift));
}

/** One element of a Mul. */
export function mulElement(op: MulOp, a: number, b: number): number {
  const p = (a + op.input1Offset) * (b + op.input2Offset);
  const v = wrap32(requantize(p, op.output.multiplier, op.output.shift) + op.outputOffset);
  return clamp(v, op.activationMin, op.activationMax);
}

export function runAdd(op: AddOp, env: Env): void {
  const a = env.read(op.inputs[0]);
  const b = env.read(op.inputs[1]);
  env.write(op.outputs[0], Int8Array.from(a, (x, i) => addElement(op, x, b[i])));
}

export function runMul(op: MulOp, env: Env): void {
  const a = env.read(op.inputs[0]);
  const b = env.read(op.inputs[1]);
  env.write(op.outputs[0], Int8Array.from(a, (x, i) => mulElement(op, x, b[i])));
}

/** TFLite's parameters of an int8 ADD (SUB when `subtract`): a common scale of 2·max(s1, s2). */
export function addRequants(s1: number, s2: number, sOut: number, subtract: boolean) {
  const leftShift = 20;
  const twiceMax = 2 * Math.max(s1, s2);
  const input1 = quantizeMultiplier(s1 / twiceMax);
  const input2 = quantizeMultiplier(s2 / twiceMax);
  if (subtract) input2.multiplier = -input2.multiplier;
  const output = quantizeMultiplier(twiceMax / (2 ** leftShift * sOut));
  return { leftShift, input1, input2, output };
}
