// The portable kernels (firmware/kernels/portable/) against the TypeScript references of the IR
// ops (src/ir/ops/): random cases drawn with a fixed seed (test/support/kernel-cases.ts), run
// through one C driver (test/support/kernels_driver.c) built for the host with gcc, and through
// the same driver built for the Cortex-M7 with the DSP extension and run in QEMU, which is where
// the SMLAD path of the fully connected and LSTM dot products runs. The LSTM cases run the
// portable step on both layouts src/emit/kernels/lstm-layout.ts prepares (int16 weights, and
// int8 weights widened with SXTB16), and the CMSIS-NN set's fused update (tlg_lstm_update_s16)
// on gate products computed in the driver. The product cases run the rows of an FC folded into
// a fused elementwise loop as the generated code does (tlg_fc_w16.h), on the constants the
// compiler prepares for them. Every result must equal the reference bit for bit. Build outputs
// go to test/.work/kernels/.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSigmoidTable } from '../src/quant/tables.js';
import {
  buildCortexM7,
  buildHost,
  cortexM7Board,
  portableKernelsDir,
  runCortexM7,
  runHost,
  supportDir,
  warningFlags,
  workDir,
} from './support/c-build.js';
import { ResultReader } from './support/case-stream.js';
import {
  activationCase,
  addCase,
  type CaseKind,
  concatCase,
  copyCase,
  countedKinds,
  differences,
  encodeCases,
  expectNoDifferences,
  fullyConnectedCase,
  type KernelCase,
  lstmCase,
  lutCase,
  matMulCase,
  mulCase,
  ofKind,
  randomTable,
  requantizeCase,
  requantizeValuesCase,
  sampleCases,
  softmaxCase,
  softmaxOf,
  productCase,
  highMultiplyCase,
} from './support/kernel-cases.js';

const dir = workDir('kernels');
const kernelSources = readdirSync(portableKernelsDir)
  .filter((f) => f.endsWith('.c'))
  .map((f) => join(portableKernelsDir, f));
const driverSources = [
  join(supportDir, 'kernels_driver.c'),
  join(supportDir, 'case_io.c'),
  ...kernelSources,
];
const includeDirs = [portableKernelsDir, supportDir];

// ---- The cases ----------------------------------------------------------------------------------

const table = defaultSigmoidTable();
const seed = 20260703;
// Any multiplier with any shift, int32 extremes in biases: the kernels follow the references
// even where CMSIS-NN does not (int32 sums near the limits, see cmsis-nn-reference.test.ts).
const extreme = { extreme: true };

/** Every int16 value at the left shifts the IR uses (-3..3 for gates, up to 12 for tanh(c)). */
const exhaustiveActivations = [-3, -2, -1, 0, 1, 2, 3, 4, 8, 12].flatMap((shift) =>
  (['sigmoid', 'tanh'] as const).map((type) => activationCase(shift, type, table, undefined, true)),
);
/** Random tables and values: the unsigned interpolation must agree for any table. */
const randomActivations = sampleCases(
  fc
    .tuple(
      randomTable,
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom('sigmoid' as const, 'tanh' as const),
      fc.int16Array({ minLength: 1, maxLength: 2048 }),
    )
    .map(([t, shift, type, values]) => activationCase(shift, type, t, values, true)),
  20,
  seed,
);

const cases: KernelCase[] = [
  ...sampleCases(requantizeValuesCase, 50, seed + 1),
  ...sampleCases(
    fullyConnectedCase({ int32Output: true, weightOffset: true, accumulatorShift: true, ...extreme }),
    400,
    seed + 2,
  ),
  ...sampleCases(matMulCase(extreme), 200, seed + 3),
  ...sampleCases(addCase(extreme), 200, seed + 4),
  ...sampleCases(mulCase(extreme), 200, seed + 5),
  ...sampleCases(requantizeCase(extreme), 200, seed + 6),
  ...sampleCases(lutCase, 50, seed + 7),
  ...sampleCases(softmaxCase, 200, seed + 8),
  ...sampleCases(copyCase, 200, seed + 9),
  ...sampleCases(concatCase, 100, seed + 10),
  ...exhaustiveActivations,
  ...randomActivations,
  ...sampleCases(lstmCase({ table, batchMajor: false, maxSteps: 3, portable: true, ...extreme }), 200, seed + 11),
  ...sampleCases(productCase, 300, seed + 12),
  ...sampleCases(highMultiplyCase, 50, seed + 13),
];

/** What the Cortex-M7 build runs: the DSP users in full, a sample of the rest, all small enough
 *  for the driver's pools in the 112 KiB RAM budget. */
const m7Cases: KernelCase[] = cases.filter((c, i) => {
  if (c.kind === 'FullyConnected' || c.kind === 'Lstm' || c.kind === 'Products' || c.kind === 'HighMultiply') return true;
  if (c.kind === 'ActivationS16') return randomActivations.includes(c);
  return i % 4 === 0 && c.expected.every((e) => e.byteLength <= 4096);
});

const kinds: CaseKind[] = [
  'RequantizeValues',
  'FullyConnected',
  'MatMul',
  'Add',
  'Mul',
  'Requantize',
  'Lut',
  'Softmax',
  'Copy',
  'Concat',
  'ActivationS16',
  'Lstm',
  'Products',
  'HighMultiply',
];

/**
 * 512 equal values: the exponentials sum to 2^28 and the output needs a division by 2^32,
 * beyond arm_nn_divide_by_power_of_two's range. The reference and the kernel give what
 * CMSIS-NN computes on a Cortex-M: -127 everywhere.
 */
const wideSoftmax = softmaxOf(new Int8Array(512).fill(5), 1, 512, -4);

function expectWideSoftmax(results: Buffer): void {
  const got = new ResultReader(results).next(new Int8Array(0));
  expect(new Set(got)).toEqual(new Set([-127]));
  expect(new Set(wideSoftmax.expected[0])).toEqual(new Set([-127]));
}

// ---- Host --------------------------------------------------------------------------------------

describe('portable kernels on the host (gcc) against the TypeScript references', () => {
  let exe: string;
  let found: Map<KernelCase, string[]>;

  beforeAll(async () => {
    exe = await buildHost(join(dir, 'kernels_driver'), driverSources, includeDirs);
    found = differences(cases, await runHost(exe, encodeCases(cases)));
  });

  it.each(countedKinds(cases, kinds))('%s', (_, kind) => {
    expectNoDifferences(ofKind(cases, kind), found);
  });

  it('Softmax of a row whose exponentials sum to 2^28: -127 as CMSIS-NN on a Cortex-M', async () => {
    expectWideSoftmax(await runHost(exe, encodeCases([wideSoftmax])));
  });
});

// ---- Cortex-M7 ---------------------------------------------------------------------------------

describe('portable kernels on the Cortex-M7 (QEMU mps2-an500, DSP path)', () => {
  let elf: string;
  let found: Map<KernelCase, string[]>;

  beforeAll(async () => {
    // 32 KiB of int8 pool (and 16 KiB each of int16 and int32) fit the twin's RAM budget.
    const pools = ['-DCASE_POOL_BYTES=32768'];
    elf = await buildCortexM7(dir, 'kernels_driver', driverSources, includeDirs, pools);
    found = differences(m7Cases, await runCortexM7(elf, dir, encodeCases(m7Cases)));
  });

  it('compiles the dot products to SXTAB16 and SMLAD with the board flags', async () => {
    const object = join(dir, 'tlg_fully_connected.o');
    const source = join(portableKernelsDir, 'tlg_fully_connected.c');
    const { cflags, prefix } = cortexM7Board.toolchain;
    await execa(`${prefix}gcc`, [...cflags, ...warningFlags, '-c', '-o', object, source]);
    const { stdout } = await execa(`${prefix}objdump`, ['-d', object]);
    expect(stdout).toMatch(/\bsmlad\b/);
    expect(stdout).toMatch(/\bsxtab16\b/);
  });

  it("compiles the LSTM step's gate products to LDRD and SMLAD, its saturations to SSAT", async () => {
    const object = join(dir, 'tlg_lstm.o');
    const source = join(portableKernelsDir, 'tlg_lstm.c');
    const { cflags, prefix } = cortexM7Board.toolchain;
    await execa(`${prefix}gcc`, [...cflags, ...warningFlags, '-c', '-o', object, source]);
    const { stdout } = await execa(`${prefix}objdump`, ['-d', object]);
    expect(stdout).toMatch(/\bldrd\b/);
    expect(stdout).toMatch(/\bsmlad\b/);
    expect(stdout).toMatch(/\bssat\b/);
    // The compact step widens its int8 weights in registers.
    const compact = stdout.slice(stdout.indexOf('<tlg_lstm_step_compact_s8>:'));
    expect(compact).toMatch(/\bsxtb16\b[^\n]*ror #8/);
  });

  it.each(countedKinds(m7Cases, kinds))('%s', (_, kind) => {
    expectNoDifferences(ofKind(m7Cases, kind), found);
  });

  it('Softmax of a row whose exponentials sum to 2^28: -127 here too', async () => {
    expectWideSoftmax(await runCortexM7(elf, dir, encodeCases([wideSoftmax])));
  });
});
