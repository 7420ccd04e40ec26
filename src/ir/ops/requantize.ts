// Requantize: the same reals under other int8 parameters,
// y = clamp(requant(x + inputOffset) + outputOffset).

import type { RequantizeOp } from '../ir.js';
import { requantize, wrap32 } from '../../quant/fixed-point.js';
import { clamp, type Env, Q7_MAX, Q7_MIN } from './env.js';

export function runRequantize(op: RequantizeOp, env: Env): void {
  const x = env.read(op.inputs[0]);
  const out = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = wrap32(requantize(x[i] + op.inputOffset, op.requant.multiplier, op.requant.shift) + op.outputOffset);
    out[i] = clamp(v, Q7_MIN, Q7_MAX);
  }
  env.write(op.outputs[0], out);
}
