// The compiler's phases, called in order, in one place:
//
//   load → clean (fold, dedupe) → Q/DQ folding → view simplification → recurrence rolling
//   → lowering (dry run: which tensors lack parameters) → calibration when needed
//   → lowering → IR fusions → integer model
//
// and for `generate`: integer model → test inputs and golden outputs → memory plan → C project
// → atomic write.

import type { Graph } from './onnx/graph.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelBytes, type LoadedModel } from './onnx/load.js';
import type { DType } from './onnx/tensor.js';
import { inferAndFold } from './passes/infer-and-fold.js';
import { deduplicate, removeDeadNodes, removeIdentities } from './passes/cleanup.js';
import { foldQdq } from './passes/fold-qdq.js';
import { simplifyViews } from './passes/simplify-views.js';
import { rollRecurrences } from './passes/roll-recurrence.js';
import { lastStepFromFinalState } from './passes/lstm-outputs.js';
import { lowerGraph, type MissingQuant } from './passes/lower.js';
import { optimizeIr } from './passes/ir-fuse.js';
import { calibrate, type LstmReplay } from './quant/calibrate.js';
import { chooseActivationParams } from './quant/params.js';
import { cmsisNnSigmoidTable, defaultSigmoidTable } from './quant/tables.js';
import type { IrData, IrIo, IrModel } from './ir/ir.js';
import { interpret } from './ir/interpreter.js';
import { quantizeInput } from './ir/io.js';
import { analyzeModel } from './ir/analyze.js';
import type { Board } from './boards.js';
import { buildProject } from './run/build.js';
import { elfSize } from './run/elf.js';
import { runQemu, type EmulatorRun } from './run/qemu.js';
import { parseFirmwareOutput } from './run/protocol.js';
import { renodeAvailable, runRenode } from './run/renode.js';
import { renodeFileNames } from './emit/renode.js';
import {
  compareExact,
  compareWithOnnxRuntime,
  costs,
  firmwareOutputs,
  readUartLog,
  twinOf,
  type EmulatorChoice,
  type ValidationResult,
} from './run/compare.js';
import { planMemory, type MemoryPlan } from './plan/plan.js';
import type { WeightsLayout } from './plan/kernel-needs.js';
import { applicationBytes, generateProjectFiles, writeProjectAtomically, type ProjectFiles } from './emit/project.js';
import { readNpy, samplesOf } from './npy.js';
import { diagnostics, warnings as warningsOf, type Warning } from './diagnostics.js';

export type KernelSet = 'cmsis-nn' | 'portable';

export interface CompileOptions {
  seqLen?: number;
  /** Representative float inputs (.npy), for tensors the model leaves unquantized. */
  calibration?: string;
  kernels: KernelSet;
  /** Where CMSIS-NN's sources are (the int16 activation table is read from them). */
  cmsisNnPath?: string;
  /**
   * Join B_x·u + B_h·v into one product with one rounding (see passes/fuse-accumulators.ts).
   * Off by default: it departs from the rounding steps the model's Q/DQ nodes specify.
   */
  fuseAccumulators?: boolean;
  /**
   * Compute each product inside the elementwise pass that reads it (passes/fuse-products.ts):
   * the portable kernels do unless this is false; the CMSIS-NN set never does. The integer
   * results are the same either way.
   */
  fuseProducts?: boolean;
  /** Progress messages (stderr). */
  log?: (message: string) => void;
}

export interface CompiledModel {
  source: LoadedModel;
  file: string;
  ir: IrModel;
  warnings: Warning[];
  /** Phase name → milliseconds. */
  timings: Record<string, number>;
  /** Whether calibration data was used (and for which tensors). */
  calibrated: string[];
}

export async function compileModel(file: string, options: CompileOptions): Promise<CompiledModel> {
  if (!existsSync(file) || !statSync(file).isFile()) throw diagnostics.fileNotFound(file, 'model file');
  return compileModelBytes(readFileSync(file), file, options);
}

/** Compiles a model held in memory; `file` names it in diagnostics. */
export async function compileModelBytes(bytes: Uint8Array, file: string, options: CompileOptions): Promise<CompiledModel> {
  const timings: Record<string, number> = {};
  const time = <T>(phase: string, f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    timings[phase] = (timings[phase] ?? 0) + performance.now() - t0;
    return r;
  };
  const log = options.log ?? (() => {});
  const warnings: Warning[] = [];

  // 1. Load and clean: fold shape arithmetic, drop identities and dead nodes, dedupe weights.
  const source = time('load', () => loadModelBytes(bytes, file, { seqLen: options.seqLen }));
  const graph = source.graph;
  const hadQdq = graph.nodes.some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear' || n.opType === 'QLinearMatMul' || n.opType === 'MatMulInteger');
  time('clean', () => {
    inferAndFold(graph);
    removeIdentities(graph);
    removeDeadNodes(graph);
    deduplicate(graph);
    removeDeadNodes(graph);
  });
  const declared = declaredIo(graph);
  if (!hadQdq && !options.calibration) throw diagnostics.notQuantized(file);

  // 2. Quantization parameters from Q/DQ pairs; the recurrence rolled into one loop.
  time('quantize', () => {
    foldQdq(graph);
    deduplicate(graph);
    removeDeadNodes(graph);
    simplifyViews(graph);
    lastStepFromFinalState(graph);
    removeDeadNodes(graph);
  });
  const rolled = time('roll', () => rollRecurrences(graph));
  warnings.push(...rolled.warnings);
  log(`${graph.nodes.length} nodes after folding; ${rolled.loops} recurrence${rolled.loops === 1 ? '' : 's'} rolled`);

  // 3. Which tensors lack parameters; calibrate them (and LSTM cell ranges) when data is given.
  const activationTable = kernelTable(options);
  const fineBias = options.kernels === 'portable';
  const lstms = lstmNodes(graph);
  const dry = time('lower', () => lowerGraph(graph, { activationTable, cellRanges: new Map(), collectMissing: true, fineBias }));
  let cellRanges = new Map<string, number>();
  const calibrated: string[] = [];
  if (options.calibration && (dry.missing.length > 0 || lstms.length > 0)) {
    const t0 = performance.now();
    const result = await runCalibration(bytes, options.calibration, graph, dry.missing, lstms);
    cellRanges = result.cellRanges;
    calibrated.push(...dry.missing.map((m) => m.value));
    timings.calibrate = performance.now() - t0;
    log(`calibrated ${dry.missing.length} tensor(s)${lstms.length ? ` and ${lstms.length} LSTM cell range(s)` : ''} on ${result.samples} sample(s)`);
  } else if (dry.missing.length > 0) {
    throw diagnostics.missingQuantParams(file, dry.missing.map((m) => m.value));
  } else if (options.calibration) {
    warnings.push(warningsOf.calibrationIgnored(options.calibration));
  }

  // 4. Lower to the integer IR and fuse.
  const lowered = time('lower', () => lowerGraph(graph, { activationTable, cellRanges, collectMissing: false, fineBias }));
  warnings.push(...lowered.warnings);
  // The portable kernels compute products inside the elementwise passes that read them; the
  // CMSIS-NN set calls its own kernels for every product.
  const fuseProducts = options.kernels === 'portable' && options.fuseProducts !== false;
  const fused = time('fuse', () => optimizeIr(lowered.graph, { fuseAccumulators: options.fuseAccumulators === true, fineBias, fuseProducts, joinLstm: options.kernels === 'cmsis-nn' }));

  const ir: IrModel = {
    name: source.name,
    graph: lowered.graph,
    inputs: graph.inputs.map((t, i) => ({ ...declared.inputs[i], tensor: t })),
    outputs: graph.outputs.map((t, i) => ({ ...declared.outputs[i], tensor: t })),
    notes: [
      `int16 activation table: ${options.kernels === 'cmsis-nn' ? "CMSIS-NN's sigmoid_table_uint16" : 'round(65536·sigmoid(k/24))'}`,
      ...(options.fuseAccumulators
        ? [`--fuse-accumulators: ${fused.joined} pair(s) of products joined into one accumulator each (integer semantics differ from the model's Q/DQ nodes)`]
        : []),
      ...(fused.products ? [`${fused.products} product(s) computed inside the elementwise pass that reads them`] : []),
    ],
  };
  return { source, file, ir, warnings, timings, calibrated };
}

/** The model's inputs and outputs as declared: names, shapes and element types. */
function declaredIo(graph: Graph): { inputs: Omit<IrIo, 'tensor'>[]; outputs: Omit<IrIo, 'tensor'>[] } {
  const external = (dtype: DType): IrIo['external'] =>
    dtype === 'uint8' ? 'uint8' : dtype === 'int8' ? 'int8' : dtype === 'int32' ? 'int32' : 'float32';
  const io = (name: string) => ({ name, shape: [...graph.shapeOf(name)], external: external(graph.dtypeOf(name)) });
  return { inputs: graph.inputs.map(io), outputs: graph.outputs.map(io) };
}

function kernelTable(options: CompileOptions): Uint16Array {
  if (options.kernels !== 'cmsis-nn') return defaultSigmoidTable();
  if (!options.cmsisNnPath) throw diagnostics.cmsisNnMissing('CMSIS_NN_PATH is not set');
  const table = cmsisNnSigmoidTable(options.cmsisNnPath);
  if (typeof table === 'string') throw diagnostics.cmsisNnMissing(table);
  return table;
}

function lstmNodes(graph: Graph): LstmReplay[] {
  return graph.nodes
    .filter((n) => n.opType === 'LSTM' && n.domain === '')
    .map((n) => {
      const real = (v: string | undefined) => {
        if (!v) return undefined;
        const c = graph.constant(v);
        if (!c) return undefined;
        const q = graph.quant.get(v);
        const inner = q && q.scale.length > 1 ? c.shape.slice((q.axis ?? 0) + 1).reduce((a, b) => a * b, 1) : 1;
        return Float64Array.from(c.data, (x, i) => {
          if (!q) return x;
          const k = q.scale.length === 1 ? 0 : Math.floor(i / inner) % q.scale.length;
          return q.scale[k] * (x - q.zeroPoint[k]);
        });
      };
      const hidden = graph.shapeOf(n.inputs[2])[2];
      return {
        node: n.name,
        input: n.inputs[0],
        layout: typeof n.attrs.layout === 'number' ? n.attrs.layout : 0,
        hidden,
        w: real(n.inputs[1])!,
        r: real(n.inputs[2])!,
        b: real(n.inputs[3]) ?? new Float64Array(8 * hidden),
        initialH: real(n.inputs[5]),
        initialC: real(n.inputs[6]),
      };
    });
}

async function runCalibration(modelBytes: Uint8Array, calibrationFile: string, graph: Graph, missing: MissingQuant[], lstms: LstmReplay[]) {
  if (graph.inputs.length !== 1) {
    throw diagnostics.calibrationFailed(calibrationFile, `the model has ${graph.inputs.length} inputs; calibration supports one`);
  }
  const input = graph.inputs[0];
  const shape = graph.shapeOf(input);
  const npy = readNpy(calibrationFile);
  const samples = samplesOf(npy, shape);
  if (!samples) throw diagnostics.calibrationShape(calibrationFile, shape, npy.shape);

  // Values inside a rolled loop stand for one value per step: measure all of them.
  const origins = new Map<MissingQuant, string[]>();
  for (const m of missing) origins.set(m, originsOf(graph, m));
  const names = [...new Set([...origins.values()].flat())];
  const result = await calibrate(modelBytes, calibrationFile, samples, shape, input, names, lstms);
  for (const m of missing) {
    let min = Infinity;
    let max = -Infinity;
    for (const name of origins.get(m)!) {
      const r = result.ranges.get(name)!;
      min = Math.min(min, r.min);
      max = Math.max(max, r.max);
    }
    m.graph.quant.set(m.value, chooseActivationParams(min, max));
  }
  return { cellRanges: result.cellRanges, samples: samples.length };
}

function originsOf(top: Graph, m: MissingQuant): string[] {
  if (m.graph === top) return [m.value];
  for (const n of top.nodes) {
    if (n.body?.graph === m.graph) {
      const names = n.body.origins.get(m.value);
      if (names && names.length > 0) return names;
    }
  }
  throw diagnostics.calibrationFailed(top.file, `tensor "${m.value}" has no counterpart in the model to measure`);
}

// ---------------------------------------------------------------------------------------------
// Generation: compile, choose the test inputs, plan, emit, write.
// ---------------------------------------------------------------------------------------------

export interface GenerateOptions extends CompileOptions {
  board: Board;
  out: string;
  flashBudget?: number;
  ramBudget?: number;
  placement?: string;
  /** Float inputs (.npy) for the test application; synthetic ones when not given. */
  inputs?: string;
  version: string;
  weightsIn?: 'flash' | 'ram';
  /** Fast (int16) or compact (int8) weights for the kernels that have both; auto by default. */
  weightsLayout?: WeightsLayout | 'auto';
}

export interface GeneratedProject {
  compiled: CompiledModel;
  plan: MemoryPlan;
  files: ProjectFiles;
  tests: { inputs: IrData[][]; outputs: IrData[][] };
  generateMs: number;
}

/** The number of synthetic test inputs when none are given. */
const SYNTHETIC_TESTS = 4;

export async function generate(modelFile: string, options: GenerateOptions): Promise<GeneratedProject> {
  const t0 = performance.now();
  const compiled = await compileModel(modelFile, options);
  const model = compiled.ir;

  // The test application's inputs, and their golden outputs from the interpreter.
  const inputs = options.inputs ? testInputsFromNpy(model, options.inputs) : syntheticInputs(model, SYNTHETIC_TESTS);
  const outputs = inputs.map((sample) => interpret(model, sample));

  const plan = planMemory(model, {
    board: options.board,
    kernels: options.kernels,
    flashBudget: options.flashBudget,
    ramBudget: options.ramBudget,
    placement: options.placement,
    application: applicationBytes(model, inputs.length),
    weightsIn: options.weightsIn,
    weightsLayout: options.weightsLayout,
  });
  const report = analyzeModel(model);
  const files = generateProjectFiles({
    model,
    modelFile,
    plan,
    board: options.board,
    kernels: options.kernels,
    tests: { inputs, outputs },
    version: options.version,
    facts: { ops: report.totals.ops, macs: report.totals.macs, steps: model.graph.ops.find((op) => op.kind === 'Loop')?.steps ?? 0 },
  });
  writeProjectAtomically(options.out, files);
  return { compiled, plan, files, tests: { inputs, outputs }, generateMs: performance.now() - t0 };
}

function testInputsFromNpy(model: IrModel, file: string): IrData[][] {
  if (model.inputs.length !== 1) throw diagnostics.badOption('--inputs', file, 'a model with one input');
  const io = model.inputs[0];
  const npy = readNpy(file);
  const samples = samplesOf(npy, io.shape);
  if (!samples) throw diagnostics.inputShape(file, io.shape, npy.shape);
  const t = model.graph.tensors.get(io.tensor)!;
  return samples.map((s) => [quantizeInput(io, t, s)]);
}

/** Deterministic pseudo-random integers over each input's whole range. */
function syntheticInputs(model: IrModel, count: number): IrData[][] {
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () =>
    model.inputs.map((io) => {
      const t = model.graph.tensors.get(io.tensor)!;
      const n = t.shape.reduce((a, b) => a * b, 1);
      return t.dtype === 'int32' ? Int32Array.from({ length: n }, () => Math.floor(next() * 65536) - 32768) : Int8Array.from({ length: n }, () => Math.floor(next() * 256) - 128);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Validation: generate, build, run in an emulator, compare.
//
//   generate the project → build the board's firmware (its ELF is checked against the plan)
//   → run: Renode when it is installed and the board is a real one, the QEMU twin otherwise
//   → parse the UART → compare with the golden model and with ONNX Runtime
// ---------------------------------------------------------------------------------------------

export interface ValidateOptions extends GenerateOptions {
  emulator: EmulatorChoice;
  timeoutSeconds: number;
  /** Progress of the long steps (build, emulator run). */
  progress?: (step: string) => void;
}

export async function validate(modelFile: string, o: ValidateOptions): Promise<ValidationResult> {
  (o.progress ?? (() => {}))('generating the project');
  const project = await generate(modelFile, o);
  return validateProject(readFileSync(modelFile), project, o);
}

/** Builds, runs and checks a project `generate` wrote to `o.out` (validate without generation). */
export async function validateProject(modelBytes: Uint8Array, project: GeneratedProject, o: ValidateOptions): Promise<ValidationResult> {
  const progress = o.progress ?? (() => {});
  const board = o.board;
  const warned: Warning[] = [...project.compiled.warnings, ...project.plan.warnings];

  // 2. Build the board's firmware: its ELF is checked against the plan in every case.
  progress(`building ${board.name}`);
  await buildProject({ projectDir: o.out, board, cmsisNnPath: o.cmsisNnPath });
  const size = await elfSize(join(o.out, 'build', board.name, 'firmware.elf'), board);

  // 3. Run: Renode for a real board when it is installed, the QEMU twin otherwise.
  const useRenode = o.emulator === 'renode' || (o.emulator === 'auto' && board.kind === 'board' && !!board.emulator.renode && renodeAvailable());
  let run: EmulatorRun;
  let renode: ValidationResult['renode'] = { status: 'not run', reason: '' };
  let ranOn = board;
  if (useRenode) {
    if (!board.emulator.renode) throw diagnostics.badOption('--emulator', 'renode', `a board that Renode models (${board.name} has no Renode description)`);
    progress('running in Renode');
    const names = renodeFileNames(project.compiled.ir.name);
    const r = await runRenode({ projectDir: o.out, robotFile: join('renode', names.robot), timeoutSeconds: o.timeoutSeconds * 4 });
    if (r.status === 'skipped') throw diagnostics.toolMissing('renode-test', 'Renode (from renode.io; not packaged in Debian)');
    renode = { status: r.status, reason: r.reason };
    const log = join(o.out, 'build', board.name, 'renode-uart.log');
    const output = readUartLog(log) ?? r.output;
    run = { emulator: 'Renode', output, exitCode: r.status === 'passed' ? 0 : 1, report: parseFirmwareOutput(output) };
  } else {
    if (o.emulator === 'auto' && board.kind === 'board' && board.emulator.renode) {
      const why = 'renode is not on PATH; ran the QEMU twin instead';
      renode = { status: 'skipped', reason: why };
      warned.push(warningsOf.renodeSkipped(why));
    }
    ranOn = board.kind === 'emulation-twin' ? board : twinOf(board);
    const target = ranOn === board ? undefined : 'twin';
    progress(`building ${ranOn.name}`);
    if (target) await buildProject({ projectDir: o.out, board: ranOn, target, cmsisNnPath: o.cmsisNnPath });
    progress(`running in QEMU ${ranOn.emulator.qemu?.machine}`);
    run = await runQemu(join(o.out, 'build', ranOn.name, 'firmware.elf'), ranOn, o.timeoutSeconds);
  }

  // 4. Compare: bit for bit with the golden model, in floats with ONNX Runtime.
  progress('comparing');
  const model = project.compiled.ir;
  const firmware = firmwareOutputs(model, run, project.tests.outputs.length);
  const bitExact = compareExact(firmware, project.tests.outputs);
  const float = await compareWithOnnxRuntime(modelBytes, model, project.tests.inputs, firmware);
  const cost = costs(run, ranOn, project.tests.outputs.length);

  const result: ValidationResult = {
    model: model.name,
    board: board.name,
    ranOn: ranOn.name,
    emulator: run.emulator,
    kernels: o.kernels,
    inputs: project.tests.inputs.length,
    bitExact,
    float,
    semantics: model.notes.filter((n) => n.startsWith('--fuse-accumulators')),
    cost,
    elf: {
      board: board.name,
      flash: size.flash,
      ram: size.ram,
      planFlash: project.plan.flash.total,
      planRam: project.plan.ram.total,
      flashBudget: project.plan.flash.budget,
      ramBudget: project.plan.ram.budget,
    },
    renode,
    warnings: warned,
    projectDir: o.out,
    pass: bitExact.mismatches === 0 && (renode.status !== 'failed'),
  };
  return result;
}

