// Random cases of the integer IR's ops, with the results of their TypeScript references
// (src/ir/ops/), encoded for the C test drivers (kernels_driver.c, cmsis_nn_driver.c).
//
// Each generator is a fast-check arbitrary of a case's parameters and data, biased towards the
// edges: int8 values of -128 and 127, and sizes that leave the 4-wide loops a remainder. With
// `extreme` ranges it also draws any multiplier with any shift and int32 extremes in biases,
// which bring requantized values close to the int32 limits (where the references add exactly
// what CMSIS-NN adds in wrapping int32: see cmsis-nn-reference.test.ts). `sampleCases` draws
// with a fixed seed, so every run sees the same cases. A case encodes itself in the layout the
// drivers read: the payload layouts are defined here, one `encode` per op, and nowhere else.

import fc from 'fast-check';
import { expect } from 'vitest';
import type {
  AddOp,
  ConcatOp,
  CopyOp,
  FullyConnectedOp,
  IrData,
  IrTensor,
  LstmCellOp,
  LstmGate,
  LutOp,
  MatMulOp,
  MulOp,
  Requant,
  RequantizeOp,
  SoftmaxOp,
} from '../../src/ir/ir.js';
import type { Env } from '../../src/ir/ops/env.js';
import { runFullyConnected } from '../../src/ir/ops/fully-connected.js';
import { runMatMul } from '../../src/ir/ops/matmul.js';
import { addRequants, runAdd, runMul } from '../../src/ir/ops/elementwise.js';
import { runRequantize } from '../../src/ir/ops/requantize.js';
import { runLut } from '../../src/ir/ops/lut.js';
import { runSoftmax, softmaxParams } from '../../src/ir/ops/softmax.js';
import { runConcat, runCopy } from '../../src/ir/ops/views.js';
import { activationS16, runLstmCell } from '../../src/ir/ops/lstm-cell.js';
import { quantizeMultiplier, requantize } from '../../src/quant/fixed-point.js';
import {
  activationScale,
  activationSegments,
  cellRange,
  fastRequant,
  packLstmPortable,
} from '../../src/emit/kernels/lstm-layout.js';
import { CaseWriter, ResultReader, type IntArray } from './case-stream.js';
import type { ElementwiseOp } from '../../src/ir/ir.js';
import { prepareProductBlock } from '../../src/quant/product-rows.js';
import { productLayout } from '../../src/plan/product-layout.js';
import { packProducts } from '../../src/emit/kernels/elementwise.js';
import { packRowGroups, packRowRecords } from '../../src/emit/kernels/portable.js';
import { wideFullyConnected } from '../../src/plan/kernel-needs.js';

/** The op codes of test/support/case_ops.h. */
export const CaseOp = {
  RequantizeValues: 1,
  FullyConnected: 2,
  MatMul: 3,
  Add: 4,
  Mul: 5,
  Requantize: 6,
  Lut: 7,
  Softmax: 8,
  Copy: 9,
  Concat: 10,
  ActivationS16: 11,
  Lstm: 12,
  Products: 13,
  HighMultiply: 14,
} as const;

export type CaseKind = keyof typeof CaseOp;

export interface KernelCase {
  kind: CaseKind;
  /** The case's shape and parameters, for failure messages. */
  label: string;
  encode(w: CaseWriter): void;
  /** The references' results, in the order the drivers write them. */
  expected: IntArray[];
}

/** Draws `count` cases from `arbitrary`, the same ones on every run. */
export function sampleCases(
  arbitrary: fc.Arbitrary<KernelCase>,
  count: number,
  seed: number,
): KernelCase[] {
  return fc.sample(arbitrary, { numRuns: count, seed });
}

// ---- The environment the references run in ----------------------------------------------------

class CaseEnv implements Env {
  private readonly tensors = new Map<string, IrTensor>();
  private readonly values = new Map<string, IrData>();

  /** Declares a tensor; with data it is a constant or an input. */
  put(name: string, dtype: IrTensor['dtype'], shape: number[], data?: IrData): string {
    this.tensors.set(name, { name, dtype, shape, data });
    if (data) this.values.set(name, data);
    return name;
  }

  read(name: string): IrData {
    const v = this.values.get(name);
    if (!v) throw new Error(`case value ${name} was never written`);
    return v;
  }

  tensor(name: string): IrTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`case tensor ${name} is not declared`);
    return t;
  }

  write(name: string, data: IrData): void {
    this.values.set(name, data);
  }
}

const base = { sources: [] as string[] };

// ---- Value arbitraries ------------------------------------------------------------------------

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** int8 values with -128 and 127 a fifth of the time. */
const int8Value = fc.oneof(
  { arbitrary: fc.integer({ min: -128, max: 127 }), weight: 4 },
  { arbitrary: fc.constantFrom(-128, 127), weight: 1 },
);

function int8Array(length: number): fc.Arbitrary<Int8Array> {
  return fc
    .oneof(
      { arbitrary: fc.array(int8Value, { minLength: length, maxLength: length }), weight: 8 },
      {
        arbitrary: fc.constantFrom(-128, 127).map((v) => Array<number>(length).fill(v)),
        weight: 1,
      },
    )
    .map((a) => Int8Array.from(a));
}

function int16Array(length: number): fc.Arbitrary<Int16Array> {
  const value = fc.oneof(
    { arbitrary: fc.integer({ min: -32768, max: 32767 }), weight: 4 },
    { arbitrary: fc.constantFrom(-32768, 32767, 0), weight: 1 },
  );
  return fc.array(value, { minLength: length, maxLength: length }).map((a) => Int16Array.from(a));
}

/** The ranges cases are drawn from. */
export interface Ranges {
  /** Any multiplier with any shift in [-31, 30], and int32 extremes in biases; otherwise the
   *  scales a compiler derives and biases within +-magnitude. */
  extreme: boolean;
}

function int32Array(length: number, magnitude: number, extreme = true): fc.Arbitrary<Int32Array> {
  const value = fc.oneof(
    { arbitrary: fc.integer({ min: -magnitude, max: magnitude }), weight: 8 },
    {
      arbitrary: extreme
        ? fc.constantFrom(INT32_MIN, INT32_MAX)
        : fc.constantFrom(-magnitude, magnitude),
      weight: 1,
    },
  );
  return fc.array(value, { minLength: length, maxLength: length }).map((a) => Int32Array.from(a));
}

/** An input offset (a negated int8 zero point): [-127, 128]. */
const inputOffset = fc.oneof(fc.integer({ min: -127, max: 128 }), fc.constantFrom(-127, 0, 128));
const outputOffset = fc.oneof(fc.integer({ min: -128, max: 127 }), fc.constantFrom(-128, 0, 127));

/** [min, max] within int8: the full range, a ReLU-like lower bound, or any pair. */
const activationRange = fc.oneof(
  fc.constant([-128, 127] as [number, number]),
  outputOffset.map((z) => [z, 127] as [number, number]),
  fc
    .tuple(fc.integer({ min: -128, max: 127 }), fc.integer({ min: -128, max: 127 }))
    .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]),
);

/**
 * A requantization: the quantized form of a real scale 2^e with e in [lo, hi] (what the
 * compiler derives from scales), and with `extreme` a quarter of the time any multiplier with
 * any shift in [-31, 30].
 */
function requantArb(lo: number, hi: number, extreme: boolean): fc.Arbitrary<Requant> {
  const realistic = fc
    .double({ min: lo, max: hi, noNaN: true })
    .map((e) => quantizeMultiplier(2 ** e));
  const multiplier = fc.oneof(
    fc.integer({ min: 2 ** 30, max: INT32_MAX }),
    fc.constantFrom(1, 2 ** 30, INT32_MAX, 1518500250),
    fc.integer({ min: 1, max: INT32_MAX }),
  );
  const any = fc.record({ multiplier, shift: fc.integer({ min: -31, max: 30 }) });
  return extreme
    ? fc.oneof({ arbitrary: realistic, weight: 3 }, { arbitrary: any, weight: 1 })
    : realistic;
}

/** Sizes that often leave a remainder after multiples of 4. */
const size = (max: number) =>
  fc.oneof(fc.integer({ min: 1, max }), fc.constantFrom(1, 3, 4, 5, 7, 8, 9));

const describeRequant = (r: Requant) => `${r.multiplier}*2^${r.shift}`;

// ---- Requantization itself ----------------------------------------------------------------------

/** arm_nn_requantize on value, multiplier and shift triples over the whole int32 range. */
export const requantizeValuesCase: fc.Arbitrary<KernelCase> = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.integer({ min: INT32_MIN, max: INT32_MAX }),
        fc.integer({ min: -70000, max: 70000 }),
        fc.constantFrom(INT32_MIN, INT32_MAX, -1, 0, 1),
      ),
      fc.oneof(
        fc.integer({ min: INT32_MIN + 1, max: INT32_MAX }),
        fc.integer({ min: 2 ** 30, max: INT32_MAX }),
        fc.constantFrom(1, 2 ** 30, INT32_MAX, -INT32_MAX),
      ),
      fc.integer({ min: -31, max: 30 }),
    ),
    { minLength: 1, maxLength: 200 },
  )
  .map((triples): KernelCase => {
    const values = Int32Array.from(triples, (t) => t[0]);
    const multipliers = Int32Array.from(triples, (t) => t[1]);
    const shifts = Int32Array.from(triples, (t) => t[2]);
    return {
      kind: 'RequantizeValues',
      label: `requantize ${triples.length} triples, first (${triples[0].join(', ')})`,
      encode: (w) =>
        w.begin(CaseOp.RequantizeValues).array(values).array(multipliers).array(shifts),
      expected: [Int32Array.from(triples, ([v, m, s]) => requantize(v, m, s))],
    };
  });

// ---- FullyConnected ---------------------------------------------------------------------------

export interface FullyConnectedOptions extends Ranges {
  /** Draw int32-output (MatMulInteger) cases too. */
  int32Output: boolean;
  /** Draw nonzero weight offsets (CMSIS-NN documents filter_offset 0). */
  weightOffset: boolean;
  /** Draw accumulator shifts (the portable kernels' finer biases; CMSIS-NN has none). */
  accumulatorShift?: boolean;
}

export function fullyConnectedCase(options: FullyConnectedOptions): fc.Arbitrary<KernelCase> {
  return fc
    .record({
      batches: fc.integer({ min: 1, max: 3 }),
      depth: size(40),
      channels: size(19),
      perChannel: fc.boolean(),
      int32Output: options.int32Output
        ? fc.oneof(
            { arbitrary: fc.constant(true), weight: 1 },
            { arbitrary: fc.constant(false), weight: 3 },
          )
        : fc.constant(false),
      hasBias: fc.oneof(
        { arbitrary: fc.constant(true), weight: 3 },
        { arbitrary: fc.constant(false), weight: 1 },
      ),
    })
    .chain((s) =>
      fc.record({
        s: fc.constant(s),
        input: int8Array(s.batches * s.depth),
        weights: int8Array(s.channels * s.depth),
        bias: int32Array(s.channels, 1 << 20, options.extreme),
        inputOffset,
        weightOffset: options.weightOffset ? fc.oneof(fc.constant(0), inputOffset) : fc.constant(0),
        outputOffset,
        activation: activationRange,
        requant: fc.array(requantArb(-16, -4, options.extreme), {
          minLength: s.perChannel ? s.channels : 1,
          maxLength: s.perChannel ? s.channels : 1,
        }),
        // A real-valued bias kept with extra bits (FullyConnectedOp.accumulatorShift).
        accumulatorShift: s.int32Output || !options.accumulatorShift ? fc.constant(0) : fc.constantFrom(0, 0, 1, 5, 8),
      }),
    )
    .map(
      ({
        s,
        input,
        weights,
        bias,
        inputOffset: io,
        weightOffset: wo,
        outputOffset: oo,
        activation,
        requant,
        accumulatorShift,
      }): KernelCase => {
        const env = new CaseEnv();
        const op: FullyConnectedOp = {
          ...base,
          kind: 'FullyConnected',
          name: 'fc',
          inputs: [env.put('x', 'int8', [s.batches, s.depth], input)],
          outputs: [env.put('y', s.int32Output ? 'int32' : 'int8', [s.batches, s.channels])],
          weights: env.put('w', 'int8', [s.channels, s.depth], weights),
          bias: s.hasBias ? env.put('b', 'int32', [s.channels], bias) : undefined,
          accumulatorShift,
          inputOffset: io,
          weightOffset: wo,
          outputOffset: s.int32Output ? 0 : oo,
          requant,
          activationMin: activation[0],
          activationMax: activation[1],
          outputDtype: s.int32Output ? 'int32' : 'int8',
        };
        runFullyConnected(op, env);
        // The rows as tlg_fc_rows_s8 reads them, where the generated code would use it.
        const rows = wideFullyConnected(op, 'portable', 'fast', (v) => env.tensor(v));
        return {
          kind: 'FullyConnected',
          label: `FC ${s.batches}x${s.depth} -> ${s.channels}${s.int32Output ? ' int32' : ''} offsets ${io}/${wo}/${oo} requant ${requant.map(describeRequant).join(',')} act [${activation}]${s.hasBias ? '' : ' no bias'}${accumulatorShift ? ` sum<<${accumulatorShift}` : ''}${rows ? `, prepared rows${rows.uniform ? '' : ' (own shifts)'}` : ''}`,
          encode: (w) =>
            w
              .begin(CaseOp.FullyConnected)
              .i32(
                s.int32Output ? 1 : 0,
                s.batches,
                s.depth,
                s.channels,
                io,
                wo,
                op.outputOffset,
                activation[0],
                activation[1],
                s.perChannel ? 1 : 0,
                accumulatorShift,
              )
              .array(Int32Array.from(requant, (r) => r.multiplier))
              .array(Int32Array.from(requant, (r) => r.shift))
              .array(input)
              .array(weights)
              .array(s.hasBias ? bias : new Int32Array(0))
              .i32(rows ? 1 : 0, rows?.inputShift ?? 0, rows && !rows.uniform ? 1 : 0, rows?.rows[0].shift ?? 0)
              .array(rows ? packRowGroups(s.channels, s.depth, (r, c) => rows.rows[r].weights[c]) : new Int32Array(0))
              .array(rows ? packRowRecords(rows) : new Int32Array(0)),
          expected: [env.read('y') as IntArray],
        };
      },
    );
}

// ---- MatMul -----------------------------------------------------------------------------------

/** An operand's batch shape for an output batch shape: a suffix of it, some dimensions 1. */
function operandBatch(out: number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: out.length }),
      fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    )
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** Elements an operand advances per step of each output batch dimension (0: broadcast). */
function batchStrides(out: number[], operand: number[], matrix: number): number[] {
  const strides = Array<number>(out.length).fill(0);
  let stride = matrix;
  for (let d = out.length - 1, s = operand.length - 1; d >= 0 && s >= 0; d--, s--) {
    if (operand[s] !== 1) strides[d] = stride;
    stride *= operand[s];
  }
  return strides;
}

export const matMulCase = (ranges: Ranges): fc.Arbitrary<KernelCase> =>
  fc
    .record({
      batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
      m: size(5),
      k: size(9),
      n: size(5),
      int32Output: fc.boolean(),
    })
    .chain((s) =>
      fc.record({
        s: fc.constant(s),
        aBatch: operandBatch(s.batch),
        bBatch: operandBatch(s.batch),
      }),
    )
    .chain(({ s, aBatch, bBatch }) => {
      const count = (shape: number[]) => shape.reduce((x, y) => x * y, 1);
      return fc.record({
        s: fc.constant(s),
        aBatch: fc.constant(aBatch),
        bBatch: fc.constant(bBatch),
        a: int8Array(count(aBatch) * s.m * s.k),
        b: int8Array(count(bBatch) * s.k * s.n),
        aOffset: inputOffset,
        bOffset: inputOffset,
        outputOffset,
        requant: requantArb(-14, -4, ranges.extreme),
      });
    })
    .map(({ s, aBatch, bBatch, a, b, aOffset, bOffset, outputOffset: oo, requant }): KernelCase => {
      // The output's batch shape is what numpy broadcasting gives; batch dims of size 1 in both
      // operands stay 1.
      const outBatch = s.batch.map((d, i) => {
        const from = (shape: number[]) => shape[i - (s.batch.length - shape.length)] ?? 1;
        return Math.max(from(aBatch), from(bBatch));
      });
      const env = new CaseEnv();
      const op: MatMulOp = {
        ...base,
        kind: 'MatMul',
        name: 'matmul',
        inputs: [
          env.put('a', 'int8', [...aBatch, s.m, s.k], a),
          env.put('b', 'int8', [...bBatch, s.k, s.n], b),
        ],
        outputs: [env.put('y', s.int32Output ? 'int32' : 'int8', [...outBatch, s.m, s.n])],
        aOffset,
        bOffset,
        outputOffset: s.int32Output ? 0 : oo,
        requant,
        outputDtype: s.int32Output ? 'int32' : 'int8',
      };
      runMatMul(op, env);
      return {
        kind: 'MatMul',
        label: `MatMul [${aBatch}|${s.m}x${s.k}] x [${bBatch}|${s.k}x${s.n}] -> [${outBatch}]${s.int32Output ? ' int32' : ''} offsets ${aOffset}/${bOffset}/${op.outputOffset} requant ${describeRequant(requant)}`,
        encode: (w) =>
          w
            .begin(CaseOp.MatMul)
            .i32(
              s.int32Output ? 1 : 0,
              aOffset,
              bOffset,
              op.outputOffset,
              requant.multiplier,
              requant.shift,
              s.m,
              s.k,
              s.n,
            )
            .array(Int32Array.from(outBatch))
            .array(Int32Array.from(batchStrides(outBatch, aBatch, s.m * s.k)))
            .array(Int32Array.from(batchStrides(outBatch, bBatch, s.k * s.n)))
            .array(a)
            .array(b),
        expected: [env.read('y') as IntArray],
      };
    });

// ---- Elementwise ------------------------------------------------------------------------------

/**
 * Add and Sub: the parameters TFLite derives from three scales (input shifts <= 0, as
 * arm_elementwise_add_s8 expects, left shift 20), and with `extreme` an arbitrary output
 * requantization and a left shift anywhere in [0, 20].
 */
export const addCase = (ranges: Ranges): fc.Arbitrary<KernelCase> =>
  fc
    .record({
      n: size(37),
      scales: fc.tuple(
        fc.double({ min: -10, max: 0, noNaN: true }),
        fc.double({ min: -10, max: 0, noNaN: true }),
        fc.double({ min: -10, max: 0, noNaN: true }),
      ),
      subtract: fc.boolean(),
      leftShift: ranges.extreme
        ? fc.oneof(
            { arbitrary: fc.constant(20), weight: 3 },
            { arbitrary: fc.integer({ min: 0, max: 20 }), weight: 1 },
          )
        : fc.constant(20),
      output: fc.option(requantArb(-22, -8, ranges.extreme), { nil: undefined }),
      offsets: fc.tuple(inputOffset, inputOffset, outputOffset),
      activation: activationRange,
    })
    .chain((s) => fc.record({ s: fc.constant(s), a: int8Array(s.n), b: int8Array(s.n) }))
    .map(({ s, a, b }): KernelCase => {
      const derived = addRequants(2 ** s.scales[0], 2 ** s.scales[1], 2 ** s.scales[2], s.subtract);
      const output = s.output ?? derived.output;
      const env = new CaseEnv();
      const op: AddOp = {
        ...base,
        kind: 'Add',
        name: 'add',
        inputs: [env.put('a', 'int8', [s.n], a), env.put('b', 'int8', [s.n], b)],
        outputs: [env.put('y', 'int8', [s.n])],
        input1Offset: s.offsets[0],
        input1: derived.input1,
        input2Offset: s.offsets[1],
        input2: derived.input2,
        leftShift: s.leftShift,
        outputOffset: s.offsets[2],
        output,
        activationMin: s.activation[0],
        activationMax: s.activation[1],
      };
      runAdd(op, env);
      return {
        kind: 'Add',
        label: `${s.subtract ? 'Sub' : 'Add'} n=${s.n} offsets ${s.offsets} in ${describeRequant(op.input1)} ${describeRequant(op.input2)} << ${s.leftShift} out ${describeRequant(output)} act [${s.activation}]`,
        encode: (w) =>
          w
            .begin(CaseOp.Add)
            .i32(
              op.input1Offset,
              op.input1.multiplier,
              op.input1.shift,
              op.input2Offset,
              op.input2.multiplier,
              op.input2.shift,
            )
            .i32(
              op.leftShift,
              op.outputOffset,
              output.multiplier,
              output.shift,
              op.activationMin,
              op.activationMax,
            )
            .array(a)
            .array(b),
        expected: [env.read('y') as IntArray],
      };
    });

export const mulCase = (ranges: Ranges): fc.Arbitrary<KernelCase> =>
  fc
    .record({
      n: size(37),
      offsets: fc.tuple(inputOffset, inputOffset, outputOffset),
      output: requantArb(-16, -6, ranges.extreme),
      activation: activationRange,
    })
    .chain((s) => fc.record({ s: fc.constant(s), a: int8Array(s.n), b: int8Array(s.n) }))
    .map(({ s, a, b }): KernelCase => {
      const env = new CaseEnv();
      const op: MulOp = {
        ...base,
        kind: 'Mul',
        name: 'mul',
        inputs: [env.put('a', 'int8', [s.n], a), env.put('b', 'int8', [s.n], b)],
        outputs: [env.put('y', 'int8', [s.n])],
        input1Offset: s.offsets[0],
        input2Offset: s.offsets[1],
        outputOffset: s.offsets[2],
        output: s.output,
        activationMin: s.activation[0],
        activationMax: s.activation[1],
      };
      runMul(op, env);
      return {
        kind: 'Mul',
        label: `Mul n=${s.n} offsets ${s.offsets} out ${describeRequant(s.output)} act [${s.activation}]`,
        encode: (w) =>
          w
            .begin(CaseOp.Mul)
            .i32(
              op.input1Offset,
              op.input2Offset,
              op.outputOffset,
              s.output.multiplier,
              s.output.shift,
              op.activationMin,
              op.activationMax,
            )
            .array(a)
            .array(b),
        expected: [env.read('y') as IntArray],
      };
    });

export const requantizeCase = (ranges: Ranges): fc.Arbitrary<KernelCase> =>
  fc
    .record({ n: size(37), inputOffset, outputOffset, requant: requantArb(-3, 3, ranges.extreme) })
    .chain((s) => fc.record({ s: fc.constant(s), x: int8Array(s.n) }))
    .map(({ s, x }): KernelCase => {
      const env = new CaseEnv();
      const op: RequantizeOp = {
        ...base,
        kind: 'Requantize',
        name: 'requantize',
        inputs: [env.put('x', 'int8', [s.n], x)],
        outputs: [env.put('y', 'int8', [s.n])],
        inputOffset: s.inputOffset,
        outputOffset: s.outputOffset,
        requant: s.requant,
      };
      runRequantize(op, env);
      return {
        kind: 'Requantize',
        label: `Requantize n=${s.n} offsets ${s.inputOffset}/${s.outputOffset} ${describeRequant(s.requant)}`,
        encode: (w) =>
          w
            .begin(CaseOp.Requantize)
            .i32(s.inputOffset, s.outputOffset, s.requant.multiplier, s.requant.shift)
            .array(x),
        expected: [env.read('y') as IntArray],
      };
    });

export const lutCase: fc.Arbitrary<KernelCase> = fc
  .record({ n: size(300) })
  .chain((s) => fc.record({ table: int8Array(256), x: int8Array(s.n) }))
  .map(({ table, x }): KernelCase => {
    const env = new CaseEnv();
    const op: LutOp = {
      ...base,
      kind: 'Lut',
      name: 'lut',
      inputs: [env.put('x', 'int8', [x.length], x)],
      outputs: [env.put('y', 'int8', [x.length])],
      table: env.put('table', 'int8', [256], table),
      function: 'random',
    };
    runLut(op, env);
    return {
      kind: 'Lut',
      label: `Lut n=${x.length}`,
      encode: (w) => w.begin(CaseOp.Lut).array(table).array(x),
      expected: [env.read('y') as IntArray],
    };
  });

// ---- Softmax ----------------------------------------------------------------------------------

/** Softmax of `x` ([rows, rowSize]) with the parameters softmaxParams derives from an input
 *  scale of 2^inputScaleLog2 and beta. */
export function softmaxOf(
  x: Int8Array,
  rows: number,
  rowSize: number,
  inputScaleLog2: number,
  beta = 1,
): KernelCase {
  const params = softmaxParams(2 ** inputScaleLog2, beta);
  const env = new CaseEnv();
  const op: SoftmaxOp = {
    ...base,
    kind: 'Softmax',
    name: 'softmax',
    inputs: [env.put('x', 'int8', [rows, rowSize], x)],
    outputs: [env.put('y', 'int8', [rows, rowSize])],
    ...params,
  };
  runSoftmax(op, env);
  return {
    kind: 'Softmax',
    label: `Softmax ${rows}x${rowSize} scale 2^${inputScaleLog2.toFixed(3)} beta ${beta} -> ${params.multiplier}<<${params.shift} diffMin ${params.diffMin}`,
    encode: (w) =>
      w
        .begin(CaseOp.Softmax)
        .i32(params.multiplier, params.shift, params.diffMin, rows, rowSize)
        .array(x),
    expected: [env.read('y') as IntArray],
  };
}

export const softmaxCase: fc.Arbitrary<KernelCase> = fc
  .record({
    rows: fc.integer({ min: 1, max: 3 }),
    rowSize: fc.oneof(size(40), fc.constantFrom(1, 2, 100, 255)),
    inputScaleLog2: fc.oneof(
      fc.double({ min: -10, max: 2, noNaN: true }),
      fc.constantFrom(-8, -4, 0),
    ),
    beta: fc.oneof(
      { arbitrary: fc.constant(1), weight: 3 },
      { arbitrary: fc.double({ min: 0.25, max: 4, noNaN: true }), weight: 1 },
    ),
  })
  .chain((s) => fc.record({ s: fc.constant(s), x: int8Array(s.rows * s.rowSize) }))
  .map(({ s, x }) => softmaxOf(x, s.rows, s.rowSize, s.inputScaleLog2, s.beta));

// ---- Views ------------------------------------------------------------------------------------

type ViewDtype = 'int8' | 'int16' | 'int32';
const viewDtype = fc.constantFrom<ViewDtype>('int8', 'int16', 'int32');
const widthOf = (d: ViewDtype) => (d === 'int8' ? 1 : d === 'int16' ? 2 : 4);

function viewData(dtype: ViewDtype, n: number): fc.Arbitrary<IntArray> {
  if (dtype === 'int8') return int8Array(n);
  if (dtype === 'int16') return int16Array(n);
  return int32Array(n, INT32_MAX);
}

/** Copy: any output shape up to 6-D with strides of any sign, 0 included. */
export const copyCase: fc.Arbitrary<KernelCase> = fc
  .record({
    dtype: viewDtype,
    dims: fc.array(
      fc.record({
        extent: fc.integer({ min: 1, max: 4 }),
        stride: fc.integer({ min: -7, max: 7 }),
      }),
      { maxLength: 6 },
    ),
    slack: fc.integer({ min: 0, max: 5 }),
  })
  .chain((s) => {
    // The offset puts the smallest index at `slack`, the input ends `slack` after the largest.
    const low = s.dims.reduce((acc, d) => acc + (d.extent - 1) * Math.min(0, d.stride), 0);
    const high = s.dims.reduce((acc, d) => acc + (d.extent - 1) * Math.max(0, d.stride), 0);
    const offset = s.slack - low;
    const length = offset + high + 1 + s.slack;
    return fc.record({
      s: fc.constant(s),
      offset: fc.constant(offset),
      x: viewData(s.dtype, length),
    });
  })
  .map(({ s, offset, x }): KernelCase => {
    const shape = s.dims.map((d) => d.extent);
    const strides = s.dims.map((d) => d.stride);
    const env = new CaseEnv();
    const op: CopyOp = {
      ...base,
      kind: 'Copy',
      name: 'copy',
      inputs: [env.put('x', s.dtype, [x.length], x)],
      outputs: [env.put('y', s.dtype, shape)],
      offset,
      strides,
    };
    runCopy(op, env);
    return {
      kind: 'Copy',
      label: `Copy ${s.dtype} [${shape}] strides [${strides}] offset ${offset} from ${x.length}`,
      encode: (w) =>
        w
          .begin(CaseOp.Copy)
          .i32(widthOf(s.dtype), shape.length, offset)
          .array(Int32Array.from(shape))
          .array(Int32Array.from(strides))
          .array(x),
      expected: [env.read('y') as IntArray],
    };
  });

export const concatCase: fc.Arbitrary<KernelCase> = fc
  .record({
    dtype: viewDtype,
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
    parts: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 4 }),
    axisPick: fc.nat(),
  })
  .chain((s) => {
    const axis = s.axisPick % s.shape.length;
    const shapes = s.parts.map((extent) => s.shape.map((d, i) => (i === axis ? extent : d)));
    const count = (shape: number[]) => shape.reduce((x, y) => x * y, 1);
    return fc.record({
      s: fc.constant(s),
      axis: fc.constant(axis),
      shapes: fc.constant(shapes),
      data: fc.tuple(...shapes.map((shape) => viewData(s.dtype, count(shape)))),
    });
  })
  .map(({ s, axis, shapes, data }): KernelCase => {
    const env = new CaseEnv();
    const outShape = s.shape.map((d, i) => (i === axis ? s.parts.reduce((x, y) => x + y, 0) : d));
    const op: ConcatOp = {
      ...base,
      kind: 'Concat',
      name: 'concat',
      inputs: shapes.map((shape, p) => env.put(`x${p}`, s.dtype, shape, data[p])),
      outputs: [env.put('y', s.dtype, outShape)],
      axis,
    };
    runConcat(op, env);
    const inner = (shape: number[]) => shape.slice(axis).reduce((x, y) => x * y, 1);
    const outer = outShape.slice(0, axis).reduce((x, y) => x * y, 1);
    return {
      kind: 'Concat',
      label: `Concat ${s.dtype} axis ${axis} of ${shapes.map((sh) => `[${sh}]`).join(' ')}`,
      encode: (w) => {
        w.begin(CaseOp.Concat)
          .i32(widthOf(s.dtype), outer, inner(outShape))
          .array(Int32Array.from(shapes, inner));
        for (const d of data) w.array(d);
      },
      expected: [env.read('y') as IntArray],
    };
  });

// ---- int16 activation and LSTM ------------------------------------------------------------------

/** tlg_fast_requant as the drivers read it: rounding (low word, high word), low, high, shift. */
function fastRequantWords(r: Requant): number[] {
  const f = fastRequant(r);
  return [Number(BigInt.asIntN(32, f.rounding)), Number(f.rounding >> 32n), f.low, f.high, f.rightShift];
}

/**
 * Every int16 value through sigmoid or tanh at one left shift. With `portable`, the case also
 * carries what the portable kernel reads: the input scaling and the segments prepared from the
 * table (src/emit/kernels/lstm-layout.ts).
 */
export function activationCase(
  leftShift: number,
  type: 'sigmoid' | 'tanh',
  table: Uint16Array,
  values?: Int16Array,
  portable = false,
): KernelCase {
  const x = values ?? Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
  const scale = activationScale(leftShift);
  return {
    kind: 'ActivationS16',
    label: `${type} left shift ${leftShift} over ${x.length} values`,
    encode: (w) => {
      w.begin(CaseOp.ActivationS16)
        .i32(leftShift, type === 'sigmoid' ? 0 : 1)
        .array(table)
        .array(x);
      if (portable) {
        w.i32(scale.multiplier, scale.rounding, scale.shift).array(activationSegments(table, type));
      }
    },
    expected: [Int16Array.from(x, (v) => activationS16(v, leftShift, type, table))],
  };
}

/** A table that is not sigmoid, not monotonic: the unsigned arithmetic must agree anyway. */
export const randomTable: fc.Arbitrary<Uint16Array> = fc
  .array(fc.integer({ min: 0, max: 65535 }), { minLength: 256, maxLength: 256 })
  .map((a) => Uint16Array.from(a));

const GATES = ['forget', 'input', 'cell', 'output'] as const;

export interface LstmOptions extends Ranges {
  table: Uint16Array;
  /** Draw batch-major sequences too (the driver must support them). */
  batchMajor: boolean;
  maxSteps: number;
  /**
   * Also encode what the portable kernels read (weights in both layouts, biases,
   * requantizations and activation segments prepared by src/emit/kernels/lstm-layout.ts).
   * kernels_driver.c runs the sequence three times, through tlg_lstm_step_s8 (fast layout),
   * through plain C gate products with tlg_lstm_update_s16 (the CMSIS-NN set's update) and
   * through tlg_lstm_step_compact_s8 (compact layout), so the results come three times.
   */
  portable?: boolean;
}

/**
 * An LSTM over 1..maxSteps steps: random int8 weights and effective biases, gate
 * requantizations to Q3.12 from random scales, and the cell and hidden requantizations that
 * passes/lower-lstm.ts derives (forget 2^-15, input 2^(-30 - power), hidden 2^-30 / s_h), with
 * the cell scale power anywhere in [-15, 0] (tanh left shifts -3 to 12).
 */
export function lstmCase(options: LstmOptions): fc.Arbitrary<KernelCase> {
  return fc
    .record({
      steps: fc.integer({ min: 1, max: options.maxSteps }),
      batch: fc.integer({ min: 1, max: 2 }),
      inputSize: size(9),
      hidden: size(9),
      timeMajor: options.batchMajor ? fc.boolean() : fc.constant(true),
      power: fc.oneof(
        { arbitrary: fc.integer({ min: -15, max: -9 }), weight: 3 },
        { arbitrary: fc.integer({ min: -8, max: 0 }), weight: 1 },
      ),
      cellClip: fc.oneof(
        { arbitrary: fc.constant(0), weight: 2 },
        { arbitrary: fc.integer({ min: 1, max: 32767 }), weight: 1 },
      ),
      hiddenScaleLog2: fc.double({ min: -9, max: -4, noNaN: true }),
      hiddenOffset: outputOffset,
    })
    .chain((s) => {
      const gate = fc.record({
        wx: int8Array(s.hidden * s.inputSize),
        wh: int8Array(s.hidden * s.hidden),
        bx: int32Array(s.hidden, 1 << 16, options.extreme),
        bh: int32Array(s.hidden, 1 << 16, options.extreme),
        input: requantArb(-10, 0, options.extreme),
        hiddenRq: requantArb(-10, 0, options.extreme),
      });
      return fc.record({
        s: fc.constant(s),
        gates: fc.tuple(gate, gate, gate, gate),
        x: int8Array(s.steps * s.batch * s.inputSize),
        h0: int8Array(s.batch * s.hidden),
        c0: int16Array(s.batch * s.hidden),
      });
    })
    .map(({ s, gates, x, h0, c0 }): KernelCase => {
      const env = new CaseEnv();
      const table = env.put('table', 'uint16', [256], options.table);
      const gateOf = (k: number): LstmGate => {
        const name = GATES[k];
        const g = gates[k];
        return {
          inputWeights: env.put(`${name}/wx`, 'int8', [s.hidden, s.inputSize], g.wx),
          hiddenWeights: env.put(`${name}/wh`, 'int8', [s.hidden, s.hidden], g.wh),
          inputEffectiveBias: env.put(`${name}/bx`, 'int32', [s.hidden], g.bx),
          hiddenEffectiveBias: env.put(`${name}/bh`, 'int32', [s.hidden], g.bh),
          input: g.input,
          hidden: g.hiddenRq,
          activation: name === 'cell' ? 'tanh' : 'sigmoid',
        };
      };
      const op: LstmCellOp = {
        ...base,
        kind: 'LstmCell',
        name: 'lstm',
        inputs: [
          env.put('x', 'int8', [s.batch, s.inputSize]),
          env.put('h', 'int8', [s.batch, s.hidden]),
          env.put('c', 'int16', [s.batch, s.hidden]),
        ],
        outputs: [
          env.put('h_next', 'int8', [s.batch, s.hidden]),
          env.put('c_next', 'int16', [s.batch, s.hidden]),
        ],
        gates: { forget: gateOf(0), input: gateOf(1), cell: gateOf(2), output: gateOf(3) },
        forgetToCell: quantizeMultiplier(2 ** -15),
        inputToCell: quantizeMultiplier(2 ** (-30 - s.power)),
        cellClip: s.cellClip,
        cellScalePower: s.power,
        hidden: quantizeMultiplier(2 ** -30 / 2 ** s.hiddenScaleLog2),
        hiddenOffset: s.hiddenOffset,
        activationTable: table,
      };

      // The reference: the cell T times; x and the outputs in the sequence's layout.
      const at = (t: number, b: number, width: number) =>
        (s.timeMajor ? t * s.batch + b : b * s.steps + t) * width;
      const hs = new Int8Array(s.steps * s.batch * s.hidden);
      env.write('h', h0);
      env.write('c', c0);
      for (let t = 0; t < s.steps; t++) {
        const xt = new Int8Array(s.batch * s.inputSize);
        for (let b = 0; b < s.batch; b++)
          xt.set(
            x.subarray(at(t, b, s.inputSize), at(t, b, s.inputSize) + s.inputSize),
            b * s.inputSize,
          );
        env.write('x', xt);
        runLstmCell(op, env);
        const h = env.read('h_next') as Int8Array;
        for (let b = 0; b < s.batch; b++)
          hs.set(h.subarray(b * s.hidden, (b + 1) * s.hidden), at(t, b, s.hidden));
        env.write('h', h);
        env.write('c', env.read('c_next'));
      }

      return {
        kind: 'Lstm',
        label: `LSTM T=${s.steps} B=${s.batch} I=${s.inputSize} H=${s.hidden} ${s.timeMajor ? 'time' : 'batch'}-major power ${s.power} clip ${s.cellClip} hidden ${describeRequant(op.hidden)}+${s.hiddenOffset} gates ${gates.map((g) => `${describeRequant(g.input)}/${describeRequant(g.hiddenRq)}`).join(' ')}`,
        encode: (w) => {
          w.begin(CaseOp.Lstm).i32(s.steps, s.timeMajor ? 1 : 0, s.batch, s.inputSize, s.hidden);
          w.i32(
            op.forgetToCell.multiplier,
            op.forgetToCell.shift,
            op.inputToCell.multiplier,
            op.inputToCell.shift,
          );
          w.i32(s.cellClip, s.power, op.hidden.multiplier, op.hidden.shift, s.hiddenOffset);
          gates.forEach((g, k) => {
            w.i32(
              g.input.multiplier,
              g.input.shift,
              g.hiddenRq.multiplier,
              g.hiddenRq.shift,
              GATES[k] === 'cell' ? 1 : 0,
            );
            w.array(g.wx).array(g.wh).array(g.bx).array(g.bh);
          });
          w.array(options.table).array(x).array(h0).array(c0);
          if (options.portable) encodePortableLstm(w, op, env);
        },
        expected: Array.from({ length: options.portable ? 3 : 1 }, () => [hs, env.read('c_next') as IntArray]).flat(),
      };
    });
}

/** The portable LSTM's prepared data, in the order kernels_driver.c reads it. */
function encodePortableLstm(w: CaseWriter, op: LstmCellOp, env: CaseEnv): void {
  const [fast, compact] = (['fast', 'compact'] as const).map((layout) => packLstmPortable(op, layout, (v) => env.tensor(v), (v) => env.read(v)));
  const table = env.read(op.activationTable);
  const scale = activationScale(op.cellScalePower + 12);
  // Weights as int32 words (int16 pairs, int8 quadruples): the driver's int32 pool keeps them
  // word-aligned. The biases are the same in both layouts.
  const words = (a: Int16Array | Int8Array) => new Int32Array(a.buffer, a.byteOffset, a.byteLength / 4);
  w.array(words(fast.inputWeights)).array(words(fast.hiddenWeights)).array(fast.biases);
  w.array(words(compact.inputWeights)).array(words(compact.hiddenWeights));
  for (const side of ['input', 'hidden'] as const) GATES.forEach((k) => w.i32(...fastRequantWords(op.gates[k][side])));
  w.i32(...fastRequantWords(op.forgetToCell), ...fastRequantWords(op.inputToCell), ...fastRequantWords(op.hidden));
  w.i32(...cellRange(op), scale.multiplier, scale.rounding, scale.shift);
  w.array(activationSegments(table, 'sigmoid')).array(activationSegments(table, 'tanh'));
}

// ---- The rounded high multiply of the fused loops ------------------------------------------------

/**
 * tlg_high_multiply_add (SMMLAR on the Cortex-M7) on value, multiplier and offset triples over the
 * int32 range: the rounded high word of value·multiplier plus an int8-sized offset.
 */
export const highMultiplyCase: fc.Arbitrary<KernelCase> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.integer({ min: INT32_MIN, max: INT32_MAX }), fc.integer({ min: -70000, max: 70000 }), fc.constantFrom(INT32_MIN, INT32_MAX, -1, 0, 1)),
      fc.oneof(fc.integer({ min: INT32_MIN, max: INT32_MAX }), fc.integer({ min: 1, max: 1 << 26 }), fc.constantFrom(INT32_MIN, INT32_MAX, 0, 1)),
      fc.integer({ min: -256, max: 256 }),
    ),
    { minLength: 1, maxLength: 200 },
  )
  .map((triples): KernelCase => ({
    kind: 'HighMultiply',
    label: `high multiply ${triples.length} triples, first (${triples[0].join(', ')})`,
    encode: (w) =>
      w
        .begin(CaseOp.HighMultiply)
        .array(Int32Array.from(triples, (t) => t[0]))
        .array(Int32Array.from(triples, (t) => t[1]))
        .array(Int32Array.from(triples, (t) => t[2])),
    expected: [Int32Array.from(triples, ([v, m, o]) => Number(BigInt.asIntN(32, ((BigInt(v) * BigInt(m) + 2n ** 31n) >> 32n) + BigInt(o))))],
  }));

// ---- Products in a fused elementwise loop -----------------------------------------------------

/**
 * An FC product whose rows offset_b + e (blocks b = 1..4 rows of an element e) a fused loop
 * computes: prepared by src/quant/product-rows.ts, laid out by src/plan/product-layout.ts and
 * packed by the emitter, then run by the driver as the generated loop runs it (tlg_widen_lanes,
 * tlg_dot_rows_w16, tlg_row_out). The reference is the FullyConnected op's rows. The draws mix
 * blocks whose rows share a shift with blocks that keep one each (weights at the int16 limit
 * under an accumulator shift), and drop the few products the preparation refuses.
 */
export const productCase: fc.Arbitrary<KernelCase> = fc
  .record({
    size: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constant(1)),
    blocks: fc.integer({ min: 1, max: 4 }),
    depth: size(40),
    perChannel: fc.boolean(),
    accumulatorShift: fc.constantFrom(0, 0, 1, 3, 7, 8),
    hasBias: fc.boolean(),
    reversed: fc.boolean(),
  })
  .chain((s) =>
    fc.record({
      s: fc.constant(s),
      input: int8Array(s.depth),
      weights: int8Array(s.blocks * s.size * s.depth),
      bias: int32Array(s.blocks * s.size, 1 << 16, false),
      inputOffset,
      weightOffset: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: -8, max: 8 }), weight: 1 }),
      outputOffset,
      activation: activationRange,
      // Shifts within a few of each other: some blocks share one, some do not.
      requant: fc.array(requantArb(-14, -4, false), {
        minLength: s.perChannel ? s.blocks * s.size : 1,
        maxLength: s.perChannel ? s.blocks * s.size : 1,
      }),
    }),
  )
  .map(({ s, input, weights, bias, inputOffset: io, weightOffset: wo, outputOffset: oo, activation, requant }) => {
    const n = s.blocks * s.size;
    const env = new CaseEnv();
    const fcOp: FullyConnectedOp = {
      ...base,
      kind: 'FullyConnected',
      name: 'product',
      inputs: [env.put('x', 'int8', [1, s.depth], input)],
      outputs: [env.put('y', 'int8', [1, n])],
      weights: env.put('w', 'int8', [n, s.depth], weights),
      bias: s.hasBias ? env.put('b', 'int32', [n], bias) : undefined,
      accumulatorShift: s.accumulatorShift || undefined,
      inputOffset: io,
      weightOffset: wo,
      outputOffset: oo,
      requant,
      activationMin: activation[0],
      activationMax: activation[1],
      outputDtype: 'int8',
    };
    const offsets = Array.from({ length: s.blocks }, (_, b) => (s.reversed ? s.blocks - 1 - b : b) * s.size);
    const params = { weights, k: s.depth, bias: s.hasBias ? bias : undefined, inputOffset: io, weightOffset: wo, outputOffset: oo, requant, accumulatorShift: s.accumulatorShift };
    if (offsets.some((o) => typeof prepareProductBlock(params, o, s.size) === 'string')) return undefined;
    runFullyConnected(fcOp, env);
    const rows = env.read('y') as Int8Array;
    const op: ElementwiseOp = {
      ...base,
      kind: 'Elementwise',
      name: 'loop',
      inputs: ['x'],
      outputs: [],
      size: s.size,
      inputOffsets: [],
      products: [{ op: fcOp, offsets }],
      steps: [],
      outputSlots: [],
    };
    const layout = productLayout(op, (v) => env.tensor(v))!;
    const p = layout.products[0];
    const shared = p.blocks.map((b) => (b.prepared.uniform ? b.prepared.rows[0].shift : -1));
    const expected = Int8Array.from({ length: n }, (_, i) => rows[offsets[Math.floor(i / s.size)] + (i % s.size)]);
    const kc: KernelCase = {
      kind: 'Products',
      label: `products ${s.blocks} blocks of ${s.size} rows, K ${s.depth}${layout.advance ? '' : ' (pointer added)'}, offsets ${io}/${wo}/${oo}, sum<<${s.accumulatorShift}, shifts ${shared.join(',')}${p.blocks.some((b) => b.multiplier !== undefined) ? ' shared multiplier' : ''} act [${activation}]${s.hasBias ? '' : ' no bias'}`,
      encode: (w) =>
        w
          .begin(CaseOp.Products)
          .i32(s.size, s.blocks, s.depth, layout.vectors[0].shift, activation[0], activation[1], layout.unitWords, p.weightsOffset, layout.advance ? 1 : 0)
          .array(Int32Array.from(p.blocks, (b) => b.rowOffset))
          .array(Int32Array.from(shared))
          .array(Int32Array.from(p.blocks, (b) => b.multiplier ?? 0))
          .array(input)
          .array(packProducts(op, layout)),
      expected: [expected],
    };
    return kc;
  })
  .filter((c): c is KernelCase => c !== undefined);

// ---- Running cases ------------------------------------------------------------------------------

/** The case stream of `cases`, in order. */
export function encodeCases(cases: KernelCase[]): Buffer {
  const w = new CaseWriter();
  for (const c of cases) c.encode(w);
  return w.finish();
}

/**
 * Reads a driver's results for `cases` and compares them with the references: for each case
 * that differs, a line naming it, the first element that differs and how many do. A result
 * stream that does not fit the cases is an error.
 */
export function differences(cases: KernelCase[], results: Buffer): Map<KernelCase, string[]> {
  const reader = new ResultReader(results);
  const found = new Map<KernelCase, string[]>();
  for (const c of cases) {
    c.expected.forEach((expected, r) => {
      const got = reader.next(expected);
      if (got.length !== expected.length) {
        throw new Error(
          `${c.label}: result ${r} has ${got.length} elements, ${expected.length} expected`,
        );
      }
      const differ: number[] = [];
      for (let i = 0; i < expected.length; i++) if (got[i] !== expected[i]) differ.push(i);
      if (differ.length === 0) return;
      const i = differ[0];
      const line = `${c.label}: result ${r}[${i}] = ${got[i]}, reference ${expected[i]} (${differ.length} of ${expected.length} differ)`;
      found.set(c, [...(found.get(c) ?? []), line]);
    });
  }
  if (!reader.done) throw new Error('the driver wrote more results than the cases have');
  return found;
}

/** Fails with the first few differences among `selected`, and how many cases differ. */
export function expectNoDifferences(
  selected: KernelCase[],
  found: Map<KernelCase, string[]>,
): void {
  const differing = selected.filter((c) => found.has(c));
  const lines = differing.flatMap((c) => found.get(c)!);
  expect(lines.slice(0, 10), `${differing.length} of ${selected.length} cases differ`).toEqual([]);
}

/** Test names with counts: "Lstm (200 cases)", and the kind. */
export function countedKinds(cases: KernelCase[], kinds: CaseKind[]): [string, CaseKind][] {
  return kinds.map((k) => [`${k} (${ofKind(cases, k).length} cases)`, k]);
}

/** The cases of one kind. */
export function ofKind(cases: KernelCase[], kind: CaseKind): KernelCase[] {
  return cases.filter((c) => c.kind === kind);
}
