// The ONNX LSTM operator as an IR Loop whose body is one LstmCell (CMSIS-NN's int8 LSTM step).
//
// Supported: forward direction, default activations (sigmoid, tanh, tanh), layout 0 and 1,
// optional constant initial states, Y and/or Y_h outputs. Weights are int8 behind
// DequantizeLinear with one scale per tensor or per gate block; per-row scales are
// re-quantized to one per gate (with a warning), and float weights are quantized here
// symmetrically per gate. The hidden state's parameters are those of Y (or Y_h); the int16
// cell state's scale is a power of two that covers the calibrated range, or 2^-11 without
// calibration data (|c| < 16), TFLite's usual choice.

import type { Node, QuantParams } from '../onnx/graph.js';
import { attrFloat, attrInt, attrString, attrStrings } from '../onnx/graph.js';
import { roundHalfEven } from '../onnx/ops.js';
import type { IrGraph, LstmCellOp, LstmGate } from '../ir/ir.js';
import { quantizeMultiplier } from '../quant/fixed-point.js';
import { chooseSymmetricScale } from '../quant/params.js';
import { warnings } from '../diagnostics.js';
import type { Lowerer } from './lower.js';

export const DEFAULT_CELL_SCALE_POWER = -11;

/** ONNX orders the gate blocks of W, R and B as input, output, forget, cell. */
const ONNX_GATE_ORDER = ['input', 'output', 'forget', 'cell'] as const;
type GateName = (typeof ONNX_GATE_ORDER)[number];

export function cellScalePower(maxAbs: number | undefined): number {
  if (maxAbs === undefined || !(maxAbs > 0)) return DEFAULT_CELL_SCALE_POWER;
  // The smallest power of two whose int16 range covers the largest |c| seen.
  return Math.min(0, Math.max(-15, Math.ceil(Math.log2(maxAbs / 32767))));
}

export function lowerLstm(l: Lowerer, node: Node): void {
  const g = l.graph;
  checkAttributes(l, node);
  const [X, W, R, B, seqLens, initH, initC, P] = node.inputs;
  if (P) l.fail(node, 'peephole weights (input P) are not supported');
  const [Y, Yh, Yc] = node.outputs;
  const used = (v: string | undefined) => !!v && (g.consumers(v).length > 0 || g.outputs.includes(v));
  if (used(Yc)) l.fail(node, 'the final cell state Y_c is used; it stays inside the LSTM (int16)');
  if (!used(Y) && !used(Yh)) return;

  const layout = attrInt(node, 'layout', 0);
  const xShape = g.shapeOf(X);
  const [steps, batch] = layout === 0 ? [xShape[0], xShape[1]] : [xShape[1], xShape[0]];
  const inputSize = xShape[2];
  const w = g.constant(W);
  const r = g.constant(R);
  if (!w || !r) l.fail(node, 'W and R must be constants');
  const hidden = r.shape[2];
  if (seqLens) {
    const lens = g.constant(seqLens);
    if (!lens || Array.from(lens.data).some((v) => v !== steps)) l.fail(node, 'sequence_lens must be a constant equal to the sequence length');
  }

  // Quantization of the step's input, hidden state and cell state.
  const qx = l.quantOf(X, node);
  const hiddenValue = used(Y) ? Y : Yh;
  const qh = l.quantOf(hiddenValue, node);
  if (used(Y) && used(Yh) && g.quant.get(Yh) && g.quant.get(Yh) !== qh) {
    l.fail(node, 'Y and Y_h are quantized with different parameters');
  }
  if (Yh && !g.quant.has(Yh) && !l.isPlaceholder(qh)) g.quant.set(Yh, qh);
  const calibrated = l.options.cellRanges.get(node.name);
  const power = cellScalePower(calibrated);
  if (calibrated === undefined) l.warnings.push(warnings.defaultCellScale(node.name, power));

  // Weights per gate, and the gate's effective biases and multipliers.
  const requantized = new Set<string>();
  const wq = gateWeights(l, node, W, inputSize, hidden, requantized);
  const rq = gateWeights(l, node, R, hidden, hidden, requantized);
  if (requantized.size > 0) l.warnings.push(warnings.lstmWeightsPerGate(node.name, [...requantized]));
  const biasReal = B ? biasReals(l, node, B, hidden) : new Float64Array(4 * hidden);
  const base = node.name;
  const body: IrGraph = { tensors: new Map(), ops: [], inputs: [], outputs: [] };
  const declare = (name: string, dtype: 'int8' | 'int16', shape: number[], q: QuantParams) =>
    body.tensors.set(name, { name, dtype, shape, quant: { scale: q.scale, zeroPoint: q.zeroPoint } });
  const cellQuant: QuantParams = { dtype: 'int16', scale: [2 ** power], zeroPoint: [0] };

  const gates = {} as Record<GateName, LstmGate>;
  ONNX_GATE_ORDER.forEach((gate, k) => {
    const wx = wq.blocks[k];
    const wh = rq.blocks[k];
    const inBias = new Int32Array(hidden);
    const hidBias = new Int32Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let sx = 0;
      for (let i = 0; i < inputSize; i++) sx += wx.data[j * inputSize + i];
      let sh = 0;
      for (let i = 0; i < hidden; i++) sh += wh.data[j * hidden + i];
      const b = roundHalfEven(biasReal[k * hidden + j] / (qx.scale[0] * wx.scale));
      inBias[j] = b - qx.zeroPoint[0] * sx;
      hidBias[j] = -qh.zeroPoint[0] * sh;
    }
    const prefix = `${base}/${gate}`;
    const put = (name: string, dtype: 'int8' | 'int32', shape: number[], data: Int8Array | Int32Array, scale?: number) =>
      body.tensors.set(name, { name, dtype, shape, data, quant: scale ? { scale: [scale], zeroPoint: [0] } : undefined });
    put(`${prefix}/input_weights`, 'int8', [hidden, inputSize], wx.data, wx.scale);
    put(`${prefix}/hidden_weights`, 'int8', [hidden, hidden], wh.data, wh.scale);
    put(`${prefix}/input_effective_bias`, 'int32', [hidden], inBias);
    put(`${prefix}/hidden_effective_bias`, 'int32', [hidden], hidBias);
    gates[gate] = {
      inputWeights: `${prefix}/input_weights`,
      hiddenWeights: `${prefix}/hidden_weights`,
      inputEffectiveBias: `${prefix}/input_effective_bias`,
      hiddenEffectiveBias: `${prefix}/hidden_effective_bias`,
      input: quantizeMultiplier((qx.scale[0] * wx.scale) / 2 ** -12),
      hidden: quantizeMultiplier((qh.scale[0] * wh.scale) / 2 ** -12),
      activation: gate === 'cell' ? 'tanh' : 'sigmoid',
    };
  });

  // The loop: x_t, h and c in; h and c out; Y as a scan, Y_h as the final h.
  const xt = `${base}/x_t`;
  const [hIn, hOut, cIn, cOut] = ['h', 'h_next', 'c', 'c_next'].map((s) => `${base}/${s}`);
  declare(xt, 'int8', [batch, inputSize], qx);
  declare(hIn, 'int8', [batch, hidden], qh);
  declare(hOut, 'int8', [batch, hidden], qh);
  declare(cIn, 'int16', [batch, hidden], cellQuant);
  declare(cOut, 'int16', [batch, hidden], cellQuant);
  const table = l.sharedTable();
  const cell: LstmCellOp = {
    kind: 'LstmCell',
    name: `${base}/cell`,
    sources: [node.name],
    inputs: [xt, hIn, cIn],
    outputs: [hOut, cOut],
    gates: { input: gates.input, forget: gates.forget, cell: gates.cell, output: gates.output },
    forgetToCell: quantizeMultiplier(2 ** -15),
    inputToCell: quantizeMultiplier(2 ** (-30 - power)),
    cellClip: 0,
    cellScalePower: power,
    hidden: quantizeMultiplier(2 ** -30 / qh.scale[0]),
    hiddenOffset: qh.zeroPoint[0],
    activationTable: table,
  };
  body.ops.push(cell);
  body.inputs = [xt, hIn, cIn];
  body.outputs = [hOut, cOut];

  const scans: { bodyValue: string; outer: string; axis: number }[] = [];
  if (used(Y)) {
    const yStep = `${base}/y_t`;
    const yShape = g.shapeOf(Y);
    declare(yStep, 'int8', yShape.map((d, i) => (i === (layout === 0 ? 0 : 1) ? 1 : d)), qh);
    body.ops.push({ kind: 'Reshape', name: `${base}/y_t`, sources: [node.name], inputs: [hOut], outputs: [yStep] });
    body.outputs.push(yStep);
    scans.push({ bodyValue: yStep, outer: l.activation(Y, node), axis: layout === 0 ? 0 : 1 });
  }
  const finals: { bodyValue: string; outer: string }[] = [];
  let finalH: string | undefined;
  if (used(Yh)) {
    finalH = l.temporary(`${base}/h_final`, [batch, hidden], qh);
    finals.push({ bodyValue: hOut, outer: finalH });
  }

  const hInit = initialState(l, node, initH, [batch, hidden], qh, 'int8', hIn);
  const cInit = initialState(l, node, initC, [batch, hidden], cellQuant, 'int16', cIn);
  l.emit(
    {
      kind: 'Loop',
      name: base,
      sources: [node.name],
      inputs: [l.activation(X, node), hInit, cInit],
      outputs: [...finals.map((f) => f.outer), ...scans.map((s) => s.outer)],
      body,
      steps,
      sequences: [{ outer: X, axis: layout === 0 ? 0 : 1, bodyValue: xt, keepDims: false }],
      states: [
        { init: hInit, bodyIn: hIn, bodyOut: hOut },
        { init: cInit, bodyIn: cIn, bodyOut: cOut },
      ],
      scans,
      finals,
    },
    node,
  );
  if (finalH && Yh) {
    l.emit({ kind: 'Reshape', name: `${base}/Y_h`, sources: [node.name], inputs: [finalH], outputs: [l.activation(Yh, node)] }, node);
  }
}

function checkAttributes(l: Lowerer, node: Node): void {
  const direction = attrString(node, 'direction', 'forward');
  if (direction !== 'forward') l.fail(node, `direction "${direction}": only forward LSTMs are supported`);
  const acts = attrStrings(node, 'activations');
  if (acts && acts.join(',').toLowerCase() !== 'sigmoid,tanh,tanh') {
    l.fail(node, `activations [${acts.join(', ')}]: only the default sigmoid, tanh, tanh are supported`);
  }
  if (node.attrs.clip !== undefined) l.fail(node, `clip ${attrFloat(node, 'clip', 0)} is not supported`);
  if (attrInt(node, 'input_forget', 0) !== 0) l.fail(node, 'input_forget = 1 is not supported');
}

interface GateBlock {
  data: Int8Array;
  scale: number;
}

/** W or R as four int8 gate blocks [H, cols] with one scale each. */
function gateWeights(l: Lowerer, node: Node, name: string, cols: number, hidden: number, requantized: Set<string>): { blocks: GateBlock[] } {
  const t = l.graph.constant(name)!;
  const q = l.graph.quant.get(name);
  const blocks: GateBlock[] = [];
  for (let k = 0; k < 4; k++) {
    const rows = t.data.subarray(k * hidden * cols, (k + 1) * hidden * cols);
    if (q) {
      if (q.dtype !== 'int8') l.fail(node, `weights "${name}" of type ${q.dtype}: int8 expected`);
      const perRow = q.scale.length > 1;
      if (perRow && q.axis !== 1 && q.axis !== 0) l.fail(node, `weights "${name}" have scales along axis ${q.axis}, not along the gate rows`);
      const scales = perRow ? q.scale.slice(k * hidden, (k + 1) * hidden) : [q.scale[0]];
      const zps = perRow ? q.zeroPoint.slice(k * hidden, (k + 1) * hidden) : [q.zeroPoint[0]];
      if (zps.some((z) => z !== 0)) l.fail(node, `weights "${name}" are not symmetric (zero point ${zps.find((z) => z !== 0)})`);
      if (new Set(scales).size === 1) {
        blocks.push({ data: Int8Array.from(rows), scale: scales[0] });
        continue;
      }
      // CMSIS-NN's LSTM takes one scale per gate: per-row weights are re-quantized to the
      // gate's largest row scale, which keeps every row in range.
      const scale = Math.max(...scales);
      const data = Int8Array.from(rows, (v, i) => Math.max(-127, Math.min(127, roundHalfEven((v * scales[Math.floor(i / cols)]) / scale))));
      blocks.push({ data, scale });
      requantized.add(name);
    } else {
      let maxAbs = 0;
      for (const v of rows) maxAbs = Math.max(maxAbs, Math.abs(v));
      const scale = chooseSymmetricScale(maxAbs);
      blocks.push({ data: Int8Array.from(rows, (v) => Math.max(-127, Math.min(127, roundHalfEven(v / scale)))), scale });
    }
  }
  return { blocks };
}

/** Wb + Rb per gate row, in reals. */
function biasReals(l: Lowerer, node: Node, name: string, hidden: number): Float64Array {
  const t = l.graph.constant(name);
  if (!t) l.fail(node, 'the bias B must be a constant');
  const q = l.graph.quant.get(name);
  const real = (i: number) => (q ? q.scale[q.scale.length === 1 ? 0 : i] * (t.data[i] - q.zeroPoint[q.zeroPoint.length === 1 ? 0 : i]) : t.data[i]);
  return Float64Array.from({ length: 4 * hidden }, (_, i) => real(i) + real(4 * hidden + i));
}

function initialState(
  l: Lowerer,
  node: Node,
  value: string | undefined,
  shape: number[],
  q: QuantParams,
  dtype: 'int8' | 'int16',
  bodyIn: string,
): string {
  const n = shape[0] * shape[1];
  const [lo, hi] = dtype === 'int8' ? [-128, 127] : [-32768, 32767];
  let reals = new Float64Array(n);
  if (value) {
    const c = l.graph.constant(value);
    if (!c) l.fail(node, `the initial state "${value}" must be a constant`);
    const cq = l.graph.quant.get(value);
    reals = Float64Array.from(c.data, (v) => (cq ? cq.scale[0] * (v - cq.zeroPoint[0]) : v));
  }
  const data = Int32Array.from(reals, (v) => Math.max(lo, Math.min(hi, roundHalfEven(v / q.scale[0]) + q.zeroPoint[0])));
  return l.constant(`${bodyIn}_init`, dtype, shape, dtype === 'int8' ? Int8Array.from(data) : Int16Array.from(data), {
    scale: q.scale,
    zeroPoint: q.zeroPoint,
  });
}
