// Elementwise: several elementwise ops run element by element in one pass. Each step computes
// exactly what its op computes for one element, so the result equals running the ops apart.

import type { ElementwiseOp } from '../ir.js';
import type { Env } from './env.js';
import { addElement, mulElement } from './elementwise.js';
import { requantizeElement } from './requantize.js';

export function runElementwise(op: ElementwiseOp, env: Env): void {
  const inputs = op.inputs.map((v) => env.read(v));
  const tables = op.steps.map((s) => (s.op.kind === 'Lut' ? env.read(s.op.table) : undefined));
  const outputs = op.outputs.map(() => new Int8Array(op.size));
  const slots = new Array<number>(op.inputs.length + op.steps.length);
  for (let e = 0; e < op.size; e++) {
    for (let k = 0; k < inputs.length; k++) slots[k] = inputs[k][op.inputOffsets[k] + e];
    op.steps.forEach((s, i) => {
      const [a, b] = s.args.map((arg) => slots[arg]);
      const at = op.inputs.length + i;
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
