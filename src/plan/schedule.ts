// The schedule: every IR op at one step of a single timeline, loop bodies inlined once.
//
// A loop body runs `steps` times, but its buffers are reused by every iteration, so for
// planning one iteration is enough: the body's ops take consecutive steps, and values that the
// loop reads or carries stay live across the whole span of the body.

import type { IrGraph, IrOp, IrTensor, LoopOp } from '../ir/ir.js';
import { invariant } from '../diagnostics.js';

export interface ScheduledOp {
  step: number;
  op: IrOp;
  graph: IrGraph;
  /** Loops enclosing the op, outermost first. */
  loops: LoopOp[];
}

export interface LoopSpan {
  loop: LoopOp;
  graph: IrGraph;
  first: number;
  last: number;
}

export interface Schedule {
  ops: ScheduledOp[];
  loops: LoopSpan[];
  /** Every tensor of every graph by name (names are unique across the model). */
  tensors: Map<string, IrTensor>;
  /** The graph each tensor is declared in. */
  graphOf: Map<string, IrGraph>;
  steps: number;
}

export function buildSchedule(top: IrGraph): Schedule {
  const s: Schedule = { ops: [], loops: [], tensors: new Map(), graphOf: new Map(), steps: 0 };
  const visit = (g: IrGraph, loops: LoopOp[]) => {
    for (const [name, t] of g.tensors) {
      invariant(!s.tensors.has(name), `tensor name "${name}" is declared in two graphs`);
      s.tensors.set(name, t);
      s.graphOf.set(name, g);
    }
    for (const op of g.ops) {
      if (op.kind === 'Loop') {
        const first = s.ops.length;
        visit(op.body, [...loops, op]);
        // An empty body still occupies one step.
        if (s.ops.length === first) s.ops.push({ step: first, op, graph: g, loops });
        s.loops.push({ loop: op, graph: g, first, last: s.ops.length - 1 });
      } else {
        s.ops.push({ step: s.ops.length, op, graph: g, loops });
      }
    }
  };
  visit(top, []);
  s.steps = s.ops.length;
  return s;
}

/** Steps at which each value is read, loops reading outer values for their whole span. */
export function readSteps(s: Schedule): Map<string, number[]> {
  const reads = new Map<string, number[]>();
  const add = (v: string, step: number) => {
    const list = reads.get(v);
    if (list) list.push(step);
    else reads.set(v, [step]);
  };
  for (const so of s.ops) for (const i of so.op.inputs) add(i, so.step);
  for (const span of s.loops) {
    for (const i of span.loop.inputs) {
      add(i, span.first);
      add(i, span.last);
    }
  }
  return reads;
}
