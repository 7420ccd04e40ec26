// The tinylstm-gen command line. Results go to stdout (or files), logs and diagnostics to
// stderr; every user error exits with its diagnostic's code and nothing else.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import ora from 'ora';
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import { compileModel, generate, validate, type CompileOptions, type KernelSet } from './pipeline.js';
import type { EmulatorChoice } from './run/compare.js';
import { renderValidation } from './run/report.js';
import { analyzeModel } from './ir/analyze.js';
import { interpret } from './ir/interpreter.js';
import { externalOutput, quantizeInput } from './ir/io.js';
import { listBoards, loadBoard, packageRoot, parseSize } from './boards.js';
import { kib, planMemory, type PlanOptions } from './plan/plan.js';
import { planJson, renderPlan } from './plan/report.js';
import { readNpy, samplesOf, writeNpy } from './npy.js';
import { diagnostics, ExitCode, formatWarning, InternalError, TlgError, type Warning } from './diagnostics.js';

const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

interface GlobalOptions {
  verbose?: boolean;
  quiet?: boolean;
}

interface ModelOptions {
  seqLen?: string;
  calibration?: string;
  kernels?: string;
  cmsisNn?: string;
  fuseAccumulators?: boolean;
}

const program = new Command('tinylstm-gen')
  .description('Compile quantized ONNX recurrent models (TinyLSTM, LSTM) into statically planned Cortex-M7 firmware.')
  .version(version)
  .option('--verbose', 'log every phase with its timing')
  .option('--quiet', 'print results and errors only')
  .showHelpAfterError();

function identifierOf(file: string): string {
  const base = basename(file).replace(/\.onnx$/i, '');
  return base === 'model' ? basename(join(file, '..')) : base;
}

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

function info(message: string): void {
  if (!globals().quiet) process.stderr.write(`${message}\n`);
}

function verbose(message: string): void {
  if (globals().verbose) process.stderr.write(`${message}\n`);
}

function warn(ws: Warning[]): void {
  if (globals().quiet) return;
  for (const w of ws) process.stderr.write(`${formatWarning(w)}\n`);
}

function withModelOptions(cmd: Command): Command {
  return cmd
    .option('--seq-len <n>', 'length of a dynamic sequence dimension')
    .option('--calibration <file.npy>', 'representative float inputs, for tensors the model leaves unquantized')
    .addOption(new Option('--kernels <set>', 'kernel set: cmsis-nn or portable (default: cmsis-nn when CMSIS-NN is found)').choices(['cmsis-nn', 'portable']))
    .option('--cmsis-nn <path>', 'CMSIS-NN sources (default: $CMSIS_NN_PATH)')
    .option('--fuse-accumulators', "one product and one rounding for B_x·u + B_h·v (TinyLSTM), and for W·x + R·h (LSTM, CMSIS-NN kernels): faster; changes the model's integer semantics, see README");
}

interface PlanCliOptions {
  board?: string;
  flashBudget?: string;
  ramBudget?: string;
  placement?: string;
  weightsIn?: 'flash' | 'ram';
  weightsLayout?: 'fast' | 'compact' | 'auto';
}

function withPlanOptions(cmd: Command, boardRequired = false): Command {
  const board = new Option('--board <name>', 'target board (see `tinylstm-gen boards`)');
  return cmd
    .addOption(boardRequired ? board.default('stm32h747') : board)
    .option('--flash-budget <size>', "flash budget, overriding the board's (bytes, 486K, 486KiB, 1M)")
    .option('--ram-budget <size>', "RAM budget, overriding the board's (bytes, 112K, 112KiB)")
    .option('--placement <algorithm>', 'arena placement algorithm (greedy-by-size, greedy-by-conflicts, search; default: the best)')
    .addOption(new Option('--weights-in <memory>', 'read weights from flash, or from a copy in RAM made at startup').choices(['flash', 'ram']).default('flash'))
    .addOption(
      new Option('--weights-layout <layout>', 'portable kernels: weights widened to int16 (fast), kept int8 (compact, half the flash), or fast unless only compact fits (auto)')
        .choices(['fast', 'compact', 'auto'])
        .default('auto'),
    );
}

function budgetOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = parseSize(value);
  if (n === undefined || n <= 0) throw diagnostics.badOption(name, value, 'a size such as 486K, 112KiB, 1M or a number of bytes');
  return n;
}

export function planOptions(o: PlanCliOptions, kernels: KernelSet): PlanOptions {
  return {
    board: loadBoard(o.board ?? 'stm32h747'),
    kernels,
    flashBudget: budgetOption('--flash-budget', o.flashBudget),
    ramBudget: budgetOption('--ram-budget', o.ramBudget),
    placement: o.placement,
    weightsIn: o.weightsIn,
    weightsLayout: o.weightsLayout,
  };
}

export function resolveKernels(o: ModelOptions): { kernels: KernelSet; cmsisNnPath?: string } {
  const cmsisNnPath = o.cmsisNn ?? process.env.CMSIS_NN_PATH;
  if (o.kernels === 'cmsis-nn' || o.kernels === 'portable') return { kernels: o.kernels, cmsisNnPath };
  if (cmsisNnPath) return { kernels: 'cmsis-nn', cmsisNnPath };
  info('CMSIS-NN not found (set CMSIS_NN_PATH or --cmsis-nn); using the portable kernels');
  return { kernels: 'portable' };
}

export function compileOptions(o: ModelOptions): CompileOptions {
  let seqLen: number | undefined;
  if (o.seqLen !== undefined) {
    seqLen = Number(o.seqLen);
    if (!Number.isInteger(seqLen) || seqLen < 1) throw diagnostics.badOption('--seq-len', o.seqLen, 'a positive integer');
  }
  return { seqLen, calibration: o.calibration, ...resolveKernels(o), fuseAccumulators: o.fuseAccumulators === true, log: verbose };
}

/** Runs a command body, turning diagnostics into their one-line message and exit code. */
function action<A extends unknown[]>(f: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await f(...args);
    } catch (e) {
      if (e instanceof TlgError) {
        process.stderr.write(`${e.format()}\n`);
        if (e.details) process.stderr.write(`${e.details.trimEnd()}\n`);
        process.exitCode = e.exitCode;
        return;
      }
      const message = e instanceof InternalError ? e.message : `internal error (a bug in tinylstm-gen, please report it): ${(e as Error).stack ?? e}`;
      process.stderr.write(`${message}\n`);
      process.exitCode = ExitCode.internal;
    }
  };
}

// --- generate (the main job) -------------------------------------------------------------------------

withPlanOptions(withModelOptions(program.command('generate <model>', { isDefault: true })), true)
  .description('generate the firmware project: C model code, kernels, board support, test application, emulator scripts')
  .requiredOption('-o, --out <dir>', 'output folder (replaced as a whole, only if tinylstm-gen wrote it)')
  .option('--inputs <file.npy>', 'float inputs for the test application (default: synthetic ones)')
  .action(
    action(async (model: string, o: ModelOptions & PlanCliOptions & { out: string; inputs?: string }) => {
      const options = compileOptions(o);
      const result = await generate(model, { ...options, ...planOptions(o, options.kernels), out: o.out, inputs: o.inputs, version });
      warn(result.compiled.warnings);
      warn(result.plan.warnings);
      const p = result.plan;
      info(
        `${result.compiled.ir.name} → ${o.out}: ${p.board}, ${p.kernels} kernels; flash ${kib(p.flash.total)} of ${kib(p.flash.budget)}, ` +
          `RAM ${kib(p.ram.total)} of ${kib(p.ram.budget)} (arena ${p.arena.size} B, lower bound ${p.arena.lowerBound} B); ${result.files.size} files in ${result.generateMs.toFixed(0)} ms`,
      );
    }),
  );

// --- validate ----------------------------------------------------------------------------------------

withPlanOptions(withModelOptions(program.command('validate <model>')), true)
  .description('generate, build and run the firmware in an emulator; compare it with the golden model and ONNX Runtime')
  .addOption(new Option('--emulator <which>', 'auto: Renode when installed (real boards), else the QEMU twin').choices(['auto', 'qemu', 'renode']).default('auto'))
  .option('--inputs <file.npy>', 'float inputs to run (default: synthetic ones)')
  .option('-o, --out <dir>', 'where to generate and build the project (default: a folder under the system temp dir)')
  .option('--timeout <seconds>', 'emulator time limit', '120')
  .option('--json', 'print the result as JSON')
  .action(
    action(async (model: string, o: ModelOptions & PlanCliOptions & { emulator: EmulatorChoice; inputs?: string; out?: string; timeout: string; json?: boolean }) => {
      const options = compileOptions(o);
      const plan = planOptions(o, options.kernels);
      const timeout = Number(o.timeout);
      if (!(timeout > 0)) throw diagnostics.badOption('--timeout', o.timeout, 'a positive number of seconds');
      const out = o.out ?? join(tmpdir(), 'tinylstm-gen', `${identifierOf(model)}-${plan.board.name}-${options.kernels}`);
      const spinner = !o.json && !globals().quiet && process.stderr.isTTY ? ora({ stream: process.stderr }).start('validating') : undefined;
      const progress = (step: string) => (spinner ? (spinner.text = step) : verbose(step));
      let result;
      try {
        result = await validate(model, { ...options, ...plan, out, inputs: o.inputs, version, emulator: o.emulator, timeoutSeconds: timeout, progress });
      } finally {
        spinner?.stop();
      }
      warn(result.warnings);
      if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(`${renderValidation(result)}\n`);
      if (!result.pass) {
        const first = result.bitExact.first;
        const why = first
          ? `${result.bitExact.mismatches} of ${result.bitExact.elements} output values differ from the golden model; first at input ${first.input}, output ${first.output}, element ${first.index}: got ${first.got}, expected ${first.expected}`
          : `the Renode test failed: ${result.renode.reason}`;
        throw diagnostics.mismatch(why, '');
      }
    }),
  );

// --- analyze ---------------------------------------------------------------------------------------

withPlanOptions(withModelOptions(program.command('analyze <model>')))
  .description('print the integer IR (ops, shapes, quantization, weight bytes, MACs) and, with --board, the memory plan')
  .option('--json', 'print the report as JSON')
  .action(
    action(async (model: string, o: ModelOptions & PlanCliOptions & { json?: boolean }) => {
      const options = compileOptions(o);
      const compiled = await compileModel(model, options);
      warn(compiled.warnings);
      const report = analyzeModel(compiled.ir);
      const plan = o.board ? planMemory(compiled.ir, planOptions(o, options.kernels)) : undefined;
      if (plan) warn(plan.warnings);
      if (o.json) {
        const json = { ...report, inputs: compiled.ir.inputs, outputs: compiled.ir.outputs, plan: plan ? planJson(plan) : undefined };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      const table = new Table({ head: ['op', 'output', 'quantization', 'detail', 'const bytes', 'MACs'], style: { head: [], border: [] } });
      for (const op of report.ops) {
        const out = op.outputs[0];
        table.push([
          `${'  '.repeat(op.depth)}${op.kind} ${op.name}`,
          out ? `[${out.shape.join('×')}]` : '',
          out?.quant ?? '',
          op.detail,
          op.constantBytes || '',
          op.macs || '',
        ]);
      }
      process.stdout.write(`${report.model}: ${report.totals.ops} ops in ${report.totals.loops} loop(s), ${report.totals.macs} MACs, ${report.totals.constantBytes} bytes of weights and tables\n`);
      process.stdout.write(`${table.toString()}\n`);
      if (plan) process.stdout.write(`\n${renderPlan(plan)}\n`);
    }),
  );

// --- run ----------------------------------------------------------------------------------------------

withModelOptions(program.command('run <model>'))
  .description('run the golden integer interpreter on float inputs (.npy) and write the outputs')
  .requiredOption('--inputs <file.npy>', 'inputs: [N, ...input shape] or one input')
  .requiredOption('--outputs <file.npy>', 'where to write the dequantized float32 outputs')
  .option('--raw <file.npy>', 'also write the integer outputs as the model computes them')
  .action(
    action(async (model: string, o: ModelOptions & { inputs: string; outputs: string; raw?: string }) => {
      const compiled = await compileModel(model, compileOptions(o));
      warn(compiled.warnings);
      const ir = compiled.ir;
      if (ir.inputs.length !== 1 || ir.outputs.length !== 1) {
        throw diagnostics.badOption('model', model, `one input and one output for run (it has ${ir.inputs.length} and ${ir.outputs.length})`);
      }
      const [inIo] = ir.inputs;
      const [outIo] = ir.outputs;
      const npy = readNpy(o.inputs);
      const samples = samplesOf(npy, inIo.shape);
      if (!samples) throw diagnostics.inputShape(o.inputs, inIo.shape, npy.shape);
      const batched = npy.shape.length === inIo.shape.length + 1;
      const inT = ir.graph.tensors.get(inIo.tensor)!;
      const outT = ir.graph.tensors.get(outIo.tensor)!;
      const floats: number[] = [];
      const raws: number[] = [];
      for (const s of samples) {
        const [y] = interpret(ir, [quantizeInput(inIo, inT, s)]);
        const ext = externalOutput(outIo, outT, y);
        floats.push(...(outIo.external === 'float32' ? ext : externalOutput({ ...outIo, external: 'float32' }, outT, y)));
        raws.push(...(outIo.external === 'float32' ? y : ext));
      }
      const shape = batched ? [samples.length, ...outIo.shape] : outIo.shape;
      writeNpy(o.outputs, Float32Array.from(floats), shape);
      if (o.raw) {
        const raw =
          outIo.external === 'uint8' ? Uint8Array.from(raws) : outIo.external === 'int32' ? Int32Array.from(raws) : Int8Array.from(raws);
        writeNpy(o.raw, raw, shape);
      }
      info(`${samples.length} input(s) → ${o.outputs}${o.raw ? ` and ${o.raw}` : ''}`);
    }),
  );

// --- boards -------------------------------------------------------------------------------------------

program
  .command('boards')
  .description('list the boards and their budgets')
  .option('--json', 'print the board descriptions as JSON')
  .action(
    action((o: { json?: boolean }) => {
      const boards = listBoards();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(boards, null, 2)}\n`);
        return;
      }
      const table = new Table({ head: ['board', 'kind', 'core', 'flash budget', 'RAM budget', 'emulator'], style: { head: [], border: [] } });
      for (const b of boards) {
        const kind = b.kind === 'emulation-twin' ? `emulation twin of ${b.twinOf}` : b.twin ? `board (twin: ${b.twin})` : 'board';
        const emulators = [b.emulator.renode ? 'Renode' : '', b.emulator.qemu ? `QEMU ${b.emulator.qemu.machine}` : ''].filter(Boolean).join(', ');
        table.push([b.name, kind, `${b.core.cpu} @ ${b.core.clockHz / 1e6} MHz`, kib(b.budget.flash), kib(b.budget.ram), emulators]);
      }
      process.stdout.write(`${table.toString()}\n`);
    }),
  );


await program.parseAsync(process.argv);
