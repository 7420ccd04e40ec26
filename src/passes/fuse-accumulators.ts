// --fuse-accumulators: z = FC(u, A) + FC(v, B) as ONE product over [u; v] with one accumulator
// and one requantization per row.
//
// This changes the model's integer semantics, which is why it is an option and not the
// default: the two products are no longer rounded to their own int8 outputs before the add,
// and the weights are re-quantized to one scale for the whole joined matrix. One scale, not
// one per row, because it makes the product per-tensor: CMSIS-NN's per-tensor kernel
// (arm_nn_vec_mat_mult_t_s8) costs less per row than the per-channel one, and the portable
// loop takes the one multiplier as a constant; on the fixtures it is no less accurate (RMSE
// against ONNX Runtime 0.029 vs 0.035 on pm-base with the CMSIS-NN set). u and v keep
// their own int8 values: each column's real weight carries its input's scale, and the input
// zero points go into the bias, so nothing is re-rounded or clipped on the way in. `validate`
// reports the effect against the float reference, and the golden interpreter runs the fused
// IR, so the firmware stays bit-exact with it.

import type { AddOp, FullyConnectedOp, IrGraph, IrOp, IrTensor, LstmCellOp } from '../ir/ir.js';
import { allGraphs, elementCount, LSTM_GATES } from '../ir/ir.js';
import { quantizeMultiplier } from '../quant/fixed-point.js';
import { roundHalfEven } from '../onnx/ops.js';
import { MAX_ACCUMULATOR_SHIFT, quantizeBias } from '../quant/bias.js';

export interface FuseAccumulatorsOptions {
  /** The kernels take FullyConnectedOp.accumulatorShift (see quant/bias.ts). */
  fineBias: boolean;
}

export function fuseAccumulators(top: IrGraph, options: FuseAccumulatorsOptions): number {
  let fused = 0;
  for (const g of allGraphs(top)) {
    for (const add of g.ops.filter((op): op is AddOp => op.kind === 'Add')) {
      if (fuseOne(g, add, options)) fused++;
    }
  }
  return fused;
}

const readersOf = (g: IrGraph, v: string) => g.ops.filter((op) => op.inputs.includes(v));

function fuseOne(g: IrGraph, add: AddOp, options: FuseAccumulatorsOptions): boolean {
  const producers = add.inputs.map((v) => g.ops.find((op) => op.outputs.includes(v)));
  if (!producers.every((p): p is FullyConnectedOp => p?.kind === 'FullyConnected')) return false;
  const [a, b] = producers as FullyConnectedOp[];
  if (a === b || add.activationMin !== -128 || add.activationMax !== 127) return false;
  for (const fc of [a, b]) {
    if (fc.outputDtype !== 'int8' || fc.weightOffset !== 0 || fc.activationMin !== -128 || fc.activationMax !== 127) return false;
    if (readersOf(g, fc.outputs[0]).length !== 1 || g.outputs.includes(fc.outputs[0])) return false;
    if (elementCount(tensor(g, fc.inputs[0])) !== tensor(g, fc.weights).shape[1]) return false;
  }
  const [wa, wb] = [tensor(g, a.weights), tensor(g, b.weights)];
  const n = wa.shape[0];
  if (wb.shape[0] !== n || !wa.data || !wb.data) return false;
  const [ka, kb] = [wa.shape[1], wb.shape[1]];
  const [u, v] = [tensor(g, a.inputs[0]), tensor(g, b.inputs[0])];
  if (!u.quant || !v.quant) return false;
  const z = tensor(g, add.outputs[0]);
  const rowScale = (t: IrTensor, r: number) => t.quant!.scale[t.quant!.scale.length === 1 ? 0 : r];

  // 1. [u; v] in one vector (the planner places u and v there, without copies). Its
  // parameters are u's; the joined weights account for v's.
  const joined = fresh(g, `${u.name}+${v.name}`);
  g.tensors.set(joined, { name: joined, dtype: 'int8', shape: [1, ka + kb], quant: { scale: [...u.quant.scale], zeroPoint: [...u.quant.zeroPoint] } });
  const extra: IrOp[] = [{ kind: 'Concat', name: `${add.name}/join`, sources: add.sources, inputs: [u.name, v.name], outputs: [joined], axis: 1 }];

  // 2. Each joined row at one scale: real weight of column k is w·s_w·s_in, so the sum of
  // w'·q over the raw int8 inputs, times the row scale, is the real pre-activation; the
  // zero points (−zp·Σw') and both biases go into one int32 bias at the row scale (with the
  // extra bits of quant/bias.ts where the kernels take them).
  const weights = new Int8Array(n * (ka + kb));
  const biasReal = new Float64Array(n);
  const scales: number[] = [];
  const ba = a.bias ? tensor(g, a.bias).data : undefined;
  const bb = b.bias ? tensor(g, b.bias).data : undefined;
  const [zu, zv] = [u.quant.zeroPoint[0], v.quant.zeroPoint[0]];
  const [su, sv] = [u.quant.scale[0], v.quant.scale[0]];
  const realRow = (r: number) => [
    ...Array.from({ length: ka }, (_, k) => wa.data![r * ka + k] * rowScale(wa, r) * su),
    ...Array.from({ length: kb }, (_, k) => wb.data![r * kb + k] * rowScale(wb, r) * sv),
  ];
  const largest = (xs: number[]) => xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  const matrixScale = largest(Array.from({ length: n }, (_, r) => largest(realRow(r)))) / 127;
  for (let r = 0; r < n; r++) {
    const real = realRow(r);
    const scale = matrixScale || su * rowScale(wa, r);
    scales.push(scale);
    let zeroPointSum = 0;
    real.forEach((x, k) => {
      const q = Math.max(-127, Math.min(127, roundHalfEven(x / scale)));
      weights[r * (ka + kb) + k] = q;
      zeroPointSum += q * (k < ka ? zu : zv);
    });
    const realBias = (ba ? (ba[r] * su * rowScale(wa, r)) / 2 ** (a.accumulatorShift ?? 0) : 0) + (bb ? (bb[r] * sv * rowScale(wb, r)) / 2 ** (b.accumulatorShift ?? 0) : 0);
    biasReal[r] = realBias - zeroPointSum * scale;
  }
  const ratios = scales.map((s) => s / z.quant!.scale[0]);
  const bias = quantizeBias(biasReal, scales, ratios, { depth: ka + kb, maxWeight: 127, maxInput: 128 }, options.fineBias ? MAX_ACCUMULATOR_SHIFT : 0);
  const wName = fresh(g, `${a.weights}+${b.weights}`);
  g.tensors.set(wName, { name: wName, dtype: 'int8', shape: [n, ka + kb], data: weights, quant: { scale: scales, zeroPoint: scales.map(() => 0), axis: 0 } });
  const bName = fresh(g, `${add.name}/bias`);
  g.tensors.set(bName, { name: bName, dtype: 'int32', shape: [n], data: bias.data });
  const fc: FullyConnectedOp = {
    kind: 'FullyConnected',
    name: `${a.name}+${b.name}`,
    sources: [...a.sources, ...b.sources, ...add.sources],
    inputs: [joined],
    outputs: [...add.outputs],
    weights: wName,
    bias: bName,
    ...(bias.shift ? { accumulatorShift: bias.shift } : {}),
    inputOffset: 0,
    weightOffset: 0,
    outputOffset: z.quant!.zeroPoint[0],
    requant: [quantizeMultiplier(ratios[0] / 2 ** bias.shift)],
    activationMin: -128,
    activationMax: 127,
    outputDtype: 'int8',
  };

  // 4. Replace the two products and the add, where the add ran (its inputs all exist there).
  const at = g.ops.indexOf(add);
  g.ops = [...g.ops.slice(0, at).filter((op) => op !== a && op !== b), ...extra, fc, ...g.ops.slice(at + 1)];
  for (const t of [a.outputs[0], b.outputs[0]]) g.tensors.delete(t);
  return true;
}

function tensor(g: IrGraph, name: string): IrTensor {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`fuse-accumulators: no tensor ${name} in this graph`);
  return t;
}

function fresh(g: IrGraph, base: string): string {
  let name = base;
  for (let i = 2; g.tensors.has(name); i++) name = `${base}#${i}`;
  return name;
}

/**
 * LSTM cells for the CMSIS-NN set: each gate's W·x + R·h as one product over [x; h], so that
 * one arm_nn_vec_mat_mul_result_acc_s8_s16 call per cell (the four gates stacked) replaces two,
 * and each gate row is requantized once instead of twice. The same departure as above: the
 * two sides are no longer requantized and saturated to int16 apart, and W and R are
 * re-quantized to one scale S for all gates (the side whose largest real weight sets S keeps
 * its integers when it spans the int8 range). The cell's hidden side is left empty (no
 * columns, zero bias), which the golden interpreter computes as nothing and the emitters skip.
 */
/** How many pairs of products were joined: four per cell. */
export function joinLstmCells(top: IrGraph): number {
  let joined = 0;
  for (const g of allGraphs(top)) {
    for (const cell of g.ops.filter((op): op is LstmCellOp => op.kind === 'LstmCell' && !op.joined)) {
      joinCell(g, cell);
      joined += LSTM_GATES.length;
    }
  }
  return joined;
}

function joinCell(g: IrGraph, cell: LstmCellOp): void {
  const [x, h] = [tensor(g, cell.inputs[0]), tensor(g, cell.inputs[1])];
  const [hidden, inputSize] = tensor(g, cell.gates.forget.inputWeights).shape;
  const batch = elementCount(h) / hidden;
  const [sx, sh] = [x.quant!.scale[0], h.quant!.scale[0]];
  const [zx, zh] = [x.quant!.zeroPoint[0], h.quant!.zeroPoint[0]];
  const gates = LSTM_GATES.map((k) => cell.gates[k]);
  const read = (name: string) => tensor(g, name).data!;
  const weightScale = (name: string) => tensor(g, name).quant!.scale[0];
  const largest = (data: ArrayLike<number>) => Array.from(data).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  // 1. One scale S for every gate and both sides: the real weight per unit of the int8
  // inputs, side by side, with S fitting the largest into int8.
  const sides = gates.map((gate) => ({ input: sx * weightScale(gate.inputWeights), hidden: sh * weightScale(gate.hiddenWeights) }));
  const scale = Math.max(...gates.flatMap((gate, k) => [sides[k].input * largest(read(gate.inputWeights)), sides[k].hidden * largest(read(gate.hiddenWeights))])) / 127;

  // 2. [x; h] in one vector (a copy: x and h live in the sequence and the state).
  const xh = fresh(g, `${x.name}+${h.name}`);
  g.tensors.set(xh, { name: xh, dtype: 'int8', shape: [batch, inputSize + hidden], quant: { scale: [sx], zeroPoint: [zx] } });
  const concat: IrOp = { kind: 'Concat', name: `${cell.name}/join`, sources: cell.sources, inputs: [x.name, h.name], outputs: [xh], axis: 1 };

  // 3. Each gate: its rows over [x; h] at scale S, one effective bias, one requantization to
  // the int16 gate at 2^-12, and an empty hidden side.
  const columns = inputSize + hidden;
  const requant = quantizeMultiplier(scale / 2 ** -12);
  LSTM_GATES.forEach((k, i) => {
    const gate = cell.gates[k];
    const [w, r] = [read(gate.inputWeights), read(gate.hiddenWeights)];
    const [bx, bh] = [read(gate.inputEffectiveBias), read(gate.hiddenEffectiveBias)];
    const weights = new Int8Array(hidden * columns);
    const bias = new Int32Array(hidden);
    const q = (v: number, ratio: number) => Math.max(-127, Math.min(127, roundHalfEven(v * ratio)));
    for (let j = 0; j < hidden; j++) {
      // The effective biases hold the real bias and −zp·Σ of their side's weights: the real
      // bias moves to scale S, the zero points are folded again over the new weights.
      let sumX = 0;
      let sumH = 0;
      let newZeroPoints = 0;
      for (let c = 0; c < inputSize; c++) {
        sumX += w[j * inputSize + c];
        const v = q(w[j * inputSize + c], sides[i].input / scale);
        weights[j * columns + c] = v;
        newZeroPoints += zx * v;
      }
      for (let c = 0; c < hidden; c++) {
        sumH += r[j * hidden + c];
        const v = q(r[j * hidden + c], sides[i].hidden / scale);
        weights[j * columns + inputSize + c] = v;
        newZeroPoints += zh * v;
      }
      const realBias = (bx[j] + zx * sumX) * sides[i].input + (bh[j] + zh * sumH) * sides[i].hidden;
      bias[j] = roundHalfEven(realBias / scale) - newZeroPoints;
    }
    const wName = fresh(g, `${gate.inputWeights}+${gate.hiddenWeights}`);
    g.tensors.set(wName, { name: wName, dtype: 'int8', shape: [hidden, columns], data: weights, quant: { scale: [scale / sx], zeroPoint: [0] } });
    const bName = fresh(g, `${gate.inputEffectiveBias}+${gate.hiddenEffectiveBias}`);
    g.tensors.set(bName, { name: bName, dtype: 'int32', shape: [hidden], data: bias });
    // The empty hidden side: no columns, zero bias.
    const none = fresh(g, `${cell.name}/${k}/no_hidden_weights`);
    g.tensors.set(none, { name: none, dtype: 'int8', shape: [hidden, 0], data: new Int8Array(0), quant: { scale: [1], zeroPoint: [0] } });
    const zero = fresh(g, `${cell.name}/${k}/no_hidden_bias`);
    g.tensors.set(zero, { name: zero, dtype: 'int32', shape: [hidden], data: new Int32Array(hidden) });
    cell.gates[k] = { ...gate, inputWeights: wName, inputEffectiveBias: bName, hiddenWeights: none, hiddenEffectiveBias: zero, input: requant };
  });
  // 4. The cell reads [x; h] (and still h, for its shape), after the copy.
  cell.inputs = [xh, ...cell.inputs.slice(1)];
  cell.joined = true;
  g.ops.splice(g.ops.indexOf(cell), 0, concat);
}
