// Lut: y = table[x + 128]. Any function of one int8 value: sigmoid, tanh, 1 − x, ReLU and
// their compositions, computed at compile time from the quantization parameters.

import type { LutOp } from '../ir.js';
import type { Env } from './env.js';

export function runLut(op: LutOp, env: Env): void {
  const x = env.read(op.inputs[0]);
  const table = env.read(op.table);
  const out = new Int8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = table[x[i] + 128];
  env.write(op.outputs[0], out);
}
