// Elementwise fusion: the gate, cell and hidden math of a recurrent cell (tables, adds,
// multiplies, requantizations over vectors of one size) becomes one Elementwise op, which the
// kernels run as a single pass over the elements with compile-time tables.
//
//   1. slices move before elementwise ops: slice(op(a, b)) = op(slice(a), slice(b)) when the
//      op's output is only sliced (z = zx + zh split into gates becomes three adds);
//   2. connected elementwise ops of one size, with the contiguous slices they read, form a
//      group; a group runs where its first op ran, so every value it reads from outside must
//      exist by then, and what it writes that others read becomes its outputs.
//
// Results are bit-identical: each step computes one element exactly as its op did.

import type { CopyOp, ElementwiseOp, ElementwiseStep, IrGraph, IrOp } from '../ir/ir.js';
import { allGraphs, elementCount } from '../ir/ir.js';

type ElementOp = Extract<IrOp, { kind: 'Add' | 'Mul' | 'Lut' | 'Requantize' }>;

const isElementOp = (op: IrOp): op is ElementOp => op.kind === 'Add' || op.kind === 'Mul' || op.kind === 'Lut' || op.kind === 'Requantize';

export function fuseElementwise(top: IrGraph): void {
  for (const g of allGraphs(top)) {
    pushSlicesUp(g);
    fuseGroups(g);
  }
}

/** A Copy that reads one contiguous block: its element offset, or undefined. */
function contiguousOffset(op: IrOp, g: IrGraph): number | undefined {
  if (op.kind !== 'Copy') return undefined;
  const shape = g.tensors.get(op.outputs[0])!.shape;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && op.strides[d] !== expected) return undefined;
    expected *= shape[d];
  }
  return op.offset;
}

function readers(g: IrGraph, v: string): IrOp[] {
  return g.ops.filter((op) => op.inputs.includes(v));
}

/** slice(op(a, b)) → op(slice(a), slice(b)) for an elementwise op whose output is only sliced. */
function pushSlicesUp(g: IrGraph): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const op of g.ops) {
      if (!isElementOp(op) || g.outputs.includes(op.outputs[0])) continue;
      const slices = readers(g, op.outputs[0]);
      if (slices.length === 0 || slices.some((c) => contiguousOffset(c, g) === undefined)) continue;
      const replacement: IrOp[] = [];
      for (const c of slices as CopyOp[]) {
        const inputs = op.inputs.map((v, k) => {
          const name = `${c.outputs[0]}/in${k}`;
          g.tensors.set(name, { ...g.tensors.get(v)!, name, shape: [...g.tensors.get(c.outputs[0])!.shape], data: undefined });
          replacement.push({ ...c, name: `${c.name}/in${k}`, inputs: [v], outputs: [name] });
          return name;
        });
        replacement.push({ ...op, name: `${op.name}@${c.offset}`, inputs, outputs: [c.outputs[0]] } as IrOp);
      }
      const at = g.ops.indexOf(op);
      g.ops = [...g.ops.slice(0, at), ...replacement, ...g.ops.slice(at + 1).filter((x) => !slices.includes(x))];
      g.tensors.delete(op.outputs[0]);
      changed = true;
      break;
    }
  }
}

function fuseGroups(g: IrGraph): void {
  // Views into outside values: (value, element offset) that the group reads directly.
  const viewOf = new Map<string, { source: string; offset: number; op: IrOp }>();
  for (const op of g.ops) {
    const offset = contiguousOffset(op, g);
    if (offset !== undefined) viewOf.set(op.outputs[0], { source: op.inputs[0], offset, op });
  }
  const producerIndex = new Map<string, number>();
  g.ops.forEach((op, i) => op.outputs.forEach((o) => producerIndex.set(o, i)));

  // Components of element ops of one size connected through values.
  const elementOps = g.ops.filter(isElementOp);
  const parent = new Map<IrOp, IrOp>(elementOps.map((op) => [op, op]));
  const find = (op: IrOp): IrOp => (parent.get(op) === op ? op : find(parent.get(op)!));
  const sizeOf = (op: IrOp) => elementCount(g.tensors.get(op.outputs[0])!);
  const producerOf = new Map<string, ElementOp>();
  for (const op of elementOps) producerOf.set(op.outputs[0], op);
  for (const op of elementOps) {
    for (const v of op.inputs) {
      const p = producerOf.get(v);
      if (p && sizeOf(p) === sizeOf(op)) parent.set(find(op), find(p));
    }
  }
  const components = new Map<IrOp, ElementOp[]>();
  for (const op of elementOps) {
    const root = find(op);
    components.set(root, [...(components.get(root) ?? []), op]);
  }

  for (const members of components.values()) {
    if (members.length < 2) continue;
    const fused = buildGroup(g, members, viewOf, producerIndex);
    if (!fused) continue;
    const first = Math.min(...members.map((m) => g.ops.indexOf(m)));
    const gone = new Set<IrOp>(members);
    // Views read only by the group are gone too.
    for (const [v, view] of viewOf) {
      if (readers(g, v).every((r) => gone.has(r)) && !g.outputs.includes(v)) gone.add(view.op);
    }
    const before = g.ops.slice(0, first).filter((op) => !gone.has(op));
    const after = g.ops.slice(first).filter((op) => !gone.has(op));
    g.ops = [...before, fused, ...after];
    for (const m of members) if (!fused.outputs.includes(m.outputs[0])) g.tensors.delete(m.outputs[0]);
    g.ops.forEach((op, i) => op.outputs.forEach((o) => producerIndex.set(o, i)));
  }
}

function buildGroup(
  g: IrGraph,
  members: ElementOp[],
  viewOf: Map<string, { source: string; offset: number; op: IrOp }>,
  producerIndex: Map<string, number>,
): ElementwiseOp | undefined {
  const order = [...members].sort((a, b) => g.ops.indexOf(a) - g.ops.indexOf(b));
  const first = g.ops.indexOf(order[0]);
  const internal = new Set(members.map((m) => m.outputs[0]));
  const inputs: string[] = [];
  const inputOffsets: number[] = [];
  const slotOf = new Map<string, number>();

  // External reads: directly, or through a contiguous view; all must exist before `first`.
  for (const m of order) {
    for (const v of m.inputs) {
      if (internal.has(v) || slotOf.has(v)) continue;
      const view = viewOf.get(v);
      const source = view ? view.source : v;
      const offset = view ? view.offset : 0;
      const at = producerIndex.get(source);
      if (at !== undefined && at >= first) return undefined;
      slotOf.set(v, inputs.length);
      inputs.push(source);
      inputOffsets.push(offset);
    }
  }
  // Outputs: values read outside the group (or by the graph); their readers come after it.
  const outputs: string[] = [];
  for (const m of order) {
    const v = m.outputs[0];
    const outside = readers(g, v).filter((r) => !members.includes(r as ElementOp));
    if (outside.some((r) => g.ops.indexOf(r) < first)) return undefined;
    if (outside.length > 0 || g.outputs.includes(v)) outputs.push(v);
  }
  const steps: ElementwiseStep[] = order.map((m, i) => {
    const args = m.inputs.map((v) => slotOf.get(v)!) as [number, number];
    slotOf.set(m.outputs[0], inputs.length + i);
    return { op: { ...m }, args } as ElementwiseStep;
  });
  // A step's arguments must be computed before it: members are in op order, which is valid.
  return {
    kind: 'Elementwise',
    name: `${order[0].name}..${order[order.length - 1].name}`,
    sources: [...new Set(order.flatMap((m) => m.sources))],
    inputs,
    outputs,
    size: elementCount(g.tensors.get(order[0].outputs[0])!),
    inputOffsets,
    products: [],
    steps,
    outputSlots: outputs.map((v) => slotOf.get(v)!),
  };
}
