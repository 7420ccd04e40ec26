// Views and copies: Reshape aliases its input; Copy gathers with constant strides (slices,
// transposes, constant-index gathers, broadcasts); Concat joins along an axis.

import type { ConcatOp, CopyOp, IrData, ReshapeOp } from '../ir.js';
import { allocateData } from '../ir.js';
import type { Env } from './env.js';

export function runReshape(op: ReshapeOp, env: Env): void {
  env.write(op.outputs[0], env.read(op.inputs[0]));
}

export function runCopy(op: CopyOp, env: Env): void {
  const x = env.read(op.inputs[0]);
  const t = env.tensor(op.outputs[0]);
  const out = allocateData(t.dtype, t.shape.reduce((a, b) => a * b, 1));
  const idx = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = op.offset;
    for (let d = 0; d < idx.length; d++) src += idx[d] * op.strides[d];
    out[i] = x[src];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  env.write(op.outputs[0], out);
}

export function runConcat(op: ConcatOp, env: Env): void {
  const t = env.tensor(op.outputs[0]);
  const out = allocateData(t.dtype, t.shape.reduce((a, b) => a * b, 1));
  concatInto(out, t.shape, op.axis, op.inputs.map((i) => ({ data: env.read(i), shape: env.tensor(i).shape })));
  env.write(op.outputs[0], out);
}

export function concatInto(
  out: IrData,
  shape: readonly number[],
  axis: number,
  parts: { data: IrData; shape: readonly number[] }[],
): void {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const rowOut = shape.slice(axis).reduce((a, b) => a * b, 1);
  let offset = 0;
  for (const p of parts) {
    const row = p.shape.slice(axis).reduce((a, b) => a * b, 1);
    for (let o = 0; o < outer; o++) out.set(p.data.subarray(o * row, (o + 1) * row), o * rowOut + offset);
    offset += row;
  }
}
