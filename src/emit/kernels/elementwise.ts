// The Elementwise op as one generated C loop over the elements, shared by both kernel sets:
// tables are indexed, adds read their inputs' rescalings from compile-time tables, multiplies
// and requantizations are inlined with their constants (tlg_elementwise_inline.h).

import type { ElementwiseOp } from '../../ir/ir.js';
import { requantize } from '../../quant/fixed-point.js';
import { int32Literal } from '../c.js';
import type { EmitContext } from './types.js';

/** The rescaling table of one Add input: value → requantize((value + offset) << shift). */
export function addInputTable(offset: number, leftShift: number, multiplier: number, shift: number): Int32Array {
  return Int32Array.from({ length: 256 }, (_, i) => requantize((i - 128 + offset) * 2 ** leftShift, multiplier, shift));
}

export function lowerElementwise(op: ElementwiseOp, ctx: EmitContext): string[] {
  // Tables are read through pointers to their middle entry, so that an int8 value indexes them.
  const centered = new Map<string, string>();
  const center = (table: string, ctype: string) => {
    const known = centered.get(table);
    if (known) return known;
    const name = `t${centered.size}`;
    centered.set(table, name);
    lines.unshift(`const ${ctype} *const ${name} = ${table} + 128;`);
    return name;
  };
  const lines: string[] = [];
  const loop = [`for (int32_t e = 0; e < ${op.size}; e++) {`];
  op.inputs.forEach((v, k) => loop.push(`    const int32_t s${k} = ${ctx.ref(v)}[${op.inputOffsets[k] ? `${op.inputOffsets[k]} + ` : ''}e];`));
  op.steps.forEach((step, i) => {
    const slot = op.inputs.length + i;
    const [a, b] = step.args.map((x) => `s${x}`);
    const s = step.op;
    let expr: string;
    switch (s.kind) {
      case 'Lut':
        expr = `${center(ctx.ref(s.table), 'int8_t')}[${a}]`;
        break;
      case 'Add': {
        const t1 = ctx.weight(`${s.name}_rescale1`, 'int32_t', addInputTable(s.input1Offset, s.leftShift, s.input1.multiplier, s.input1.shift), `input 1 rescaling of ${s.name}`);
        const t2 = ctx.weight(`${s.name}_rescale2`, 'int32_t', addInputTable(s.input2Offset, s.leftShift, s.input2.multiplier, s.input2.shift), `input 2 rescaling of ${s.name}`);
        expr = `tlg_ew_add(${center(t1, 'int32_t')}[${a}], ${center(t2, 'int32_t')}[${b}], ${int32Literal(s.output.multiplier)}, ${s.output.shift}, ${s.outputOffset}, ${s.activationMin}, ${s.activationMax})`;
        break;
      }
      case 'Mul':
        expr = `tlg_ew_mul(${a}, ${b}, ${s.input1Offset}, ${s.input2Offset}, ${int32Literal(s.output.multiplier)}, ${s.output.shift}, ${s.outputOffset}, ${s.activationMin}, ${s.activationMax})`;
        break;
      case 'Requantize':
        expr = `tlg_ew_requantize(${a}, ${s.inputOffset}, ${int32Literal(s.requant.multiplier)}, ${s.requant.shift}, ${s.outputOffset})`;
        break;
    }
    loop.push(`    const int32_t s${slot} = ${expr}; /* ${s.kind}${s.kind === 'Lut' ? ` ${s.function}` : ''} */`);
  });
  op.outputs.forEach((v, j) => loop.push(`    ${ctx.ref(v)}[e] = (int8_t)s${op.outputSlots[j]};`));
  loop.push('}');
  return ['{', ...[...lines, ...loop].map((l) => `    ${l}`), '}'];
}
