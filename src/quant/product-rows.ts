// The rows of a fully connected product as the portable kernels compute them inside a fused
// elementwise loop (tlg_fc_w16.h: tlg_dot_rows_w16 and tlg_row_out_m): int16 weights against the
// plain int8 input widened to int16, the zero points and the bias folded into one 64-bit
// constant per row, and the requantization done by one multiply-accumulate of that constant and
// one right shift. The result is the FullyConnected reference's, exactly.
//
// For a row with accumulator acc = 2^a·Σ_k (x_k + io)(w_k + wo) + bias (a: the accumulator
// shift) and requantization (M, shift), let T = 31 - shift. The reference output is
//   clamp(floor((acc·M + 2^(T-1)) / 2^T) + zo),
// and with S = Σ_k x_k·(w_k + wo)·2^(a+d), B = bias + 2^a·io·Σ_k (w_k + wo), T' = T + d:
//   floor((acc·M + 2^(T-1)) / 2^T) + zo = floor((S·M + init) / 2^T'),
//   init = B·2^d·M + 2^(T'-1) + zo·2^T',
// provided acc never wraps (then acc·2^d = S + B·2^d exactly). The kernel takes the high word of
// S·M + init (one SMLAL) and shifts it right by T' - 32. The factor 2^a goes into the widened
// input as far as int16 allows (x·2^8 still fits), the rest into the weights. A block of rows
// gets one shift for all (T' the largest T, the rows with a smaller T carry d in their weights)
// when the scaled weights fit int16 and the scaled sums int32; otherwise each row keeps its own
// (d = 0) and the kernel reads it with the row. A row is refused when a sum could leave the
// int32 range or init the int64 range, or its multiplier is 1/2 or more.

const TWO_POW_31 = 2 ** 31;

/** A product's integer parameters (a FullyConnected op's, with its constants' values). */
export interface ProductParams {
  /** int8 [N, K], row-major. */
  weights: ArrayLike<number>;
  k: number;
  /** int32 [N], or none. */
  bias?: ArrayLike<number>;
  inputOffset: number;
  weightOffset: number;
  outputOffset: number;
  /** One per row, or one for all. */
  requant: readonly { multiplier: number; shift: number }[];
  /** FullyConnectedOp.accumulatorShift. */
  accumulatorShift?: number;
}

export interface PreparedRow {
  /** K int16 weights: (w + weightOffset)·2^(accumulatorShift - inputShift + d). */
  weights: Int16Array;
  multiplier: number;
  /** B·2^d·M + 2^(T'-1) + outputOffset·2^T'. */
  init: bigint;
  /** T' - 32: the right shift of the high word. */
  shift: number;
}

export interface PreparedBlock {
  /** The widened input is x·2^inputShift (the same for every block of a product). */
  inputShift: number;
  /** Whether every row has the same shift (then the kernel takes it as a constant). */
  uniform: boolean;
  /** Rows offset .. offset + size - 1. */
  rows: PreparedRow[];
}

/** The largest T': |init| stays below 2^62 with |zo| <= 128 (and |S·M| below 2^62). */
const MAX_TOTAL_SHIFT = 53;

/** The largest factor 2^s an int8 input takes within int16. */
const MAX_INPUT_SHIFT = 8;

/**
 * Rows offset .. offset + size - 1 of a product, prepared with one shift for all rows when the
 * weights leave room for it; or why they cannot be prepared.
 */
export function prepareProductBlock(p: ProductParams, offset: number, size: number): PreparedBlock | string {
  const rows = Array.from({ length: size }, (_, e) => offset + e);
  const requant = (r: number) => p.requant[p.requant.length === 1 ? 0 : r];
  const total = (r: number) => 31 - requant(r).shift;
  const largest = Math.max(...rows.map(total));
  const inputShift = Math.min(p.accumulatorShift ?? 0, MAX_INPUT_SHIFT);
  const common = rows.map((r) => prepareRow(p, r, requant(r), largest - total(r), inputShift));
  if (common.every((x): x is PreparedRow => typeof x !== 'string')) return { inputShift, uniform: true, rows: common };
  const own: PreparedRow[] = [];
  for (const r of rows) {
    const row = prepareRow(p, r, requant(r), 0, inputShift);
    if (typeof row === 'string') return row;
    own.push(row);
  }
  return { inputShift, uniform: own.every((x) => x.shift === own[0].shift), rows: own };
}

function prepareRow(p: ProductParams, r: number, rq: { multiplier: number; shift: number }, d: number, inputShift: number): PreparedRow | string {
  const total = 31 - rq.shift + d;
  if (rq.shift > -1) return `row ${r}: a requantization multiplier of 1/2 or more`;
  if (total > MAX_TOTAL_SHIFT) return `row ${r}: a requantization shift of ${rq.shift - d}`;
  const a = p.accumulatorShift ?? 0;
  const w = Array.from({ length: p.k }, (_, c) => p.weights[r * p.k + c] + p.weightOffset);
  const absSum = w.reduce((s, x) => s + Math.abs(x), 0);
  const folded = (p.bias ? p.bias[r] : 0) + 2 ** a * p.inputOffset * w.reduce((s, x) => s + x, 0);
  // Every partial sum of the reference and of the kernel within int32: the reference's
  // Σ (x + io)·w, its accumulator, and the kernel's scaled Σ x·w' (|x| <= 128).
  const inputMagnitude = Math.max(Math.abs(-128 + p.inputOffset), Math.abs(127 + p.inputOffset));
  if (inputMagnitude * absSum >= TWO_POW_31) return `row ${r}: its sum of products can leave the int32 range`;
  if ((2 ** a * 128 * absSum + Math.abs(folded)) * 2 ** d >= TWO_POW_31) return `row ${r}: its accumulator can leave the int32 range`;
  const scaled = w.map((x) => x * 2 ** (a - inputShift + d));
  if (scaled.some((x) => x < -32768 || x > 32767)) return `row ${r}: a weight scaled by 2^${a - inputShift + d} leaves the int16 range`;
  const init =
    BigInt(folded) * 2n ** BigInt(d) * BigInt(rq.multiplier) + 2n ** BigInt(total - 1) + BigInt(p.outputOffset) * 2n ** BigInt(total);
  return { weights: Int16Array.from(scaled), multiplier: rq.multiplier, init, shift: total - 32 };
}

/**
 * Words of a row's record as the kernels read it: {init low, init high}, then the multiplier
 * unless the kernel takes the block's shared one as a constant, then the shift unless the
 * block's rows share it.
 */
export function recordWords(block: PreparedBlock, sharedMultiplier: boolean): number {
  return 2 + (sharedMultiplier ? 0 : 1) + (block.uniform ? 0 : 1);
}

/** Writes a row's record (recordWords) at words[at], with `init` in place of the row's own. */
export function writeRowRecord(words: Int32Array, at: number, block: PreparedBlock, row: PreparedRow, sharedMultiplier: boolean, init = row.init): void {
  words[at] = Number(BigInt.asIntN(32, init));
  words[at + 1] = Number(BigInt.asIntN(32, init >> 32n));
  if (!sharedMultiplier) words[at + 2] = row.multiplier;
  if (!block.uniform) words[at + 3] = row.shift;
}
