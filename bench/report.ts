// The benchmark's outputs: results.json (the rows), results.md (the table with a caption saying
// what was measured, with which tools, and how to read it) and the same table in README.md
// between its bench markers.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { kib } from '../src/plan/plan.js';
import type { BenchRow } from './measure.js';

export interface Environment {
  date: string;
  qemu: string;
  gcc: string;
  cmsisNn: string;
  node: string;
}

export interface Report {
  rows: BenchRow[];
  environment: Environment;
  runs: number;
  /** Lines under the table: ratios to the baseline, skipped rows and kernel sets. */
  notes: string[];
}

export const README_START = '<!-- bench:start -->';
export const README_END = '<!-- bench:end -->';

export async function environment(
  toolchainPrefix: string,
  cmsisNnPath: string | undefined,
): Promise<Environment> {
  const firstLine = async (cmd: string, args: string[]) => {
    const r = await execa(cmd, args, { reject: false });
    return r.exitCode === 0 ? r.stdout.split('\n')[0].trim() : 'unknown';
  };
  const qemu =
    /version (\S+)/.exec(await firstLine('qemu-system-arm', ['--version']))?.[1] ?? 'unknown';
  const gcc = await firstLine(`${toolchainPrefix}gcc`, ['-dumpversion']);
  return {
    date: new Date().toISOString().slice(0, 10),
    qemu,
    gcc: `${toolchainPrefix}gcc ${gcc}`,
    cmsisNn: await cmsisNnVersion(cmsisNnPath),
    node: process.version,
  };
}

/** The checkout's commit; without git, at least the API revision its main header states. */
async function cmsisNnVersion(path: string | undefined): Promise<string> {
  if (!path) return 'not used (CMSIS_NN_PATH not set)';
  const git = await execa('git', ['-C', path, 'rev-parse', 'HEAD'], { reject: false });
  const commit = git.exitCode === 0 ? `commit ${git.stdout.trim().slice(0, 12)}` : 'commit unknown';
  const header = join(path, 'Include', 'arm_nnfunctions.h');
  const revision = existsSync(header)
    ? /\$Revision:\s*(\S+)/.exec(readFileSync(header, 'utf8'))?.[1]
    : undefined;
  return revision ? `${commit} (arm_nnfunctions.h ${revision})` : commit;
}

export function writeResults(dir: string, report: Report): { json: string; markdown: string } {
  const json = join(dir, 'results.json');
  const markdown = join(dir, 'results.md');
  writeFileSync(json, `${JSON.stringify(report.rows, null, 2)}\n`);
  writeFileSync(markdown, `# tinylstm-gen benchmark\n\n${renderSection(report)}`);
  return { json, markdown };
}

/** Replaces what lies between the bench markers of a README with the table. */
export function updateReadme(file: string, report: Report): void {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  if (start < 0 || end < start)
    throw new Error(
      `${file} has no ${README_START} ... ${README_END} markers for the benchmark table`,
    );
  writeFileSync(
    file,
    `${text.slice(0, start + README_START.length)}\n${renderSection(report)}${text.slice(end)}`,
  );
}

/** Caption, table and notes. */
export function renderSection(report: Report): string {
  const e = report.environment;
  const first = report.rows[0];
  const tick = first
    ? `SysTick ticks × ${first.resolution} (±${first.resolution})`
    : 'SysTick ticks';
  const budget = first ? ` (${kib(first.flashBudget)} flash, ${kib(first.ramBudget)} RAM)` : '';
  const caption = [
    `Measured on ${e.date} by \`npm run bench\`: QEMU ${e.qemu} (mps2-an500 twin,`,
    `\`-icount shift=0\`), ${e.gcc}, CMSIS-NN ${e.cmsisNn}, Node ${e.node}.`,
    `**Instructions** per inference are ${tick}, median over the fixture's test inputs.`,
    'QEMU counts instructions, not cycles: weights in RAM, faster on the chip (no flash wait',
    'states), cost the same here.',
    "**Est. latency** assumes one instruction per cycle on the STM32H747's Cortex-M7 at 480 MHz:",
    'an estimate, not a measurement (the core can issue two instructions per cycle; flash wait',
    'states and cache misses go the other way).',
    '**× SMLAD bound** is instructions / (MACs / 2): the Cortex-M7 does at most two 16-bit MACs',
    'per instruction.',
    "**Flash** and **RAM** are the stm32h747 ELF's (the baseline's: its mps2-an500 twin ELF's)",
    `with their share of the budget${budget}, the test application and its embedded inputs`,
    "included. **Arena** is the planned arena against the planner's lower bound (the largest set",
    'of tensors live at once).',
    `**Generate** is the median wall time of ${report.runs} cold \`generate\` process(es), from`,
    "Node's start to the files written, and the largest peak RSS.",
  ];
  const header = [
    'model',
    'kernels',
    'weights in',
    'options',
    'MACs',
    'instructions',
    'instr./MAC',
    '× SMLAD bound',
    'est. ms @ 480 MHz',
    'flash',
    'RAM',
    'arena / lower bound',
    'generate',
    'bit-exact',
    'vs baseline',
  ];
  const textColumns = new Set(['model', 'kernels', 'weights in', 'options', 'bit-exact']);
  const table = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((h) => (textColumns.has(h) ? '---' : '---:')).join(' | ')} |`,
    ...report.rows.map((r) => `| ${cells(r).join(' | ')} |`),
  ];
  const notes = report.notes.map((n) => wrap(`- ${n}`, '  '));
  const after = notes.length ? `\n${notes.join('\n')}\n` : '';
  return `${wrap(caption.join(' '))}\n\n${table.join('\n')}\n${after}`;
}

function cells(r: BenchRow): string[] {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const share = (used: number, budget: number) =>
    `${int(used)} B (${((100 * used) / budget).toFixed(1)}%)`;
  const arena =
    r.arenaBytes === null || r.arenaLowerBound === null
      ? '—'
      : `${int(r.arenaBytes)} / ${int(r.arenaLowerBound)} B ` +
        `(${ratio(r.arenaBytes, r.arenaLowerBound)})`;
  const generate =
    r.generateMs === null || r.peakMemoryMB === null
      ? '—'
      : `${int(r.generateMs)} ms, ${r.peakMemoryMB.toFixed(0)} MB`;
  const golden = r.goldenAgreement;
  const bitExact = golden
    ? `${r.bitExact ? 'yes' : 'no (double rounding)'}; ` +
      `argmax ${golden.argmaxAgree}/${golden.inputs}`
    : r.bitExact
      ? 'yes'
      : 'no';
  return [
    r.model,
    r.kernels,
    r.weights,
    r.options || '—',
    int(r.macs),
    int(r.instructions),
    r.instructionsPerMac.toFixed(2),
    r.smladBoundRatio.toFixed(2),
    r.latencyMsAt480MHz.toFixed(2),
    share(r.flashBytes, r.flashBudget),
    share(r.ramBytes, r.ramBudget),
    arena,
    generate,
    bitExact,
    r.vsBaseline === null ? '—' : `${r.vsBaseline.toFixed(3)}×`,
  ];
}

function ratio(a: number, b: number): string {
  return b > 0 ? (a / b).toFixed(2) : '—';
}

/** Words wrapped at 100 columns, as the rest of the README; `indent` starts each next line. */
function wrap(text: string, indent = '', width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line].join('\n');
}
