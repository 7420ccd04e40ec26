// The memory plan: every byte of a model's firmware placed and counted against the budget.
//
//   schedule → lifetimes and aliases (memory.ts) → arena placement (placement/) → regions
//   (arena, state and stack in the fastest RAM, spilling when it is full) → budget check.

import type { IrModel, IrOp } from '../ir/ir.js';
import { bytesOf, parameterTensors } from '../ir/ir.js';
import type { Board, MemoryRegion } from '../boards.js';
import { diagnostics, warnings as warningsOf, type Warning } from '../diagnostics.js';
import { buildSchedule } from './schedule.js';
import { layoutMemory, type Buffer, type MemoryLayout } from './memory.js';
import { scratchBuffers, weightLayout, type KernelSetName } from './kernel-needs.js';
import { getPlacementAlgorithm, lowerBound, placeBest, validatePlacement, type BufferRequest, type Placement } from './placement/index.js';
import { applicationCode, estimateCode, parameterBytes } from './code-size.js';

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
  warnings: Warning[];
  /** The placement itself, for the printable timeline. */
  placement: Placement;
}

const STATE_ALIGNMENT = 4;

export function planMemory(model: IrModel, options: PlanOptions): MemoryPlan {
  const { board, kernels } = options;
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
    for (const sc of scratchBuffers(so.op, kernels, (v) => schedule.tensors.get(v)!)) {
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
    const w = weightLayout(so.op, kernels, (v) => schedule.tensors.get(v)!);
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
  const code = estimateCode(model, kernels, freeView);
  const app = options.application ?? { flashBytes: 0, ramBytes: 0 };
  const flashLines: BudgetLine[] = [
    { what: 'weights, biases and tables', bytes: constantBytes },
    { what: 'requantization parameters', bytes: parameterBytes(model, kernels) },
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
    warnings,
    placement,
  };
  checkBudget(plan, model);
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

function checkBudget(plan: MemoryPlan, model: IrModel): void {
  const over: string[] = [];
  if (plan.flash.total > plan.flash.budget) over.push(`flash ${kib(plan.flash.total)} of ${kib(plan.flash.budget)}`);
  if (plan.ram.total > plan.ram.budget) over.push(`RAM ${kib(plan.ram.total)} of ${kib(plan.ram.budget)}`);
  if (over.length === 0) return;
  throw diagnostics.overBudget(`${model.name} does not fit the ${plan.board} budget: ${over.join(', ')}`, overBudgetReport(plan));
}

/** The largest consumers, and what would make the model fit. */
export function overBudgetReport(plan: MemoryPlan): string {
  const lines: string[] = [];
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
