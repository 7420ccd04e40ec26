// What each kernel set needs from the plan, per op, mirroring the calls the emitted code
// makes: scratch buffers (CMSIS-NN's *_get_buffer_size functions, the portable kernels'
// headers), and which outputs may be written over which inputs. The emitter checks that what it
// passes is what was planned here.

import type { IrOp, IrTensor, LstmCellOp, LstmGate } from '../ir/ir.js';
import { elementwiseSlots, LSTM_GATES } from '../ir/ir.js';
import { productLayout } from './product-layout.js';
import { mulTables, slotBiases } from './elementwise-tables.js';
import { addInputTable } from '../ir/ops/elementwise.js';
import { requantizeTable } from '../ir/ops/requantize.js';
import { productParams } from '../ir/ops/fused-elementwise.js';
import { prepareProductBlock, recordWords, type PreparedBlock } from '../quant/product-rows.js';

export type KernelSetName = 'cmsis-nn' | 'portable';

/**
 * How kernels that have a choice store their weights: `fast` widened to int16 at compile time
 * (the portable LSTM step and FC: no sign extension in the inner loops, twice the flash of
 * int8), `compact` as int8 (widened in registers). The CMSIS-NN set stores int8 either way.
 */
export type WeightsLayout = 'fast' | 'compact';

export interface ScratchRequest {
  /** Unique: op name + role. */
  name: string;
  role: string;
  bytes: number;
  /** Bytes; the int16 vectors that the portable kernels read with 64-bit loads need 8. */
  alignment: number;
}

/**
 * How the portable set runs an FC with int16 weights (and an int16 copy of the input): its rows
 * prepared at compile time for tlg_fc_rows_s8 (src/quant/product-rows.ts), each row's output
 * one multiply-accumulate of a 64-bit constant that holds the bias, zero points, rounding and
 * output offset, and one shift, the same for all rows where the weights leave room for it.
 * Undefined (tlg_fully_connected_s8 then) for the compact layout, int32 outputs and rows the
 * preparation refuses (a multiplier of 1/2 or more, sums that could leave int32).
 */
export function wideFullyConnected(op: IrOp, kernels: KernelSetName, layout: WeightsLayout, tensor: (v: string) => IrTensor): PreparedBlock | undefined {
  if (kernels !== 'portable' || layout !== 'fast' || op.kind !== 'FullyConnected' || op.outputDtype !== 'int8') return undefined;
  if (!preparedRows.has(op)) {
    const params = productParams(op, tensor);
    const block = params && prepareProductBlock(params, 0, tensor(op.weights).shape[0]);
    preparedRows.set(op, typeof block === 'object' ? block : undefined);
  }
  return preparedRows.get(op);
}

const preparedRows = new WeakMap<IrOp, PreparedBlock | undefined>();

function paddedDepth(k: number): number {
  return Math.ceil(k / 4) * 4;
}

export function scratchBuffers(op: IrOp, kernels: KernelSetName, layout: WeightsLayout, tensor: (v: string) => IrTensor): ScratchRequest[] {
  // The portable FC with int16 weights widens one input row to int16 (tlg_fc_w16.h).
  if (op.kind === 'FullyConnected' && wideFullyConnected(op, kernels, layout, tensor)) {
    return [{ name: `${op.name}/input16`, role: 'input16', bytes: 2 * paddedDepth(tensor(op.weights).shape[1]), alignment: 8 }];
  }
  // A fused loop with products widens the vectors they read to int16 lanes (product-layout.ts).
  if (op.kind === 'Elementwise') {
    const products = productLayout(op, tensor);
    return products ? [{ name: `${op.name}/vectors`, role: 'vectors', bytes: products.scratchBytes, alignment: 8 }] : [];
  }
  if (op.kind !== 'LstmCell') return [];
  // The portable step (either layout) widens one sequence's input and hidden state to int16;
  // the CMSIS-NN set accumulates one sequence's four gates (arm_nn_vec_mat_mul_result_acc_s8_s16)
  // before its fused update.
  const { input, hidden } = lstmSizes(op, tensor);
  const bytes = kernels === 'portable' ? 2 * 4 * (Math.ceil(input / 4) + Math.ceil(hidden / 4)) : 2 * 4 * hidden;
  const role = kernels === 'portable' ? 'vectors' : 'gates';
  return [{ name: `${op.name}/${role}`, role, bytes, alignment: 8 }];
}

/** Elementwise kernels of both sets work in place. */
const elementwise = new Set<IrOp['kind']>(['Add', 'Mul', 'Lut', 'Requantize']);

/**
 * Whether output `o` of `op` may be the same buffer as input `i`. The LSTM cell updates c in
 * place in both sets, and both read all of h (the portable step widens it, the CMSIS-NN set's
 * products come first) before writing the new h.
 */
export function mayWriteInPlace(op: IrOp, kernels: KernelSetName, output: number, input: number): boolean {
  if (elementwise.has(op.kind)) return true;
  // The fused loop reads every input of element e before it writes element e.
  if (op.kind === 'Elementwise') return op.inputOffsets[input] === 0;
  if (op.kind === 'LstmCell') {
    if (output === 1 && input === 2) return true;
    if (output === 0 && input === 1) return true;
  }
  return false;
}

/**
 * The kernel functions an op's generated code calls, as named in firmware/kernels/code-size.json
 * (the code-size estimate); a name ending in * is inlined at every call. `free` tells that a
 * view costs nothing because the plan aliased it.
 */
export function kernelFunctions(op: IrOp, kernels: KernelSetName, layout: WeightsLayout, free: boolean, tensor: (v: string) => IrTensor): string[] {
  const cmsis = kernels === 'cmsis-nn';
  switch (op.kind) {
    case 'Elementwise':
      return elementwiseFunctions(op, tensor);
    case 'FullyConnected':
      if (wideFullyConnected(op, kernels, layout, tensor)) return ['tlg_fc_rows_s8*'];
      if (!cmsis || op.outputDtype === 'int32') return ['tlg_fully_connected'];
      return [op.requant.length > 1 ? 'arm_nn_vec_mat_mult_t_per_ch_s8' : 'arm_nn_vec_mat_mult_t_s8'];
    case 'MatMul':
      return ['tlg_matmul'];
    case 'Add':
      return [cmsis ? 'arm_elementwise_add_s8' : 'tlg_add_s8'];
    case 'Mul':
      return [cmsis ? 'arm_elementwise_mul_s8' : 'tlg_mul_s8'];
    case 'Softmax':
      return [cmsis ? 'arm_softmax_s8' : 'tlg_softmax_s8'];
    case 'LstmCell':
      if (!cmsis) return [layout === 'compact' ? 'tlg_lstm_step_compact_s8' : 'tlg_lstm_step_s8'];
      return ['memset', 'arm_nn_vec_mat_mul_result_acc_s8_s16', 'tlg_lstm_update_s16'];
    case 'Lut':
      return ['tlg_lut_s8'];
    case 'Requantize':
      return ['tlg_requantize_s8'];
    case 'Copy':
      return free ? [] : ['tlg_copy'];
    case 'Reshape':
    case 'Concat':
      return free ? [] : ['memcpy'];
    case 'Loop':
      return [];
  }
}

/**
 * A fused loop's products are inlined in it (tlg_fc_w16.h): each vector widened, each
 * product's unrolled chunks (eight at most, then what remains of eight) with one load of the
 * vector and two multiply-accumulates per row, and each row's output. The loop's elementwise
 * steps are counted in the model's fixed code.
 */
function elementwiseFunctions(op: Extract<IrOp, { kind: 'Elementwise' }>, tensor: (v: string) => IrTensor): string[] {
  const functions = op.inputs.slice(op.inputOffsets.length).map(() => 'tlg_widen_lanes*');
  for (const p of op.products) {
    const chunks = Math.ceil(tensor(p.op.weights).shape[1] / 4);
    const copies = (chunks >= 8 ? 8 : 0) + (chunks & 7);
    for (let c = 0; c < copies; c++) {
      functions.push('tlg_dot_rows_w16 chunk*');
      for (let b = 0; b < p.offsets.length; b++) functions.push('tlg_dot_rows_w16 row*');
    }
    for (let b = 0; b < p.offsets.length; b++) functions.push('tlg_row_out*');
  }
  return functions;
}

/**
 * Weights a kernel stores in a layout of its own: the bytes it adds to the model's constants
 * (each array aligned to 16 bytes), the arrays themselves by name for reports, and the IR
 * constants it no longer reads (the linker drops them). Must agree with what the
 * op's lowering in src/emit/kernels/ passes to EmitContext.weight() (lstm-layout.ts).
 *
 * The LSTM cell of both sets interpolates activation segments prepared from the sigmoid table
 * (a sigmoid and a tanh table of 256 int32 pairs) instead of the table. The portable step
 * reads weights interleaved per hidden unit (widened to int16 in the fast layout, int8 in the
 * compact one), and one int32 array of biases; the CMSIS-NN set stacks the four gates' weights
 * and biases of each side into one matrix when the gates requantize alike (see
 * stackedLstmGates).
 */
export function weightLayout(
  op: IrOp,
  kernels: KernelSetName,
  layout: WeightsLayout,
  tensor: (v: string) => IrTensor,
): { extraBytes: number; replaces: string[]; arrays: { name: string; bytes: number }[] } {
  const rows = op.kind === 'FullyConnected' ? wideFullyConnected(op, kernels, layout, tensor) : undefined;
  if (op.kind === 'FullyConnected' && rows) {
    const [n, k] = tensor(op.weights).shape;
    // The int16 rows, and each row's {init low, init high, multiplier[, shift]}: the bias is in
    // the init.
    const weights = { name: `${op.weights} (int16)`, bytes: 2 * n * paddedDepth(k) };
    const records = { name: `${op.name} rows (requantization with bias and offsets)`, bytes: 4 * recordWords(rows, false) * n };
    return { extraBytes: weights.bytes + align16(records.bytes), replaces: op.bias ? [op.weights, op.bias] : [op.weights], arrays: [weights, records] };
  }
  // A fused loop (both sets) reads each Add's input rescalings and each requantization from
  // tables (equal ones stored once), and its products from one record of constants per element
  // (product-layout.ts) instead of the products' weights and biases.
  if (op.kind === 'Elementwise') {
    // An Add's second table carries its output offset, biased or not (slotBiases).
    const scaled = mulTables(op, tensor);
    const bias = slotBiases(op, new Set([...scaled.values()].flatMap((m) => m.luts)));
    const first = elementwiseSlots(op).steps;
    const tables = new Set(
      op.steps.flatMap((s, i) =>
        s.op.kind === 'Add' ? [addInputTable(s.op, 1).join(), `${addInputTable(s.op, 2).join()}:${s.op.outputOffset + bias[first + i]}`] : [],
      ),
    );
    const requantizations = new Set(op.steps.flatMap((s) => (s.op.kind === 'Requantize' ? [requantizeTable(s.op).join()] : [])));
    const arrays = tables.size ? [{ name: `${op.name}/add input rescalings (${tables.size} int32 tables)`, bytes: 1024 * tables.size }] : [];
    if (requantizations.size) arrays.push({ name: `${op.name}/requantization tables (${requantizations.size})`, bytes: 256 * requantizations.size });
    const products = productLayout(op, tensor);
    if (products) arrays.push({ name: `${op.name}/products (int16 rows and requantizations per element)`, bytes: 4 * products.unitWords * op.size });
    // Multiplications through scaled tables replace the lookups they read (elementwise-tables.ts).
    if (scaled.size) arrays.push({ name: `${op.name}/scaled multiplication tables (${scaled.size} pairs)`, bytes: 1536 * scaled.size });
    const absorbed = new Set([...scaled.values()].flatMap((m) => m.luts));
    const kept = new Set(op.steps.flatMap((s, i) => (s.op.kind === 'Lut' && !absorbed.has(i) ? [s.op.table] : [])));
    const unread = [...absorbed].map((i) => (op.steps[i].op as { table: string }).table).filter((t) => !kept.has(t));
    const replaces = [...op.products.flatMap((p) => (p.op.bias ? [p.op.weights, p.op.bias] : [p.op.weights])), ...unread];
    return { extraBytes: arrays.reduce((a, x) => a + align16(x.bytes), 0), replaces, arrays };
  }
  const lstm = lstmArrays(op, kernels, layout, tensor);
  if (!lstm) return { extraBytes: 0, replaces: [], arrays: [] };
  const arrays = lstm.added.map((a) => ({ name: `${op.name}/${a.what}`, bytes: a.bytes }));
  return { extraBytes: arrays.reduce((a, x) => a + align16(x.bytes), 0), replaces: lstm.replaces, arrays };
}


/** [input size, hidden size, batch] of an LSTM cell. */
export function lstmSizes(op: LstmCellOp, tensor: (v: string) => IrTensor): { input: number; hidden: number; batch: number } {
  const [hidden, input] = tensor(op.gates.forget.inputWeights).shape;
  const batch = tensor(op.inputs[1]).shape.reduce((a, b) => a * b, 1) / hidden;
  return { input, hidden, batch };
}

/** Whether the CMSIS-NN set computes each side's four gates with one call on stacked rows:
 *  when the four gates requantize alike on the input side and on the hidden side. */
export function stackedLstmGates(op: LstmCellOp): boolean {
  const same = (side: (g: LstmGate) => { multiplier: number; shift: number }) =>
    LSTM_GATES.every((k) => side(op.gates[k]).multiplier === side(op.gates.forget).multiplier && side(op.gates[k]).shift === side(op.gates.forget).shift);
  return same((g) => g.input) && (op.joined === true || same((g) => g.hidden));
}

/** The arrays an LSTM cell's lowering adds (what and bytes of each) and the IR constants it
 *  replaces. */
function lstmArrays(
  op: IrOp,
  kernels: KernelSetName,
  layout: WeightsLayout,
  tensor: (v: string) => IrTensor,
): { added: { what: string; bytes: number }[]; replaces: string[] } | undefined {
  if (op.kind !== 'LstmCell') return undefined;
  const { input, hidden } = lstmSizes(op, tensor);
  const segments = [
    { what: 'sigmoid_segments', bytes: 256 * 8 },
    { what: 'tanh_segments', bytes: 256 * 8 },
  ];
  const gateTensors = LSTM_GATES.flatMap((k) => {
    const g = op.gates[k];
    return [g.inputWeights, g.hiddenWeights, g.inputEffectiveBias, g.hiddenEffectiveBias];
  });
  if (kernels === 'portable') {
    const chunks = (n: number) => Math.ceil(n / 4);
    const width = layout === 'compact' ? 1 : 2;
    const type = layout === 'compact' ? 'int8' : 'int16';
    return {
      added: [
        ...segments,
        { what: `input_weights (${type}, gates interleaved)`, bytes: width * 16 * hidden * chunks(input) },
        { what: `hidden_weights (${type}, gates interleaved)`, bytes: width * 16 * hidden * chunks(hidden) },
        { what: 'biases (both sides, gates interleaved)', bytes: 4 * 8 * hidden },
      ],
      replaces: [...gateTensors, op.activationTable],
    };
  }
  if (!stackedLstmGates(op)) return { added: segments, replaces: [op.activationTable] };
  return {
    added: [
      ...segments,
      { what: op.joined ? 'input_weights ([x; h], gates stacked)' : 'input_weights (gates stacked)', bytes: 4 * hidden * input },
      { what: 'input_biases (gates stacked)', bytes: 4 * 4 * hidden },
      ...(op.joined
        ? []
        : [
            { what: 'hidden_weights (gates stacked)', bytes: 4 * hidden * hidden },
            { what: 'hidden_biases (gates stacked)', bytes: 4 * 4 * hidden },
          ]),
    ],
    replaces: [...gateTensors, op.activationTable],
  };
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;
