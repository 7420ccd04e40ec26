// The validation result as a table, in the spirit of ST's validate: the bit-exact check first,
// then the float comparison, the cost and the memory.

import Table from 'cli-table3';
import type { ValidationResult } from './compare.js';

const style = { chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' }, style: { head: [], border: [] } };

export function renderValidation(r: ValidationResult): string {
  const lines: string[] = [];
  lines.push(`validate ${r.model} on ${r.board} (${r.kernels} kernels), ran on ${r.ranOn} in ${r.emulator}, ${r.inputs} input(s)`);
  const be = r.bitExact;
  lines.push(
    be.mismatches === 0
      ? `bit-exact: yes, ${be.elements} of ${be.elements} output values equal the golden model's`
      : `bit-exact: NO, ${be.mismatches} of ${be.elements} values differ; first at input ${be.first!.input}, output ${be.first!.output}, element ${be.first!.index}: got ${be.first!.got}, expected ${be.first!.expected}`,
  );
  const f = new Table({ head: ['vs ONNX Runtime (float)', 'max abs', 'RMSE', 'cosine', 'within 1 step', 'argmax agrees'], ...style });
  for (const c of r.float) {
    f.push([c.output, c.maxAbs.toPrecision(4), c.rmse.toPrecision(4), c.cosine.toFixed(6), `${(100 * c.withinOneStep).toFixed(1)}%`, c.argmaxTotal ? `${c.argmaxAgree}/${c.argmaxTotal}` : 'n/a']);
  }
  lines.push(f.toString());
  for (const note of r.semantics) lines.push(`note: ${note}; the float comparison above shows its effect`);
  const c = r.cost;
  if (c.instructions) {
    const min = Math.min(...c.instructions);
    const max = Math.max(...c.instructions);
    lines.push(`cost: ${min === max ? min : `${min}..${max}`} instructions per inference (QEMU -icount, resolution ${c.resolution} instructions)`);
  } else if (c.unit !== 'none') {
    lines.push(`cost: ${Math.min(...c.perInference)}..${Math.max(...c.perInference)} ${c.unit} per inference`);
  }
  const e = r.elf;
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;
  lines.push(
    `${e.board} ELF: flash ${e.flash} B (${pct(e.flash, e.flashBudget)} of budget, plan ${e.planFlash} B), RAM ${e.ram} B (${pct(e.ram, e.ramBudget)} of budget, plan ${e.planRam} B)`,
  );
  if (r.renode.status !== 'not run') lines.push(`Renode: ${r.renode.status}${r.renode.reason ? ` (${r.renode.reason})` : ''}`);
  lines.push(`project: ${r.projectDir}`);
  lines.push(r.pass ? 'PASS' : 'FAIL');
  return lines.join('\n');
}
