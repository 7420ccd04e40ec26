// The memory plan as people read it (tables per region, budget use, the arena timeline) and
// as tools read it (JSON: every buffer with its region, offset, size and first and last use).

import Table from 'cli-table3';
import { renderTimeline } from './placement/index.js';
import { kib, type MemoryPlan } from './plan.js';

const compact = { chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' }, style: { head: [], border: [] } };

function percent(used: number, budget: number): string {
  return `${((100 * used) / budget).toFixed(1)}%`;
}

export function renderPlan(plan: MemoryPlan, options: { timeline?: boolean } = {}): string {
  const out: string[] = [];
  out.push(`memory plan for ${plan.model} on ${plan.board} (${plan.kernels} kernels)`);
  out.push(
    `flash ${kib(plan.flash.total)} of ${kib(plan.flash.budget)} (${percent(plan.flash.total, plan.flash.budget)}), margin ${kib(plan.flash.budget - plan.flash.total)}`,
  );
  out.push(`RAM   ${kib(plan.ram.total)} of ${kib(plan.ram.budget)} (${percent(plan.ram.total, plan.ram.budget)}), margin ${kib(plan.ram.budget - plan.ram.total)}`);
  out.push(`arena ${plan.arena.size} bytes, lower bound ${plan.arena.lowerBound} bytes (${(plan.arena.size / Math.max(plan.arena.lowerBound, 1)).toFixed(3)}), by ${plan.arena.algorithm}`);
  out.push(`weights layout ${plan.weightsLayout.chosen} (${plan.weightsLayout.reason})`);

  const budget = new Table({ head: ['budget', 'bytes', 'share'], ...compact });
  for (const [name, section] of [
    ['flash', plan.flash],
    ['RAM', plan.ram],
  ] as const) {
    for (const l of section.lines) budget.push([`${name}: ${l.what}`, l.bytes, percent(l.bytes, section.budget)]);
  }
  out.push(budget.toString());

  const regions = new Table({ head: ['region', 'holds', 'offset', 'bytes', 'steps'], ...compact });
  for (const b of [...plan.arena.buffers].sort((x, y) => x.offset - y.offset || x.name.localeCompare(y.name))) {
    regions.push([`${b.region} arena`, `${b.kind} ${b.name}`, b.offset, b.size, `${b.firstUse}-${b.lastUse}`]);
  }
  for (const b of plan.state.buffers) regions.push([`${b.region} state`, b.name, b.offset, b.size, 'always']);
  for (const t of plan.constants.tensors) regions.push([plan.constants.region, t.name, '', t.bytes, '']);
  out.push(regions.toString());

  for (const r of plan.regions) out.push(`${r.name}: ${kib(r.used)} of ${kib(r.capacity)} (${percent(r.used, r.capacity)})`);
  for (const w of plan.warnings) out.push(`warning ${w.code}: ${w.message}`);

  if (options.timeline !== false) {
    const steps = plan.steps.map((s) => `${'  '.repeat(s.depth)}${s.op}`);
    out.push(renderTimeline(plan.placement, { steps, width: 64 }));
  }
  return out.join('\n');
}

/** The plan as JSON: what the firmware build checks the ELF against, and what tools read. */
export function planJson(plan: MemoryPlan): object {
  const { placement: _placement, ...rest } = plan;
  return rest;
}
