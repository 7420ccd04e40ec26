// LstmCell: one time step of an int8 LSTM with the arithmetic of CMSIS-NN's
// arm_nn_lstm_step_s8, so that the CMSIS-NN build is bit-exact with this reference:
//
//   gate  = act16( sat16( requant(W_h·h + b_h, M_h) + sat16(requant(W_x·x + b_x, M_x)) ) )
//   c     = sat16(requant(f · c, forgetToCell))
//   c     = clip(requant(i · g, inputToCell) + c)
//   h     = sat8(requant(o · tanh16(c · 2^(cellScalePower+12)), hidden) + hiddenOffset)
//
// A joined cell (passes/fuse-accumulators.ts) has an empty hidden side, so that its gates are
// act16(sat16(requant(W·[x; h] + b, M))) with this same code.
//
// Gate pre-activations are int16 at 2^-12; act16 is arm_nn_activation_s16, which interpolates
// a 256-entry table of sigmoid(k/24) (tanh through tanh(x) = 2·sigmoid(2x) − 1). The table is
// an input of the op because each kernel set brings its own (see quant/tables.ts).

import type { LstmCellOp, LstmGate } from '../ir.js';
import { requantize, wrap32 } from '../../quant/fixed-point.js';
import { clamp, type Env, Q15_MAX, Q15_MIN, Q7_MAX, Q7_MIN } from './env.js';

/** arm_nn_activation_s16: int16 in (Q3.12 after the shift), Q0.15 out. */
export function activationS16(value: number, leftShift: number, type: 'sigmoid' | 'tanh', table: ArrayLike<number>): number {
  const sigmoid = type === 'sigmoid';
  const absInputShift = sigmoid ? 9 : 8;
  const maxSaturation = sigmoid ? 0x7fff << 10 : 0xffff << 8;
  const inputMultiplier = leftShift < 0 ? 3 : 3 * 2 ** leftShift;
  const absLeftShift = leftShift < 0 ? -leftShift : 0;
  const rounding = absLeftShift > 0 ? 2 ** (absLeftShift - 1) : 0;
  const input = (value * inputMultiplier + rounding) >> absLeftShift;
  const absInput = Math.abs(input);
  const uh = absInput >>> absInputShift;
  let result: number;
  if (uh >= 255) {
    result = maxSaturation;
  } else {
    const ua = table[uh];
    const ub = table[uh + 1];
    const ut = absInput & (sigmoid ? 0x1ff : 0xff);
    result = ua * 2 ** absInputShift + ut * (ub - ua);
  }
  // The C computes in uint32 and keeps the low 16 bits of the shifted result.
  if (sigmoid) {
    result = input >= 0 ? result + (1 << 9) : (1 << 25) - result + (1 << 9) - 1;
    result = (result >>> 0) >>> 10;
  } else {
    result = input >= 0 ? result - (1 << 23) + (1 << 7) : -result + (1 << 23) + (1 << 7) - 1;
    result = (result >>> 0) >>> 8;
  }
  return (result << 16) >> 16;
}

function gate(g: LstmGate, x: ArrayLike<number>, h: ArrayLike<number>, env: Env, table: ArrayLike<number>): Int16Array {
  const wx = env.read(g.inputWeights);
  const wh = env.read(g.hiddenWeights);
  const bx = env.read(g.inputEffectiveBias);
  const bh = env.read(g.hiddenEffectiveBias);
  const n = bx.length;
  const k = x.length;
  const m = wh.length / n;
  const out = new Int16Array(n);
  for (let j = 0; j < n; j++) {
    let acc = bx[j];
    for (let i = 0; i < k; i++) acc += wx[j * k + i] * x[i];
    let v = clamp(requantize(wrap32(acc), g.input.multiplier, g.input.shift), Q15_MIN, Q15_MAX);
    acc = bh[j];
    for (let i = 0; i < m; i++) acc += wh[j * m + i] * h[i];
    v = clamp(wrap32(requantize(wrap32(acc), g.hidden.multiplier, g.hidden.shift) + v), Q15_MIN, Q15_MAX);
    out[j] = activationS16(v, 0, g.activation, table);
  }
  return out;
}

export function runLstmCell(op: LstmCellOp, env: Env): void {
  const x = env.read(op.inputs[0]);
  const hPrev = env.read(op.inputs[1]);
  const cPrev = env.read(op.inputs[2]);
  const table = env.read(op.activationTable);
  const hidden = env.read(op.gates.forget.inputEffectiveBias).length;
  const inputSize = env.tensor(op.gates.forget.inputWeights).shape[1];
  const batch = hPrev.length / hidden;
  const h = new Int8Array(hPrev.length);
  const c = new Int16Array(cPrev.length);
  const clipLo = op.cellClip > 0 ? -op.cellClip : Q15_MIN;
  const clipHi = op.cellClip > 0 ? op.cellClip : Q15_MAX;
  for (let b = 0; b < batch; b++) {
    const xb = x.subarray(b * inputSize, (b + 1) * inputSize);
    const hb = hPrev.subarray(b * hidden, (b + 1) * hidden);
    const f = gate(op.gates.forget, xb, hb, env, table);
    const i = gate(op.gates.input, xb, hb, env, table);
    const g = gate(op.gates.cell, xb, hb, env, table);
    const o = gate(op.gates.output, xb, hb, env, table);
    for (let j = 0; j < hidden; j++) {
      const at = b * hidden + j;
      let cell = clamp(requantize(f[j] * cPrev[at], op.forgetToCell.multiplier, op.forgetToCell.shift), Q15_MIN, Q15_MAX);
      cell = clamp(wrap32(requantize(i[j] * g[j], op.inputToCell.multiplier, op.inputToCell.shift) + cell), clipLo, clipHi);
      c[at] = cell;
      const t = activationS16(cell, op.cellScalePower + 12, 'tanh', table);
      const v = wrap32(requantize(o[j] * t, op.hidden.multiplier, op.hidden.shift) + op.hiddenOffset);
      h[at] = clamp(v, Q7_MIN, Q7_MAX);
    }
  }
  env.write(op.outputs[0], h);
  env.write(op.outputs[1], c);
}

export function lstmCellMacs(op: LstmCellOp, env: Pick<Env, 'tensor'>): number {
  const [hidden, input] = env.tensor(op.gates.forget.inputWeights).shape;
  const hiddenColumns = env.tensor(op.gates.forget.hiddenWeights).shape[1];
  const batch = env.tensor(op.inputs[1]).shape.reduce((a, b) => a * b, 1) / hidden;
  return batch * 4 * hidden * (input + hiddenColumns);
}
