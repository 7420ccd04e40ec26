// Elementwise: several elementwise ops run element by element in one pass. Each step computes
// exactly what its op computes for one element, so the result equals running the ops apart.
// Products folded into the pass are run first, whole, by the FullyConnected reference: their
// rows are what the slots read.

import type { ElementwiseOp, FullyConnectedOp, IrData, IrTensor } from '../ir.js';
import { elementwiseSlots } from '../ir.js';
import type { ProductParams } from '../../quant/product-rows.js';
import type { Env } from './env.js';
import { addElement, mulElement } from './elementwise.js';
import { runFullyConnected } from './fully-connected.js';
import { requantizeElement } from './requantize.js';

/** A product's integer parameters with its constants' values, as src/quant/product-rows.ts takes them. */
export function productParams(fc: FullyConnectedOp, tensor: (v: string) => IrTensor | undefined): ProductParams | undefined {
  const weights = tensor(fc.weights);
  const bias = fc.bias ? tensor(fc.bias) : undefined;
  if (!weights?.data || (fc.bias && !bias?.data)) return undefined;
  return {
    weights: weights.data,
    k: weights.shape[1],
    bias: bias?.data,
    inputOffset: fc.inputOffset,
    weightOffset: fc.weightOffset,
    outputOffset: fc.outputOffset,
    requant: fc.requant,
    accumulatorShift: fc.accumulatorShift,
  };
}

export function runElementwise(op: ElementwiseOp, env: Env): void {
  const inputs = op.inputs.map((v) => env.read(v));
  const products = op.products.map((p) => {
    let rows: IrData | undefined;
    runFullyConnected(p.op, { read: (v) => env.read(v), tensor: (v) => env.tensor(v), write: (_, data) => (rows = data) });
    return rows!;
  });
  const tables = op.steps.map((s) => (s.op.kind === 'Lut' ? env.read(s.op.table) : undefined));
  const outputs = op.outputs.map(() => new Int8Array(op.size));
  const first = elementwiseSlots(op);
  const slots = new Array<number>(first.steps + op.steps.length);
  for (let e = 0; e < op.size; e++) {
    for (let k = 0; k < op.inputOffsets.length; k++) slots[k] = inputs[k][op.inputOffsets[k] + e];
    op.products.forEach((p, j) => p.offsets.forEach((offset, b) => (slots[first.products[j] + b] = products[j][offset + e])));
    op.steps.forEach((s, i) => {
      const [a, b] = s.args.map((arg) => slots[arg]);
      const at = first.steps + i;
      switch (s.op.kind) {
        case 'Lut':
          slots[at] = tables[i]![a + 128];
          break;
        case 'Add':
          slots[at] = addElement(s.op, a, b);
          break;
        case 'Mul':
          slots[at] = mulElement(s.op, a, b);
          break;
        case 'Requantize':
          slots[at] = requantizeElement(s.op, a);
          break;
      }
    });
    op.outputSlots.forEach((slot, j) => (outputs[j][e] = slots[slot]));
  }
  op.outputs.forEach((o, j) => env.write(o, outputs[j]));
}
