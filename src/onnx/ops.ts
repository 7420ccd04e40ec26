// The ONNX operators tinylstm-gen reads: for each, its output types and shapes, and for the
// ones that shape arithmetic and weight preparation need, an evaluator on constant inputs.
//
// Semantics follow the ONNX operator specification (opsets 10 to 21); where an input replaced
// an attribute across opsets (axes of Squeeze/Unsqueeze, split of Split), both forms are read.

import type { Graph, Node, ValueInfo } from './graph.js';
import { attrFloat, attrInt, attrInts, attrString } from './graph.js';
import {
  isFloat,
  makeTensor,
  sizeOf,
  stridesOf,
  dtypeFromOnnx,
  type DType,
  type Tensor,
} from './tensor.js';
import { diagnostics } from '../diagnostics.js';

export interface OpContext {
  graph: Graph;
  node: Node;
  /** Types and shapes of the inputs ('' inputs are undefined). */
  inputs: (ValueInfo | undefined)[];
  /** Constant input values, where the input is a constant. */
  consts: (Tensor | undefined)[];
}

export interface OpDef {
  infer(ctx: OpContext): ValueInfo[];
  /**
   * Evaluates the op on constant inputs. `always` ops (Shape) fold even when their data input
   * is not constant, since shapes are static here.
   */
  fold?(ctx: OpContext): Tensor[];
  always?: boolean;
  /** A view or copy: the output holds input 0's elements, rearranged (quantization carries). */
  view?: boolean;
  /** Elementwise float function of one input, for lookup tables. */
  unary?(x: number, node: Node, graph: Graph): number;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function fail(ctx: OpContext, what: string): never {
  throw diagnostics.shapeMismatch(ctx.graph.file, ctx.node.name, ctx.node.opType, what);
}

function need(ctx: OpContext, i: number): ValueInfo {
  const v = ctx.inputs[i];
  if (!v) fail(ctx, `input ${i} is missing`);
  return v;
}

/** A constant input that the shape depends on; a computed one cannot be supported. */
function constInput(ctx: OpContext, i: number): Tensor {
  const c = ctx.consts[i];
  if (!c) {
    throw diagnostics.notIntegerizable(
      ctx.graph.file,
      ctx.node.name,
      ctx.node.opType,
      `input ${i} ("${ctx.node.inputs[i]}") must be a constant: shapes are computed at compile time`,
    );
  }
  return c;
}

function ints(t: Tensor): number[] {
  return Array.from(t.data, (v) => Number(v));
}

function normAxis(ctx: OpContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(ctx, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Index of the element of a tensor of `shape` that broadcasts onto flat output index `i`. */
export function broadcastIndex(i: number, outShape: readonly number[], shape: readonly number[]): number {
  let idx = 0;
  let rem = i;
  let stride = 1;
  for (let d = outShape.length - 1, s = shape.length - 1; d >= 0; d--, s--) {
    const od = outShape[d];
    const c = rem % od;
    rem = (rem - c) / od;
    if (s >= 0) {
      if (shape[s] !== 1) idx += c * stride;
      stride *= shape[s];
    }
  }
  return idx;
}

function elementwise(ctx: OpContext, dtype: DType, f: (...xs: number[]) => number): Tensor[] {
  const ts = ctx.consts.filter((c): c is Tensor => !!c);
  let shape: number[] = [];
  for (const t of ts) {
    const s = broadcastShapes(shape, t.shape);
    if (!s) fail(ctx, `shapes [${shape}] and [${t.shape}] do not broadcast`);
    shape = s;
  }
  const out = makeTensor(dtype, shape);
  const args = new Array<number>(ts.length);
  for (let i = 0; i < out.data.length; i++) {
    for (let k = 0; k < ts.length; k++) args[k] = ts[k].data[broadcastIndex(i, shape, ts[k].shape)];
    out.data[i] = f(...args);
  }
  return [out];
}

function inferBroadcast(ctx: OpContext, dtype?: DType): ValueInfo[] {
  let shape: number[] = [];
  for (const v of ctx.inputs) {
    if (!v) continue;
    const s = broadcastShapes(shape, v.shape);
    if (!s) fail(ctx, `input shapes do not broadcast ([${ctx.inputs.map((i) => `[${i?.shape}]`).join(', ')}])`);
    shape = s;
  }
  return [{ dtype: dtype ?? need(ctx, 0).dtype, shape }];
}

function sameAsInput(ctx: OpContext): ValueInfo[] {
  const v = need(ctx, 0);
  return [{ dtype: v.dtype, shape: [...v.shape] }];
}

function truncInt(dtype: DType, v: number): number {
  return isFloat(dtype) ? v : Math.trunc(v);
}

/** Gathers elements of `t` by a function from output multi-index to input flat index. */
function gatherBy(t: Tensor, outShape: number[], source: (outIndex: number[]) => number): Tensor {
  const out = makeTensor(t.dtype, outShape);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = t.data[source(idx)];
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shape and view operators
// ---------------------------------------------------------------------------------------------

function sliceParams(ctx: OpContext, shape: readonly number[]) {
  const starts = ints(constInput(ctx, 1));
  const ends = ints(constInput(ctx, 2));
  const axes = ctx.node.inputs[3] ? ints(constInput(ctx, 3)) : starts.map((_, i) => i);
  const steps = ctx.node.inputs[4] ? ints(constInput(ctx, 4)) : starts.map(() => 1);
  const begin = shape.map(() => 0);
  const step = shape.map(() => 1);
  const outShape = [...shape];
  axes.forEach((ax, k) => {
    const a = normAxis(ctx, ax, shape.length);
    const dim = shape[a];
    const st = steps[k];
    if (st === 0) fail(ctx, 'Slice step 0');
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    let s = starts[k] < 0 ? starts[k] + dim : starts[k];
    let e = ends[k] < 0 ? ends[k] + dim : ends[k];
    if (st > 0) {
      s = clamp(s, 0, dim);
      e = clamp(e, 0, dim);
    } else {
      s = clamp(s, 0, dim - 1);
      e = clamp(e, -1, dim - 1);
    }
    begin[a] = s;
    step[a] = st;
    outShape[a] = Math.max(0, Math.ceil((e - s) / st));
  });
  return { begin, step, outShape };
}

function reshapeTarget(ctx: OpContext, inShape: readonly number[]): number[] {
  const spec = ints(constInput(ctx, 1));
  const allowZero = attrInt(ctx.node, 'allowzero', 0) === 1;
  const out = spec.map((d, i) => (d === 0 && !allowZero ? inShape[i] : d));
  const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = sizeOf(inShape);
  const minus = out.indexOf(-1);
  if (minus >= 0) out[minus] = known === 0 ? 0 : total / known;
  if (sizeOf(out) !== total || out.some((d) => !Number.isInteger(d) || d < 0)) {
    fail(ctx, `cannot reshape [${inShape}] to [${spec}]`);
  }
  return out;
}

function squeezeAxes(ctx: OpContext, shape: readonly number[]): number[] {
  const given = ctx.node.inputs[1] ? ints(constInput(ctx, 1)) : attrInts(ctx.node, 'axes');
  if (!given) return shape.flatMap((d, i) => (d === 1 ? [i] : []));
  const axes = given.map((a) => normAxis(ctx, a, shape.length));
  for (const a of axes) if (shape[a] !== 1) fail(ctx, `cannot squeeze axis ${a} of size ${shape[a]}`);
  return axes;
}

function unsqueezeShape(ctx: OpContext, shape: readonly number[]): number[] {
  const given = ctx.node.inputs[1] ? ints(constInput(ctx, 1)) : attrInts(ctx.node, 'axes');
  if (!given) fail(ctx, 'Unsqueeze without axes');
  const rank = shape.length + given.length;
  const axes = given.map((a) => normAxis(ctx, a, rank)).sort((a, b) => a - b);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : shape[k++]);
  return out;
}

function splitSizes(ctx: OpContext, dim: number): number[] {
  const given = ctx.node.inputs[1] ? ints(constInput(ctx, 1)) : attrInts(ctx.node, 'split');
  const n = ctx.node.outputs.length;
  if (given) {
    if (given.reduce((a, b) => a + b, 0) !== dim) fail(ctx, `split sizes [${given}] do not add up to ${dim}`);
    return given;
  }
  const chunk = Math.ceil(dim / n);
  return Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
}

function transposePerm(ctx: OpContext, rank: number): number[] {
  const perm = attrInts(ctx.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank) fail(ctx, `perm [${perm}] does not match rank ${rank}`);
  return perm;
}

const transpose: OpDef = {
  view: true,
  infer(ctx) {
    const v = need(ctx, 0);
    const perm = transposePerm(ctx, v.shape.length);
    return [{ dtype: v.dtype, shape: perm.map((p) => v.shape[p]) }];
  },
  fold(ctx) {
    const t = ctx.consts[0]!;
    const perm = transposePerm(ctx, t.shape.length);
    const strides = stridesOf(t.shape);
    const outShape = perm.map((p) => t.shape[p]);
    return [gatherBy(t, outShape, (idx) => idx.reduce((acc, v, d) => acc + v * strides[perm[d]], 0))];
  },
};

const ops: Record<string, OpDef> = {
  Identity: { view: true, infer: sameAsInput, fold: (ctx) => [ctx.consts[0]!] },

  Shape: {
    always: true,
    infer: (ctx) => [{ dtype: 'int64', shape: [shapeSlice(ctx).length] }],
    fold: (ctx) => {
      const s = shapeSlice(ctx);
      return [makeTensor('int64', [s.length], s)];
    },
  },

  Size: {
    always: true,
    infer: () => [{ dtype: 'int64', shape: [] }],
    fold: (ctx) => [makeTensor('int64', [], [sizeOf(need(ctx, 0).shape)])],
  },

  Gather: {
    view: true,
    infer(ctx) {
      const d = need(ctx, 0);
      const ind = need(ctx, 1);
      const axis = normAxis(ctx, attrInt(ctx.node, 'axis', 0), d.shape.length);
      return [{ dtype: d.dtype, shape: [...d.shape.slice(0, axis), ...ind.shape, ...d.shape.slice(axis + 1)] }];
    },
    fold(ctx) {
      const t = ctx.consts[0]!;
      const ind = ctx.consts[1]!;
      const axis = normAxis(ctx, attrInt(ctx.node, 'axis', 0), t.shape.length);
      const dim = t.shape[axis];
      const indices = ints(ind).map((i) => (i < 0 ? i + dim : i));
      if (indices.some((i) => i < 0 || i >= dim)) fail(ctx, `Gather index out of range for dimension ${dim}`);
      const outShape = [...t.shape.slice(0, axis), ...ind.shape, ...t.shape.slice(axis + 1)];
      const strides = stridesOf(t.shape);
      const ir = ind.shape.length;
      return [
        gatherBy(t, outShape, (idx) => {
          let flat = 0;
          for (let d = 0; d < axis; d++) flat += idx[d] * strides[d];
          let k = 0;
          for (let d = 0; d < ir; d++) k = k * ind.shape[d] + idx[axis + d];
          flat += indices[k] * strides[axis];
          for (let d = axis + 1; d < t.shape.length; d++) flat += idx[d + ir - 1] * strides[d];
          return flat;
        }),
      ];
    },
  },

  Unsqueeze: {
    view: true,
    infer: (ctx) => [{ dtype: need(ctx, 0).dtype, shape: unsqueezeShape(ctx, need(ctx, 0).shape) }],
    fold: (ctx) => [reshaped(ctx.consts[0]!, unsqueezeShape(ctx, ctx.consts[0]!.shape))],
  },

  Squeeze: {
    view: true,
    infer(ctx) {
      const v = need(ctx, 0);
      const axes = squeezeAxes(ctx, v.shape);
      return [{ dtype: v.dtype, shape: v.shape.filter((_, i) => !axes.includes(i)) }];
    },
    fold(ctx) {
      const t = ctx.consts[0]!;
      const axes = squeezeAxes(ctx, t.shape);
      return [reshaped(t, t.shape.filter((_, i) => !axes.includes(i)))];
    },
  },

  Reshape: {
    view: true,
    infer: (ctx) => [{ dtype: need(ctx, 0).dtype, shape: reshapeTarget(ctx, need(ctx, 0).shape) }],
    fold: (ctx) => [reshaped(ctx.consts[0]!, reshapeTarget(ctx, ctx.consts[0]!.shape))],
  },

  Flatten: {
    view: true,
    infer(ctx) {
      const v = need(ctx, 0);
      return [{ dtype: v.dtype, shape: flattenShape(ctx, v.shape) }];
    },
    fold: (ctx) => [reshaped(ctx.consts[0]!, flattenShape(ctx, ctx.consts[0]!.shape))],
  },

  Concat: {
    view: true,
    infer(ctx) {
      const vs = ctx.inputs.filter((v): v is ValueInfo => !!v);
      const rank = vs[0].shape.length;
      const axis = normAxis(ctx, attrInt(ctx.node, 'axis'), rank);
      const shape = [...vs[0].shape];
      shape[axis] = 0;
      for (const v of vs) {
        if (v.shape.length !== rank || v.shape.some((d, i) => i !== axis && d !== vs[0].shape[i])) {
          fail(ctx, `cannot concatenate shapes ${vs.map((x) => `[${x.shape}]`).join(', ')} on axis ${axis}`);
        }
        shape[axis] += v.shape[axis];
      }
      return [{ dtype: vs[0].dtype, shape }];
    },
    fold(ctx) {
      const ts = ctx.consts.filter((c): c is Tensor => !!c);
      const axis = normAxis(ctx, attrInt(ctx.node, 'axis'), ts[0].shape.length);
      const shape = [...ts[0].shape];
      shape[axis] = ts.reduce((a, t) => a + t.shape[axis], 0);
      const out = makeTensor(ts[0].dtype, shape);
      const outer = sizeOf(shape.slice(0, axis));
      let offset = 0;
      const rowOut = sizeOf(shape.slice(axis));
      for (const t of ts) {
        const row = sizeOf(t.shape.slice(axis));
        for (let o = 0; o < outer; o++) out.data.set(t.data.subarray(o * row, (o + 1) * row), o * rowOut + offset);
        offset += row;
      }
      return [out];
    },
  },

  Slice: {
    view: true,
    infer(ctx) {
      const v = need(ctx, 0);
      return [{ dtype: v.dtype, shape: sliceParams(ctx, v.shape).outShape }];
    },
    fold(ctx) {
      const t = ctx.consts[0]!;
      const { begin, step, outShape } = sliceParams(ctx, t.shape);
      const strides = stridesOf(t.shape);
      return [gatherBy(t, outShape, (idx) => idx.reduce((acc, v, d) => acc + (begin[d] + v * step[d]) * strides[d], 0))];
    },
  },

  Split: {
    view: true,
    infer(ctx) {
      const v = need(ctx, 0);
      const axis = normAxis(ctx, attrInt(ctx.node, 'axis', 0), v.shape.length);
      return splitSizes(ctx, v.shape[axis]).map((s) => {
        const shape = [...v.shape];
        shape[axis] = s;
        return { dtype: v.dtype, shape };
      });
    },
    fold(ctx) {
      const t = ctx.consts[0]!;
      const axis = normAxis(ctx, attrInt(ctx.node, 'axis', 0), t.shape.length);
      const strides = stridesOf(t.shape);
      let start = 0;
      return splitSizes(ctx, t.shape[axis]).map((s) => {
        const shape = [...t.shape];
        shape[axis] = s;
        const from = start;
        start += s;
        return gatherBy(t, shape, (idx) => idx.reduce((acc, v, d) => acc + (d === axis ? v + from : v) * strides[d], 0));
      });
    },
  },

  Transpose: transpose,

  Expand: {
    view: true,
    infer(ctx) {
      const v = need(ctx, 0);
      const shape = broadcastShapes(v.shape, ints(constInput(ctx, 1)));
      if (!shape) fail(ctx, `cannot expand [${v.shape}] to [${ints(constInput(ctx, 1))}]`);
      return [{ dtype: v.dtype, shape }];
    },
    fold(ctx) {
      const t = ctx.consts[0]!;
      const shape = broadcastShapes(t.shape, ints(ctx.consts[1]!))!;
      const out = makeTensor(t.dtype, shape);
      for (let i = 0; i < out.data.length; i++) out.data[i] = t.data[broadcastIndex(i, shape, t.shape)];
      return [out];
    },
  },

  ConstantOfShape: {
    infer(ctx) {
      const v = ctx.node.attrs.value as Tensor | undefined;
      return [{ dtype: v?.dtype ?? 'float32', shape: ints(constInput(ctx, 0)) }];
    },
    fold(ctx) {
      const v = ctx.node.attrs.value as Tensor | undefined;
      const t = makeTensor(v?.dtype ?? 'float32', ints(ctx.consts[0]!));
      t.data.fill(v ? v.data[0] : 0);
      return [t];
    },
  },

  Cast: {
    infer(ctx) {
      const to = dtypeFromOnnx(attrInt(ctx.node, 'to'));
      if (!to) fail(ctx, `Cast to unsupported type ${attrInt(ctx.node, 'to')}`);
      return [{ dtype: to, shape: [...need(ctx, 0).shape] }];
    },
    fold(ctx) {
      const to = dtypeFromOnnx(attrInt(ctx.node, 'to'))!;
      const t = ctx.consts[0]!;
      const out = makeTensor(to, t.shape);
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i];
        out.data[i] = to === 'bool' ? (v !== 0 ? 1 : 0) : truncInt(to, v);
      }
      return [out];
    },
  },

  Range: {
    infer(ctx) {
      const [s, l, d] = [0, 1, 2].map((i) => constInput(ctx, i).data[0]);
      return [{ dtype: need(ctx, 0).dtype, shape: [Math.max(Math.ceil((l - s) / d), 0)] }];
    },
    fold(ctx) {
      const [s, l, d] = [0, 1, 2].map((i) => ctx.consts[i]!.data[0]);
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return [makeTensor(ctx.consts[0]!.dtype, [n], Array.from({ length: n }, (_, i) => s + i * d))];
    },
  },

  // --- arithmetic: integer shape arithmetic, float constants, and the model's own math -------
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary((a, b) => a / b, true),
  Pow: binary((a, b) => a ** b),
  Max: binary((a, b) => Math.max(a, b)),
  Min: binary((a, b) => Math.min(a, b)),
  Equal: compare((a, b) => a === b),
  Less: compare((a, b) => a < b),
  Greater: compare((a, b) => a > b),
  Not: {
    infer: (ctx) => [{ dtype: 'bool', shape: [...need(ctx, 0).shape] }],
    fold: (ctx) => elementwise(ctx, 'bool', (a) => (a ? 0 : 1)),
  },
  Where: {
    infer: (ctx) => inferBroadcast(ctx, need(ctx, 1).dtype),
    fold: (ctx) => elementwise(ctx, ctx.consts[1]!.dtype, (c, a, b) => (c ? a : b)),
  },

  // --- elementwise functions of one input (lookup tables when quantized) ---------------------
  Relu: unary((x) => Math.max(x, 0)),
  Sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unary((x) => Math.tanh(x)),
  Neg: unary((x) => -x),
  Abs: unary((x) => Math.abs(x)),
  Exp: unary((x) => Math.exp(x)),
  Sqrt: unary((x) => Math.sqrt(x)),
  Softsign: unary((x) => x / (1 + Math.abs(x))),
  Softplus: unary((x) => Math.log1p(Math.exp(x))),
  LeakyRelu: unary((x, n) => (x >= 0 ? x : attrFloat(n, 'alpha', 0.01) * x)),
  Elu: unary((x, n) => (x >= 0 ? x : attrFloat(n, 'alpha', 1) * (Math.exp(x) - 1))),
  HardSigmoid: unary((x, n) => Math.min(1, Math.max(0, attrFloat(n, 'alpha', 0.2) * x + attrFloat(n, 'beta', 0.5)))),
  HardSwish: unary((x) => x * Math.min(1, Math.max(0, x / 6 + 0.5))),
  Clip: {
    // Clip's bounds are inputs since opset 11; they must be constants to make a table.
    infer: sameAsInput,
    unary: (x, n, g) => Math.min(Math.max(x, clipBound(n, g, 1, 'min')), clipBound(n, g, 2, 'max')),
  },

  Softmax: { infer: sameAsInput },

  MatMul: { infer: (ctx) => [{ dtype: need(ctx, 0).dtype, shape: matmulShape(ctx, 0, 1) }] },
  Gemm: {
    infer(ctx) {
      const a = need(ctx, 0).shape;
      const b = need(ctx, 1).shape;
      if (a.length !== 2 || b.length !== 2) fail(ctx, `Gemm needs 2-D inputs, got [${a}] and [${b}]`);
      const [m, ka] = attrInt(ctx.node, 'transA', 0) ? [a[1], a[0]] : [a[0], a[1]];
      const [kb, n] = attrInt(ctx.node, 'transB', 0) ? [b[1], b[0]] : [b[0], b[1]];
      if (ka !== kb) fail(ctx, `Gemm inner dimensions differ: [${a}] and [${b}]`);
      const c = ctx.inputs[2];
      if (c && !broadcastShapes([m, n], c.shape)) fail(ctx, `Gemm bias [${c.shape}] does not broadcast to [${m}, ${n}]`);
      return [{ dtype: need(ctx, 0).dtype, shape: [m, n] }];
    },
  },

  QuantizeLinear: {
    infer(ctx) {
      const zp = ctx.inputs[2];
      return [{ dtype: zp?.dtype ?? 'uint8', shape: [...need(ctx, 0).shape] }];
    },
    fold(ctx) {
      const zp = ctx.consts[2];
      const dtype = zp?.dtype ?? 'uint8';
      const x = ctx.consts[0]!;
      const { scaleAt, zpAt } = perAxisParams(ctx, x.shape);
      const [lo, hi] = integerRange(dtype);
      const out = makeTensor(dtype, x.shape);
      for (let i = 0; i < x.data.length; i++) {
        const q = roundHalfEven(x.data[i] / scaleAt(i)) + zpAt(i);
        out.data[i] = Math.min(Math.max(q, lo), hi);
      }
      return [out];
    },
  },
  DequantizeLinear: {
    infer: (ctx) => [{ dtype: 'float32', shape: [...need(ctx, 0).shape] }],
  },
  QLinearMatMul: {
    infer: (ctx) => [{ dtype: need(ctx, 7).dtype, shape: matmulShape(ctx, 0, 3) }],
  },
  MatMulInteger: {
    infer: (ctx) => [{ dtype: 'int32', shape: matmulShape(ctx, 0, 1) }],
  },

  LSTM: {
    infer(ctx) {
      const x = need(ctx, 0).shape;
      const w = need(ctx, 1).shape;
      if (x.length !== 3 || w.length !== 3) fail(ctx, `LSTM needs 3-D X and W, got [${x}] and [${w}]`);
      const layout = attrInt(ctx.node, 'layout', 0);
      const [t, b] = layout === 0 ? [x[0], x[1]] : [x[1], x[0]];
      const dirs = w[0];
      const h = attrInt(ctx.node, 'hidden_size', w[1] / 4);
      if (w[1] !== 4 * h) fail(ctx, `LSTM W has ${w[1]} rows, 4 × hidden_size ${h} expected`);
      if (w[2] !== x[2]) fail(ctx, `LSTM W has ${w[2]} columns but X has ${x[2]} features`);
      const dtype = need(ctx, 0).dtype;
      const y = layout === 0 ? [t, dirs, b, h] : [b, t, dirs, h];
      const state = layout === 0 ? [dirs, b, h] : [b, dirs, h];
      return [{ dtype, shape: y }, { dtype, shape: state }, { dtype, shape: [...state] }];
    },
  },
};

function shapeSlice(ctx: OpContext): number[] {
  const shape = need(ctx, 0).shape;
  const r = shape.length;
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  return shape.slice(norm(attrInt(ctx.node, 'start', 0)), norm(attrInt(ctx.node, 'end', r)));
}

function flattenShape(ctx: OpContext, shape: readonly number[]): number[] {
  const r = shape.length;
  let axis = attrInt(ctx.node, 'axis', 1);
  if (axis < 0) axis += r;
  return [sizeOf(shape.slice(0, axis)), sizeOf(shape.slice(axis))];
}

function reshaped(t: Tensor, shape: number[]): Tensor {
  return { dtype: t.dtype, shape, data: t.data };
}

function binary(f: (a: number, b: number) => number, integerDivision = false): OpDef {
  return {
    infer: (ctx) => inferBroadcast(ctx),
    fold(ctx) {
      const dtype = ctx.consts[0]!.dtype;
      const g = integerDivision && !isFloat(dtype) ? (a: number, b: number) => Math.trunc(a / b) : f;
      return elementwise(ctx, dtype, (a, b) => truncInt(dtype, g(a, b)));
    },
  };
}

function compare(f: (a: number, b: number) => boolean): OpDef {
  return {
    infer: (ctx) => inferBroadcast(ctx, 'bool'),
    fold: (ctx) => elementwise(ctx, 'bool', (a, b) => (f(a, b) ? 1 : 0)),
  };
}

function unary(f: (x: number, n: Node) => number): OpDef {
  return {
    infer: sameAsInput,
    fold: (ctx) => elementwise(ctx, ctx.consts[0]!.dtype, (x) => f(x, ctx.node)),
    unary: (x, n) => f(x, n),
  };
}

function clipBound(n: Node, g: Graph, input: number, which: 'min' | 'max'): number {
  const c = n.inputs[input] ? g.constant(n.inputs[input]) : undefined;
  if (c) return c.data[0];
  const a = n.attrs[which];
  if (typeof a === 'number') return a;
  return which === 'min' ? -Infinity : Infinity;
}

function matmulShape(ctx: OpContext, ai: number, bi: number): number[] {
  const a = need(ctx, ai).shape;
  const b = need(ctx, bi).shape;
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (k1 !== k2) fail(ctx, `MatMul inner dimensions differ: [${a}] × [${b}]`);
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  if (!batch) fail(ctx, `MatMul batch dimensions do not broadcast: [${a}] × [${b}]`);
  const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.splice(out.length - 1, 1);
  return out;
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; ONNX QuantizeLinear rounds half to even.
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function integerRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8':
      return [-128, 127];
    case 'uint8':
      return [0, 255];
    case 'int16':
      return [-32768, 32767];
    case 'uint16':
      return [0, 65535];
    case 'int32':
      return [-(2 ** 31), 2 ** 31 - 1];
    default:
      throw new Error(`no integer range for ${dtype}`);
  }
}

/** Scale and zero point of QuantizeLinear/DequantizeLinear per element (per tensor or per axis). */
export function perAxisParams(ctx: OpContext, shape: readonly number[]) {
  const scale = constInput(ctx, 1);
  const zp = ctx.node.inputs[2] ? constInput(ctx, 2) : undefined;
  if (scale.data.length === 1) {
    const s = scale.data[0];
    const z = zp ? zp.data[0] : 0;
    return { scaleAt: () => s, zpAt: () => z };
  }
  const axis = normAxis(ctx, attrInt(ctx.node, 'axis', 1), shape.length);
  if (scale.data.length !== shape[axis]) {
    fail(ctx, `${scale.data.length} scales for axis ${axis} of size ${shape[axis]}`);
  }
  const inner = sizeOf(shape.slice(axis + 1));
  const dim = shape[axis];
  return {
    scaleAt: (i: number) => scale.data[Math.floor(i / inner) % dim],
    zpAt: (i: number) => (zp ? zp.data[Math.floor(i / inner) % dim] : 0),
  };
}

/** The definition of a supported ONNX operator, or undefined. */
export function opDef(node: Node): OpDef | undefined {
  if (node.domain !== '') return undefined;
  return Object.prototype.hasOwnProperty.call(ops, node.opType) ? ops[node.opType] : undefined;
}

export const supportedOps = Object.keys(ops).sort();

