// --fuse-accumulators: z = FC(u, A) + FC(v, B) as ONE product over [u; v] with one accumulator
// and one requantization per row.
//
// This changes the model's integer semantics, which is why it is an option and not the
// default: the two products are no longer rounded to their own int8 outputs before the add,
// and the weights of each row are re-quantized to one scale for the joined row. u and v keep
// their own int8 values: each column's real weight carries its input's scale, and the input
// zero points go into the bias, so nothing is re-rounded or clipped on the way in. `validate`
// reports the effect against the float reference, and the golden interpreter runs the fused
// IR, so the firmware stays bit-exact with it.

import type { AddOp, FullyConnectedOp, IrGraph, IrOp, IrTensor } from '../ir/ir.js';
import { allGraphs, elementCount } from '../ir/ir.js';
import { quantizeMultiplier } from '../quant/fixed-point.js';
import { roundHalfEven } from '../onnx/ops.js';
import { MAX_ACCUMULATOR_SHIFT, quantizeBias } from '../quant/bias.js';

export interface FuseAccumulatorsOptions {
  /** The kernels take FullyConnectedOp.accumulatorShift (see quant/bias.ts). */
  fineBias: boolean;
  /**
   * One weight scale for the whole joined matrix instead of one per row: CMSIS-NN's per-tensor
   * product (arm_nn_vec_mat_mult_t_s8) costs less per row than the per-channel one, which
   * dominates on rows this short. On the fixtures it is no less accurate (RMSE against ONNX
   * Runtime 0.029 vs 0.035 on pm-base).
   */
  oneScale: boolean;
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
    const scale = (options.oneScale ? matrixScale : largest(real) / 127) || su * rowScale(wa, r);
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
    requant: options.oneScale ? [quantizeMultiplier(ratios[0] / 2 ** bias.shift)] : ratios.map((r) => quantizeMultiplier(r / 2 ** bias.shift)),
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
