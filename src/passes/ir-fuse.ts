// IR-level fusions: chains of lookup tables become one table; stacked recurrent layers become
// one loop; elementwise ops become one pass, with the products they read when the kernels
// compute those in the pass; ops nobody reads go.

import type { IrGraph, IrOp, LoopOp, LutOp } from '../ir/ir.js';
import { allGraphs, parameterTensors } from '../ir/ir.js';
import { composeLuts } from '../quant/tables.js';
import { fuseAccumulators, joinLstmCells } from './fuse-accumulators.js';
import { fuseElementwise } from './fuse-elementwise.js';
import { fuseProducts } from './fuse-products.js';

export interface IrFuseOptions {
  /** The semantics-changing fusion of passes/fuse-accumulators.ts. */
  fuseAccumulators: boolean;
  /** The kernels take an FC accumulator shift (quant/bias.ts). */
  fineBias: boolean;
  /** The kernels compute products inside elementwise passes (passes/fuse-products.ts). */
  fuseProducts: boolean;
  /** With fuseAccumulators: LSTM cells take one product per gate over [x; h] (the CMSIS-NN set). */
  joinLstm: boolean;
}

/** How many accumulator pairs were joined (0 unless asked for) and products moved into passes. */
export function optimizeIr(
  top: IrGraph,
  options: IrFuseOptions = { fuseAccumulators: false, fineBias: false, fuseProducts: false, joinLstm: false },
): { joined: number; products: number } {
  fuseLoops(top);
  for (const g of allGraphs(top)) fuseLutChains(g);
  const joined = options.fuseAccumulators ? fuseAccumulators(top, { fineBias: options.fineBias }) + (options.joinLstm ? joinLstmCells(top) : 0) : 0;
  fuseElementwise(top);
  const products = options.fuseProducts ? fuseProducts(top) : 0;
  removeDeadOps(top);
  return { joined, products };
}

function consumersOf(g: IrGraph, value: string): IrOp[] {
  return g.ops.filter((op) => op.inputs.includes(value));
}

/** y = t2[t1[x]]: one table when the intermediate value has no other reader. */
function fuseLutChains(g: IrGraph): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const first of g.ops) {
      if (first.kind !== 'Lut') continue;
      const mid = first.outputs[0];
      if (g.outputs.includes(mid)) continue;
      const readers = consumersOf(g, mid);
      if (readers.length !== 1 || readers[0].kind !== 'Lut') continue;
      const second = readers[0] as LutOp;
      const t1 = g.tensors.get(first.table)!.data as Int8Array;
      const t2 = g.tensors.get(second.table)!.data as Int8Array;
      g.tensors.get(second.table)!.data = composeLuts(t1, t2);
      second.inputs = [...first.inputs];
      second.function = `${second.function} ∘ ${first.function}`;
      second.sources = [...first.sources, ...second.sources];
      g.ops = g.ops.filter((op) => op !== first);
      changed = true;
      break;
    }
  }
}

/**
 * Stacked recurrent layers: when loop B's sequence input is loop A's scan output (through
 * reshapes only), and nothing else reads that sequence, B's step t needs only A's step t.
 * One loop then runs A's step and B's step in turn, and the T-step sequence between the
 * layers is never stored.
 */
function fuseLoops(g: IrGraph): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const b of g.ops) {
      if (b.kind !== 'Loop' || b.sequences.length !== 1) continue;
      const fusion = findProducerLoop(g, b);
      if (!fusion) continue;
      fuse(g, fusion.a, b, fusion.scanIndex, fusion.chain);
      changed = true;
      break;
    }
  }
}

function leadingProduct(shape: number[], axis: number): number {
  return shape.slice(0, axis).reduce((x, y) => x * y, 1);
}

function findProducerLoop(g: IrGraph, b: LoopOp): { a: LoopOp; scanIndex: number; chain: IrOp[] } | undefined {
  const seq = b.sequences[0];
  const chain: IrOp[] = [];
  let v = seq.outer;
  for (;;) {
    if (g.outputs.includes(v) || consumersOf(g, v).length !== 1) return undefined;
    const producer = g.ops.find((op) => op.outputs.includes(v));
    if (!producer) return undefined;
    if (producer.kind === 'Reshape') {
      chain.unshift(producer);
      v = producer.inputs[0];
      continue;
    }
    if (producer.kind !== 'Loop' || producer.steps !== b.steps) return undefined;
    const scanIndex = producer.scans.findIndex((s) => s.outer === v);
    if (scanIndex < 0) return undefined;
    const scan = producer.scans[scanIndex];
    // Time must be the outermost non-unit axis on both sides for the steps to line up.
    if (leadingProduct(g.tensors.get(scan.outer)!.shape, scan.axis) !== 1) return undefined;
    if (leadingProduct(g.tensors.get(seq.outer)!.shape, seq.axis) !== 1) return undefined;
    // A's other outputs must not be needed between A and B, where A's work now happens later.
    const ia = g.ops.indexOf(producer);
    const ib = g.ops.indexOf(b);
    const between = g.ops.slice(ia + 1, ib).filter((op) => !chain.includes(op));
    if (between.some((op) => op.inputs.some((i) => producer.outputs.includes(i)))) return undefined;
    return { a: producer, scanIndex, chain };
  }
}

function fuse(g: IrGraph, a: LoopOp, b: LoopOp, scanIndex: number, chain: IrOp[]): void {
  const scan = a.scans[scanIndex];
  const seq = b.sequences[0];
  const body: IrGraph = {
    tensors: new Map([...a.body.tensors, ...b.body.tensors]),
    ops: [
      ...a.body.ops,
      { kind: 'Reshape', name: `${b.name}/from_${a.name}`, sources: [...a.sources, ...b.sources], inputs: [scan.bodyValue], outputs: [seq.bodyValue] },
      ...b.body.ops,
    ],
    inputs: [...a.body.inputs, ...b.body.inputs.filter((i) => i !== seq.bodyValue)],
    outputs: [...new Set([...a.body.outputs.filter((o) => o !== scan.bodyValue), ...b.body.outputs])],
  };
  const fused: LoopOp = {
    kind: 'Loop',
    name: `${a.name}+${b.name}`,
    sources: [...a.sources, ...b.sources],
    inputs: [...a.inputs, ...b.inputs.filter((i) => i !== seq.outer)],
    outputs: [...a.outputs.filter((o) => o !== scan.outer), ...b.outputs],
    body,
    steps: a.steps,
    sequences: a.sequences,
    states: [...a.states, ...b.states],
    scans: [...a.scans.filter((_, i) => i !== scanIndex), ...b.scans],
    finals: [...a.finals, ...b.finals],
  };
  const removed = new Set<IrOp>([a, b, ...chain]);
  const at = g.ops.indexOf(b);
  g.ops = g.ops.flatMap((op, i) => (i === at ? [fused] : removed.has(op) ? [] : [op]));
  g.tensors.delete(scan.outer);
  for (const op of chain) g.tensors.delete(op.outputs[0]);
}

/** Removes ops whose outputs nobody reads, and tensors nobody names, in every graph. */
function removeDeadOps(top: IrGraph): void {
  for (const g of allGraphs(top)) {
    for (let changed = true; changed; ) {
      changed = false;
      const needed = new Set<string>(g.outputs);
      for (const op of g.ops) for (const i of op.inputs) needed.add(i);
      const live = g.ops.filter((op) => op.outputs.some((o) => needed.has(o)));
      if (live.length !== g.ops.length) {
        g.ops = live;
        changed = true;
      }
    }
  }
  const named = new Set<string>();
  const collect = (g: IrGraph) => {
    for (const v of [...g.inputs, ...g.outputs]) named.add(v);
    for (const op of g.ops) {
      for (const v of [...op.inputs, ...op.outputs, ...parameterTensors(op)]) named.add(v);
      if (op.kind === 'Loop') collect(op.body);
    }
  };
  collect(top);
  for (const g of allGraphs(top)) for (const name of [...g.tensors.keys()]) if (!named.has(name)) g.tensors.delete(name);
}
