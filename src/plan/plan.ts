// The memory plan: every byte of a model's firmware placed and counted against the budget.
//
//   schedule → lifetimes and aliases (memory.ts) → arena placement (placement/) → regions
//   (arena, state and stack in the fastest RAM, spilling when it is full) → budget check,
//   with the fast weight layouts first and the compact ones when only those fit.

import type { IrModel, IrOp } from '../ir/ir.js';
import { allGraphs, bytesOf, elementCount, parameterTensors } from '../ir/ir.js';
import type { Board, MemoryRegion } from '../boards.js';
import { diagnostics, warnings as warningsOf, type Warning } from '../diagnostics.js';
import { buildSchedule } from './schedule.js';
import { layoutMemory, type Buffer, type MemoryLayout } from './memory.js';
import { scratchBuffers, weightLayout, wideFullyConnected, type KernelSetName, type WeightsLayout } from './kernel-needs.js';
import { getPlacementAlgorithm, lowerBound, placeBest, validatePlacement, type BufferRequest, type Placement } from './placement/index.js';
import { applicationCode, estimateCode, parameterBytes } from './code-size.js';
import { opMacs } from '../ir/analyze.js';

export interface PlanOptions {
  board: Board;
  kernels: KernelSetName;
  flashBudget?: number;
  ramBudget?: number;
  /** A placement algorithm by name; the best of all when not given. */
  placement?: string;
  /** Flash and RAM of the data a test application embeds (inputs, expected outputs). */
  application?: { flashBytes: number; ramBytes: number };
  /**
   * Where weights and tables are read from: flash, or a copy in RAM made at startup (faster
   * on the real chip, where flash is behind wait states and a 16 KiB cache; counted in RAM).
   */
  weightsIn?: 'flash' | 'ram';
  /**
   * How kernels that have a choice store their weights (see WeightsLayout): `auto` (the
   * default) takes the fast layouts when the plan fits the budget with them, else the compact
   * ones, with a warning.
   */
  weightsLayout?: WeightsLayout | 'auto';
}

export interface PlannedBuffer {
  name: string;
  kind: 'activation' | 'state' | 'scratch';
  region: string;
  offset: number;
  size: number;
  firstUse: number;
  lastUse: number;
  /** The values that share it (views, in-place results). */
  values: string[];
}

export interface BudgetLine {
  what: string;
  bytes: number;
}

export interface MemoryPlan {
  model: string;
  board: string;
  kernels: KernelSetName;
  /** The schedule: one op per step. */
  steps: { step: number; op: string; kind: string; depth: number }[];
  arena: { region: string; size: number; lowerBound: number; algorithm: string; buffers: PlannedBuffer[] };
  state: { region: string; size: number; buffers: PlannedBuffer[] };
  constants: { region: string; size: number; tensors: { name: string; bytes: number }[]; in: 'flash' | 'ram' };
  /** Values that the emitted code reaches through a buffer and a byte offset. */
  locations: Record<string, { buffer: string; offset: number; storage: string }>;
  stateCommits: { bodyIn: string; bodyOut: string }[];
  flash: { total: number; budget: number; lines: BudgetLine[] };
  ram: { total: number; budget: number; lines: BudgetLine[] };
  regions: { name: string; kind: string; used: number; capacity: number }[];
  /** The weight layout the emitter follows, what was asked for, and why this one. */
  weightsLayout: { chosen: WeightsLayout; requested: WeightsLayout | 'auto'; reason: string };
  warnings: Warning[];
  /** The placement itself, for the printable timeline. */
  placement: Placement;
}

const STATE_ALIGNMENT = 4;

/**
 * The plan of a model with the weight layout asked for. Under `auto`: the fast layouts when
 * they fit the budget; otherwise the compact ones (int8 weights where the kernels would widen
 * them), with a warning that gives the cost, when they make a difference. Fails with a report
 * of the largest consumers when the chosen plan does not fit.
 */
export function planMemory(model: IrModel, options: PlanOptions): MemoryPlan {
  const requested = options.weightsLayout ?? 'auto';
  const noChoice = options.kernels === 'cmsis-nn' ? '; the CMSIS-NN kernels store int8 weights in either layout' : '';
  if (requested !== 'auto') {
    const plan = planWithLayout(model, options, { chosen: requested, requested, reason: `--weights-layout ${requested}${noChoice}` });
    const compactFits = () => {
      const compact = planWithLayout(model, options, { chosen: 'compact', requested, reason: '' });
      if (overBudget(compact).length > 0) return undefined;
      return `int8 weights (--weights-layout compact or auto) would fit: flash ${kib(compact.flash.total)}, RAM ${kib(compact.ram.total)}`;
    };
    checkBudget(plan, model, requested === 'fast' ? compactFits : undefined);
    return plan;
  }

  const fast = planWithLayout(model, options, { chosen: 'fast', requested, reason: `fits the budget${noChoice}` });
  if (overBudget(fast).length === 0) return fast;
  const compact = planWithLayout(model, options, { chosen: 'compact', requested, reason: `the fast layout does not fit: ${overBudget(fast).join(', ')}` });
  if (compact.flash.total === fast.flash.total && compact.ram.total === fast.ram.total) {
    fast.weightsLayout.reason = 'no kernel of this model has a compact layout';
    checkBudget(fast, model);
  }
  checkBudget(compact, model);
  compact.warnings.push(warningsOf.compactWeights(overBudget(fast).join(', '), kib(compact.flash.total), compactCost(model, options.kernels)));
  return compact;
}

/**
 * Instructions the compact layout adds on the Cortex-M7, fitted to QEMU's instruction counts
 * (validate) of both layouts. The LSTM step sign-extends each word of four weights with two
 * SXTB16: 0.37 per multiply-accumulate on pm-lstm (its inner loop takes 19.5 instructions per
 * 16 MACs instead of 13.5). The FC goes from the inlined tlg_fc_rows_s8 to
 * tlg_fully_connected_s8, which costs more per MAC and per output (its general requantization):
 * about 0.7 and 53, from pm-base's rank-16 products (16 x 16 to 16 x 128 and 384 x 16). An
 * estimate for the warning; other shapes and compilers differ.
 */
const COMPACT_EXTRA_INSTRUCTIONS = { lstmPerMac: 0.37, fcPerMac: 0.7, fcPerOutput: 53 };

/** What the compact layout costs per inference: the MACs it slows down, and an estimate of the
 *  instructions it adds. */
function compactCost(model: IrModel, kernels: KernelSetName): { macs: number; instructions: number } {
  const tensors = new Map(allGraphs(model.graph).flatMap((g) => [...g.tensors]));
  let macs = 0;
  let instructions = 0;
  const walk = (g: IrModel['graph'], runs: number) => {
    for (const op of g.ops) {
      if (op.kind === 'Loop') {
        walk(op.body, runs * op.steps);
        continue;
      }
      const lstm = kernels === 'portable' && op.kind === 'LstmCell';
      if (!lstm && !wideFullyConnected(op, kernels, 'fast', (v) => tensors.get(v)!)) continue;
      const n = opMacs(op, (v) => tensors.get(v)!) * runs;
      const { lstmPerMac, fcPerMac, fcPerOutput } = COMPACT_EXTRA_INSTRUCTIONS;
      macs += n;
      instructions += lstm ? n * lstmPerMac : n * fcPerMac + elementCount(tensors.get(op.outputs[0])!) * runs * fcPerOutput;
    }
  };
  walk(model.graph, 1);
  return { macs, instructions };
}

function planWithLayout(model: IrModel, options: PlanOptions, weightsLayout: MemoryPlan['weightsLayout']): MemoryPlan {
  const { board, kernels } = options;
  const weights = weightsLayout.chosen;
  const schedule = buildSchedule(model.graph);
  const layout = layoutMemory(schedule, model.graph, kernels);
  const warnings: Warning[] = [];

  // 1. Arena requests: activations and the kernels' scratch buffers.
  const requests: (BufferRequest & { kind: PlannedBuffer['kind']; values: string[] })[] = [];
  for (const b of layout.buffers.values()) {
    if (b.storage !== 'arena') continue;
    requests.push({ name: b.name, size: b.size, alignment: b.alignment, firstUse: b.firstUse, lastUse: b.lastUse, kind: 'activation', values: b.values });
  }
  for (const so of schedule.ops) {
    for (const sc of scratchBuffers(so.op, kernels, weights, (v) => schedule.tensors.get(v)!)) {
      requests.push({ name: sc.name, size: sc.bytes, alignment: sc.alignment, firstUse: so.step, lastUse: so.step, kind: 'scratch', values: [] });
    }
  }

  // 2. Placement, checked.
  const placement = options.placement ? getPlacementAlgorithm(options.placement).place(requests) : placeBest(requests);
  validatePlacement(placement);
  const offsetOf = new Map(placement.buffers.map((b) => [b.name, b.offset]));

  // 3. The persistent state block: loop states, one after the other.
  const stateBuffers: PlannedBuffer[] = [];
  let stateSize = 0;
  for (const b of [...layout.buffers.values()].filter((x) => x.storage === 'state').sort(byName)) {
    stateSize = align(stateSize, STATE_ALIGNMENT);
    stateBuffers.push(planned(b, 'state', '', stateSize));
    stateSize += b.size;
  }

  // 4. Constants in flash, as the kernels store them.
  const replaced = new Set<string>();
  const kernelArrays: { name: string; bytes: number }[] = [];
  let extraWeightBytes = 0;
  for (const so of schedule.ops) {
    const w = weightLayout(so.op, kernels, weights, (v) => schedule.tensors.get(v)!);
    extraWeightBytes += align(w.extraBytes, 16);
    w.replaces.forEach((r) => replaced.add(r));
    kernelArrays.push(...w.arrays);
  }
  const irConstants = constantTensors(model, layout).filter((c) => !replaced.has(c.name));
  const constantBytes = irConstants.reduce((a, c) => a + align(c.bytes, 16), 0) + extraWeightBytes;
  // What the firmware stores: the IR's constants and the kernels' own layouts, largest first.
  const constants = [...irConstants, ...kernelArrays].sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));

  // 5. Budget lines and regions.
  const flashBudget = options.flashBudget ?? board.budget.flash;
  const ramBudget = options.ramBudget ?? board.budget.ram;
  const sameSpot = (a: string, b: string) => layout.locations.get(a)?.buffer === layout.locations.get(b)?.buffer && layout.locations.get(a)?.offset === layout.locations.get(b)?.offset;
  const freeView = (op: IrOp) =>
    (op.kind === 'Reshape' && sameSpot(op.inputs[0], op.outputs[0])) ||
    (op.kind === 'Copy' && layout.locations.get(op.outputs[0])?.buffer === layout.locations.get(op.inputs[0])?.buffer) ||
    (op.kind === 'Concat' && op.inputs.every((i) => layout.locations.get(i)?.buffer === layout.locations.get(op.outputs[0])?.buffer));
  const code = estimateCode(model, kernels, weights, freeView);
  const app = options.application ?? { flashBytes: 0, ramBytes: 0 };
  const flashLines: BudgetLine[] = [
    { what: 'weights, biases and tables', bytes: constantBytes },
    { what: 'requantization parameters', bytes: parameterBytes(model, kernels, weights) },
    { what: `code (estimate: ${code.detail})`, bytes: code.bytes },
    { what: 'board support and runtime', bytes: board.support.flashBytes },
    ...(app.flashBytes ? [{ what: 'test application (code and data)', bytes: app.flashBytes + applicationCode() }] : []),
  ];
  const ramLines: BudgetLine[] = [
    { what: 'arena (activations, scratch)', bytes: placement.size },
    { what: 'recurrent state', bytes: stateSize },
    { what: 'stack', bytes: board.support.stackBytes },
    { what: 'board support static data', bytes: board.support.ramBytes },
    ...(app.ramBytes ? [{ what: 'test application buffers', bytes: app.ramBytes }] : []),
    ...(options.weightsIn === 'ram' ? [{ what: 'weights and tables copied to RAM', bytes: constantBytes }] : []),
  ];
  const flashTotal = sum(flashLines);
  const ramTotal = sum(ramLines);
  const { arenaRegion, stateRegion, regions } = placeRegions(board, placement.size, stateSize, ramTotal, warnings);

  const plan: MemoryPlan = {
    model: model.name,
    board: board.name,
    kernels,
    steps: schedule.ops.map((so) => ({ step: so.step, op: so.op.name, kind: so.op.kind, depth: so.loops.length })),
    arena: {
      region: arenaRegion,
      size: placement.size,
      lowerBound: lowerBound(placement.buffers),
      algorithm: placement.algorithm,
      buffers: requests.map((r) => ({ name: r.name, kind: r.kind, region: arenaRegion, offset: offsetOf.get(r.name)!, size: r.size, firstUse: r.firstUse, lastUse: r.lastUse, values: r.values })),
    },
    state: { region: stateRegion, size: stateSize, buffers: stateBuffers.map((b) => ({ ...b, region: stateRegion })) },
    constants: { region: flashRegion(board).name, size: constantBytes, tensors: constants, in: options.weightsIn ?? 'flash' },
    locations: Object.fromEntries(
      [...layout.locations].map(([v, loc]) => [v, { ...loc, storage: layout.buffers.get(loc.buffer)!.storage }]),
    ),
    stateCommits: layout.stateCommits,
    flash: { total: flashTotal, budget: flashBudget, lines: flashLines },
    ram: { total: ramTotal, budget: ramBudget, lines: ramLines },
    regions,
    weightsLayout,
    warnings,
    placement,
  };
  return plan;
}

function planned(b: Buffer, kind: PlannedBuffer['kind'], region: string, offset: number): PlannedBuffer {
  return { name: b.name, kind, region, offset, size: b.size, firstUse: b.firstUse, lastUse: b.lastUse, values: b.values };
}

function constantTensors(model: IrModel, layout: MemoryLayout): { name: string; bytes: number }[] {
  const out = new Map<string, number>();
  const visit = (g: IrModel['graph']) => {
    for (const op of g.ops) {
      for (const p of [...op.inputs, ...parameterTensors(op)]) {
        const t = g.tensors.get(p) ?? model.graph.tensors.get(p);
        if (t?.data && layout.locations.get(p)?.buffer === p) out.set(p, bytesOf(t));
      }
      if (op.kind === 'Loop') visit(op.body);
    }
  };
  visit(model.graph);
  return [...out].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
}

function flashRegion(board: Board): MemoryRegion {
  return board.memory.find((m) => m.kind === 'flash' && m.holds.includes('weights')) ?? board.memory.find((m) => m.kind === 'flash')!;
}

/** Arena and state go to the first RAM region that holds them and has room; else they spill. */
function placeRegions(board: Board, arena: number, state: number, ramTotal: number, warnings: Warning[]) {
  const rams = board.memory.filter((m) => m.kind === 'ram');
  const primary = rams.find((m) => m.holds.includes('arena')) ?? rams[0];
  const spill = rams.find((m) => m !== primary && m.holds.includes('data'));
  let arenaRegion = primary.name;
  let stateRegion = primary.name;
  const used = new Map<string, number>([[primary.name, ramTotal]]);
  if (ramTotal > primary.length && spill) {
    arenaRegion = spill.name;
    used.set(primary.name, ramTotal - arena);
    used.set(spill.name, arena);
    warnings.push(warningsOf.spilled(primary.name, spill.name, arena));
    if (ramTotal - arena > primary.length) {
      stateRegion = spill.name;
      used.set(primary.name, ramTotal - arena - state);
      used.set(spill.name, arena + state);
    }
  }
  const regions = board.memory
    .filter((m) => m.kind === 'ram' && used.has(m.name))
    .map((m) => ({ name: m.name, kind: m.kind, used: used.get(m.name)!, capacity: m.length }));
  return { arenaRegion, stateRegion, regions };
}

/** What exceeds its budget, as "flash 634.0 KiB of 486.0 KiB"; empty when the plan fits. */
function overBudget(plan: MemoryPlan): string[] {
  const over: string[] = [];
  if (plan.flash.total > plan.flash.budget) over.push(`flash ${kib(plan.flash.total)} of ${kib(plan.flash.budget)}`);
  if (plan.ram.total > plan.ram.budget) over.push(`RAM ${kib(plan.ram.total)} of ${kib(plan.ram.budget)}`);
  return over;
}

/** Throws the over-budget diagnostic when the plan does not fit; `alternative` tells of a way
 *  that would fit, printed under the report. */
function checkBudget(plan: MemoryPlan, model: IrModel, alternative?: () => string | undefined): void {
  const over = overBudget(plan);
  if (over.length === 0) return;
  const fits = alternative?.();
  const report = overBudgetReport(plan) + (fits ? `\n${fits}` : '');
  throw diagnostics.overBudget(`${model.name} does not fit the ${plan.board} budget: ${over.join(', ')}`, report);
}

/** The largest consumers, and what would make the model fit. */
export function overBudgetReport(plan: MemoryPlan): string {
  const lines: string[] = [];
  lines.push(`weights layout: ${plan.weightsLayout.chosen} (${plan.weightsLayout.reason})`);
  const section = (title: string, total: number, budget: number, items: BudgetLine[]) => {
    const status = total > budget ? `over by ${kib(total - budget)} (${((100 * total) / budget).toFixed(0)}% of the budget)` : 'fits';
    lines.push(`${title}: ${kib(total)} of ${kib(budget)}, ${status}`);
    for (const i of [...items].sort((a, b) => b.bytes - a.bytes)) lines.push(`  ${kib(i.bytes).padStart(11)}  ${i.what}`);
  };
  section('flash', plan.flash.total, plan.flash.budget, plan.flash.lines);
  if (plan.flash.total > plan.flash.budget) {
    lines.push('  largest tensors:');
    for (const t of plan.constants.tensors.slice(0, 6)) lines.push(`  ${kib(t.bytes).padStart(11)}  ${t.name}`);
    const excess = plan.flash.total - plan.flash.budget;
    const weights = plan.constants.size;
    if (excess < weights) {
      const factor = Math.sqrt((weights - excess) / weights);
      lines.push(
        `  to fit: cut ${kib(excess)} of weights (recurrent weights grow with the square of the hidden size: about ${(factor * 100).toFixed(0)}% of the hidden size would fit), use low-rank TinyLSTM cells, or raise --flash-budget to ${kib(plan.flash.total)} if the part has the flash`,
      );
    } else {
      lines.push(`  to fit: the code and support alone exceed the budget; raise --flash-budget to ${kib(plan.flash.total)}`);
    }
  }
  section('RAM', plan.ram.total, plan.ram.budget, plan.ram.lines);
  if (plan.ram.total > plan.ram.budget) {
    const big = [...plan.arena.buffers].sort((a, b) => b.size - a.size).slice(0, 6);
    lines.push('  largest arena buffers:');
    for (const b of big) lines.push(`  ${kib(b.size).padStart(11)}  ${b.name} (steps ${b.firstUse}-${b.lastUse})`);
    lines.push(`  to fit: cut ${kib(plan.ram.total - plan.ram.budget)} of RAM (shorter sequences or smaller hidden sizes shrink the arena), or raise --ram-budget to ${kib(plan.ram.total)}`);
  }
  return lines.join('\n');
}

function sum(lines: BudgetLine[]): number {
  return lines.reduce((a, l) => a + l.bytes, 0);
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
