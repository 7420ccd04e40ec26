// Products computed inside elementwise passes (src/passes/fuse-products.ts): the fusion must not
// change a single integer result, and the prepared form of a product's rows that the portable
// kernels compute (src/quant/product-rows.ts) must equal the FullyConnected reference. The C
// kernels themselves are checked against the same reference in kernels.test.ts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allGraphs, type ElementwiseOp, type FullyConnectedOp, type IrData, type IrModel, type IrTensor } from '../src/ir/ir.js';
import { productLayout } from '../src/plan/product-layout.js';
import { interpret } from '../src/ir/interpreter.js';
import { quantizeInput } from '../src/ir/io.js';
import { runFullyConnected } from '../src/ir/ops/fully-connected.js';
import { prepareProductBlock, type PreparedRow } from '../src/quant/product-rows.js';
import { quantizeMultiplier } from '../src/quant/fixed-point.js';
import { readNpy, samplesOf } from '../src/npy.js';
import { compileFile } from './support/compile.js';
import { fixture, fixtureOptions, qdqFixtures } from './support/fixtures.js';
import { cmsisNnPath } from './support/project.js';

function counts(model: IrModel) {
  const ops = allGraphs(model.graph).flatMap((g) => g.ops);
  return {
    fullyConnected: ops.filter((op) => op.kind === 'FullyConnected').length,
    folded: ops.reduce((n, op) => n + (op.kind === 'Elementwise' ? new Set(op.products.map((p) => p.op)).size : 0), 0),
  };
}

describe('products inside elementwise passes', () => {
  for (const name of qdqFixtures) {
    for (const fuseAccumulators of [false, true]) {
      it(`${name}${fuseAccumulators ? ' (--fuse-accumulators)' : ''}: the golden interpreter gives the same outputs with and without the fusion`, async () => {
        const f = fixture(name);
        const options = { ...fixtureOptions(name), fuseAccumulators };
        const [fused, apart] = await Promise.all([compileFile(f.model, options), compileFile(f.model, { ...options, fuseProducts: false })]);
        const c = counts(fused.ir);
        const layers = Number(f.meta.layers ?? 1);
        // Each layer's B products (one joined product with --fuse-accumulators) move into its loop.
        expect(c.folded).toBe(layers * (fuseAccumulators ? 1 : 2));
        expect(c.fullyConnected + c.folded).toBe(counts(apart.ir).fullyConnected);
        const io = fused.ir.inputs[0];
        const t = fused.ir.graph.tensors.get(io.tensor)!;
        const floats = [...samplesOf(readNpy(f.inputs), io.shape)!, ...samplesOf(readNpy(f.calibration), io.shape)!.slice(0, 8)];
        for (const s of floats) {
          const x: IrData[] = [quantizeInput(io, t, s)];
          expect(interpret(fused.ir, x)).toEqual(interpret(apart.ir, x));
        }
      });
    }
  }

  it.skipIf(!cmsisNnPath)('the CMSIS-NN set keeps every product a FullyConnected op', async () => {
    const f = fixture('pm-base');
    const compiled = await compileFile(f.model, { ...fixtureOptions('pm-base'), kernels: 'cmsis-nn', cmsisNnPath });
    expect(counts(compiled.ir).folded).toBe(0);
  });
});

/** What tlg_dot_rows_w16 and tlg_row_out compute for one row, in exact integers. */
function kernelRow(row: PreparedRow, inputShift: number, x: ArrayLike<number>, min: number, max: number): number {
  let s = 0n;
  for (let k = 0; k < row.weights.length; k++) s += BigInt(x[k] * 2 ** inputShift) * BigInt(row.weights[k]);
  const v = Number((s * BigInt(row.multiplier) + row.init) >> BigInt(32 + row.shift));
  return Math.min(Math.max(v, min), max);
}

describe('prepared product rows', () => {
  const params = fc.record({
    n: fc.integer({ min: 1, max: 12 }),
    k: fc.integer({ min: 1, max: 40 }),
    accumulatorShift: fc.constantFrom(0, 1, 4, 8),
    inputOffset: fc.integer({ min: -127, max: 128 }),
    weightOffset: fc.constantFrom(0, 0, 3, -5),
    outputOffset: fc.integer({ min: -128, max: 127 }),
    scales: fc.array(fc.double({ min: -16, max: -3, noNaN: true }), { minLength: 1, maxLength: 12 }),
    narrow: fc.boolean(),
    seed: fc.integer(),
  });

  it('equal the FullyConnected reference on every row, for inputs at the int8 extremes and random ones', () => {
    let prepared = 0;
    let perRow = 0;
    fc.assert(
      fc.property(params, (p) => {
        const random = fc.sample(fc.integer({ min: -128, max: 127 }), { numRuns: p.n * p.k + 3 * p.k, seed: p.seed });
        const weights = Int8Array.from(random.slice(0, p.n * p.k));
        const bias = Int32Array.from({ length: p.n }, (_, r) => (random[r] ?? 0) * 4099);
        const requant = p.scales.length >= p.n ? p.scales.slice(0, p.n).map((e) => quantizeMultiplier(2 ** e)) : [quantizeMultiplier(2 ** p.scales[0])];
        const [min, max] = p.narrow ? [-20, 100] : [-128, 127];
        const op: FullyConnectedOp = {
          kind: 'FullyConnected',
          name: 'fc',
          sources: [],
          inputs: ['x'],
          outputs: ['y'],
          weights: 'w',
          bias: 'b',
          accumulatorShift: p.accumulatorShift,
          inputOffset: p.inputOffset,
          weightOffset: p.weightOffset,
          outputOffset: p.outputOffset,
          requant,
          activationMin: min,
          activationMax: max,
          outputDtype: 'int8',
        };
        const block = prepareProductBlock({ ...op, weights, k: p.k, bias }, 0, p.n);
        if (typeof block === 'string') return;
        prepared++;
        if (!block.uniform) perRow++;
        const inputs = [new Int8Array(p.k).fill(-128), new Int8Array(p.k).fill(127), Int8Array.from(random.slice(p.n * p.k, p.n * p.k + p.k))];
        for (const x of inputs) {
          const values = new Map<string, IrData>([['x', x], ['w', weights], ['b', bias]]);
          const shapes = new Map([['x', [1, p.k]], ['w', [p.n, p.k]], ['b', [p.n]], ['y', [1, p.n]]]);
          runFullyConnected(op, {
            read: (v) => values.get(v)!,
            tensor: (v) => ({ name: v, dtype: 'int8', shape: shapes.get(v)! }),
            write: (v, d) => values.set(v, d),
          });
          const y = values.get('y')!;
          block.rows.forEach((row, r) => expect(kernelRow(row, block.inputShift, x, min, max), `row ${r}`).toBe(y[r]));
        }
      }),
      { numRuns: 300, seed: 20261203 },
    );
    expect(prepared).toBeGreaterThan(250);
    expect(perRow).toBeGreaterThan(0);
  });
});

describe('the record of constants per element (plan/product-layout.ts)', () => {
  /** A loop over `size` elements with one product of three blocks over `k` inputs. */
  function layoutFor(k: number, size = 4) {
    const n = 3 * size;
    const tensors = new Map<string, IrTensor>([
      ['x', { name: 'x', dtype: 'int8', shape: [1, k] }],
      ['w', { name: 'w', dtype: 'int8', shape: [n, k], data: Int8Array.from({ length: n * k }, (_, i) => ((i * 37) % 255) - 127) }],
      ['y', { name: 'y', dtype: 'int8', shape: [1, n] }],
    ]);
    const product: FullyConnectedOp = {
      kind: 'FullyConnected',
      name: 'fc',
      sources: [],
      inputs: ['x'],
      outputs: ['y'],
      weights: 'w',
      inputOffset: 0,
      weightOffset: 0,
      outputOffset: 0,
      requant: [quantizeMultiplier(2 ** -12)],
      activationMin: -128,
      activationMax: 127,
      outputDtype: 'int8',
    };
    const op: ElementwiseOp = {
      kind: 'Elementwise',
      name: 'loop',
      sources: [],
      inputs: ['x'],
      outputs: [],
      size,
      inputOffsets: [],
      products: [{ op: product, offsets: [0, size, 2 * size] }],
      steps: [],
      outputSlots: [],
    };
    return productLayout(op, (v) => tensors.get(v)!)!;
  }

  it('puts the last block first where one LDRD can move the pointer on, and after the weights otherwise', () => {
    // Three blocks of one shared multiplier: 2 words each, then 2·3 words per chunk of 4 inputs.
    const small = layoutFor(64);
    expect(small.unitWords).toBe(6 + 6 * 16);
    expect(small.advance).toBe(true);
    const [first, second, last] = small.products[0].blocks;
    expect([last.rowOffset, small.products[0].weightsOffset, first.rowOffset, second.rowOffset]).toEqual([0, 2, 98, 100]);
    // 4·unitWords bytes past 1020: the loop adds to its pointer, the blocks follow the weights.
    const large = layoutFor(168);
    expect(4 * large.unitWords).toBeGreaterThan(1020);
    expect(large.advance).toBe(false);
    expect(large.products[0].weightsOffset).toBe(0);
    expect(large.products[0].blocks.map((b) => b.rowOffset)).toEqual([252, 254, 256]);
  });
});
