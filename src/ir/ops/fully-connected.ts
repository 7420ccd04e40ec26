// FullyConnected: y = clamp(requant(Σ_k (x_k + inputOffset)(w_nk + weightOffset) · 2^shift
// + bias_n) + outputOffset), as CMSIS-NN's arm_fully_connected_s8 (and the per-channel variant)
// computes it with shift 0 (see FullyConnectedOp.accumulatorShift). The accumulator is exact in a double and wrapped to int32 once at the end, which
// equals the target's wrapping int32 sums. An int32 output is the accumulator itself.

import type { FullyConnectedOp } from '../ir.js';
import { requantize, wrap32 } from '../../quant/fixed-point.js';
import { clamp, type Env } from './env.js';

export function runFullyConnected(op: FullyConnectedOp, env: Env): void {
  const x = env.read(op.inputs[0]);
  const w = env.read(op.weights);
  const [n, k] = env.tensor(op.weights).shape;
  const bias = op.bias ? env.read(op.bias) : undefined;
  const rows = x.length / k;
  const scale = 2 ** (op.accumulatorShift ?? 0);
  const out = op.outputDtype === 'int32' ? new Int32Array(rows * n) : new Int8Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      const wr = j * k;
      const xr = r * k;
      for (let i = 0; i < k; i++) sum += (x[xr + i] + op.inputOffset) * (w[wr + i] + op.weightOffset);
      const acc = wrap32(wrap32(sum) * scale + (bias ? bias[j] : 0));
      if (op.outputDtype === 'int32') {
        out[r * n + j] = acc;
        continue;
      }
      const rq = op.requant.length === 1 ? op.requant[0] : op.requant[j];
      const v = wrap32(requantize(acc, rq.multiplier, rq.shift) + op.outputOffset);
      out[r * n + j] = clamp(v, op.activationMin, op.activationMax);
    }
  }
  env.write(op.outputs[0], out);
}

export function fullyConnectedMacs(op: FullyConnectedOp, env: Pick<Env, 'tensor'>): number {
  const [n, k] = env.tensor(op.weights).shape;
  const x = env.tensor(op.inputs[0]).shape.reduce((a, b) => a * b, 1);
  return (x / k) * n * k;
}
