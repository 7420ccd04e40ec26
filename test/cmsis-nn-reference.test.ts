// The TypeScript references of the IR ops (src/ir/ops/, src/quant/fixed-point.ts) against
// CMSIS-NN itself. The library's sources that CMSIS_NN_PATH names (the project ships no copy,
// DESIGN.md section 6) are compiled with a small driver (test/support/cmsis_nn_driver.c) on the
// host with gcc (CMSIS-NN's plain C paths), and for the Cortex-M7 with the DSP extension and run
// in QEMU (the paths the firmware runs). Both builds define CMSIS_NN_USE_SINGLE_ROUNDING, as
// generated projects do. The random cases (test/support/kernel-cases.ts, fixed seeds) use the
// scales a compiler derives; every result must equal the reference bit for bit. The known
// differences outside those ranges are checked to still be there, so that a change on either
// side shows. Without CMSIS_NN_PATH the tests are reported as skipped. Build outputs go to
// test/.work/cmsis-nn/.

import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { cmsisNnSigmoidTable } from '../src/quant/tables.js';
import {
  buildCortexM7,
  buildHost,
  cortexM7Board,
  runCortexM7,
  runHost,
  supportDir,
  workDir,
} from './support/c-build.js';
import { ResultReader } from './support/case-stream.js';
import {
  activationCase,
  addCase,
  type CaseKind,
  countedKinds,
  differences,
  encodeCases,
  expectNoDifferences,
  fullyConnectedCase,
  type KernelCase,
  lstmCase,
  mulCase,
  ofKind,
  requantizeValuesCase,
  sampleCases,
  softmaxCase,
  softmaxOf,
} from './support/kernel-cases.js';

const cmsisNnPath = process.env.CMSIS_NN_PATH;
const skipReason = cmsisNnPath
  ? ''
  : 'CMSIS_NN_PATH is not set (point it at a CMSIS-NN checkout to run these comparisons)';
if (skipReason) console.warn(`test/cmsis-nn-reference.test.ts: skipped, ${skipReason}`);

/** The CMSIS-NN sources of the functions the driver calls and of what they call. */
const cmsisNnSources = [
  'FullyConnectedFunctions/arm_fully_connected_s8.c',
  'FullyConnectedFunctions/arm_fully_connected_per_channel_s8.c',
  'FullyConnectedFunctions/arm_fully_connected_get_buffer_sizes_s8.c',
  'FullyConnectedFunctions/arm_vector_sum_s8.c',
  'NNSupportFunctions/arm_nn_vec_mat_mult_t_s8.c',
  'NNSupportFunctions/arm_nn_vec_mat_mult_t_per_ch_s8.c',
  'NNSupportFunctions/arm_nntables.c',
  'NNSupportFunctions/arm_nn_lstm_step_s8.c',
  'NNSupportFunctions/arm_nn_lstm_calculate_gate_s8_s16.c',
  'NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c',
  'BasicMathFunctions/arm_elementwise_add_s8.c',
  'BasicMathFunctions/arm_elementwise_mul_s8.c',
  'BasicMathFunctions/arm_elementwise_mul_s16.c',
  'BasicMathFunctions/arm_elementwise_mul_acc_s16.c',
  'BasicMathFunctions/arm_elementwise_mul_s16_s8.c',
  'SoftmaxFunctions/arm_softmax_s8.c',
  'SoftmaxFunctions/arm_nn_softmax_common_s8.c',
  'ActivationFunctions/arm_nn_activation_s16.c',
  'LSTMFunctions/arm_lstm_unidirectional_s8.c',
];
const defines = ['-DCMSIS_NN_USE_SINGLE_ROUNDING'];

/** Compiles the CMSIS-NN sources into objects in `dir` with `compiler` and `flags`. */
async function compileCmsisNn(compiler: string, flags: string[], dir: string): Promise<string[]> {
  const root = cmsisNnPath!;
  const sources = cmsisNnSources.map((s) => join(root, 'Source', s));
  const missing = sources.filter((s) => !existsSync(s));
  if (missing.length > 0) {
    throw new Error(`CMSIS_NN_PATH=${root} lacks sources this test builds: ${missing.join(', ')}`);
  }
  mkdirSync(dir, { recursive: true });
  // CMSIS-NN's own code is compiled as the library is, without this project's -Werror.
  const include = `-I${join(root, 'Include')}`;
  const args = ['-c', '-O2', ...flags, ...defines, include, ...sources];
  const result = await execa(compiler, args, { cwd: dir, reject: false, all: true });
  if (result.exitCode !== 0) {
    throw new Error(`compiling CMSIS-NN with ${compiler} failed:\n${result.all}`);
  }
  return sources.map((s) => join(dir, basename(s).replace(/\.c$/, '.o')));
}

/** The cases still differ somewhere: a known difference is still there. */
function expectSomeDiffer(selected: KernelCase[], results: Buffer): void {
  const message = 'the known difference is gone: move these cases into the suites above';
  expect(differences(selected, results).size, message).toBeGreaterThan(0);
}

function expectAgree(selected: KernelCase[], results: Buffer): void {
  expectNoDifferences(selected, differences(selected, results));
}

function expectWideSoftmax(results: Buffer, value: number): void {
  expect(new Set(new ResultReader(results).next(new Int8Array(0)))).toEqual(new Set([value]));
}

const suiteName = `the references against CMSIS-NN${skipReason ? ` (skipped: ${skipReason})` : ''}`;

describe.skipIf(!cmsisNnPath)(suiteName, () => {
  const dir = workDir('cmsis-nn');
  const seed = 20260704;
  const kinds: CaseKind[] = [
    'RequantizeValues',
    'FullyConnected',
    'Add',
    'Mul',
    'Softmax',
    'ActivationS16',
    'Lstm',
  ];
  const derived = { extreme: false };
  const extreme = { extreme: true };
  const driverSources = [join(supportDir, 'cmsis_nn_driver.c'), join(supportDir, 'case_io.c')];
  const includeDirs = [supportDir, join(cmsisNnPath ?? '', 'Include')];

  // CMSIS-NN's int16 activation interpolates its own sigmoid table: the references get it as
  // the IR does in a CMSIS-NN build (quant/tables.ts); the driver checks that they are the same.
  const table = (() => {
    if (!cmsisNnPath) return new Uint16Array(256);
    const t = cmsisNnSigmoidTable(cmsisNnPath);
    if (typeof t === 'string') throw new Error(t);
    return t;
  })();
  const activations = (shifts: number[], values?: (shift: number) => Int16Array) =>
    shifts.flatMap((shift) =>
      (['sigmoid', 'tanh'] as const).map((type) =>
        activationCase(shift, type, table, values?.(shift)),
      ),
    );

  // The scales a compiler derives, int8 data with its edges, every int16 through the
  // activation, and requantization itself over the whole int32 range.
  const cases: KernelCase[] = cmsisNnPath
    ? [
        ...sampleCases(requantizeValuesCase, 50, seed + 1),
        ...sampleCases(
          fullyConnectedCase({ int32Output: false, weightOffset: true, ...derived }),
          400,
          seed + 2,
        ),
        ...sampleCases(addCase(derived), 300, seed + 3),
        ...sampleCases(mulCase(derived), 200, seed + 4),
        ...sampleCases(softmaxCase, 200, seed + 5),
        ...activations([-3, -2, -1, 0, 1, 2, 3]),
        ...sampleCases(
          lstmCase({ table, batchMajor: true, maxSteps: 3, ...derived }),
          200,
          seed + 6,
        ),
      ]
    : [];

  /** The Cortex-M7 run: everything but the exhaustive activations, which a sample replaces. */
  const m7Cases: KernelCase[] = [
    ...cases.filter((c) => c.kind !== 'ActivationS16'),
    ...activations([-3, 0, 3], (shift) =>
      Int16Array.from({ length: 4096 }, (_, k) => k * 16 - 32768 + shift),
    ),
  ];

  // Edge cases.
  //
  // 1. With scales near 1 or above and accumulators near the int32 limits, a requantized value
  //    plus another term (FC, Mul: output_offset; LSTM: the two gate halves, the two cell
  //    terms, the hidden offset) wraps in CMSIS-NN's int32 sum; the references wrap too.
  const extremeFullyConnected = cmsisNnPath
    ? sampleCases(
        fullyConnectedCase({ int32Output: false, weightOffset: true, ...extreme }),
        400,
        seed + 7,
      )
    : [];
  const extremeLstm = cmsisNnPath
    ? sampleCases(lstmCase({ table, batchMajor: true, maxSteps: 3, ...extreme }), 100, seed + 8)
    : [];
  // 2. arm_elementwise_add_s8's DSP path takes the 16-bit lanes of (input + offset) unsigned
  //    ((b_1 & 0xFFFF) << left_shift), which equals its plain C path only for left_shift >= 16
  //    (TFLite and the IR use 20).
  const addSmallLeftShift = cmsisNnPath
    ? sampleCases(addCase(extreme), 300, seed + 9).filter((c) => !c.label.includes(' << 20 '))
    : [];
  // 3. A softmax row whose exponentials sum to 2^28 or more needs a division by 2^32: CMSIS-NN
  //    then shifts as the target does (x86: by 0; Cortex-M: every bit out). The reference
  //    follows the Cortex-M, so the host build is the one that differs.
  const wideSoftmax = softmaxOf(new Int8Array(512).fill(5), 1, 512, -4);

  describe('CMSIS-NN built for the host (gcc, plain C paths)', () => {
    let exe: string;
    let found: Map<KernelCase, string[]>;
    const run = async (selected: KernelCase[]) => runHost(exe, encodeCases(selected));

    beforeAll(async () => {
      const objects = await compileCmsisNn('gcc', [], join(dir, 'host'));
      const sources = [...driverSources, ...objects];
      exe = await buildHost(join(dir, 'cmsis_nn_driver'), sources, includeDirs, defines);
      found = differences(cases, await run(cases));
    });

    it.each(countedKinds(cases, kinds))('%s', (_, kind) => {
      expectNoDifferences(ofKind(cases, kind), found);
    });

    it('FullyConnected with extreme requantizations: wrapping sums agree', async () => {
      expectAgree(extremeFullyConnected, await run(extremeFullyConnected));
    });

    it('LSTM with extreme requantizations: wrapping sums agree', async () => {
      expectAgree(extremeLstm, await run(extremeLstm));
    });

    it('Add with left shifts below 16 agrees on the plain C path', async () => {
      expectAgree(addSmallLeftShift, await run(addSmallLeftShift));
    });

    it('known difference 3: a softmax row summing to 2^28 gives 127 on x86 (the reference, as the Cortex-M: -127)', async () => {
      expectWideSoftmax(await run([wideSoftmax]), 127);
      expect(new Set(wideSoftmax.expected[0])).toEqual(new Set([-127]));
    });
  });

  describe('CMSIS-NN built for the Cortex-M7 (QEMU mps2-an500, DSP paths)', () => {
    const m7Dir = join(dir, 'cortex-m7');
    let elf: string;
    let found: Map<KernelCase, string[]>;
    const run = async (selected: KernelCase[]) => runCortexM7(elf, m7Dir, encodeCases(selected));

    beforeAll(async () => {
      const { prefix, cflags } = cortexM7Board.toolchain;
      const objects = await compileCmsisNn(`${prefix}gcc`, cflags, m7Dir);
      const sources = [...driverSources, ...objects];
      const flags = [...defines, '-DCASE_POOL_BYTES=32768'];
      elf = await buildCortexM7(m7Dir, 'cmsis_nn_driver', sources, includeDirs, flags);
      found = differences(m7Cases, await run(m7Cases));
    });

    it.each(countedKinds(m7Cases, kinds))('%s', (_, kind) => {
      expectNoDifferences(ofKind(m7Cases, kind), found);
    });

    it('FullyConnected with extreme requantizations: wrapping sums agree', async () => {
      expectAgree(extremeFullyConnected, await run(extremeFullyConnected));
    });

    it('LSTM with extreme requantizations: wrapping sums agree', async () => {
      expectAgree(extremeLstm, await run(extremeLstm));
    });

    it('known difference 2: Add with left shifts below 16 still differs (the IR uses 20)', async () => {
      expectSomeDiffer(addSmallLeftShift, await run(addSmallLeftShift));
    });

    it('a softmax row summing to 2^28 gives -127, as the reference', async () => {
      expectWideSoftmax(await run([wideSoftmax]), -127);
      expectAgree([wideSoftmax], await run([wideSoftmax]));
    });
  });
});
