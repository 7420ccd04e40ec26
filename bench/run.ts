// `npm run bench`: every model × kernel set × weight placement generated, built, run in the
// QEMU twin and checked bit for bit, and pm-lstm against a hand-written CMSIS-NN baseline.
//
//   options → rows (bench/measure.ts) → baseline and ratios (bench/baseline.ts)
//   → results.json, results.md, README.md's table (bench/report.ts)
//
// Progress goes to stderr, results to files, a short summary to stdout.

import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadBoard, packageRoot } from '../src/boards.js';
import { TlgError } from '../src/diagnostics.js';
import type { GeneratedProject, KernelSet } from '../src/pipeline.js';
import { BASELINE_MODEL, runBaseline } from './baseline.js';
import { BENCH_BOARD, measureRow, type BenchRow, type MeasureContext } from './measure.js';
import { environment, updateReadme, writeResults } from './report.js';

const DEFAULT_MODELS = ['pm-tiny', 'pm-base', 'pm-lstm', 'tinylstm-256'];
const KERNEL_SETS: KernelSet[] = ['portable', 'cmsis-nn'];
/** QEMU's limit per firmware run; the largest fixture runs in seconds. */
const QEMU_TIMEOUT_SECONDS = 300;
const README = join(packageRoot, 'README.md');

interface CliOptions {
  models: string[];
  kernels: KernelSet[];
  runs: number;
  out?: string;
  smoke?: boolean;
}

interface BenchOptions {
  models: string[];
  kernels: KernelSet[];
  runs: number;
  outDir: string;
  workDir: string;
  readme: boolean;
  cmsisNnPath?: string;
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

await new Command('bench')
  .description(
    'benchmark the generated firmware: instructions in the QEMU twin, sizes and generation ' +
      'time, against a hand-written CMSIS-NN baseline',
  )
  .addOption(
    new Option('--models <list>', 'fixture models, comma-separated')
      .argParser(list)
      .default(DEFAULT_MODELS, DEFAULT_MODELS.join(',')),
  )
  .addOption(
    new Option('--kernels <list>', 'kernel sets (cmsis-nn needs CMSIS_NN_PATH)')
      .argParser(kernelSets)
      .default(KERNEL_SETS, KERNEL_SETS.join(',')),
  )
  .option('--runs <n>', 'timed generations per row, each a separate process', positive, 5)
  .option('--out <dir>', 'where results.json and results.md go (default: bench/)')
  .option('--smoke', 'pm-tiny, portable, 1 run, into a temp dir (or --out); README untouched')
  .action(async (cli: CliOptions) => {
    try {
      await bench(benchOptions(cli));
    } catch (e) {
      const message = e instanceof TlgError ? e.format() : ((e as Error).stack ?? String(e));
      process.stderr.write(`bench failed: ${message}\n`);
      if (e instanceof TlgError && e.details) process.stderr.write(`${e.details.trimEnd()}\n`);
      process.exitCode = 1;
    }
  })
  .parseAsync();

function isTinyLstm(model: string): boolean {
  const meta = join(packageRoot, 'test', 'fixtures', model, 'meta.json');
  return existsSync(meta) && (JSON.parse(readFileSync(meta, 'utf8')) as { kind?: string }).kind === 'tinylstm';
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function kernelSets(text: string): KernelSet[] {
  const sets = list(text);
  const unknown = sets.filter((k) => !KERNEL_SETS.includes(k as KernelSet));
  if (unknown.length)
    throw new InvalidArgumentError(`known kernel sets: ${KERNEL_SETS.join(', ')}`);
  return sets as KernelSet[];
}

function positive(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function benchOptions(cli: CliOptions): BenchOptions {
  const temp = () => mkdtempSync(join(tmpdir(), 'tinylstm-bench-'));
  const outDir = resolve(cli.out ?? (cli.smoke ? temp() : join(packageRoot, 'bench')));
  return {
    models: cli.smoke ? ['pm-tiny'] : cli.models,
    kernels: cli.smoke ? ['portable'] : cli.kernels,
    runs: cli.smoke ? 1 : cli.runs,
    outDir,
    // A smoke run keeps everything in its own folder, away from a full run's bench/work.
    workDir: cli.smoke ? join(outDir, 'work') : join(packageRoot, 'bench', 'work'),
    readme: !cli.smoke,
    cmsisNnPath: process.env.CMSIS_NN_PATH || undefined,
  };
}

async function bench(o: BenchOptions): Promise<void> {
  const started = performance.now();
  mkdirSync(o.outDir, { recursive: true });
  const notes: string[] = [];

  // 1. Kernel sets: CMSIS-NN only where its sources are.
  const kernels = o.kernels.filter((k) => k !== 'cmsis-nn' || o.cmsisNnPath);
  if (kernels.length < o.kernels.length) {
    log('cmsis-nn skipped: CMSIS_NN_PATH is not set');
    notes.push('cmsis-nn kernels skipped: CMSIS_NN_PATH was not set.');
  }

  // 2. The rows, one after the other (parallel runs would time each other).
  const ctx: MeasureContext = {
    workDir: o.workDir,
    runs: o.runs,
    version: (
      JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
    ).version,
    cmsisNnPath: o.cmsisNnPath,
    timeoutSeconds: QEMU_TIMEOUT_SECONDS,
    log,
  };
  const rows: BenchRow[] = [];
  const lstmProjects = new Map<KernelSet, GeneratedProject>();
  for (const model of o.models) {
    for (const k of kernels) {
      for (const weights of ['flash', 'ram'] as const) {
        const measured = await measureRow(model, k, weights, ctx);
        if ('skipped' in measured) {
          log(`skipped ${measured.skipped}`);
          notes.push(`Not in the table: ${measured.skipped}`);
          continue;
        }
        rows.push(measured.row);
        if (model === BASELINE_MODEL && weights === 'flash') lstmProjects.set(k, measured.project);
      }
      // Also with products joined (a change of integer semantics): a TinyLSTM's two low-rank
      // products, and with CMSIS-NN an LSTM cell's input and hidden sides (the portable step
      // does not join them).
      if (isTinyLstm(model) || k === 'cmsis-nn') {
        const fused = await measureRow(model, k, 'flash', ctx, true);
        if ('skipped' in fused) notes.push(`Not in the table: ${fused.skipped}`);
        else rows.push(fused.row);
      }
    }
  }

  // 3. The baseline. Its parameters are the same in both kernel sets' IR; the CMSIS-NN one's
  // golden outputs come from CMSIS-NN's own activation tables, as the baseline's do.
  const lstm = lstmProjects.get('cmsis-nn') ?? lstmProjects.get('portable');
  if (!o.cmsisNnPath) notes.push('Baseline skipped: CMSIS_NN_PATH was not set.');
  else if (!lstm) notes.push(`Baseline skipped: ${BASELINE_MODEL} was not benchmarked.`);
  else {
    const ctxBaseline = {
      workDir: o.workDir,
      cmsisNnPath: o.cmsisNnPath,
      timeoutSeconds: QEMU_TIMEOUT_SECONDS,
      log,
    };
    notes.push(...compareWithBaseline(rows, await runBaseline(lstm, ctxBaseline)));
  }

  // 4. Results.
  const env = await environment(loadBoard(BENCH_BOARD).toolchain.prefix, o.cmsisNnPath);
  const report = { rows, environment: env, runs: o.runs, notes };
  const files = [...Object.values(writeResults(o.outDir, report))];
  if (o.readme) {
    updateReadme(README, report);
    files.push(README);
  }
  log(`done in ${((performance.now() - started) / 60_000).toFixed(1)} min`);
  process.stdout.write(summary(rows, notes, files));
}

/** A row's kernels, weights placement and options, as the notes and the summary name it. */
function variant(r: BenchRow): string {
  return `${r.kernels} (weights in ${r.weights}${r.options ? `, ${r.options}` : ''})`;
}

/** Sets the pm-lstm rows' ratio to the baseline and puts its row after them; returns notes. */
function compareWithBaseline(rows: BenchRow[], baseline: BenchRow): string[] {
  const ratios: string[] = [];
  for (const r of rows.filter((x) => x.model === BASELINE_MODEL)) {
    r.vsBaseline = r.instructions / baseline.instructions;
    ratios.push(`${variant(r)} ${r.vsBaseline.toFixed(3)}×`);
  }
  const last = rows.map((x) => x.model).lastIndexOf(BASELINE_MODEL);
  rows.splice(last + 1, 0, baseline);
  const golden = baseline.goldenAgreement!;
  return [
    `${BASELINE_MODEL}, instructions of the generated firmware / the hand-written baseline ` +
      '(`arm_lstm_unidirectional_s8` per layer, `arm_fully_connected_per_channel_s8`, ' +
      `bench/baseline/): ${ratios.join(', ')}.`,
    `Baseline sanity check: its class (argmax) equals the golden model's on ` +
      `${golden.argmaxAgree} of ${golden.inputs} inputs; its int8 outputs differ from the golden ` +
      `model's by up to ${golden.maxStepDifference} step(s) (CMSIS-NN's default requantization ` +
      'rounds twice, the golden model once).',
  ];
}

function summary(rows: BenchRow[], notes: string[], files: string[]): string {
  const lines = rows.map((r) => {
    const ratio = r.vsBaseline !== null ? `, ${r.vsBaseline.toFixed(3)}× the baseline` : '';
    const count = r.instructions.toLocaleString('en-US');
    return `${r.model} ${variant(r)}: ${count} instructions${ratio}`;
  });
  return `${[...lines, ...notes, `written: ${files.join(', ')}`].join('\n')}\n`;
}
