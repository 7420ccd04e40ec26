// Where the portable kernels keep what an Elementwise op's products need (tlg_fc_w16.h): the
// planner sizes it (the scratch for the widened vectors, the constants in flash) and the
// emitter (src/emit/kernels/elementwise.ts) packs it, both from this one description.
//
// Constants: one int32 array with a record per element e, `unitWords` words each:
//   - per product: its rows' weights as words of two int16 lanes, chunk by chunk (four
//     columns), the block's rows in turn within a chunk: (w[4c], w[4c+2]), (w[4c+1], w[4c+3]),
//     the lane order tlg_widen_lanes gives the input;
//   - per product, per block: the row's prepared requantization {init low, init high,
//     multiplier}, and its shift when the block's rows do not share one; only {init low, init
//     high} when the block's rows share their shift and multiplier (a per-tensor product),
//     which the loop then takes as constants.
// The loop reads the last block's requantization last, so it comes first in the record: the
// load of its init moves the loop's pointer on to the next record (`advance`, an LDRD with
// post-increment, whose offset reaches 1020 bytes), then the weights, then the other blocks'.
// Scratch: each vector input widened to the same lanes (8 bytes per chunk) and scaled by the
// input shift of the products that read it (once per shift), one after the other.

import type { ElementwiseOp, IrTensor } from '../ir/ir.js';
import { prepareProductBlock, recordWords, type PreparedBlock } from '../quant/product-rows.js';
import { productParams } from '../ir/ops/fused-elementwise.js';
import { invariant } from '../diagnostics.js';

/** The largest post-increment of an LDRD (Thumb-2: a multiple of 4 up to 1020). */
const MAX_POST_INCREMENT_BYTES = 1020;

export interface ProductLayout {
  unitWords: number;
  /** Whether the load of the last block's init moves the record pointer on (it is at word 0). */
  advance: boolean;
  /** The vector inputs (op.inputs after the element inputs) as widened, and their words in the scratch. */
  vectors: { value: string; depth: number; shift: number; offsetWords: number }[];
  scratchBytes: number;
  products: {
    /** Index into `vectors`. */
    vector: number;
    chunks: number;
    /** Word offset of the weights in the element's record. */
    weightsOffset: number;
    /** multiplier: the rows' common multiplier, when they share it and their shift. */
    blocks: { rowOffset: number; prepared: PreparedBlock; multiplier?: number }[];
  }[];
}

/** The layout of the op's products, or undefined when it has none. */
export function productLayout(op: ElementwiseOp, tensor: (v: string) => IrTensor): ProductLayout | undefined {
  if (op.products.length === 0) return undefined;
  const vectors: ProductLayout['vectors'] = [];
  let scratchWords = 0;
  const widened = (value: string, shift: number) => {
    const known = vectors.findIndex((v) => v.value === value && v.shift === shift);
    if (known >= 0) return known;
    invariant(op.inputs.slice(op.inputOffsets.length).includes(value), `a product of ${op.name} reads ${value}, no vector input of the op`);
    const depth = tensor(value).shape.reduce((a, b) => a * b, 1);
    vectors.push({ value, depth, shift, offsetWords: scratchWords });
    scratchWords += 2 * Math.ceil(depth / 4);
    return vectors.length - 1;
  };
  let words = 0;
  const products = op.products.map((p) => {
    const params = productParams(p.op, tensor);
    invariant(params, `product ${p.op.name} of ${op.name} has no constant weights`);
    const k = params.k;
    const blocks = p.offsets.map((offset) => {
      const prepared = prepareProductBlock(params, offset, op.size);
      invariant(typeof prepared !== 'string', () => `product ${p.op.name} of ${op.name} cannot be prepared: ${prepared}`);
      const multiplier = prepared.rows[0].multiplier;
      const shared = prepared.uniform && prepared.rows.every((r) => r.multiplier === multiplier);
      return { rowOffset: 0, prepared, ...(shared ? { multiplier } : {}) };
    });
    const vector = widened(p.op.inputs[0], blocks[0].prepared.inputShift);
    const chunks = Math.ceil(k / 4);
    const weightsOffset = words;
    words += 2 * blocks.length * chunks;
    return { vector, chunks, weightsOffset, blocks };
  });
  const blocks = products.flatMap((p) => p.blocks);
  const last = blocks[blocks.length - 1];
  const size = (b: (typeof blocks)[number]) => recordWords(b.prepared, b.multiplier !== undefined);
  for (const b of blocks.slice(0, -1)) {
    b.rowOffset = words;
    words += size(b);
  }
  const unitWords = words + size(last);
  const advance = 4 * unitWords <= MAX_POST_INCREMENT_BYTES;
  // With advance, everything moves up behind the last block's requantization.
  const moved = advance ? size(last) : 0;
  for (const p of products) p.weightsOffset += moved;
  for (const b of blocks.slice(0, -1)) b.rowOffset += moved;
  last.rowOffset = advance ? 0 : words;
  return { unitWords, advance, vectors, scratchBytes: 4 * scratchWords, products };
}
