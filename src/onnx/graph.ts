// The ONNX graph model the passes work on: nodes in topological order, constant tensors,
// shapes of every value, and (after Q/DQ folding) quantization parameters on values.
//
// It is deliberately mutable: passes rewrite it in place and call `invalidate()` after
// structural changes so that the producer/consumer indexes are rebuilt lazily.

import type { DType, Tensor } from './tensor.js';
import { invariant } from '../diagnostics.js';

export type AttrValue = number | string | number[] | string[] | Tensor;

export interface Node {
  name: string;
  opType: string;
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** A rolled time loop carries its body here (opType 'tlg.Loop'). */
  body?: LoopBody;
}

export interface ValueInfo {
  dtype: DType;
  shape: number[];
}

/** Per-tensor or per-axis affine quantization: real = scale * (q - zeroPoint). */
export interface QuantParams {
  dtype: 'int8' | 'uint8' | 'int16' | 'int32';
  scale: number[];
  zeroPoint: number[];
  /** The axis the scales run along when there is more than one. */
  axis?: number;
}

/** A rolled recurrence: `steps` iterations of `graph`, see passes/roll-recurrence.ts. */
export interface LoopBody {
  graph: Graph;
  steps: number;
  /**
   * Outer sequence inputs: body input `bodyValue` is `outer[t]` along `axis`, with that axis
   * removed, or kept with size 1 when `keepDims`.
   */
  sequences: { outer: string; axis: number; bodyValue: string; keepDims: boolean }[];
  /** Loop-carried values: `bodyIn` holds `init` at step 0 and `bodyOut` of step t-1 after. */
  states: { init: string; bodyIn: string; bodyOut: string }[];
  /** Outer value = body value of every step (size 1 along `axis`), concatenated along `axis`. */
  scans: { bodyValue: string; outer: string; axis: number }[];
  /** Outer value = body value after the last step. */
  finals: { bodyValue: string; outer: string }[];
  /** Body value → the values of the unrolled graph it stands for (calibration reads them). */
  origins: Map<string, string[]>;
}

export class Graph {
  nodes: Node[] = [];
  constants = new Map<string, Tensor>();
  /** Runtime inputs (constants excluded), in model order. */
  inputs: string[] = [];
  outputs: string[] = [];
  info = new Map<string, ValueInfo>();
  quant = new Map<string, QuantParams>();
  /** Values of this graph that come from an enclosing graph (loop bodies only). */
  outerValues = new Set<string>();

  private producerIndex?: Map<string, Node>;
  private consumerIndex?: Map<string, Node[]>;
  private nameCounter = 0;

  constructor(readonly file: string) {}

  invalidate(): void {
    this.producerIndex = undefined;
    this.consumerIndex = undefined;
  }

  producer(value: string): Node | undefined {
    if (!this.producerIndex) {
      this.producerIndex = new Map();
      for (const n of this.nodes) for (const o of n.outputs) if (o) this.producerIndex.set(o, n);
    }
    return this.producerIndex.get(value);
  }

  consumers(value: string): Node[] {
    if (!this.consumerIndex) {
      this.consumerIndex = new Map();
      for (const n of this.nodes) {
        for (const i of new Set(n.inputs)) {
          if (!i) continue;
          const list = this.consumerIndex.get(i);
          if (list) list.push(n);
          else this.consumerIndex.set(i, [n]);
        }
      }
    }
    return this.consumerIndex.get(value) ?? [];
  }

  isConstant(value: string): boolean {
    return this.constants.has(value);
  }

  constant(value: string): Tensor | undefined {
    return this.constants.get(value);
  }

  shapeOf(value: string): number[] {
    const i = this.info.get(value);
    invariant(i, `no shape known for value "${value}"`);
    return i.shape;
  }

  dtypeOf(value: string): DType {
    const i = this.info.get(value);
    invariant(i, `no type known for value "${value}"`);
    return i.dtype;
  }

  /** A value name not used in this graph, derived from `base`. */
  freshName(base: string): string {
    for (;;) {
      const name = `${base}__${++this.nameCounter}`;
      if (!this.info.has(name) && !this.constants.has(name) && !this.producer(name)) return name;
    }
  }

  addConstant(name: string, t: Tensor): void {
    this.constants.set(name, t);
    this.info.set(name, { dtype: t.dtype, shape: [...t.shape] });
  }

  /** Makes every use of `from` a use of `to` (graph outputs included). */
  replaceAllUses(from: string, to: string): void {
    if (from === to) return;
    const readers = this.consumers(from);
    for (const n of readers) {
      for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === from) n.inputs[i] = to;
      if (n.body) renameOuterValue(n.body, from, to);
    }
    this.outputs = this.outputs.map((o) => (o === from ? to : o));
    // Keep the consumer index current: renames come in long runs during deduplication.
    if (this.consumerIndex && readers.length > 0) {
      this.consumerIndex.delete(from);
      const list = this.consumerIndex.get(to) ?? [];
      for (const n of readers) if (!list.includes(n)) list.push(n);
      this.consumerIndex.set(to, list);
    }
  }

  removeNodes(dead: Set<Node>): void {
    if (dead.size === 0) return;
    this.nodes = this.nodes.filter((n) => !dead.has(n));
    this.invalidate();
  }

  /** Re-sorts nodes topologically (stable: among ready nodes, the earliest in the current order). */
  sortTopologically(): void {
    const available = new Set<string>([...this.inputs, ...this.constants.keys(), ...this.outerValues]);
    const producedBy = new Map<string, number>();
    this.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producedBy.set(o, i)));
    // Kahn's algorithm over node indices, with a min-heap so that the order stays stable.
    const waiting = this.nodes.map((n) => new Set(n.inputs.filter((x) => x && !available.has(x))).size);
    const readers = new Map<string, number[]>();
    this.nodes.forEach((n, i) => {
      for (const x of new Set(n.inputs)) {
        if (!x || available.has(x)) continue;
        const list = readers.get(x);
        if (list) list.push(i);
        else readers.set(x, [i]);
      }
    });
    const heap: number[] = [];
    const push = (i: number) => {
      heap.push(i);
      for (let c = heap.length - 1; c > 0; ) {
        const p = (c - 1) >> 1;
        if (heap[p] <= heap[c]) break;
        [heap[p], heap[c]] = [heap[c], heap[p]];
        c = p;
      }
    };
    const pop = () => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let c = 0; ; ) {
          const l = 2 * c + 1;
          const r = l + 1;
          let m = c;
          if (l < heap.length && heap[l] < heap[m]) m = l;
          if (r < heap.length && heap[r] < heap[m]) m = r;
          if (m === c) break;
          [heap[m], heap[c]] = [heap[c], heap[m]];
          c = m;
        }
      }
      return top;
    };
    waiting.forEach((w, i) => w === 0 && push(i));
    const sorted: Node[] = [];
    while (heap.length > 0) {
      const i = pop();
      const n = this.nodes[i];
      sorted.push(n);
      for (const o of n.outputs) {
        if (!o) continue;
        for (const r of readers.get(o) ?? []) if (--waiting[r] === 0) push(r);
      }
    }
    if (sorted.length !== this.nodes.length) {
      const done = new Set(sorted);
      const n = this.nodes.find((x) => !done.has(x))!;
      const produced = new Set<string>([...available, ...sorted.flatMap((x) => x.outputs)]);
      throw new GraphCycleError(n, n.inputs.filter((x) => x && !produced.has(x)));
    }
    this.nodes = sorted;
    this.invalidate();
  }
}

// A loop node lists every outer value its body reads among its inputs; the body refers to the
// same names, so a rename outside is a rename inside too.
function renameOuterValue(body: LoopBody, from: string, to: string): void {
  for (const s of body.sequences) if (s.outer === from) s.outer = to;
  for (const s of body.states) if (s.init === from) s.init = to;
  const g = body.graph;
  if (g.outerValues.delete(from)) {
    g.outerValues.add(to);
    const info = g.info.get(from);
    if (info) g.info.set(to, info);
    g.replaceAllUses(from, to);
  }
}

export class GraphCycleError extends Error {
  constructor(
    readonly node: Node,
    readonly missing: string[],
  ) {
    super(`node "${node.name}" reads ${missing.map((m) => `"${m}"`).join(', ')}, which nothing produces`);
  }
}

export function attrInt(n: Node, name: string, fallback?: number): number {
  const v = n.attrs[name];
  if (v === undefined) {
    invariant(fallback !== undefined, `attribute ${name} of ${n.name} missing`);
    return fallback;
  }
  invariant(typeof v === 'number', `attribute ${name} of ${n.name} is not a number`);
  return v;
}

export function attrFloat(n: Node, name: string, fallback: number): number {
  const v = n.attrs[name];
  return typeof v === 'number' ? v : fallback;
}

export function attrInts(n: Node, name: string): number[] | undefined {
  const v = n.attrs[name];
  if (v === undefined) return undefined;
  if (typeof v === 'number') return [v];
  invariant(Array.isArray(v), `attribute ${name} of ${n.name} is not a list`);
  return v as number[];
}

export function attrString(n: Node, name: string, fallback: string): string {
  const v = n.attrs[name];
  return typeof v === 'string' ? v : fallback;
}

export function attrStrings(n: Node, name: string): string[] | undefined {
  const v = n.attrs[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? (v as string[]) : [String(v)];
}
