// What `analyze` reports about an integer model: its ops with shapes, quantization, weight
// bytes and MACs per inference, and the totals.

import type { IrGraph, IrModel, IrOp, IrTensor } from './ir.js';
import { bytesOf, elementCount, parameterTensors } from './ir.js';
import { fullyConnectedMacs } from './ops/fully-connected.js';
import { matMulMacs } from './ops/matmul.js';
import { lstmCellMacs } from './ops/lstm-cell.js';

export interface OpReport {
  depth: number;
  kind: string;
  name: string;
  sources: string[];
  inputs: { name: string; shape: number[]; quant: string }[];
  outputs: { name: string; shape: number[]; quant: string }[];
  detail: string;
  /** Bytes of the constants this op owns (weights, biases, tables). */
  constantBytes: number;
  /** Multiply-accumulates per inference (per step × steps inside a loop). */
  macs: number;
  /** How many times the op runs per inference. */
  runs: number;
}

export interface ModelReport {
  model: string;
  ops: OpReport[];
  totals: { macs: number; constantBytes: number; ops: number; loops: number };
}

function quantText(t: IrTensor | undefined): string {
  if (!t) return '';
  const q = t.quant;
  if (!q) return t.dtype;
  if (q.scale.length === 1) return `${t.dtype} s=${q.scale[0].toPrecision(4)} zp=${q.zeroPoint[0]}`;
  return `${t.dtype} per-channel ×${q.scale.length}`;
}

function lookup(graphs: IrGraph[], name: string): IrTensor | undefined {
  for (let i = graphs.length - 1; i >= 0; i--) {
    const t = graphs[i].tensors.get(name);
    if (t) return t;
  }
  return undefined;
}

export function opMacs(op: IrOp, tensor: (name: string) => IrTensor): number {
  const env = { tensor };
  switch (op.kind) {
    case 'FullyConnected':
      return fullyConnectedMacs(op, env);
    case 'MatMul':
      return matMulMacs(op, env);
    case 'LstmCell':
      return lstmCellMacs(op, env);
    case 'Mul':
      return elementCount(tensor(op.outputs[0]));
    case 'Elementwise':
      // The products compute only the rows the pass reads.
      return (
        op.size * op.steps.filter((s) => s.op.kind === 'Mul').length +
        op.products.reduce((a, p) => a + op.size * p.offsets.length * tensor(p.op.weights).shape[1], 0)
      );
    default:
      return 0;
  }
}

function detailOf(op: IrOp): string {
  switch (op.kind) {
    case 'Lut':
      return op.function;
    case 'Loop':
      return `${op.steps} steps, ${op.states.length} states`;
    case 'LstmCell':
      return `cell 2^${op.cellScalePower}${op.joined ? ', one product per gate over [x; h]' : ''}`;
    case 'FullyConnected':
      return [op.requant.length > 1 ? 'per-channel' : '', op.accumulatorShift ? `bias with ${op.accumulatorShift} extra bits` : ''].filter(Boolean).join(', ');
    case 'Elementwise': {
      const products = op.products.length ? `${op.products.length} product(s) (${op.products.map((p) => p.op.name).join(', ')}) and ` : '';
      return `${products}${op.steps.length} steps in one pass: ${op.steps.map((s) => (s.op.kind === 'Lut' ? s.op.function : s.op.kind.toLowerCase())).join(', ')}`;
    }
    default:
      return '';
  }
}

export function analyzeModel(model: IrModel): ModelReport {
  const ops: OpReport[] = [];
  const seen = new Set<string>();
  const walk = (graphs: IrGraph[], runs: number, depth: number) => {
    const g = graphs[graphs.length - 1];
    const tensor = (n: string) => lookup(graphs, n)!;
    for (const op of g.ops) {
      let constantBytes = 0;
      for (const p of parameterTensors(op)) {
        const t = lookup(graphs, p);
        if (t?.data && !seen.has(p)) {
          seen.add(p);
          constantBytes += bytesOf(t);
        }
      }
      ops.push({
        depth,
        kind: op.kind,
        name: op.name,
        sources: op.sources,
        inputs: op.inputs.map((n) => ({ name: n, shape: tensor(n)?.shape ?? [], quant: quantText(tensor(n)) })),
        outputs: op.outputs.map((n) => ({ name: n, shape: tensor(n)?.shape ?? [], quant: quantText(tensor(n)) })),
        detail: detailOf(op),
        constantBytes,
        macs: opMacs(op, tensor) * runs,
        runs,
      });
      if (op.kind === 'Loop') walk([...graphs, op.body], runs * op.steps, depth + 1);
    }
  };
  walk([model.graph], 1, 0);
  return {
    model: model.name,
    ops,
    totals: {
      macs: ops.reduce((a, o) => a + o.macs, 0),
      constantBytes: ops.reduce((a, o) => a + o.constantBytes, 0),
      ops: ops.filter((o) => o.kind !== 'Loop').length,
      loops: ops.filter((o) => o.kind === 'Loop').length,
    },
  };
}
