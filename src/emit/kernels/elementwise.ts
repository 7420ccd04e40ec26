// The Elementwise op as one generated C loop over the elements, shared by both kernel sets:
// tables are indexed, adds read their inputs' rescalings from compile-time tables, multiplies
// are inlined with their constants (tlg_elementwise_inline.h), requantizations of one int8 value
// become tables too. Where it is exact for every pair of int8 inputs (checked here), an Add reads
// tables scaled so that a shifted sum is its output, and a Mul is one rounded high multiply,
// possibly on scaled tables (src/plan/elementwise-tables.ts, which also says which slots hold
// their value plus 128). Products folded into the op (portable kernels only) compute the rows
// of element e at the top of the iteration (tlg_fc_w16.h), from one record of constants per
// element and the vectors they read widened before the loop (src/plan/product-layout.ts).

import type { AddOp, ElementwiseOp, MulOp, Requant } from '../../ir/ir.js';
import { elementwiseSlots } from '../../ir/ir.js';
import { addInputTable } from '../../ir/ops/elementwise.js';
import { requantizeTable } from '../../ir/ops/requantize.js';
import { requantize, wrap32 } from '../../quant/fixed-point.js';
import { productLayout, type ProductLayout } from '../../plan/product-layout.js';
import { mulTables, slotBiases } from '../../plan/elementwise-tables.js';
import { writeRowRecord } from '../../quant/product-rows.js';
import { int32Literal } from '../c.js';
import type { EmitContext } from './types.js';

export function lowerElementwise(op: ElementwiseOp, ctx: EmitContext): string[] {
  // Tables are read through pointers to the entry of value 0, so that a slot indexes them.
  const bases = new Map<string, string>();
  const base = (table: string, ctype: string, bias: number) => {
    const key = `${table}@${bias}`;
    const known = bases.get(key);
    if (known) return known;
    const name = `t${bases.size}`;
    bases.set(key, name);
    // GCC would add the offset to every index of a wider table (see TLG_OPAQUE_POINTER).
    if (128 - bias !== 0 && !ctype.endsWith('int8_t')) lines.unshift(`const ${ctype} *${name} = ${table} + ${128 - bias};`, `TLG_OPAQUE_POINTER(${name});`);
    else lines.unshift(`const ${ctype} *const ${name} = ${table} + ${128 - bias};`);
    return name;
  };
  const lines: string[] = [];
  const scaledAdds = new Map<string, ScaledAdd | undefined>();
  const first = elementwiseSlots(op);
  const products = productLayout(op, ctx.tensor);
  const scaledMuls = mulTables(op, ctx.tensor);
  const absorbed = new Set([...scaledMuls.values()].flatMap((m) => m.luts));
  const bias = slotBiases(op, absorbed);
  const setup = products ? widenVectors(op, products, bias, ctx) : [];
  // The products first: the element's inputs are not read while their sums hold the registers.
  const loop = [`for (int32_t e = 0; e < ${op.size}; e++${products && !products.advance ? `, u += ${products.unitWords}` : ''}) {`];
  if (products) loop.push(...productRows(op, products, first.products, bias).map((l) => `    ${l}`));
  op.inputOffsets.forEach((offset, k) => loop.push(`    const int32_t s${k} = ${ctx.ref(op.inputs[k])}[${offset ? `${offset} + ` : ''}e];`));
  op.steps.forEach((step, i) => {
    // Lookups that a multiplication reads through its own scaled tables are not made.
    if (absorbed.has(i)) return;
    const slot = first.steps + i;
    const [a, b] = step.args.map((x) => `s${x}`);
    const [ba, bb] = step.args.map((x) => bias[x]);
    const out = bias[slot];
    const range = (min: number, max: number) => `${min + out}, ${max + out}`;
    const s = step.op;
    let expr: string;
    switch (s.kind) {
      case 'Lut': {
        const table = out ? ctx.weight(`${s.table}_plus${out}`, 'uint8_t', Uint8Array.from(ctx.tensor(s.table).data!, (v) => v + out), `${s.function} plus ${out}`) : ctx.ref(s.table);
        expr = `${base(table, out ? 'uint8_t' : 'int8_t', ba)}[${a}]`;
        break;
      }
      case 'Add': {
        const scaled = scaledAddTables(s, out, scaledAdds);
        if (scaled) {
          const t1 = ctx.weight(`${s.name}_scaled1`, 'int32_t', scaled.first, `input 1 of ${s.name}, scaled by 2^${scaled.shift}`);
          const t2 = ctx.weight(`${s.name}_scaled2`, 'int32_t', scaled.second, `input 2 of ${s.name}, scaled by 2^${scaled.shift}, with rounding and output offset`);
          expr = `tlg_ew_add_scaled(${base(t1, 'int32_t', ba)}[${a}], ${base(t2, 'int32_t', bb)}[${b}], ${scaled.shift}, ${range(s.activationMin, s.activationMax)})`;
          break;
        }
        const t1 = ctx.weight(`${s.name}_rescale1`, 'int32_t', addInputTable(s, 1), `input 1 rescaling of ${s.name}`);
        const t2 = ctx.weight(`${s.name}_rescale2`, 'int32_t', addInputTable(s, 2), `input 2 rescaling of ${s.name}`);
        expr = `tlg_ew_add(${base(t1, 'int32_t', ba)}[${a}], ${base(t2, 'int32_t', bb)}[${b}], ${int32Literal(s.output.multiplier)}, ${s.output.shift}, ${s.outputOffset + out}, ${range(s.activationMin, s.activationMax)})`;
        break;
      }
      case 'Mul': {
        const scaled = scaledMuls.get(i);
        if (scaled) {
          const [p, q] = scaled.luts.map((k) => op.steps[k].args[0]);
          const t1 = ctx.weight(`${s.name}_scaled1`, 'int32_t', scaled.first, `input 1 of ${s.name} through its table, scaled for the product`);
          const t2 = ctx.weight(`${s.name}_scaled2`, 'int16_t', scaled.second, `input 2 of ${s.name} through its table, scaled for the product`);
          expr = `tlg_ew_mul_tables(${base(t1, 'int32_t', bias[p])}[s${p}], ${base(t2, 'int16_t', bias[q])}[s${q}], ${s.outputOffset + out}, ${range(s.activationMin, s.activationMax)})`;
          break;
        }
        const high = highMultiplier(mulProducts(s), s.output);
        const offsets = `${s.input1Offset - ba}, ${s.input2Offset - bb}`;
        expr =
          high === undefined
            ? `tlg_ew_mul(${a}, ${b}, ${offsets}, ${int32Literal(s.output.multiplier)}, ${s.output.shift}, ${s.outputOffset + out}, ${range(s.activationMin, s.activationMax)})`
            : `tlg_ew_mul_high(${a}, ${b}, ${offsets}, ${high}, ${s.outputOffset + out}, ${range(s.activationMin, s.activationMax)})`;
        break;
      }
      case 'Requantize': {
        const values = requantizeTable(s);
        const comment = `${s.name}: the requantization of every int8 value${out ? `, plus ${out}` : ''}`;
        const table = out
          ? ctx.weight(`${s.name}_table`, 'uint8_t', Uint8Array.from(values, (v) => v + out), comment)
          : ctx.weight(`${s.name}_table`, 'int8_t', values, comment);
        expr = `${base(table, out ? 'uint8_t' : 'int8_t', ba)}[${a}]`;
        break;
      }
    }
    const note = s.kind === 'Lut' ? ` ${s.function}` : '';
    loop.push(`    const int32_t s${slot} = ${expr}; /* ${s.kind}${note}${out ? `, plus ${out}` : ''} */`);
  });
  op.outputs.forEach((v, j) => loop.push(`    ${ctx.ref(v)}[e] = (int8_t)s${op.outputSlots[j]};`));
  loop.push('}');
  return ['{', ...[...lines, ...setup, ...loop].map((l) => `    ${l}`), '}'];
}

interface ScaledAdd {
  first: Int32Array;
  second: Int32Array;
  shift: number;
}

/**
 * Tables p, q and a shift K with clamp((p[a] + q[b]) >> K) = the Add's output plus `bias` for
 * every pair of int8 inputs a, b: each input's real contribution scaled by 2^K and rounded, the
 * rounding constant and the output offset in q. Checked exhaustively; undefined when no K from
 * 22 down to 12 is exact (or the sums could leave int32). `known` keeps the answers of one loop,
 * whose Adds often share their parameters (one per gate of a split pre-activation).
 */
function scaledAddTables(op: AddOp, bias: number, known: Map<string, ScaledAdd | undefined>): ScaledAdd | undefined {
  const key = JSON.stringify([op.input1Offset, op.input1, op.input2Offset, op.input2, op.leftShift, op.outputOffset, op.output, op.activationMin, op.activationMax, bias]);
  if (known.has(key)) return known.get(key);
  const r1 = addInputTable(op, 1);
  const r2 = addInputTable(op, 2);
  const clamp = (v: number) => Math.min(Math.max(v, op.activationMin), op.activationMax);
  const expected = new Int32Array(65536);
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) expected[a * 256 + b] = clamp(wrap32(requantize(wrap32(r1[a] + r2[b]), op.output.multiplier, op.output.shift) + op.outputOffset));
  }
  const total = 31 - op.output.shift;
  let found: ScaledAdd | undefined;
  for (let k = 22; k >= 12 && !found; k--) {
    const scale = (op.output.multiplier / 2 ** total) * 2 ** k;
    const first = Int32Array.from(r1, (v) => Math.round(v * scale));
    const second = Int32Array.from(r2, (v) => Math.round(v * scale) + 2 ** (k - 1) + (op.outputOffset + bias) * 2 ** k);
    const ok = first.every((p, a) => second.every((q, b) => Math.abs(p + q) < 2 ** 31 && clamp(Math.floor((p + q) / 2 ** k) - bias) === expected[a * 256 + b]));
    if (ok) found = { first, second, shift: k };
  }
  known.set(key, found);
  return found;
}

/** Every product a Mul step can form from two int8 inputs. */
function mulProducts(op: MulOp): Set<number> {
  const products = new Set<number>();
  for (let a = -128; a < 128; a++) for (let b = -128; b < 128; b++) products.add((a + op.input1Offset) * (b + op.input2Offset));
  return products;
}

/**
 * A multiplier M' with round(x·M' / 2^32) = requantize(x, r) for every x of `values` (|x| < 2^21),
 * tried around r.multiplier·2^(32 - T), T = 31 - r.shift; undefined when none is exact (or the
 * shift leaves nothing to drop). The rounded high word is one SMMLAR on the target.
 */
function highMultiplier(values: Set<number>, r: Requant): number | undefined {
  if (r.shift > -1) return undefined;
  const near = Math.round(r.multiplier / 2 ** (-1 - r.shift));
  for (const m of [near, near - 1, near + 1, near - 2, near + 2]) {
    let exact = true;
    for (const x of values) {
      if (Math.floor((x * m + 2 ** 31) / 2 ** 32) !== requantize(x, r.multiplier, r.shift)) {
        exact = false;
        break;
      }
    }
    if (exact) return m;
  }
  return undefined;
}

/** Before the loop: the vectors widened to int16 lanes in the scratch, the constants' pointer. */
function widenVectors(op: ElementwiseOp, layout: ProductLayout, bias: number[], ctx: EmitContext): string[] {
  const rowBias = productBiases(op, bias);
  const units = ctx.weight(`${op.name}_products`, 'int32_t', packProducts(op, layout, rowBias), `${op.name}: ${productComment(op, layout)}`);
  return [
    ...layout.vectors.flatMap((v, i) => [
      `uint32_t *const v${i} = (uint32_t *)${ctx.scratch(op, 'vectors')}${v.offsetWords ? ` + ${v.offsetWords}` : ''};`,
      `tlg_widen_lanes(${ctx.ref(v.value)}, ${v.depth}, ${v.shift}, v${i});`,
    ]),
    `const int32_t *u = ${units};`,
  ];
}

/** In the loop: each product's rows of element e, then each row's output into its slot. */
function productRows(op: ElementwiseOp, layout: ProductLayout, slots: number[], bias: number[]): string[] {
  return layout.products.flatMap((p, j) => {
    const fc = op.products[j].op;
    const rows = p.blocks.map((b, i) => {
      const shift = b.prepared.uniform ? String(b.prepared.rows[0].shift) : `u[${b.rowOffset + 3}]`;
      const out = bias[slots[j] + i];
      const range = `${int32Literal(fc.activationMin + out)}, ${fc.activationMax + out}`;
      // A shared multiplier is a constant argument, otherwise in the record.
      const multiplier = b.multiplier !== undefined ? int32Literal(b.multiplier) : `u[${b.rowOffset + 2}]`;
      const last = layout.advance && j === layout.products.length - 1 && i === p.blocks.length - 1;
      const call = last ? `tlg_row_out_next(a${j}[${i}], &u, ${layout.unitWords}` : `tlg_row_out_m(a${j}[${i}], u, ${b.rowOffset}`;
      return `const int32_t s${slots[j] + i} = ${call}, ${multiplier}, ${shift}, ${range}); /* row ${op.products[j].offsets[i]} + e of ${fc.name}${out ? `, plus ${out}` : ''} */`;
    });
    return [`int32_t a${j}[4] = {0, 0, 0, 0};`, `tlg_dot_rows_w16(${p.blocks.length}, ${p.chunks}, v${p.vector}, u, ${p.weightsOffset}, a${j});`, ...rows];
  });
}

/** The bias of each product block's slot (slotBiases), product by product. */
function productBiases(op: ElementwiseOp, bias: number[]): number[][] {
  const first = elementwiseSlots(op);
  return op.products.map((p, j) => p.offsets.map((_, b) => bias[first.products[j] + b]));
}

/**
 * The constants of every element, as product-layout.ts lays them out; `biases[j][b]` is added to
 * the rows of product j, block b (a slot that holds its value plus 128).
 */
export function packProducts(op: ElementwiseOp, layout: ProductLayout, biases: number[][] = []): Int32Array {
  const words = new Int32Array(layout.unitWords * op.size);
  const lanes = (lo: number, hi: number) => (lo & 0xffff) | (hi << 16);
  for (let e = 0; e < op.size; e++) {
    const unit = e * layout.unitWords;
    layout.products.forEach((p, j) => {
      p.blocks.forEach((b, i) => {
        const row = b.prepared.rows[e];
        const at = unit + b.rowOffset;
        const init = row.init + BigInt(biases[j]?.[i] ?? 0) * 2n ** BigInt(32 + row.shift);
        writeRowRecord(words, at, b.prepared, row, b.multiplier !== undefined, init);
        const w = (c: number) => (c < row.weights.length ? row.weights[c] : 0);
        for (let c = 0; c < p.chunks; c++) {
          const at = unit + p.weightsOffset + 2 * (c * p.blocks.length + i);
          words[at] = lanes(w(4 * c), w(4 * c + 2));
          words[at + 1] = lanes(w(4 * c + 1), w(4 * c + 3));
        }
      });
    });
  }
  return words;
}

function productComment(op: ElementwiseOp, layout: ProductLayout): string {
  const names = op.products.map((p) => `${p.op.name} rows ${p.offsets.map((o) => `${o}+e`).join(', ')}`).join('; ');
  return `per element e, ${layout.unitWords} words: the int16 weights of each product, two per word, chunks of four columns in the order 0, 2, 1, 3, then the prepared requantization of each product row (${names})`;
}
