// Q/DQ folding: QuantizeLinear/DequantizeLinear pairs become quantization parameters on values.
//
// After this pass the graph still computes in reals, but every value that the model rounds
// carries its parameters (graph.quant), and every quantized constant holds its integer data:
//
//   DQ(constant int W)          → W as a quantized constant (int data + scale/zero point);
//   views of quantized weights  → folded, with per-axis scales following the axis;
//   Q(x) → DQ                   → x itself, quantized (its producer will write integers);
//   Q(x) where x is quantized   → an explicit tlg.Requantize when the parameters differ;
//   DQ(int graph input)         → the input, quantized; Q(x) as a graph output → x, quantized.
//
// QLinearMatMul and MatMulInteger are first written in their Q/DQ form, so that one path
// handles them all. uint8 values move to int8 (values and zero points minus 128).

import type { Graph, Node, QuantParams } from '../onnx/graph.js';
import { attrInt } from '../onnx/graph.js';
import { opDef, type OpContext } from '../onnx/ops.js';
import { makeTensor, sizeOf, stridesOf, type Tensor } from '../onnx/tensor.js';
import { diagnostics } from '../diagnostics.js';
import { sameQuant, toInt8Domain } from '../quant/params.js';

export function foldQdq(graph: Graph): void {
  expandIntegerOps(graph);
  foldConstantDequantize(graph);
  foldQuantizedConstantViews(graph);
  pairQuantizeDequantize(graph);
  resolveFakeQuant(graph);
}

// ---------------------------------------------------------------------------------------------
// 1. QLinearMatMul and MatMulInteger in Q/DQ form
// ---------------------------------------------------------------------------------------------

function expandIntegerOps(graph: Graph): void {
  const out: Node[] = [];
  for (const n of graph.nodes) {
    if (n.domain === '' && n.opType === 'QLinearMatMul') {
      const [a, as, az, b, bs, bz, ys, yz] = n.inputs;
      const da = graph.freshName(`${n.name}_a`);
      const db = graph.freshName(`${n.name}_b`);
      const mm = graph.freshName(`${n.name}_mm`);
      out.push(
        dq(`${n.name}/dq_a`, [a, as, az], da),
        dq(`${n.name}/dq_b`, [b, bs, bz], db),
        { name: `${n.name}/matmul`, opType: 'MatMul', domain: '', inputs: [da, db], outputs: [mm], attrs: {} },
        { name: n.name, opType: 'QuantizeLinear', domain: '', inputs: [mm, ys, yz], outputs: n.outputs, attrs: {} },
      );
      for (const v of [da, db, mm]) graph.info.set(v, { dtype: 'float32', shape: [] });
    } else if (n.domain === '' && n.opType === 'MatMulInteger') {
      const [a, b, az, bz] = n.inputs;
      const one = graph.freshName(`${n.name}_unit_scale`);
      const zero32 = graph.freshName(`${n.name}_zero_i32`);
      graph.addConstant(one, makeTensor('float32', [], [1]));
      graph.addConstant(zero32, makeTensor('int32', [], [0]));
      const da = graph.freshName(`${n.name}_a`);
      const db = graph.freshName(`${n.name}_b`);
      const mm = graph.freshName(`${n.name}_mm`);
      out.push(
        dq(`${n.name}/dq_a`, [a, one, az ?? ''], da),
        dq(`${n.name}/dq_b`, [b, one, bz ?? ''], db),
        { name: `${n.name}/matmul`, opType: 'MatMul', domain: '', inputs: [da, db], outputs: [mm], attrs: {} },
        // An int32 result at scale 1 is the integer accumulator itself.
        { name: n.name, opType: 'QuantizeLinear', domain: '', inputs: [mm, one, zero32], outputs: n.outputs, attrs: {} },
      );
      for (const v of [da, db, mm]) graph.info.set(v, { dtype: 'float32', shape: [] });
    } else {
      out.push(n);
    }
  }
  if (out.length !== graph.nodes.length) {
    graph.nodes = out;
    graph.invalidate();
    refreshShapes(graph);
  }
}

function dq(name: string, inputs: string[], output: string): Node {
  return { name, opType: 'DequantizeLinear', domain: '', inputs, outputs: [output], attrs: {} };
}

function refreshShapes(graph: Graph): void {
  for (const n of graph.nodes) {
    const def = opDef(n);
    if (!def) continue;
    const ctx: OpContext = {
      graph,
      node: n,
      inputs: n.inputs.map((i) => (i ? graph.info.get(i) : undefined)),
      consts: n.inputs.map((i) => (i ? graph.constant(i) : undefined)),
    };
    const infos = def.infer(ctx);
    n.outputs.forEach((o, k) => o && graph.info.set(o, infos[k]));
  }
}

// ---------------------------------------------------------------------------------------------
// 2. DequantizeLinear of a constant: a quantized constant
// ---------------------------------------------------------------------------------------------

/** Parameters of a QuantizeLinear/DequantizeLinear node, for a tensor of `shape`. */
function nodeParams(graph: Graph, n: Node, shape: readonly number[]): QuantParams {
  const scale = graph.constant(n.inputs[1]);
  const zp = n.inputs[2] ? graph.constant(n.inputs[2]) : undefined;
  if (!scale || (n.inputs[2] && !zp)) {
    throw diagnostics.notIntegerizable(graph.file, n.name, n.opType, 'scale and zero point must be constants');
  }
  const dtype = zp?.dtype ?? 'uint8';
  if (dtype !== 'int8' && dtype !== 'uint8' && dtype !== 'int32' && dtype !== 'int16') {
    throw diagnostics.badQuantParams(graph.file, n.inputs[2], `zero point type ${dtype} is not supported`);
  }
  const scales = Array.from(scale.data);
  if (scales.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw diagnostics.badQuantParams(graph.file, n.inputs[1], `scales must be positive and finite (got ${scales.slice(0, 4)})`);
  }
  const zps = zp ? Array.from(zp.data) : scales.map(() => 0);
  if (scales.length === 1) return { dtype, scale: scales, zeroPoint: [zps[0]] };
  let axis = attrInt(n, 'axis', 1);
  if (axis < 0) axis += shape.length;
  if (shape[axis] !== scales.length) {
    throw diagnostics.badQuantParams(
      graph.file,
      n.inputs[1],
      `${scales.length} scales for axis ${axis} of a tensor of shape [${shape}]`,
    );
  }
  return { dtype, scale: scales, zeroPoint: zps, axis };
}

function foldConstantDequantize(graph: Graph): void {
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    if (n.opType !== 'DequantizeLinear' || !graph.isConstant(n.inputs[0])) continue;
    const data = graph.constant(n.inputs[0])!;
    const q = nodeParams(graph, n, data.shape);
    setQuantizedConstant(graph, n.outputs[0], data, q);
    dead.add(n);
  }
  graph.removeNodes(dead);
}

function setQuantizedConstant(graph: Graph, name: string, data: Tensor, q: QuantParams): void {
  if (q.dtype === 'uint8') {
    const shifted = makeTensor('int8', data.shape, Array.from(data.data, (v) => v - 128));
    graph.addConstant(name, shifted);
    graph.quant.set(name, toInt8Domain(q));
  } else {
    graph.addConstant(name, data);
    graph.quant.set(name, q);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Views of quantized constants (weight reordering, transposes, gate slicing)
// ---------------------------------------------------------------------------------------------

function foldQuantizedConstantViews(graph: Graph): void {
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    const def = opDef(n);
    if (!def?.view || !def.fold) continue;
    const data = n.inputs.filter((i) => i && graph.quant.has(i) && graph.isConstant(i));
    if (data.length === 0 || !n.inputs.every((i) => !i || graph.isConstant(i))) continue;
    const ctx = (consts: (Tensor | undefined)[]): OpContext => ({
      graph,
      node: n,
      inputs: n.inputs.map((i) => (i ? graph.info.get(i) : undefined)),
      consts,
    });
    const consts = n.inputs.map((i) => (i ? graph.constant(i) : undefined));
    const values = def.fold(ctx(consts));
    const outQuant = viewQuant(graph, n, (consts2) => def.fold!(ctx(consts2)));
    n.outputs.forEach((o, k) => {
      graph.addConstant(o, values[k]);
      graph.quant.set(o, outQuant[k]);
    });
    dead.add(n);
  }
  graph.removeNodes(dead);
}

/**
 * Quantization parameters of a view's outputs. Per-axis scales are followed by applying the
 * same view to a tensor holding each element's channel index; the channel axis of the result
 * is the one along which that index varies.
 */
function viewQuant(graph: Graph, n: Node, apply: (consts: (Tensor | undefined)[]) => Tensor[]): QuantParams[] {
  const dataInputs = n.opType === 'Concat' ? n.inputs.map((_, i) => i) : [0];
  const qs = dataInputs.map((i) => graph.quant.get(n.inputs[i]));
  if (qs.some((q) => !q)) {
    throw diagnostics.notIntegerizable(graph.file, n.name, n.opType, 'mixes quantized and float constants');
  }
  const params = qs as QuantParams[];

  // Index tensors: each element holds (input index, channel) encoded as one number.
  let channelBase = 0;
  const bases: number[] = [];
  const indexConsts = n.inputs.map((name, i) => {
    if (!dataInputs.includes(i)) return name ? graph.constant(name) : undefined;
    const t = graph.constant(name)!;
    const q = params[dataInputs.indexOf(i)];
    bases.push(channelBase);
    const out = makeTensor('float64', t.shape);
    const inner = q.axis === undefined ? 0 : sizeOf(t.shape.slice(q.axis + 1));
    const dim = q.axis === undefined ? 1 : t.shape[q.axis];
    for (let e = 0; e < out.data.length; e++) {
      out.data[e] = channelBase + (q.scale.length === 1 ? 0 : Math.floor(e / inner) % dim);
    }
    channelBase += q.scale.length;
    return out;
  });
  const allScales = params.flatMap((q) => q.scale);
  const allZps = params.flatMap((q) => q.zeroPoint);
  const dtype = params[0].dtype;
  if (params.some((q) => q.dtype !== dtype)) {
    throw diagnostics.notIntegerizable(graph.file, n.name, n.opType, 'joins constants of different integer types');
  }

  return apply(indexConsts).map((idx) => {
    const channels = Array.from(idx.data);
    const distinct = [...new Set(channels)];
    const uniform =
      distinct.every((c) => allScales[c] === allScales[distinct[0]] && allZps[c] === allZps[distinct[0]]) &&
      distinct.length > 0;
    if (uniform) return { dtype, scale: [allScales[distinct[0]]], zeroPoint: [allZps[distinct[0]]] };
    const axis = channelAxis(idx);
    if (axis === undefined) {
      throw diagnostics.notIntegerizable(
        graph.file,
        n.name,
        n.opType,
        'this rearrangement of a per-channel quantized weight mixes its channels',
      );
    }
    const strides = stridesOf(idx.shape);
    const along = Array.from({ length: idx.shape[axis] }, (_, k) => channels[k * strides[axis]]);
    return { dtype, scale: along.map((c) => allScales[c]), zeroPoint: along.map((c) => allZps[c]), axis };
  });
}

/** The axis along which an index tensor varies, if it varies along exactly that one. */
function channelAxis(idx: Tensor): number | undefined {
  const strides = stridesOf(idx.shape);
  for (let axis = 0; axis < idx.shape.length; axis++) {
    let ok = true;
    for (let e = 0; e < idx.data.length && ok; e++) {
      const k = Math.floor(e / strides[axis]) % idx.shape[axis];
      if (idx.data[e] !== idx.data[k * strides[axis]]) ok = false;
    }
    if (ok) return axis;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 4. QuantizeLinear → DequantizeLinear pairs become tlg.FakeQuant nodes
// ---------------------------------------------------------------------------------------------

function pairQuantizeDequantize(graph: Graph): void {
  const dead = new Set<Node>();
  const added: Node[] = [];
  for (const q of graph.nodes) {
    if (q.opType !== 'QuantizeLinear' || q.domain !== '') continue;
    const [x] = q.inputs;
    const [qv] = q.outputs;
    const params = toInt8Domain(nodeParams(graph, q, graph.shapeOf(x)));
    const y = graph.freshName(`${x}_q`);
    graph.info.set(y, { dtype: 'float32', shape: [...graph.shapeOf(x)] });
    graph.quant.set(y, params);
    const fq: Node = { name: q.name, opType: 'tlg.FakeQuant', domain: 'tlg', inputs: [x], outputs: [y], attrs: {} };
    for (const c of graph.consumers(qv)) {
      if (c.opType !== 'DequantizeLinear') {
        throw diagnostics.notIntegerizable(
          graph.file,
          c.name,
          c.opType,
          `reads the integer output of QuantizeLinear "${q.name}" directly`,
        );
      }
      const dqParams = toInt8Domain(nodeParams(graph, c, graph.shapeOf(qv)));
      if (!sameQuant(dqParams, params)) {
        throw diagnostics.notIntegerizable(
          graph.file,
          c.name,
          c.opType,
          `dequantizes with other parameters than QuantizeLinear "${q.name}" quantized with`,
        );
      }
      graph.replaceAllUses(c.outputs[0], y);
      dead.add(c);
    }
    // A graph output of QuantizeLinear: the model outputs the integers themselves.
    graph.outputs = graph.outputs.map((o) => (o === qv ? y : o));
    dead.add(q);
    added.push(fq);
  }
  // Remaining DequantizeLinear nodes read integer graph inputs.
  for (const d of graph.nodes) {
    if (d.opType !== 'DequantizeLinear' || dead.has(d)) continue;
    const [x] = d.inputs;
    if (!graph.inputs.includes(x)) {
      throw diagnostics.notIntegerizable(graph.file, d.name, d.opType, `dequantizes "${x}", which is neither a constant nor a model input`);
    }
    const params = toInt8Domain(nodeParams(graph, d, graph.shapeOf(x)));
    const prior = graph.quant.get(x);
    if (prior && !sameQuant(prior, params)) {
      throw diagnostics.notIntegerizable(graph.file, d.name, d.opType, `input "${x}" is dequantized with two sets of parameters`);
    }
    graph.quant.set(x, params);
    graph.replaceAllUses(d.outputs[0], x);
    dead.add(d);
  }
  graph.nodes = [...graph.nodes.filter((n) => !dead.has(n)), ...added];
  graph.invalidate();
  graph.sortTopologically();
}

// ---------------------------------------------------------------------------------------------
// 5. tlg.FakeQuant: merge into the producer, or requantize
// ---------------------------------------------------------------------------------------------

/** Single-input views through which a value's quantization passes unchanged. */
const passThroughViews = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Transpose', 'Identity', 'Gather', 'Slice', 'Split', 'Expand']);

export function isPassThroughView(n: Node): boolean {
  return n.domain === '' && passThroughViews.has(n.opType);
}

/** Gives view outputs the quantization of their data input; returns whether anything changed. */
export function propagateViewQuant(graph: Graph): boolean {
  let changed = false;
  for (const n of graph.nodes) {
    const q = graph.quant.get(n.inputs[0]);
    if (n.domain === '' && n.opType === 'Concat') {
      const qs = n.inputs.map((i) => graph.quant.get(i));
      const first = qs[0];
      if (first && qs.every((x) => sameQuant(x, first)) && !graph.quant.has(n.outputs[0])) {
        graph.quant.set(n.outputs[0], first);
        changed = true;
      }
      continue;
    }
    if (!isPassThroughView(n) || !q || q.scale.length !== 1) continue;
    for (const o of n.outputs) {
      if (o && !graph.quant.has(o)) {
        graph.quant.set(o, q);
        changed = true;
      }
    }
  }
  return changed;
}

/**
 * The quantization a value inherits through pass-through views from a quantized source,
 * recorded on the way. Forward propagation over the whole graph would do the same, but this
 * is called once per FakeQuant and must not walk the graph each time.
 */
function inheritedQuant(graph: Graph, v: string): QuantParams | undefined {
  const known = graph.quant.get(v);
  if (known) return known;
  const p = graph.producer(v);
  if (!p || !isPassThroughView(p)) return undefined;
  const q = inheritedQuant(graph, p.inputs[0]);
  if (q && q.scale.length === 1) {
    graph.quant.set(v, q);
    return q;
  }
  return undefined;
}

function resolveFakeQuant(graph: Graph): void {
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    if (n.opType !== 'tlg.FakeQuant') continue;
    const [x] = n.inputs;
    const [y] = n.outputs;
    const params = graph.quant.get(y)!;
    const existing = inheritedQuant(graph, x);
    if (!existing) {
      // x is computed in float (or is a float model input): its producer will write integers
      // with these parameters, as will the views that lead to it.
      let v = x;
      graph.quant.set(v, params);
      for (let p = graph.producer(v); p && isPassThroughView(p); p = graph.producer(v)) {
        v = p.inputs[0];
        if (graph.quant.has(v) || graph.isConstant(v)) break;
        graph.quant.set(v, params);
      }
    } else if (!sameQuant(existing, params)) {
      n.opType = 'tlg.Requantize';
      continue;
    }
    graph.quant.delete(y);
    graph.replaceAllUses(y, x);
    dead.add(n);
  }
  graph.removeNodes(dead);
  while (propagateViewQuant(graph));
}
