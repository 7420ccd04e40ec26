// One row of the benchmark: a fixture model with one kernel set and one weight placement.
//
//   generate (in process: the plan, the IR and the golden outputs are needed below)
//   → build the board's firmware and the QEMU twin, run the twin, compare bit for bit
//     (validateProject: the same path as `tinylstm-gen validate`)
//   → time `runs` cold generations in child processes → the row's figures

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { loadBoard, packageRoot } from '../src/boards.js';
import { ExitCode, TlgError } from '../src/diagnostics.js';
import { analyzeModel } from '../src/ir/analyze.js';
import {
  generate,
  validateProject,
  type GeneratedProject,
  type KernelSet,
} from '../src/pipeline.js';

/** The board every row is generated for; its twin runs in QEMU. */
export const BENCH_BOARD = 'stm32h747';

export type WeightsIn = 'flash' | 'ram';

export interface BenchRow {
  model: string;
  kernels: string;
  weights: WeightsIn;
  /** Compiler options that change the model's integer semantics ('' for none). */
  options: string;
  macs: number;
  /** Per inference: the median over the test inputs of SysTick ticks × instructions per tick. */
  instructions: number;
  instructionsRange: [number, number];
  /** ± instructions: one SysTick tick. */
  resolution: number;
  instructionsPerMac: number;
  /** instructions / (MACs / 2): the Cortex-M7 does at most two 16-bit MACs per instruction. */
  smladBoundRatio: number;
  /** At one instruction per cycle: an estimate, not a measurement. */
  latencyMsAt480MHz: number;
  flashBytes: number;
  ramBytes: number;
  flashBudget: number;
  ramBudget: number;
  /** The ELF the sizes come from. */
  sizesOf: string;
  arenaBytes: number | null;
  arenaLowerBound: number | null;
  generateMs: number | null;
  peakMemoryMB: number | null;
  bitExact: boolean | null;
  /** The baseline only: its outputs against the golden model's (argmax, largest difference). */
  goldenAgreement?: { argmaxAgree: number; inputs: number; maxStepDifference: number };
  vsBaseline: number | null;
}

export interface MeasureContext {
  workDir: string;
  runs: number;
  version: string;
  cmsisNnPath?: string;
  timeoutSeconds: number;
  log: (message: string) => void;
}

/** What a timing child (bench/generate-once.ts) generates. */
export interface GenerationSpec {
  model: string;
  board: string;
  out: string;
  kernels: KernelSet;
  cmsisNnPath?: string;
  calibration?: string;
  inputs: string;
  weightsIn: WeightsIn;
  fuseAccumulators: boolean;
  version: string;
}

export type Measured = { row: BenchRow; project: GeneratedProject } | { skipped: string };

function fixtureFiles(name: string) {
  const dir = join(packageRoot, 'test', 'fixtures', name);
  const model = join(dir, 'model.onnx');
  if (!existsSync(model)) {
    throw new Error(
      `fixture ${name} is missing (${model}): export it with ` +
        `/usr/bin/python3 test/fixtures/export_fixtures.py ${name}`,
    );
  }
  // The compiler uses calibration data only where the model leaves values in float (LSTM
  // operators, float models) and ignores it otherwise, so every fixture gets its own.
  const calibration = join(dir, 'calibration.npy');
  return {
    model,
    inputs: join(dir, 'inputs.npy'),
    calibration: existsSync(calibration) ? calibration : undefined,
  };
}

export async function measureRow(
  model: string,
  kernels: KernelSet,
  weights: WeightsIn,
  ctx: MeasureContext,
  fuseAccumulators = false,
): Promise<Measured> {
  const variant = fuseAccumulators ? '-fused' : '';
  const id = `${model} ${kernels} weights-in-${weights}${fuseAccumulators ? ' --fuse-accumulators' : ''}`;
  const dir = join(ctx.workDir, `${model}-${kernels}-${weights}${variant}`);
  const board = loadBoard(BENCH_BOARD);
  const files = fixtureFiles(model);
  const spec: GenerationSpec = {
    model: files.model,
    board: board.name,
    out: join(dir, 'project'),
    kernels,
    cmsisNnPath: kernels === 'cmsis-nn' ? ctx.cmsisNnPath : undefined,
    calibration: files.calibration,
    inputs: files.inputs,
    weightsIn: weights,
    fuseAccumulators,
    version: ctx.version,
  };
  const options = { ...spec, board };

  // 1. Generate; a placement that does not fit the budget is a skipped row, not a failure.
  ctx.log(`${id}: generating`);
  let project: GeneratedProject;
  try {
    project = await generate(files.model, options);
  } catch (e) {
    if (e instanceof TlgError && e.exitCode === ExitCode.budget)
      return { skipped: `${id}: ${e.message}` };
    throw e;
  }

  // 2. Build, run in QEMU and compare bit for bit.
  const result = await validateProject(readFileSync(files.model), project, {
    ...options,
    emulator: 'qemu',
    timeoutSeconds: ctx.timeoutSeconds,
    progress: (step) => ctx.log(`${id}: ${step}`),
  });
  if (result.bitExact.mismatches > 0 || !result.pass) {
    const { mismatches, elements, first: f } = result.bitExact;
    const where = f
      ? `; first at input ${f.input}, output ${f.output}, element ${f.index}: ` +
        `got ${f.got}, expected ${f.expected}`
      : '';
    throw new Error(
      `${id}: the firmware is not bit-exact: ${mismatches} of ${elements} output values ` +
        `differ from the golden model${where} (project: ${spec.out})`,
    );
  }
  if (!result.cost.instructions || !result.cost.resolution)
    throw new Error(`${id}: the twin reported costs in ${result.cost.unit}, not SysTick ticks`);

  // 3. Cold generations, one process each.
  ctx.log(`${id}: timing ${ctx.runs} generation(s)`);
  const timing = await timeGenerations({ ...spec, out: join(dir, 'timing') }, ctx.runs);

  const macs = analyzeModel(project.compiled.ir).totals.macs;
  const instructions = median(result.cost.instructions);
  return {
    project,
    row: {
      model,
      kernels,
      weights,
      options: fuseAccumulators ? '--fuse-accumulators' : '',
      macs,
      instructions,
      instructionsRange: [
        Math.min(...result.cost.instructions),
        Math.max(...result.cost.instructions),
      ],
      resolution: result.cost.resolution,
      ...performanceFigures(instructions, macs),
      flashBytes: result.elf.flash,
      ramBytes: result.elf.ram,
      flashBudget: result.elf.flashBudget,
      ramBudget: result.elf.ramBudget,
      sizesOf: board.name,
      arenaBytes: project.plan.arena.size,
      arenaLowerBound: project.plan.arena.lowerBound,
      generateMs: median(timing.map((t) => t.wallMs)),
      peakMemoryMB: Math.max(...timing.map((t) => t.peakMemoryMB)),
      bitExact: true,
      vsBaseline: null,
    },
  };
}

/** Figures derived from an instruction count, shared by the generated rows and the baseline. */
export function performanceFigures(instructions: number, macs: number) {
  const board = loadBoard(BENCH_BOARD);
  return {
    instructionsPerMac: instructions / macs,
    smladBoundRatio: instructions / (macs / 2),
    latencyMsAt480MHz: (instructions / board.core.clockHz) * 1000,
  };
}

/** What a timing child reports: wall time from its start, peak resident memory. */
interface Timing {
  wallMs: number;
  peakMemoryMB: number;
}

async function timeGenerations(spec: GenerationSpec, runs: number): Promise<Timing[]> {
  const script = fileURLToPath(new URL('./generate-once.js', import.meta.url));
  const out: Timing[] = [];
  // One after the other: parallel runs would time each other.
  for (let i = 0; i < runs; i++) {
    const r = await execa('node', [script, JSON.stringify(spec)], {
      reject: false,
      all: true,
      timeout: 600_000,
    });
    if (r.exitCode !== 0)
      throw new Error(
        `timed generation of ${spec.model} failed (exit code ${r.exitCode}):\n${r.all}`,
      );
    out.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Timing);
  }
  return out;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
