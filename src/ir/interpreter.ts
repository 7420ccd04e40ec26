// The golden interpreter: runs the integer IR exactly, op by op, with the reference
// implementations of src/ir/ops/. The firmware must reproduce its outputs bit for bit.

import type { IrData, IrGraph, IrModel, IrOp, IrTensor, LoopOp } from './ir.js';
import { allocateData, elementCount } from './ir.js';
import type { Env } from './ops/env.js';
import { runFullyConnected } from './ops/fully-connected.js';
import { runMatMul } from './ops/matmul.js';
import { runAdd, runMul } from './ops/elementwise.js';
import { runLut } from './ops/lut.js';
import { runSoftmax } from './ops/softmax.js';
import { runRequantize } from './ops/requantize.js';
import { runConcat, runCopy, runReshape } from './ops/views.js';
import { runLstmCell } from './ops/lstm-cell.js';
import { runElementwise } from './ops/fused-elementwise.js';
import { invariant } from '../diagnostics.js';

class Scope implements Env {
  private readonly values = new Map<string, IrData>();

  constructor(
    private readonly graph: IrGraph,
    private readonly parent?: Scope,
  ) {}

  tensor(name: string): IrTensor {
    const t = this.graph.tensors.get(name) ?? this.parent?.tensor(name);
    invariant(t, `IR tensor "${name}" is not declared`);
    return t;
  }

  read(name: string): IrData {
    const local = this.values.get(name) ?? this.graph.tensors.get(name)?.data;
    if (local) return local;
    invariant(this.parent, `IR value "${name}" is read before it is written`);
    return this.parent.read(name);
  }

  write(name: string, data: IrData): void {
    const t = this.tensor(name);
    invariant(data.length === elementCount(t), () => `IR value "${name}" written with ${data.length} elements, ${elementCount(t)} declared`);
    this.values.set(name, data);
  }
}

export function runOp(op: IrOp, env: Scope): void {
  switch (op.kind) {
    case 'FullyConnected':
      return runFullyConnected(op, env);
    case 'MatMul':
      return runMatMul(op, env);
    case 'Add':
      return runAdd(op, env);
    case 'Mul':
      return runMul(op, env);
    case 'Lut':
      return runLut(op, env);
    case 'Softmax':
      return runSoftmax(op, env);
    case 'Requantize':
      return runRequantize(op, env);
    case 'Reshape':
      return runReshape(op, env);
    case 'Copy':
      return runCopy(op, env);
    case 'Concat':
      return runConcat(op, env);
    case 'LstmCell':
      return runLstmCell(op, env);
    case 'Loop':
      return runLoop(op, env);
    case 'Elementwise':
      return runElementwise(op, env);
  }
}

function runGraph(graph: IrGraph, env: Scope): void {
  for (const op of graph.ops) runOp(op, env);
}

/** The slice of `data` (of `shape`) at index t of `axis`. */
function sliceAt(data: IrData, shape: readonly number[], axis: number, t: number, dtype: IrTensor['dtype']): IrData {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = allocateData(dtype, outer * inner);
  for (let o = 0; o < outer; o++) out.set(data.subarray((o * shape[axis] + t) * inner, (o * shape[axis] + t + 1) * inner), o * inner);
  return out;
}

function runLoop(op: LoopOp, outer: Scope): void {
  const body = new Scope(op.body, outer);
  const scans = op.scans.map((s) => {
    const t = outer.tensor(s.outer);
    return { ...s, shape: t.shape, data: allocateData(t.dtype, elementCount(t)) };
  });
  let state = op.states.map((s) => outer.read(s.init));
  for (let t = 0; t < op.steps; t++) {
    for (const s of op.sequences) {
      const seq = outer.tensor(s.outer);
      body.write(s.bodyValue, sliceAt(outer.read(s.outer), seq.shape, s.axis, t, seq.dtype));
    }
    op.states.forEach((s, k) => body.write(s.bodyIn, state[k]));
    runGraph(op.body, body);
    for (const s of scans) {
      const v = body.read(s.bodyValue);
      const outerCount = s.shape.slice(0, s.axis).reduce((a, b) => a * b, 1);
      const inner = v.length / outerCount;
      for (let o = 0; o < outerCount; o++) s.data.set(v.subarray(o * inner, (o + 1) * inner), (o * op.steps + t) * inner);
    }
    state = op.states.map((s) => body.read(s.bodyOut));
  }
  for (const s of scans) outer.write(s.outer, s.data);
  for (const f of op.finals) outer.write(f.outer, body.read(f.bodyValue));
}

/** Runs the model on its integer inputs (one array per model input, in order). */
export function interpret(model: IrModel, inputs: IrData[]): IrData[] {
  const scope = new Scope(model.graph);
  model.inputs.forEach((io, i) => scope.write(io.tensor, inputs[i]));
  runGraph(model.graph, scope);
  return model.outputs.map((io) => scope.read(io.tensor));
}
