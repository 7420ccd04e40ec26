// Lowering: the quantization-annotated ONNX graph becomes integer IR.
//
// Each ONNX node (or short chain: MatMul + bias Add + ReLU) becomes one IR op whose integer
// parameters (requantization multipliers and shifts, offsets, tables) are computed here, once.
// Lowering never falls back to float: a node that cannot be made integer is reported by name.
//
// Values an op needs quantized but that the model leaves in float are collected when lowering
// runs in `collectMissing` mode; the pipeline then calibrates them and lowers again.

import type { Graph, Node, QuantParams } from '../onnx/graph.js';
import { attrFloat, attrInt, attrInts } from '../onnx/graph.js';
import { opDef, roundHalfEven } from '../onnx/ops.js';
import { isFloat, sizeOf, stridesOf, type Tensor } from '../onnx/tensor.js';
import type { IrData, IrGraph, IrOp, IrOpInit, IrTensor, LoopOp, Requant } from '../ir/ir.js';
import { quantizeMultiplier } from '../quant/fixed-point.js';
import { chooseSymmetricScale, describeQuant, isPerTensor, perTensor } from '../quant/params.js';
import { buildLut } from '../quant/tables.js';
import { MAX_ACCUMULATOR_SHIFT, quantizeBias } from '../quant/bias.js';
import { addRequants } from '../ir/ops/elementwise.js';
import { softmaxParams } from '../ir/ops/softmax.js';
import { diagnostics, invariant, type Warning } from '../diagnostics.js';
import { lowerLstm } from './lower-lstm.js';

export interface LowerOptions {
  /** The int16 sigmoid table of the chosen kernel set (LSTM cells). */
  activationTable: Uint16Array;
  /** LSTM node name → calibrated cell-state bound (max |c|), when calibrated. */
  cellRanges: Map<string, number>;
  /** Record values without quantization instead of failing (the calibration dry run). */
  collectMissing: boolean;
  /**
   * Real-valued FC biases with up to MAX_ACCUMULATOR_SHIFT more bits (FullyConnectedOp's
   * accumulatorShift): the portable kernels support it, CMSIS-NN's take the bias at s_x·s_w.
   */
  fineBias: boolean;
}

export interface MissingQuant {
  graph: Graph;
  value: string;
}

export interface LowerResult {
  graph: IrGraph;
  missing: MissingQuant[];
  warnings: Warning[];
}

const PLACEHOLDER: QuantParams = perTensor('int8', 1, 0);

export class Lowerer {
  readonly ir: IrGraph = { tensors: new Map(), ops: [], inputs: [], outputs: [] };
  private readonly fused = new Set<Node>();
  private opCount = 0;

  constructor(
    readonly graph: Graph,
    readonly options: LowerOptions,
    readonly missing: MissingQuant[],
    readonly warnings: Warning[],
    /** Tensors of enclosing graphs, which a loop body reads by name. */
    private readonly outer?: Lowerer,
  ) {}

  lower(): IrGraph {
    for (const v of this.graph.inputs) this.activation(v);
    this.ir.inputs = [...this.graph.inputs];
    for (const node of this.graph.nodes) {
      if (this.fused.has(node)) continue;
      this.lowerNode(node);
    }
    this.ir.outputs = this.graph.outputs.map((o) => {
      this.activation(o);
      return o;
    });
    return this.ir;
  }

  // --- values -----------------------------------------------------------------------------------

  /** Quantization of a value that an op reads or writes as int8; recorded when missing. */
  quantOf(v: string, node?: Node): QuantParams {
    const q = this.graph.quant.get(v);
    if (q) {
      // Per-axis parameters are fine at the model's boundary, not for an op to compute with.
      if (node && !isPerTensor(q) && !this.graph.isConstant(v)) {
        throw diagnostics.notIntegerizable(this.graph.file, node?.name ?? v, node?.opType ?? '', `activation "${v}" has per-axis quantization`);
      }
      return q;
    }
    if (this.options.collectMissing) {
      if (!this.missing.some((m) => m.graph === this.graph && m.value === v)) this.missing.push({ graph: this.graph, value: v });
      return PLACEHOLDER;
    }
    throw diagnostics.missingQuantParams(this.graph.file, [v]);
  }

  /** Parameters of value `v` of another graph (a loop body's state), recorded there when missing. */
  quantIn(graph: Graph, v: string): QuantParams {
    const q = graph.quant.get(v);
    if (q) return q;
    if (this.options.collectMissing) {
      if (!this.missing.some((m) => m.graph === graph && m.value === v)) this.missing.push({ graph, value: v });
      return PLACEHOLDER;
    }
    throw diagnostics.missingQuantParams(graph.file, [v]);
  }

  /** Whether parameters are the stand-in the dry run uses for missing ones. */
  isPlaceholder(q: QuantParams): boolean {
    return q === PLACEHOLDER;
  }

  /** Declares (once) the int8 IR tensor of an activation value and returns its name. */
  activation(v: string, node?: Node): string {
    const q = this.quantOf(v, node);
    if (this.hasTensor(v)) return v;
    const dtype = q.dtype === 'int32' ? 'int32' : 'int8';
    this.ir.tensors.set(v, { name: v, dtype, shape: [...this.graph.shapeOf(v)], quant: { scale: q.scale, zeroPoint: q.zeroPoint, axis: q.axis } });
    return v;
  }

  hasTensor(v: string): boolean {
    return this.ir.tensors.has(v) || (this.outer?.hasTensor(v) ?? false);
  }

  tensor(v: string): IrTensor | undefined {
    return this.ir.tensors.get(v) ?? this.outer?.tensor(v);
  }

  /** Declares a constant IR tensor with a fresh name derived from `base`. */
  constant(base: string, dtype: IrTensor['dtype'], shape: number[], data: IrData, quant?: IrTensor['quant']): string {
    let name = base;
    for (let i = 1; this.hasTensor(name) || this.graph.info.has(name); i++) name = `${base}__${i}`;
    this.ir.tensors.set(name, { name, dtype, shape, data, quant });
    return name;
  }

  /** The kernel set's int16 sigmoid table, declared once in the top graph. */
  sharedTable(): string {
    if (this.outer) return this.outer.sharedTable();
    const name = 'tlg_sigmoid_q16';
    if (!this.ir.tensors.has(name)) {
      this.ir.tensors.set(name, { name, dtype: 'uint16', shape: [256], data: Uint16Array.from(this.options.activationTable) });
    }
    return name;
  }

  /** A new int8 activation tensor (intermediate of a multi-op lowering). */
  temporary(base: string, shape: number[], q: QuantParams): string {
    let name = base;
    for (let i = 1; this.hasTensor(name) || this.graph.info.has(name); i++) name = `${base}__${i}`;
    this.ir.tensors.set(name, { name, dtype: 'int8', shape, quant: { scale: q.scale, zeroPoint: q.zeroPoint } });
    return name;
  }

  emit(op: IrOpInit, node: Node): void {
    const name = op.name ?? `${node.name}#${++this.opCount}`;
    this.ir.ops.push({ ...op, name } as IrOp);
  }

  opName(node: Node, suffix = ''): string {
    return `${node.name}${suffix}`;
  }

  fail(node: Node, why: string): never {
    throw diagnostics.notIntegerizable(this.graph.file, node.name, node.opType, why);
  }

  singleConsumer(v: string): Node | undefined {
    const users = this.graph.consumers(v);
    return users.length === 1 && !this.graph.outputs.includes(v) ? users[0] : undefined;
  }

  // --- dispatch ---------------------------------------------------------------------------------

  private lowerNode(node: Node): void {
    if (node.opType === 'tlg.Loop') return this.lowerLoop(node);
    if (node.opType === 'tlg.Requantize') return this.lowerRequantize(node, node.inputs[0], node.outputs[0]);
    if (node.domain !== '') this.fail(node, `operator domain "${node.domain}" is not supported`);
    switch (node.opType) {
      case 'MatMul':
      case 'Gemm':
        return this.lowerMatMul(node);
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        return this.lowerBinary(node);
      case 'Softmax':
        return this.lowerSoftmax(node);
      case 'Reshape':
      case 'Squeeze':
      case 'Unsqueeze':
      case 'Flatten':
        return this.lowerReshape(node);
      case 'Transpose':
        return this.lowerTranspose(node);
      case 'Slice':
      case 'Gather':
      case 'Split':
      case 'Expand':
        return this.lowerStridedView(node);
      case 'Concat':
        return this.lowerConcat(node);
      case 'LSTM':
        return lowerLstm(this, node);
    }
    const def = opDef(node);
    if (def?.unary) return this.lowerUnary(node, (x) => def.unary!(x, node, this.graph), node.opType.toLowerCase());
    this.fail(node, 'this operator has no integer lowering');
  }

  // --- fully connected ------------------------------------------------------------------------------

  private lowerMatMul(node: Node): void {
    const gemm = node.opType === 'Gemm';
    let [a, b] = node.inputs;
    const aConst = this.graph.isConstant(a);
    const bConst = this.graph.isConstant(b);
    if (!gemm && !bConst) return this.lowerGeneralMatMul(node);
    if (aConst) this.fail(node, 'the left operand is a constant and the right one is not');
    const bShape = this.graph.shapeOf(b);
    if (bShape.length !== 2) return this.lowerGeneralMatMul(node);

    // The chain that folds into one FC: [Gemm | MatMul (+ Add bias)] (+ Relu | Clip).
    const sources = [node.name];
    let out = node.outputs[0];
    let biasReal: Float64Array | undefined;
    let biasQuantized: { data: IrData; quant: QuantParams } | undefined;
    const transB = gemm && attrInt(node, 'transB', 0) === 1;
    const n = transB ? bShape[0] : bShape[1];
    const alpha = gemm ? attrFloat(node, 'alpha', 1) : 1;
    if (gemm && attrInt(node, 'transA', 0) === 1) this.fail(node, 'transA = 1 (a transposed activation) is not supported');
    if (gemm && node.inputs[2]) {
      const beta = attrFloat(node, 'beta', 1);
      const c = this.graph.constant(node.inputs[2]);
      if (!c) this.fail(node, 'the bias C must be a constant');
      const q = this.graph.quant.get(node.inputs[2]);
      if (q && q.dtype === 'int32' && beta === 1) biasQuantized = { data: vectorOf(c, n, this, node), quant: q };
      else biasReal = realVector(c, q, n, beta, this, node);
    }
    const add = !gemm && !this.graph.quant.has(out) ? this.singleConsumer(out) : undefined;
    if (add && add.opType === 'Add' && add.domain === '') {
      const other = add.inputs[0] === out ? add.inputs[1] : add.inputs[0];
      const c = this.graph.constant(other);
      if (c && sizeOf(c.shape) === n) {
        const q = this.graph.quant.get(other);
        if (q && q.dtype === 'int32') biasQuantized = { data: vectorOf(c, n, this, node), quant: q };
        else biasReal = realVector(c, q, n, 1, this, node);
        this.fused.add(add);
        sources.push(add.name);
        out = add.outputs[0];
      }
    }
    let activation: [number, number] | undefined;
    const act = !this.graph.quant.has(out) ? this.singleConsumer(out) : undefined;
    if (act && (act.opType === 'Relu' || act.opType === 'Clip') && act.domain === '') {
      const lo = act.opType === 'Relu' ? 0 : (this.graph.constant(act.inputs[1] ?? '')?.data[0] ?? -Infinity);
      const hi = act.opType === 'Relu' ? Infinity : (this.graph.constant(act.inputs[2] ?? '')?.data[0] ?? Infinity);
      this.fused.add(act);
      sources.push(act.name);
      out = act.outputs[0];
      activation = [lo, hi];
    }

    const x = this.activation(a, node);
    const qx = this.quantOf(a, node);
    const qy = this.quantOf(out, node);
    const w = this.weightMatrix(node, b, transB, alpha);
    const outputDtype = qy.dtype === 'int32' ? 'int32' : 'int8';
    const y = this.activation(out, node);

    const sw = w.scales;
    let bias: string | undefined;
    if (biasQuantized) {
      const expected = sw.map((s) => qx.scale[0] * s);
      const q = biasQuantized.quant;
      const matches = expected.every((e, i) => Math.abs((q.scale.length === 1 ? q.scale[0] : q.scale[i]) - e) <= 1e-6 * e);
      if (matches) {
        bias = this.constant(`${node.name}_bias`, 'int32', [n], Int32Array.from(biasQuantized.data));
      } else {
        biasReal = Float64Array.from(biasQuantized.data, (v, i) => v * (q.scale.length === 1 ? q.scale[0] : q.scale[i]));
      }
    }
    let accumulatorShift = 0;
    if (!bias && biasReal) {
      const ratios = outputDtype === 'int8' ? sw.map((s) => (qx.scale[0] * s) / qy.scale[0]) : [];
      const maxWeight = w.data.reduce((m, v) => Math.max(m, Math.abs(v - w.zeroPoint)), 0);
      const fine = this.options.fineBias && outputDtype === 'int8' ? MAX_ACCUMULATOR_SHIFT : 0;
      const q = quantizeBias(biasReal, sw.map((s) => qx.scale[0] * s), ratios, { depth: w.data.length / n, maxWeight, maxInput: 255 }, fine);
      accumulatorShift = q.shift;
      bias = this.constant(`${node.name}_bias`, 'int32', [n], q.data);
    }
    const requant: Requant[] = sw.map((s) => quantizeMultiplier((qx.scale[0] * s) / qy.scale[0] / 2 ** accumulatorShift));
    const [actMin, actMax] = activationRange(qy, activation);
    this.emit(
      {
        kind: 'FullyConnected',
        sources,
        inputs: [x],
        outputs: [y],
        weights: w.name,
        bias,
        ...(accumulatorShift ? { accumulatorShift } : {}),
        inputOffset: -qx.zeroPoint[0],
        weightOffset: -w.zeroPoint,
        outputOffset: outputDtype === 'int32' ? 0 : qy.zeroPoint[0],
        requant: uniformRequant(requant),
        activationMin: actMin,
        activationMax: actMax,
        outputDtype,
      },
      node,
    );
  }

  /** The weights of an FC as int8 [N, K] with one scale per row (or one for all). */
  private weightMatrix(node: Node, b: string, transB: boolean, alpha: number): { name: string; data: Int8Array; scales: number[]; zeroPoint: number } {
    const t = this.graph.constant(b)!;
    const q = this.graph.quant.get(b);
    const [r, c] = t.shape;
    const n = transB ? r : c;
    const k = transB ? c : r;
    const at = (row: number, col: number) => (transB ? t.data[row * c + col] : t.data[col * c + row]);
    const data = new Int8Array(n * k);
    let scales: number[];
    let zeroPoint = 0;
    if (q) {
      if (q.dtype !== 'int8') this.fail(node, `weights of type ${q.dtype} are not supported (int8 or uint8 expected)`);
      const outAxis = transB ? 0 : 1;
      if (q.scale.length > 1 && q.axis !== outAxis) this.fail(node, `per-channel weight scales run along axis ${q.axis}, not along the output channels`);
      if (new Set(q.zeroPoint).size > 1) this.fail(node, 'per-channel weight zero points differ');
      zeroPoint = q.zeroPoint[0];
      for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) data[i * k + j] = at(i, j);
      scales = q.scale.length === 1 ? [q.scale[0] * alpha] : q.scale.map((s) => s * alpha);
    } else {
      // A float weight (no Q/DQ): symmetric int8, one scale per output channel.
      scales = [];
      for (let i = 0; i < n; i++) {
        let maxAbs = 0;
        for (let j = 0; j < k; j++) maxAbs = Math.max(maxAbs, Math.abs(at(i, j) * alpha));
        const s = chooseSymmetricScale(maxAbs);
        scales.push(s);
        for (let j = 0; j < k; j++) data[i * k + j] = Math.max(-127, Math.min(127, roundHalfEven((at(i, j) * alpha) / s)));
      }
    }
    const name = this.constant(`${b}_rows`, 'int8', [n, k], data, { scale: scales, zeroPoint: scales.map(() => zeroPoint), axis: 0 });
    return { name, data, scales: scales.length === 1 ? Array(n).fill(scales[0]) : scales, zeroPoint };
  }

  private lowerGeneralMatMul(node: Node): void {
    const [a, b] = node.inputs;
    const qa = this.quantOf(a, node);
    const qb = this.quantOf(b, node);
    const qy = this.quantOf(node.outputs[0], node);
    if (!isPerTensor(qb)) this.fail(node, 'per-channel scales on a matrix product of two activations');
    const inputs = [a, b].map((v) => {
      if (!this.graph.isConstant(v)) return this.activation(v, node);
      const t = this.graph.constant(v)!;
      return this.constant(v, 'int8', [...t.shape], Int8Array.from(t.data), { scale: this.quantOf(v).scale, zeroPoint: this.quantOf(v).zeroPoint });
    });
    const outputDtype = qy.dtype === 'int32' ? 'int32' : 'int8';
    this.emit(
      {
        kind: 'MatMul',
        sources: [node.name],
        inputs,
        outputs: [this.activation(node.outputs[0], node)],
        aOffset: -qa.zeroPoint[0],
        bOffset: -qb.zeroPoint[0],
        outputOffset: outputDtype === 'int32' ? 0 : qy.zeroPoint[0],
        requant: quantizeMultiplier((qa.scale[0] * qb.scale[0]) / qy.scale[0]),
        outputDtype,
      },
      node,
    );
  }

  // --- elementwise ----------------------------------------------------------------------------------

  private lowerBinary(node: Node): void {
    const [a, b] = node.inputs;
    const ca = this.graph.constant(a);
    const cb = this.graph.constant(b);
    const scalar = (t: Tensor | undefined, v: string) => (t && sizeOf(t.shape) === 1 ? realScalar(t, this.graph.quant.get(v)) : undefined);
    const sa = scalar(ca, a);
    const sb = scalar(cb, b);
    const op = node.opType;
    // One operand a constant scalar: a function of the other, as a table.
    if (sb !== undefined && !ca) {
      const f = op === 'Add' ? (x: number) => x + sb : op === 'Sub' ? (x: number) => x - sb : op === 'Mul' ? (x: number) => x * sb : (x: number) => x / sb;
      return this.lowerUnary(node, f, `x ${symbol(op)} ${fmt(sb)}`, a);
    }
    if (sa !== undefined && !cb) {
      const f = op === 'Add' ? (x: number) => sa + x : op === 'Sub' ? (x: number) => sa - x : op === 'Mul' ? (x: number) => sa * x : (x: number) => sa / x;
      return this.lowerUnary(node, f, `${fmt(sa)} ${symbol(op)} x`, b);
    }
    if (op === 'Div') this.fail(node, 'division by a value that is not a constant scalar');
    const y = node.outputs[0];
    const shape = this.graph.shapeOf(y);
    const [x1, x2] = [a, b].map((v) => this.operand(node, v, shape));
    const q1 = this.quantOf(a, node);
    const q2 = this.quantOf(b, node);
    const qy = this.quantOf(y, node);
    const out = this.activation(y, node);
    if (op === 'Mul') {
      this.emit(
        {
          kind: 'Mul',
          sources: [node.name],
          inputs: [x1, x2],
          outputs: [out],
          input1Offset: -q1.zeroPoint[0],
          input2Offset: -q2.zeroPoint[0],
          outputOffset: qy.zeroPoint[0],
          output: quantizeMultiplier((q1.scale[0] * q2.scale[0]) / qy.scale[0]),
          activationMin: -128,
          activationMax: 127,
        },
        node,
      );
      return;
    }
    const r = addRequants(q1.scale[0], q2.scale[0], qy.scale[0], op === 'Sub');
    this.emit(
      {
        kind: 'Add',
        sources: [node.name],
        inputs: [x1, x2],
        outputs: [out],
        input1Offset: -q1.zeroPoint[0],
        input1: r.input1,
        input2Offset: -q2.zeroPoint[0],
        input2: r.input2,
        leftShift: r.leftShift,
        outputOffset: qy.zeroPoint[0],
        output: r.output,
        activationMin: -128,
        activationMax: 127,
      },
      node,
    );
  }

  /** An operand of an elementwise op at the output's shape: runtime values must match it. */
  private operand(node: Node, v: string, shape: number[]): string {
    const c = this.graph.constant(v);
    if (!c) {
      if (sizeOf(this.graph.shapeOf(v)) !== sizeOf(shape)) this.fail(node, `broadcasting the runtime value "${v}" is not supported`);
      return this.activation(v, node);
    }
    // A constant operand is quantized (if float) and broadcast at compile time.
    let q = this.graph.quant.get(v);
    let values = Array.from(c.data, (x, i) => (q ? realAt(q, c, i) : x));
    if (!q || !isPerTensor(q) || q.dtype !== 'int8') {
      const lo = Math.min(0, ...values);
      const hi = Math.max(0, ...values);
      q = perTensor('int8', Math.max(hi - lo, 1e-9) / 255, 0);
      q.zeroPoint = [Math.round(-128 - lo / q.scale[0])];
      this.graph.quant.set(v, q);
    }
    const qq = q;
    values = values.map((x) => Math.max(-128, Math.min(127, roundHalfEven(x / qq.scale[0]) + qq.zeroPoint[0])));
    const full = new Int8Array(sizeOf(shape));
    for (let i = 0; i < full.length; i++) full[i] = values[broadcastSource(i, shape, c.shape)];
    return this.constant(`${v}_broadcast`, 'int8', [...shape], full, { scale: q.scale, zeroPoint: q.zeroPoint });
  }

  lowerUnary(node: Node, f: (x: number) => number, description: string, input = node.inputs[0]): void {
    const qx = this.quantOf(input, node);
    const y = node.outputs[0];
    const qy = this.quantOf(y, node);
    const table = this.constant(`${node.name}_table`, 'int8', [256], buildLut(f, qx, qy));
    this.emit({ kind: 'Lut', sources: [node.name], inputs: [this.activation(input, node)], outputs: [this.activation(y, node)], table, function: description }, node);
  }

  private lowerSoftmax(node: Node): void {
    const x = node.inputs[0];
    const shape = this.graph.shapeOf(x);
    const axis = attrInt(node, 'axis', -1);
    const last = axis === -1 || axis === shape.length - 1 || sizeOf(shape.slice(0, (axis + shape.length) % shape.length)) === 1;
    if (!last) this.fail(node, `softmax over axis ${axis}, not the last axis`);
    const qx = this.quantOf(x, node);
    const y = node.outputs[0];
    const qy = this.quantOf(y, node);
    const p = softmaxParams(qx.scale[0]);
    const fixed = perTensor('int8', 1 / 256, -128);
    const direct = Math.abs(qy.scale[0] - 1 / 256) < 1e-9 && qy.zeroPoint[0] === -128;
    const out = direct ? this.activation(y, node) : this.temporary(`${y}_softmax`, [...shape], fixed);
    this.emit({ kind: 'Softmax', sources: [node.name], inputs: [this.activation(x, node)], outputs: [out], ...p }, node);
    if (!direct) this.emitRequantize(node, out, fixed, this.activation(y, node), qy);
  }

  private lowerRequantize(node: Node, x: string, y: string): void {
    this.emitRequantize(node, this.activation(x, node), this.quantOf(x, node), this.activation(y, node), this.quantOf(y, node));
  }

  emitRequantize(node: Node, x: string, qx: QuantParams, y: string, qy: QuantParams): void {
    this.emit(
      {
        kind: 'Requantize',
        sources: [node.name],
        inputs: [x],
        outputs: [y],
        inputOffset: -qx.zeroPoint[0],
        outputOffset: qy.zeroPoint[0],
        requant: quantizeMultiplier(qx.scale[0] / qy.scale[0]),
      },
      node,
    );
  }

  // --- views ------------------------------------------------------------------------------------------

  private viewInput(node: Node): string {
    const x = node.inputs[0];
    if (this.graph.isConstant(x)) this.fail(node, 'a view of a constant that was not folded');
    return this.activation(x, node);
  }

  /** The view's output, requantized when a model's Q/DQ gave it other parameters. */
  private viewOutput(node: Node, k: number, emitView: (out: string) => void): void {
    const x = node.inputs[0];
    const y = node.outputs[k];
    const qx = this.quantOf(x, node);
    let qy = this.graph.quant.get(y);
    if (!qy) {
      // A view's output has its input's parameters; not recorded during the dry run, where the
      // input's may be a placeholder.
      if (!this.isPlaceholder(qx)) this.graph.quant.set(y, qx);
      qy = qx;
    }
    if (qy === qx || describeQuant(qy) === describeQuant(qx)) {
      emitView(this.activation(y, node));
      return;
    }
    const tmp = this.temporary(`${y}_view`, [...this.graph.shapeOf(y)], qx);
    emitView(tmp);
    this.emitRequantize(node, tmp, qx, this.activation(y, node), qy);
  }

  private lowerReshape(node: Node): void {
    const x = this.viewInput(node);
    this.viewOutput(node, 0, (y) => this.emit({ kind: 'Reshape', sources: [node.name], inputs: [x], outputs: [y] }, node));
  }

  private lowerTranspose(node: Node): void {
    const x = this.viewInput(node);
    const shape = this.graph.shapeOf(node.inputs[0]);
    const perm = attrInts(node, 'perm') ?? shape.map((_, i) => shape.length - 1 - i);
    const moved = perm.filter((p) => shape[p] !== 1);
    const inOrder = moved.every((p, i) => i === 0 || p > moved[i - 1]);
    const strides = stridesOf(shape);
    this.viewOutput(node, 0, (y) =>
      inOrder
        ? this.emit({ kind: 'Reshape', sources: [node.name], inputs: [x], outputs: [y] }, node)
        : this.emit({ kind: 'Copy', sources: [node.name], inputs: [x], outputs: [y], offset: 0, strides: perm.map((p) => strides[p]) }, node),
    );
  }

  private lowerStridedView(node: Node): void {
    const x = this.viewInput(node);
    const shape = this.graph.shapeOf(node.inputs[0]);
    node.outputs.forEach((o, k) => {
      const spec = stridedSpec(this, node, shape, k);
      this.viewOutput(node, k, (y) => this.emit({ kind: 'Copy', sources: [node.name], inputs: [x], outputs: [y], ...spec }, node));
    });
  }

  private lowerConcat(node: Node): void {
    const y = node.outputs[0];
    const qy = this.quantOf(y, node);
    const inputs = node.inputs.map((v) => {
      if (this.graph.isConstant(v)) return this.operand(node, v, this.graph.shapeOf(v));
      const qv = this.quantOf(v, node);
      if (describeQuant(qv) === describeQuant(qy)) return this.activation(v, node);
      const tmp = this.temporary(`${v}_to_${y}`, [...this.graph.shapeOf(v)], qy);
      this.emitRequantize(node, this.activation(v, node), qv, tmp, qy);
      return tmp;
    });
    const rank = this.graph.shapeOf(y).length;
    this.emit({ kind: 'Concat', sources: [node.name], inputs, outputs: [this.activation(y, node)], axis: (attrInt(node, 'axis') + rank) % rank }, node);
  }

  // --- loops --------------------------------------------------------------------------------------------

  private lowerLoop(node: Node): void {
    const b = node.body!;
    for (const s of b.sequences) this.activation(s.outer, node);
    for (const v of b.graph.outerValues) if (!this.graph.isConstant(v)) this.activation(v, node);
    const inits = b.states.map((s) => this.loopInit(node, s.init, b.graph, s.bodyIn));
    const body = new Lowerer(b.graph, this.options, this.missing, this.warnings, this).lower();
    const outputs = [...b.finals.map((f) => f.outer), ...b.scans.map((s) => s.outer)];
    for (const f of b.finals) {
      const q = b.graph.quant.get(f.bodyValue);
      if (q) this.graph.quant.set(f.outer, q);
      this.activation(f.outer, node);
    }
    for (const s of b.scans) this.activation(s.outer, node);
    const op: Omit<LoopOp, 'name'> = {
      kind: 'Loop',
      sources: [node.name],
      inputs: [...b.sequences.map((s) => s.outer), ...inits],
      outputs,
      body,
      steps: b.steps,
      sequences: b.sequences.map((s) => ({ ...s })),
      states: b.states.map((s, i) => ({ init: inits[i], bodyIn: s.bodyIn, bodyOut: s.bodyOut })),
      scans: b.scans.map((s) => ({ ...s })),
      finals: b.finals.map((f) => ({ ...f })),
    };
    this.emit({ ...op, name: node.name }, node);
  }

  /** The initial value of a loop state, as an IR tensor with the state's parameters. */
  private loopInit(node: Node, init: string, body: Graph, bodyIn: string): string {
    const c = this.graph.constant(init);
    if (!c) return this.activation(init, node);
    const q = this.quantIn(body, bodyIn);
    const cq = this.graph.quant.get(init);
    const values = Array.from(c.data, (v, i) => {
      const real = cq ? realAt(cq, c, i) : v;
      return Math.max(-128, Math.min(127, roundHalfEven(real / q.scale[0]) + q.zeroPoint[0]));
    });
    return this.constant(`${bodyIn}_init`, 'int8', [...body.shapeOf(bodyIn)], Int8Array.from(values), { scale: q.scale, zeroPoint: q.zeroPoint });
  }
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function symbol(op: string): string {
  return op === 'Add' ? '+' : op === 'Sub' ? '-' : op === 'Mul' ? '*' : '/';
}

function fmt(x: number): string {
  return Number(x.toPrecision(6)).toString();
}

function realAt(q: QuantParams, t: Tensor, i: number): number {
  if (q.scale.length === 1) return q.scale[0] * (t.data[i] - q.zeroPoint[0]);
  const inner = sizeOf(t.shape.slice((q.axis ?? 0) + 1));
  const c = Math.floor(i / inner) % q.scale.length;
  return q.scale[c] * (t.data[i] - q.zeroPoint[c]);
}

function realScalar(t: Tensor, q: QuantParams | undefined): number {
  return q ? realAt(q, t, 0) : t.data[0];
}

function vectorOf(t: Tensor, n: number, l: Lowerer, node: Node): Int32Array {
  if (sizeOf(t.shape) !== n) l.fail(node, `bias has ${sizeOf(t.shape)} elements for ${n} outputs`);
  return Int32Array.from(t.data);
}

function realVector(t: Tensor, q: QuantParams | undefined, n: number, scale: number, l: Lowerer, node: Node): Float64Array {
  const count = sizeOf(t.shape);
  if (count !== n && count !== 1) l.fail(node, `bias has ${count} elements for ${n} outputs`);
  const at = (i: number) => (q ? realAt(q, t, count === 1 ? 0 : i) : t.data[count === 1 ? 0 : i]);
  if (!q && !isFloat(t.dtype)) l.fail(node, `bias of type ${t.dtype} without quantization parameters`);
  return Float64Array.from({ length: n }, (_, i) => at(i) * scale);
}

function uniformRequant(rs: Requant[]): Requant[] {
  return rs.every((r) => r.multiplier === rs[0].multiplier && r.shift === rs[0].shift) ? [rs[0]] : rs;
}

function activationRange(q: QuantParams, activation?: [number, number]): [number, number] {
  if (q.dtype === 'int32') return [-2147483648, 2147483647];
  if (!activation) return [-128, 127];
  const [lo, hi] = activation;
  const qlo = Number.isFinite(lo) ? roundHalfEven(lo / q.scale[0]) + q.zeroPoint[0] : -128;
  const qhi = Number.isFinite(hi) ? roundHalfEven(hi / q.scale[0]) + q.zeroPoint[0] : 127;
  return [Math.max(-128, qlo), Math.min(127, qhi)];
}

function broadcastSource(i: number, outShape: readonly number[], shape: readonly number[]): number {
  let idx = 0;
  let stride = 1;
  let rem = i;
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

/** Offset and strides of a Slice/Gather/Split/Expand output, read from the input's layout. */
function stridedSpec(l: Lowerer, node: Node, shape: number[], k: number): { offset: number; strides: number[] } {
  const g = l.graph;
  const strides = stridesOf(shape);
  const rank = shape.length;
  const normAxis = (a: number) => (a + rank) % rank;
  const constInts = (v: string | undefined) => (v ? Array.from(g.constant(v)?.data ?? []) : undefined);
  switch (node.opType) {
    case 'Slice': {
      const starts = constInts(node.inputs[1])!;
      const axes = constInts(node.inputs[3]) ?? starts.map((_, i) => i);
      const steps = constInts(node.inputs[4]) ?? starts.map(() => 1);
      let offset = 0;
      const st = [...strides];
      axes.forEach((ax, i) => {
        const a = normAxis(ax);
        const dim = shape[a];
        let s = starts[i] < 0 ? starts[i] + dim : starts[i];
        s = steps[i] > 0 ? Math.min(Math.max(s, 0), dim) : Math.min(Math.max(s, 0), dim - 1);
        offset += s * strides[a];
        st[a] = strides[a] * steps[i];
      });
      return { offset, strides: st };
    }
    case 'Gather': {
      const a = normAxis(attrInt(node, 'axis', 0));
      const ind = g.constant(node.inputs[1]);
      if (!ind) l.fail(node, 'gather at indices that are not constants');
      const idx = Array.from(ind.data, (v) => (v < 0 ? v + shape[a] : v));
      const step = idx.length > 1 ? idx[1] - idx[0] : 1;
      if (idx.some((v, i) => v !== idx[0] + i * step) || ind.shape.length > 1) l.fail(node, 'gather at indices that are not evenly spaced');
      const inner = ind.shape.length === 0 ? [] : [strides[a] * step];
      return { offset: idx[0] * strides[a], strides: [...strides.slice(0, a), ...inner, ...strides.slice(a + 1)] };
    }
    case 'Split': {
      const a = normAxis(attrInt(node, 'axis', 0));
      let start = 0;
      for (let i = 0; i < k; i++) start += g.shapeOf(node.outputs[i])[a];
      return { offset: start * strides[a], strides };
    }
    case 'Expand': {
      const out = g.shapeOf(node.outputs[0]);
      const st = out.map((d, i) => {
        const s = i - (out.length - rank);
        return s < 0 || shape[s] === 1 ? 0 : strides[s];
      });
      return { offset: 0, strides: st };
    }
  }
  invariant(false, `no strided view for ${node.opType}`);
}

export function lowerGraph(graph: Graph, options: LowerOptions): LowerResult {
  const missing: MissingQuant[] = [];
  const warnings: Warning[] = [];
  const ir = new Lowerer(graph, options, missing, warnings).lower();
  return { graph: ir, missing, warnings };
}

