// MatMul: batched product of two int8 operands with zero points (QLinearMatMul and
// MatMulInteger semantics), requantized to int8 or kept as the int32 accumulator. Batch
// dimensions broadcast as in numpy.

import type { MatMulOp } from '../ir.js';
import { requantize, wrap32 } from '../../quant/fixed-point.js';
import { clamp, type Env, Q7_MAX, Q7_MIN } from './env.js';

export function runMatMul(op: MatMulOp, env: Env): void {
  const a = env.read(op.inputs[0]);
  const b = env.read(op.inputs[1]);
  const as = env.tensor(op.inputs[0]).shape;
  const bs = env.tensor(op.inputs[1]).shape;
  const [m, k] = as.length === 1 ? [1, as[0]] : as.slice(-2);
  const n = bs.length === 1 ? 1 : bs[bs.length - 1];
  const aBatch = as.slice(0, Math.max(as.length - 2, 0));
  const bBatch = bs.slice(0, Math.max(bs.length - 2, 0));
  // numpy's broadcast of the batch dimensions (a 1-D operand has none).
  const rank = Math.max(aBatch.length, bBatch.length);
  const batchShape = Array.from({ length: rank }, (_, d) => Math.max(aBatch[d - rank + aBatch.length] ?? 1, bBatch[d - rank + bBatch.length] ?? 1));
  const batches = batchShape.reduce((x, y) => x * y, 1);
  const out = op.outputDtype === 'int32' ? new Int32Array(batches * m * n) : new Int8Array(batches * m * n);
  for (let p = 0; p < batches; p++) {
    const ao = broadcastOffset(p, batchShape, aBatch) * m * k;
    const bo = broadcastOffset(p, batchShape, bBatch) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += (a[ao + i * k + t] + op.aOffset) * (b[bo + t * n + j] + op.bOffset);
        acc = wrap32(acc);
        const o = p * m * n + i * n + j;
        out[o] =
          op.outputDtype === 'int32'
            ? acc
            : clamp(wrap32(requantize(acc, op.requant.multiplier, op.requant.shift) + op.outputOffset), Q7_MIN, Q7_MAX);
      }
    }
  }
  env.write(op.outputs[0], out);
}

function broadcastOffset(p: number, outShape: number[], shape: number[]): number {
  let idx = 0;
  let stride = 1;
  let rem = p;
  for (let d = outShape.length - 1, s = shape.length - 1; d >= 0; d--, s--) {
    const c = rem % outShape[d];
    rem = (rem - c) / outShape[d];
    if (s >= 0) {
      if (shape[s] !== 1) idx += c * stride;
      stride *= shape[s];
    }
  }
  return idx;
}

export function matMulMacs(op: MatMulOp, env: Pick<Env, 'tensor'>): number {
  const as = env.tensor(op.inputs[0]).shape;
  const y = env.tensor(op.outputs[0]).shape.reduce((a, b) => a * b, 1);
  return y * as[as.length - 1];
}
