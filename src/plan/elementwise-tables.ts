// Choices about the tables of a fused elementwise loop that the planner counts and the emitter
// (src/emit/kernels/elementwise.ts) follows:
//   - which slots hold their value plus 128 (slotBiases), which changes some tables' contents;
//   - multiplications that read two table lookups, each used by nothing else (o·tanh(c) and
//     (1 - f)·g in a TinyLSTM cell): the two lookups become lookups in tables scaled for the
//     multiplication, A[p] = (T_a[p] + offset_1)·M / 2^j rounded (int32) and
//     B[q] = (T_b[q] + offset_2)·2^j (int16), and the requantized product is the rounded high
//     word of A·B plus the output offset (one SMMLAR, tlg_ew_mul_tables); chosen only where that
//     equals the Mul for every pair of table inputs p, q, which mulTables checks. The planner
//     counts the two tables in place of the lookups' own (kernel-needs.ts).

import type { ElementwiseOp, IrTensor, LutOp, MulOp } from '../ir/ir.js';
import { elementwiseSlots } from '../ir/ir.js';
import { mulElement } from '../ir/ops/elementwise.js';

export interface MulTables {
  /** Step indices of the two lookups the multiplication reads (input 1, input 2). */
  luts: [number, number];
  /** int32 [256], indexed by input 1's lookup input + 128. */
  first: Int32Array;
  /** int16 [256], indexed by input 2's lookup input + 128. */
  second: Int16Array;
}

const cache = new WeakMap<ElementwiseOp, Map<number, MulTables>>();

/** Step index of each multiplication that reads scaled tables, with its tables. */
export function mulTables(op: ElementwiseOp, tensor: (v: string) => IrTensor): Map<number, MulTables> {
  const known = cache.get(op);
  if (known) return known;
  const found = new Map<number, MulTables>();
  const first = elementwiseSlots(op);
  const readers = (slot: number) => op.steps.filter((s) => (s.args as number[]).includes(slot)).length + op.outputSlots.filter((s) => s === slot).length;
  op.steps.forEach((step, i) => {
    if (step.op.kind !== 'Mul') return;
    const luts = step.args.map((slot) => slot - first.steps);
    if (step.args[0] === step.args[1] || luts.some((k) => k < 0 || op.steps[k].op.kind !== 'Lut' || readers(first.steps + k) !== 1)) return;
    const [a, b] = luts.map((k) => tensor((op.steps[k].op as LutOp).table).data!);
    const tables = scaledTables(step.op, a, b);
    if (tables) found.set(i, { luts: luts as [number, number], ...tables });
  });
  cache.set(op, found);
  return found;
}

/**
 * Tables for Mul(a[p], b[q]) over every p, q: the multiplier M = m·2^(32 - T) for the Mul's own
 * (m, shift) and j from 3 (A within int32) to 8, each rounding checked; undefined when none is
 * exact.
 */
function scaledTables(op: MulOp, a: ArrayLike<number>, b: ArrayLike<number>): { first: Int32Array; second: Int16Array } | undefined {
  if (op.output.shift > -1) return undefined;
  const expected = new Int32Array(65536);
  for (let p = 0; p < 256; p++) for (let q = 0; q < 256; q++) expected[p * 256 + q] = mulElement(op, a[p], b[q]);
  const clamp = (v: number) => Math.min(Math.max(v, op.activationMin), op.activationMax);
  const nominal = op.output.multiplier / 2 ** (-1 - op.output.shift);
  for (let j = 3; j <= 8; j++) {
    const first = Int32Array.from({ length: 256 }, (_, p) => Math.round(((a[p] + op.input1Offset) * nominal) / 2 ** j));
    const second = Int16Array.from({ length: 256 }, (_, q) => (b[q] + op.input2Offset) * 2 ** j);
    if (first.some((v) => Math.abs(v) >= 2 ** 31) || second.some((v, q) => v !== (b[q] + op.input2Offset) * 2 ** j)) continue;
    let exact = true;
    for (let p = 0; p < 256 && exact; p++) {
      for (let q = 0; q < 256; q++) {
        // |A·B| < 2^46: the product, its scaling and the rounding are exact in doubles.
        const high = Math.floor((first[p] * second[q]) / 2 ** 32 + 0.5);
        if (clamp(high + op.outputOffset) !== expected[p * 256 + q]) {
          exact = false;
          break;
        }
      }
    }
    if (exact) return { first, second };
  }
  return undefined;
}

/**
 * What each slot holds: its value (0), or its value plus 128 (128) where that saves an addition:
 * a multiplication takes the int8 zero point -128 as input offset 128, an Add or a scaled
 * multiplication indexes its int32 or int16 tables from 0 (the compiler adds 128 to an index
 * otherwise); a table, a product row, a multiplication or an Add gives the value plus 128 for
 * nothing (USAT instead of SSAT). Element inputs and outputs hold the value, as does a slot that
 * a multiplication with input offset 0 reads, and the results of requantizations that could
 * wrap (shift 0 or more). `absorbed`: lookups that a scaled multiplication makes instead.
 */
export function slotBiases(op: ElementwiseOp, absorbed: Set<number>): number[] {
  const first = elementwiseSlots(op);
  const biases = new Array<number>(first.steps + op.steps.length).fill(0);
  const outputs = new Set(op.outputSlots);
  biases.forEach((_, slot) => {
    if (slot < op.inputOffsets.length || outputs.has(slot)) return;
    const producer = slot >= first.steps ? op.steps[slot - first.steps].op : undefined;
    if ((producer?.kind === 'Mul' || producer?.kind === 'Add') && producer.output.shift > -1) return;
    let gains = false;
    for (const [i, step] of op.steps.entries()) {
      for (let k = 0; k < step.args.length; k++) {
        if (step.args[k] !== slot) continue;
        if (step.op.kind === 'Add' || absorbed.has(i)) gains = true;
        if (step.op.kind === 'Mul') {
          const offset = k === 0 ? step.op.input1Offset : step.op.input2Offset;
          if (offset === 0) return;
          if (offset === 128) gains = true;
        }
      }
    }
    if (gains) biases[slot] = 128;
  });
  return biases;
}
