// The portable kernel set: every op onto the project's own C99 kernels
// (firmware/kernels/portable/tlg_kernels.h). The CMSIS-NN set reuses these lowerings for the
// ops CMSIS-NN has no kernel for (tables, views, requantization).

import { LSTM_GATES, type IrOp, type LstmCellOp, type Requant } from '../../ir/ir.js';
import { int32Literal } from '../c.js';
import type { EmitContext, KernelLowering } from './types.js';
import { lowerElementwise } from './elementwise.js';
import { lstmSizes, wideFullyConnected } from '../../plan/kernel-needs.js';
import { recordWords, writeRowRecord, type PreparedBlock } from '../../quant/product-rows.js';
import { diagnostics, invariant } from '../../diagnostics.js';
import { activationSegments, fastRequantC, lstmCellParamsC, packLstmPortable } from './lstm-layout.js';

type Op<K extends IrOp['kind']> = Extract<IrOp, { kind: K }>;

const rq = (r: Requant) => `{${int32Literal(r.multiplier)}, ${r.shift}}`;

function rowsOf(ctx: EmitContext, value: string, k: number): number {
  return ctx.elements(value) / k;
}

/**
 * The portable FC with int16 weights (wideFullyConnected): tlg_fc_rows_s8 on the prepared rows'
 * int16 weights and one record per row, {init low, init high, multiplier} and the row's shift
 * when the rows do not share one, the bias, zero points, rounding and output offset in the init.
 */
function fullyConnectedRows(op: Op<'FullyConnected'>, rows: PreparedBlock, ctx: EmitContext): string[] {
  const [n, k] = ctx.tensor(op.weights).shape;
  const weights = ctx.weight(
    `${op.weights}_int16`,
    'int32_t',
    packRowGroups(n, k, (r, c) => rows.rows[r].weights[c]),
    `${op.weights} as prepared rows of int16 [${n}, ${k}], two per word, rows in groups of four interleaved by four columns (tlg_fc_rows_s8)`,
  );
  const fields = rows.uniform ? '{init low, init high, multiplier}' : '{init low, init high, multiplier, shift}';
  const records = ctx.weight(`${op.name}_rows`, 'int32_t', packRowRecords(rows), `${op.name}: per row ${fields}: bias, zero points, rounding and output offset in init`);
  const args = [
    rowsOf(ctx, op.inputs[0], k), k, n, rows.inputShift, rows.uniform ? 0 : 1, rows.uniform ? rows.rows[0].shift : 0, int32Literal(op.activationMin), op.activationMax,
    ctx.ref(op.inputs[0]), `(uint32_t *)${ctx.scratch(op, 'input16')}`, weights, records, ctx.ref(op.outputs[0]),
  ];
  return [`tlg_fc_rows_s8(${args.join(', ')});`];
}

/** Each prepared row's {init low word, init high word, multiplier} and, unless the rows share it, its shift. */
export function packRowRecords(rows: PreparedBlock): Int32Array {
  const words = recordWords(rows, false);
  const records = new Int32Array(words * rows.rows.length);
  rows.rows.forEach((row, r) => writeRowRecord(records, words * r, rows, row, false));
  return records;
}

/**
 * Rows of int16 weights weight(r, c) as tlg_fc_rows_s8 reads them: words of two lanes, rows in
 * groups of four, each group chunk by chunk (four columns, zeros beyond k), the group's rows in
 * turn, a row's chunk as (w[4c], w[4c + 2]), (w[4c + 1], w[4c + 3]).
 */
export function packRowGroups(n: number, k: number, weight: (r: number, c: number) => number): Int32Array {
  const chunks = Math.ceil(k / 4);
  const w = (r: number, c: number) => (c < k ? weight(r, c) : 0);
  const lanes = (lo: number, hi: number) => (lo & 0xffff) | (hi << 16);
  const words = new Int32Array(2 * n * chunks);
  for (let r = 0; r < n; r++) {
    const group = r - (r % 4);
    const rows = Math.min(4, n - group);
    for (let c = 0; c < chunks; c++) {
      const at = 2 * group * chunks + 2 * (c * rows + (r - group));
      words[at] = lanes(w(r, 4 * c), w(r, 4 * c + 2));
      words[at + 1] = lanes(w(r, 4 * c + 1), w(r, 4 * c + 3));
    }
  }
  return words;
}

export function fullyConnected(op: Op<'FullyConnected'>, ctx: EmitContext): string[] {
  const [n, k] = ctx.tensor(op.weights).shape;
  const requant = ctx.declare(`${op.name}_requant`, `tlg_requant`, `{${op.requant.map(rq).join(', ')}}`, true);
  const params = ctx.declare(
    `${op.name}_params`,
    'tlg_fc_params',
    `{${op.inputOffset}, ${op.weightOffset}, ${op.outputOffset}, ${int32Literal(op.activationMin)}, ${op.activationMax}, ${requant}, ${op.requant.length > 1 ? 1 : 0}, ${op.accumulatorShift ?? 0}}`,
  );
  const fn = op.outputDtype === 'int32' ? 'tlg_fully_connected_s8_s32' : 'tlg_fully_connected_s8';
  const bias = op.bias ? ctx.ref(op.bias) : 'NULL';
  return [`${fn}(&${params}, ${rowsOf(ctx, op.inputs[0], k)}, ${k}, ${n}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.weights)}, ${bias}, ${ctx.ref(op.outputs[0])});`];
}

function matMul(op: Op<'MatMul'>, ctx: EmitContext): string[] {
  const as = ctx.tensor(op.inputs[0]).shape;
  const bs = ctx.tensor(op.inputs[1]).shape;
  const [m, k] = as.length === 1 ? [1, as[0]] : as.slice(-2);
  const n = bs.length === 1 ? 1 : bs[bs.length - 1];
  const own = (shape: number[]) => shape.slice(0, Math.max(shape.length - 2, 0));
  const rank = Math.max(own(as).length, own(bs).length);
  const batch = Array.from({ length: rank }, (_, d) =>
    Math.max(own(as)[d - rank + own(as).length] ?? 1, own(bs)[d - rank + own(bs).length] ?? 1),
  );
  invariant(batch.length <= 4, `MatMul ${op.name} has more than 4 batch dimensions`);
  const strides = (shape: number[], inner: number) => {
    const own = shape.slice(0, Math.max(shape.length - 2, 0));
    return batch.map((_, d) => {
      const s = d - (batch.length - own.length);
      if (s < 0 || own[s] === 1) return 0;
      return inner * own.slice(s + 1).reduce((a, b) => a * b, 1);
    });
  };
  const pad = (xs: number[]) => `{${[...xs, 0, 0, 0, 0].slice(0, 4).join(', ')}}`;
  const params = ctx.declare(
    `${op.name}_params`,
    'tlg_matmul_params',
    `{${op.aOffset}, ${op.bOffset}, ${op.outputOffset}, ${rq(op.requant)}, ${m}, ${k}, ${n}, ${batch.length}, ${pad(batch)}, ${pad(strides(as, m * k))}, ${pad(strides(bs, k * n))}}`,
  );
  const fn = op.outputDtype === 'int32' ? 'tlg_matmul_s8_s32' : 'tlg_matmul_s8';
  return [`${fn}(&${params}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.inputs[1])}, ${ctx.ref(op.outputs[0])});`];
}

function add(op: Op<'Add'>, ctx: EmitContext): string[] {
  const params = ctx.declare(
    `${op.name}_params`,
    'tlg_add_params',
    `{${op.input1Offset}, ${rq(op.input1)}, ${op.input2Offset}, ${rq(op.input2)}, ${op.leftShift}, ${op.outputOffset}, ${rq(op.output)}, ${op.activationMin}, ${op.activationMax}}`,
  );
  return [`tlg_add_s8(&${params}, ${ctx.elements(op.outputs[0])}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.inputs[1])}, ${ctx.ref(op.outputs[0])});`];
}

function mul(op: Op<'Mul'>, ctx: EmitContext): string[] {
  const params = ctx.declare(
    `${op.name}_params`,
    'tlg_mul_params',
    `{${op.input1Offset}, ${op.input2Offset}, ${op.outputOffset}, ${rq(op.output)}, ${op.activationMin}, ${op.activationMax}}`,
  );
  return [`tlg_mul_s8(&${params}, ${ctx.elements(op.outputs[0])}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.inputs[1])}, ${ctx.ref(op.outputs[0])});`];
}

function softmax(op: Op<'Softmax'>, ctx: EmitContext): string[] {
  const shape = ctx.tensor(op.inputs[0]).shape;
  const row = shape[shape.length - 1];
  const params = ctx.declare(`${op.name}_params`, 'tlg_softmax_params', `{${int32Literal(op.multiplier)}, ${op.shift}, ${op.diffMin}}`);
  return [`tlg_softmax_s8(&${params}, ${ctx.elements(op.inputs[0]) / row}, ${row}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.outputs[0])});`];
}

function requantize(op: Op<'Requantize'>, ctx: EmitContext): string[] {
  const params = ctx.declare(`${op.name}_params`, 'tlg_requantize_params', `{${op.inputOffset}, ${op.outputOffset}, ${rq(op.requant)}}`);
  return [`tlg_requantize_s8(&${params}, ${ctx.elements(op.outputs[0])}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.outputs[0])});`];
}

function lut(op: Op<'Lut'>, ctx: EmitContext): string[] {
  return [`tlg_lut_s8(${ctx.ref(op.table)}, ${ctx.elements(op.outputs[0])}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.outputs[0])});`];
}

function elementSize(ctx: EmitContext, value: string): number {
  const t = ctx.tensor(value);
  return t.dtype === 'int8' ? 1 : t.dtype === 'int32' ? 4 : 2;
}

/** Whether the plan stored `v` at `bytes` into `base` already. */
function storedAt(ctx: EmitContext, v: string, base: string, bytes: number): boolean {
  const a = ctx.at(v);
  const b = ctx.at(base);
  return a.buffer === b.buffer && a.offset === b.offset + bytes;
}

/** Views cost nothing when the plan aliased them; otherwise they copy. */
function reshape(op: Op<'Reshape'>, ctx: EmitContext): string[] {
  if (storedAt(ctx, op.outputs[0], op.inputs[0], 0)) return [];
  return [`memcpy(${ctx.ref(op.outputs[0])}, ${ctx.ref(op.inputs[0])}, ${ctx.bytes(op.outputs[0])});`];
}

function copy(op: Op<'Copy'>, ctx: EmitContext): string[] {
  const size = elementSize(ctx, op.outputs[0]);
  if (storedAt(ctx, op.outputs[0], op.inputs[0], op.offset * size)) return [];
  const t = ctx.tensor(op.outputs[0]);
  invariant(t.shape.length <= 6, `Copy ${op.name} has more than 6 dimensions`);
  const pad = (xs: number[]) => `{${[...xs, 0, 0, 0, 0, 0, 0].slice(0, 6).join(', ')}}`;
  const params = ctx.declare(`${op.name}_params`, 'tlg_copy_params', `{${size}, ${t.shape.length}, ${op.offset}, ${pad(t.shape)}, ${pad(op.strides)}}`);
  return [`tlg_copy(&${params}, ${ctx.ref(op.inputs[0])}, ${ctx.ref(op.outputs[0])});`];
}

function concat(op: Op<'Concat'>, ctx: EmitContext): string[] {
  const y = op.outputs[0];
  const size = elementSize(ctx, y);
  const outer = ctx.tensor(y).shape.slice(0, op.axis).reduce((a, b) => a * b, 1);
  if (outer === 1) {
    // Consecutive blocks: copy the inputs the plan did not already place there.
    const lines: string[] = [];
    let bytes = 0;
    for (const v of op.inputs) {
      if (!storedAt(ctx, v, y, bytes)) lines.push(`memcpy((int8_t *)${ctx.ref(y)} + ${bytes}, ${ctx.ref(v)}, ${ctx.bytes(v)});`);
      bytes += ctx.bytes(v);
    }
    return lines;
  }
  const inner = ctx.declare(`${op.name}_inner`, 'int32_t', `{${op.inputs.map((v) => ctx.elements(v) / outer).join(', ')}}`, true);
  const params = ctx.declare(`${op.name}_params`, 'tlg_concat_params', `{${size}, ${outer}, ${ctx.elements(y) / outer}, ${op.inputs.length}, ${inner}}`);
  const inputs = `(const void *const[]){${op.inputs.map((v) => ctx.ref(v)).join(', ')}}`;
  return [`tlg_concat(&${params}, ${inputs}, ${ctx.ref(y)});`];
}

/**
 * The segment tables of the cell's sigmoid and tanh, from its int16 table. The kernels of both
 * sets compute the gates f, i, o with sigmoid and g with tanh, CMSIS-NN's LSTM.
 */
export function lstmActivationTables(op: LstmCellOp, ctx: EmitContext, kernels: string): { sigmoid: string; tanh: string } {
  const standard = LSTM_GATES.every((k) => op.gates[k].activation === (k === 'cell' ? 'tanh' : 'sigmoid'));
  if (!standard) throw diagnostics.notLowerable(op.name, 'LstmCell', kernels, 'gate activations other than sigmoid for f, i, o and tanh for g');
  const table = ctx.tensor(op.activationTable).data;
  invariant(table, `LSTM activation table "${op.activationTable}" has no data`);
  const segments = (type: 'sigmoid' | 'tanh') =>
    ctx.weight(`${op.name}_${type}_segments`, 'int32_t', activationSegments(table, type), `${op.name}: ${type} of arm_nn_activation_s16 as 256 (base, slope) segments of ${op.activationTable}`);
  return { sigmoid: segments('sigmoid'), tanh: segments('tanh') };
}

/**
 * tlg_lstm_step_s8 on weights widened to int16 and interleaved per unit (lstm-layout.ts), or
 * tlg_lstm_step_compact_s8 on the same interleaving in int8 when the plan keeps weights compact.
 */
function lstmCell(op: LstmCellOp, ctx: EmitContext): string[] {
  invariant(!op.joined, `${op.name}: the portable LSTM step has no joined form (passes/fuse-accumulators.ts joins cells for CMSIS-NN only)`);
  const { input, hidden, batch } = lstmSizes(op, ctx.tensor);
  const compact = ctx.weightsLayout === 'compact';
  const packed = packLstmPortable(op, ctx.weightsLayout, ctx.tensor);
  const tables = lstmActivationTables(op, ctx, 'portable');
  const ctype = compact ? 'int8_t' : 'int16_t';
  const layout = compact
    ? 'int8, gates f, i, g, o of each unit interleaved by 4 columns (in the order 0, 2, 1, 3)'
    : 'int16, gates f, i, g, o of each unit interleaved by 4 columns';
  const wx = ctx.weight(`${op.name}_input_weights`, ctype, packed.inputWeights, `${op.name}: input weights, ${layout}`);
  const wh = ctx.weight(`${op.name}_hidden_weights`, ctype, packed.hiddenWeights, `${op.name}: hidden weights, ${layout}`);
  const biases = ctx.weight(`${op.name}_biases`, 'int32_t', packed.biases, `${op.name}: effective biases of each unit, input side f, i, g, o then hidden side`);
  const requants = (side: 'input' | 'hidden') => `{${LSTM_GATES.map((k) => fastRequantC(op.gates[k][side])).join(', ')}}`;
  const params = ctx.declare(
    `${op.name}_params`,
    'tlg_lstm_params',
    `{${batch}, ${input}, ${hidden}, ${wx}, ${wh}, ${biases}, ${requants('input')}, ${requants('hidden')}, ${lstmCellParamsC(op, tables.sigmoid, tables.tanh)}}`,
  );
  const [x, h, c] = op.inputs.map((v) => ctx.ref(v));
  const [hOut, cOut] = op.outputs.map((v) => ctx.ref(v));
  const step = compact ? 'tlg_lstm_step_compact_s8' : 'tlg_lstm_step_s8';
  return [`${step}(&${params}, ${x}, ${h}, ${c}, ${hOut}, ${cOut}, ${ctx.scratch(op, 'vectors')});`];
}

export const portable: KernelLowering = {
  name: 'portable',
  includes: ['tlg_kernels.h', 'tlg_fc_w16.h', 'tlg_elementwise_inline.h'],
  lower(op, ctx) {
    switch (op.kind) {
      case 'FullyConnected': {
        const rows = wideFullyConnected(op, 'portable', ctx.weightsLayout, ctx.tensor);
        return rows ? fullyConnectedRows(op, rows, ctx) : fullyConnected(op, ctx);
      }
      case 'MatMul':
        return matMul(op, ctx);
      case 'Add':
        return add(op, ctx);
      case 'Mul':
        return mul(op, ctx);
      case 'Softmax':
        return softmax(op, ctx);
      case 'Requantize':
        return requantize(op, ctx);
      case 'Lut':
        return lut(op, ctx);
      case 'Reshape':
        return reshape(op, ctx);
      case 'Copy':
        return copy(op, ctx);
      case 'Concat':
        return concat(op, ctx);
      case 'LstmCell':
        return lstmCell(op, ctx);
      case 'Elementwise':
        return lowerElementwise(op, ctx);
    }
  },
};
