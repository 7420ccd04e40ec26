// What the LSTM cell's C kernels read, prepared at compile time from an LstmCellOp: weights and
// biases in the kernels' layouts, requantizations in a form that costs a multiply-accumulate
// and a shift, and arm_nn_activation_s16's interpolation as segments with its rounding folded
// in. firmware/kernels/portable/tlg_kernels.h states each layout; the sizes agree with
// lstmArrays() in src/plan/kernel-needs.ts.

import { LSTM_GATES, type IrData, type IrTensor, type LstmCellOp, type Requant } from '../../ir/ir.js';
import { int32Literal } from '../c.js';
import { lstmSizes, type WeightsLayout } from '../../plan/kernel-needs.js';
import { invariant } from '../../diagnostics.js';

/** tlg_fast_requant: requantize(v, multiplier, shift) as ((rounding + v·low) >> 32) + v·high) >> rightShift. */
export interface FastRequant {
  rounding: bigint;
  low: number;
  high: number;
  rightShift: number;
}

/**
 * A requantization rounded once from the exact product (tlg_requantize): with a total shift
 * 31 - shift of 32 or more, the high word of rounding + v·multiplier shifted right by the rest;
 * below 32, v·multiplier·2^(shift+1) split into words whose high word is v's coefficient in the
 * product's high word (the sum wraps as tlg_requantize's conversion to int32 does).
 */
export function fastRequant(r: Requant): FastRequant {
  if (r.shift < 0) {
    return { rounding: 1n << BigInt(30 - r.shift), low: r.multiplier, high: 0, rightShift: -1 - r.shift };
  }
  const scaled = BigInt(r.multiplier) << BigInt(r.shift + 1);
  const low = BigInt.asIntN(32, scaled);
  return { rounding: 1n << 31n, low: Number(low), high: Number((scaled - low) >> 32n), rightShift: 0 };
}

export function fastRequantC(r: Requant): string {
  const f = fastRequant(r);
  return `{${f.rounding}LL, ${int32Literal(f.low)}, ${f.high}, ${f.rightShift}}`;
}

/** tlg_activation_scale: arm_nn_activation_s16's input multiplier, rounding and shift. */
export function activationScale(leftShift: number): { multiplier: number; rounding: number; shift: number } {
  if (leftShift >= 0) return { multiplier: 3 * 2 ** leftShift, rounding: 0, shift: 0 };
  return { multiplier: 3, rounding: 2 ** (-leftShift - 1), shift: -leftShift };
}

/**
 * tlg_activation_segment[256] of sigmoid or tanh from the 256-entry sigmoid table, as int32
 * pairs (base, slope): the interpolation of arm_nn_activation_s16 with the rounding of its
 * result in the base, and the saturated value in the last entry.
 */
export function activationSegments(table: ArrayLike<number>, type: 'sigmoid' | 'tanh'): Int32Array {
  invariant(table.length === 256, 'the int16 activation table has 256 entries');
  const sigmoid = type === 'sigmoid';
  const shift = sigmoid ? 9 : 8;
  const rounding = sigmoid ? 1 << 9 : 128 - (1 << 23);
  const saturation = sigmoid ? 0x7fff * 1024 : 0xffff * 256;
  const out = new Int32Array(512);
  for (let k = 0; k < 255; k++) {
    out[2 * k] = table[k] * 2 ** shift + rounding;
    out[2 * k + 1] = table[k + 1] - table[k];
  }
  out[510] = saturation + rounding;
  out[511] = 0;
  return out;
}

export function activationScaleC(leftShift: number): string {
  const s = activationScale(leftShift);
  return `{${s.multiplier}, ${s.rounding}, ${s.shift}}`;
}

/** The cell state's range: [-clip, clip], or int16 without a clip. */
export function cellRange(op: LstmCellOp): [number, number] {
  return op.cellClip > 0 ? [-op.cellClip, op.cellClip] : [-32768, 32767];
}

/** tlg_lstm_cell_params' initializer, with the symbols of the two segment tables. */
export function lstmCellParamsC(op: LstmCellOp, sigmoid: string, tanh: string): string {
  const clip = cellRange(op);
  // The update takes these three as factors below 1/2 (tlg_lstm_cell_params): 2^-15,
  // 2^(-30 - cell scale power) and 2^-30 / s_h are, unless h's scale is below 2^-29.
  for (const [what, r] of [['forget to cell', op.forgetToCell], ['input to cell', op.inputToCell], ['output', op.hidden]] as const) {
    invariant(r.shift < 0, `${op.name}: the ${what} requantization is by a factor of 1/2 or more`);
  }
  return (
    `{${fastRequantC(op.forgetToCell)}, ${fastRequantC(op.inputToCell)}, ${fastRequantC(op.hidden)}, ${op.hiddenOffset}, ` +
    `${clip[0]}, ${clip[1]}, ${activationScaleC(op.cellScalePower + 12)}, ` +
    `(const tlg_activation_segment *)${sigmoid}, (const tlg_activation_segment *)${tanh}}`
  );
}

type Read = (v: string) => IrData;

function constant(tensor: (v: string) => IrTensor): Read {
  return (v) => {
    const data = tensor(v).data;
    invariant(data, `LSTM constant "${v}" has no data`);
    return data;
  };
}

/**
 * Where column e of a chunk of four goes in the compact layout: SXTB16 reads bytes 0 and 2 of
 * a word, SXTB16 of the word rotated by 8 bits bytes 1 and 3.
 */
const COMPACT_POSITION = [0, 2, 1, 3];

/**
 * The portable step's weights and biases (tlg_lstm_params): each side's four gate rows of
 * unit j interleaved four columns at a time, zeros after the last column, widened to int16
 * (fast layout, tlg_lstm_step_s8) or int8 with each chunk's columns in the order 0, 2, 1, 3
 * (compact layout, tlg_lstm_step_compact_s8); biases[j] = the input side's effective biases of
 * f, i, g, o, then the hidden side's.
 */
export function packLstmPortable(
  op: LstmCellOp,
  layout: WeightsLayout,
  tensor: (v: string) => IrTensor,
  read: Read = constant(tensor),
): { inputWeights: Int16Array | Int8Array; hiddenWeights: Int16Array | Int8Array; biases: Int32Array } {
  const { input, hidden } = lstmSizes(op, tensor);
  const position = layout === 'compact' ? COMPACT_POSITION : [0, 1, 2, 3];
  const interleave = (columns: number, weights: (k: number) => IrData) => {
    const chunks = Math.ceil(columns / 4);
    const out = layout === 'compact' ? new Int8Array(hidden * chunks * 16) : new Int16Array(hidden * chunks * 16);
    for (let j = 0; j < hidden; j++)
      for (let c = 0; c < chunks; c++)
        for (let k = 0; k < 4; k++)
          for (let e = 0; e < 4 && 4 * c + e < columns; e++) out[((j * chunks + c) * 4 + k) * 4 + position[e]] = weights(k)[j * columns + 4 * c + e];
    return out;
  };
  const gate = (k: number) => op.gates[LSTM_GATES[k]];
  const biases = new Int32Array(hidden * 8);
  for (let j = 0; j < hidden; j++)
    for (let k = 0; k < 4; k++) {
      biases[8 * j + k] = read(gate(k).inputEffectiveBias)[j];
      biases[8 * j + 4 + k] = read(gate(k).hiddenEffectiveBias)[j];
    }
  return {
    inputWeights: interleave(input, (k) => read(gate(k).inputWeights)),
    hiddenWeights: interleave(hidden, (k) => read(gate(k).hiddenWeights)),
    biases,
  };
}

/**
 * The CMSIS-NN set's stacked gates: row 4j + k of each side's matrix is gate k's row j, so that
 * one arm_nn_vec_mat_mul_result_acc_s8_s16 per side leaves unit j's four gates side by side.
 */
export function stackLstmCmsisNn(op: LstmCellOp, tensor: (v: string) => IrTensor, read: Read = constant(tensor)): { inputWeights: Int8Array; hiddenWeights: Int8Array; inputBiases: Int32Array; hiddenBiases: Int32Array } {
  const { input, hidden } = lstmSizes(op, tensor);
  const stack = (columns: number, rows: (k: number) => IrData, width: number) => {
    const out = width === 1 ? new Int8Array(4 * hidden * columns) : new Int32Array(4 * hidden * columns);
    for (let j = 0; j < hidden; j++)
      for (let k = 0; k < 4; k++) out.set(rows(k).subarray(j * columns, (j + 1) * columns), (4 * j + k) * columns);
    return out;
  };
  const gate = (k: number) => op.gates[LSTM_GATES[k]];
  return {
    inputWeights: stack(input, (k) => read(gate(k).inputWeights), 1) as Int8Array,
    hiddenWeights: stack(hidden, (k) => read(gate(k).hiddenWeights), 1) as Int8Array,
    inputBiases: stack(1, (k) => read(gate(k).inputEffectiveBias), 4) as Int32Array,
    hiddenBiases: stack(1, (k) => read(gate(k).hiddenEffectiveBias), 4) as Int32Array,
  };
}
