// Product fusion (portable kernels): a FullyConnected op whose int8 output only an Elementwise
// op reads, in blocks of rows (the gate blocks f, o, g of a TinyLSTM's pre-activations), moves
// into that op. The fused loop then computes, for element e, the rows offset_b + e of every
// block together with the steps that read them, and the product's output is never stored.
//
// The product keeps its integer semantics (the interpreter runs it as the FullyConnected op it
// was); the pass only admits the products the portable kernels compute exactly in that form
// (src/quant/product-rows.ts: sums that stay within int32, multipliers below 1/2), with one
// input row, and at most four blocks per product (more become several products of the same op).

import type { ElementwiseOp, ElementwiseProduct, FullyConnectedOp, IrGraph, IrOp } from '../ir/ir.js';
import { allGraphs, elementCount, elementwiseSlots } from '../ir/ir.js';
import { prepareProductBlock } from '../quant/product-rows.js';
import { productParams } from '../ir/ops/fused-elementwise.js';

/** Rows of one product that the portable loop computes together (tlg_dot_rows_w16). */
const MAX_BLOCKS = 4;

/** Folds every product it can; returns how many FullyConnected ops moved into loops. */
export function fuseProducts(top: IrGraph): number {
  let folded = 0;
  for (const g of allGraphs(top)) {
    for (let changed = true; changed; ) {
      changed = false;
      for (const op of g.ops) {
        if (op.kind !== 'Elementwise') continue;
        const fc = foldable(g, op);
        if (!fc) continue;
        fold(g, op, fc);
        folded++;
        changed = true;
        break;
      }
    }
  }
  return folded;
}

/** The first product among the op's element inputs that can move into it. */
function foldable(g: IrGraph, op: ElementwiseOp): FullyConnectedOp | undefined {
  for (let k = 0; k < op.inputOffsets.length; k++) {
    const value = op.inputs[k];
    const producer = g.ops.find((x) => x.outputs.includes(value));
    if (producer?.kind !== 'FullyConnected' || producer.outputDtype !== 'int8') continue;
    if (g.outputs.includes(value) || g.ops.some((x) => x !== op && x.inputs.includes(value))) continue;
    const params = productParams(producer, (v) => g.tensors.get(v));
    if (!params || elementCount(g.tensors.get(producer.inputs[0])!) !== params.k) continue;
    const offsets = blocksOf(op, value);
    if (offsets.every((offset) => typeof prepareProductBlock(params, offset, op.size) !== 'string')) return producer;
  }
  return undefined;
}

/** The row offsets at which the op reads `value` element by element. */
function blocksOf(op: ElementwiseOp, value: string): number[] {
  return [...new Set(op.inputOffsets.filter((_, k) => op.inputs[k] === value))];
}

/**
 * Moves `fc` into `op`: its output's element inputs become product blocks, its input a vector
 * input, and the slots are renumbered (element inputs, product blocks, steps).
 */
function fold(g: IrGraph, op: ElementwiseOp, fc: FullyConnectedOp): void {
  const value = fc.outputs[0];
  const offsets = blocksOf(op, value);
  const added: ElementwiseProduct[] = [];
  for (let i = 0; i < offsets.length; i += MAX_BLOCKS) added.push({ op: fc, offsets: offsets.slice(i, i + MAX_BLOCKS) });

  // New slot numbers: the element inputs that stay, every product's blocks, then the steps.
  const old = elementwiseSlots(op);
  const kept = op.inputOffsets.map((_, k) => k).filter((k) => op.inputs[k] !== value);
  const products = [...op.products, ...added];
  const next: ElementwiseOp = {
    ...op,
    inputs: [...kept.map((k) => op.inputs[k]), ...op.inputs.slice(op.inputOffsets.length)],
    inputOffsets: kept.map((k) => op.inputOffsets[k]),
    products,
  };
  if (!next.inputs.slice(next.inputOffsets.length).includes(fc.inputs[0])) next.inputs.push(fc.inputs[0]);
  const slots = elementwiseSlots(next);
  const renumber = new Map<number, number>();
  kept.forEach((k, i) => renumber.set(k, i));
  op.products.forEach((p, j) => p.offsets.forEach((_, b) => renumber.set(old.products[j] + b, slots.products[j] + b)));
  op.inputOffsets.forEach((offset, k) => {
    if (op.inputs[k] !== value) return;
    const j = added.findIndex((p) => p.offsets.includes(offset));
    renumber.set(k, slots.products[op.products.length + j] + added[j].offsets.indexOf(offset));
  });
  op.steps.forEach((_, i) => renumber.set(old.steps + i, slots.steps + i));
  next.steps = op.steps.map((s) => ({ ...s, args: s.args.map((a) => renumber.get(a)!) }) as typeof s);
  next.outputSlots = op.outputSlots.map((s) => renumber.get(s)!);
  next.sources = [...new Set([...fc.sources, ...op.sources])];

  g.ops = g.ops.flatMap((x): IrOp[] => (x === fc ? [] : x === op ? [next] : [x]));
  g.tensors.delete(value);
}
