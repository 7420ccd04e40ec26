// Recurrence recognition: an unrolled time loop becomes one tlg.Loop node with the step's
// computation as its body, so that the firmware holds one loop and one copy of the weights.
//
// Tracing a recurrent model writes T copies of the step. They are found from the time slices
// of the sequence input (x[:, t] as Gather, Slice or Split): every node is given the largest
// step of the slices it depends on, which sorts the graph into per-step sets B_0 .. B_{T-1}.
// B_1 is the template. It is matched against every step by propagating a correspondence
// from the step's slice along edges, forward to consumers and backward to producers, comparing
// op type, attributes, constant inputs and quantization. What flows from step t-1 into the
// matched step t is the loop-carried state; the values step 0 reads there are its initial
// values. Nodes of the last step that the template does not cover are the head (after the
// loop); values that the head reads from every step, concatenated in order, become a scan
// output, and values it reads from the last step only become final outputs.
//
// What is not recognised: loops whose steps differ other than at the ends (a step-dependent
// constant, a quantization scale that changes with t), outputs taken from some middle steps,
// and several independent sequence inputs. Such graphs stay unrolled (with a warning): the
// firmware is then correct but holds T copies of the step's code.

import type { Graph, LoopBody, Node, QuantParams } from '../onnx/graph.js';
import { Graph as GraphClass, attrInt } from '../onnx/graph.js';
import { makeTensor, tensorKey, type Tensor } from '../onnx/tensor.js';
import { roundHalfEven, integerRange } from '../onnx/ops.js';
import { sameQuant } from '../quant/params.js';
import { removeDeadNodes } from './cleanup.js';
import type { Warning } from '../diagnostics.js';
import { warnings } from '../diagnostics.js';

interface TimeSlices {
  outer: string;
  axis: number;
  steps: number;
  /** Per step: the slicing nodes and the value the step reads. */
  slices: { nodes: Node[]; value: string }[];
  /** Whether the step values keep the time axis (size 1) or drop it. */
  keepDims: boolean;
}

export interface RollResult {
  loops: number;
  warnings: Warning[];
}

export function rollRecurrences(graph: Graph): RollResult {
  const result: RollResult = { loops: 0, warnings: [] };
  const tried = new Set<string>();
  for (;;) {
    const candidates = findTimeSlices(graph).filter((c) => !tried.has(c.outer) && c.steps >= 3);
    if (candidates.length === 0) return result;
    const seq = candidates.sort((a, b) => b.steps - a.steps || a.outer.localeCompare(b.outer))[0];
    tried.add(seq.outer);
    const failure = rollLoop(graph, seq);
    if (failure) result.warnings.push(warnings.notRolled(failure));
    else result.loops++;
  }
}

// ---------------------------------------------------------------------------------------------
// Time slices
// ---------------------------------------------------------------------------------------------

function scalarConst(graph: Graph, v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = graph.constant(v);
  return t && t.data.length === 1 ? t.data[0] : undefined;
}

function findTimeSlices(graph: Graph): TimeSlices[] {
  const found = new Map<string, TimeSlices>();
  const record = (outer: string, axis: number, t: number, nodes: Node[], value: string, keepDims: boolean) => {
    const dim = graph.shapeOf(outer)[axis];
    const key = `${outer}|${axis}|${keepDims}`;
    let s = found.get(key);
    if (!s) {
      s = { outer, axis, steps: dim, slices: Array.from({ length: dim }, () => ({ nodes: [], value: '' })), keepDims };
      found.set(key, s);
    }
    if (t < 0 || t >= dim || s.slices[t].value) return;
    s.slices[t] = { nodes, value };
  };

  for (const n of graph.nodes) {
    if (n.domain !== '' || graph.isConstant(n.inputs[0] ?? '')) continue;
    const shape = graph.info.get(n.inputs[0])?.shape;
    if (!shape) continue;
    const rank = shape.length;
    if (n.opType === 'Gather') {
      const idx = scalarConst(graph, n.inputs[1]);
      if (idx === undefined || graph.constant(n.inputs[1])!.shape.length !== 0) continue;
      const axis = (attrInt(n, 'axis', 0) + rank) % rank;
      record(n.inputs[0], axis, idx < 0 ? idx + shape[axis] : idx, [n], n.outputs[0], false);
    } else if (n.opType === 'Slice' && n.inputs.length >= 4) {
      const start = scalarConst(graph, n.inputs[1]);
      const end = scalarConst(graph, n.inputs[2]);
      const axisV = scalarConst(graph, n.inputs[3]);
      const step = n.inputs[4] ? scalarConst(graph, n.inputs[4]) : 1;
      if (start === undefined || end === undefined || axisV === undefined || step !== 1) continue;
      const axis = (axisV + rank) % rank;
      const t = start < 0 ? start + shape[axis] : start;
      if (Math.min(end < 0 ? end + shape[axis] : end, shape[axis]) !== t + 1) continue;
      recordSqueezable(graph, n.outputs[0], axis, (nodes, value, keep) => record(n.inputs[0], axis, t, [n, ...nodes], value, keep));
    } else if (n.opType === 'Split') {
      const axis = (attrInt(n, 'axis', 0) + rank) % rank;
      if (n.outputs.length !== shape[axis]) continue;
      n.outputs.forEach((o, t) =>
        recordSqueezable(graph, o, axis, (nodes, value, keep) => record(n.inputs[0], axis, t, [n, ...nodes], value, keep)),
      );
    }
  }
  return [...found.values()].filter((s) => s.slices.every((x) => x.value));
}

/** A keep-dims slice read through a Squeeze of its time axis counts as a squeezed slice. */
function recordSqueezable(
  graph: Graph,
  value: string,
  axis: number,
  record: (nodes: Node[], value: string, keepDims: boolean) => void,
): void {
  const users = graph.consumers(value);
  if (users.length === 1 && users[0].opType === 'Squeeze' && users[0].domain === '') {
    const sq = users[0];
    const axes = sq.inputs[1] ? graph.constant(sq.inputs[1])?.data : (sq.attrs.axes as number[] | undefined);
    const rank = graph.shapeOf(value).length;
    if (axes && axes.length === 1 && (axes[0] + rank) % rank === axis) {
      record([sq], sq.outputs[0], false);
      return;
    }
  }
  record([], value, true);
}

// ---------------------------------------------------------------------------------------------
// Matching the template against each step
// ---------------------------------------------------------------------------------------------

interface StepMatch {
  nodes: Map<Node, Node>;
  values: Map<string, string>;
  /** Template state-in value → the value this step reads in its place. */
  bindings: Map<string, string>;
}

function stepIndex(graph: Graph, seq: TimeSlices): Map<string, number> {
  const step = new Map<string, number>();
  seq.slices.forEach((s, t) => step.set(s.value, t));
  const sliceNodes = new Set(seq.slices.flatMap((s) => s.nodes));
  for (const n of graph.nodes) {
    if (sliceNodes.has(n)) continue;
    let t = -1;
    for (const i of n.inputs) if (i) t = Math.max(t, step.get(i) ?? -1);
    for (const o of n.outputs) if (o) step.set(o, t);
  }
  return step;
}

function attrsKey(n: Node): string {
  return Object.keys(n.attrs)
    .sort()
    .map((k) => {
      const v = n.attrs[k];
      return `${k}=${typeof v === 'object' && !Array.isArray(v) ? tensorKey(v as Tensor) : JSON.stringify(v)}`;
    })
    .join(';');
}

function sameShape(graph: Graph, a: string, b: string): boolean {
  const sa = graph.info.get(a)?.shape;
  const sb = graph.info.get(b)?.shape;
  return !!sa && !!sb && sa.length === sb.length && sa.every((d, i) => d === sb[i]);
}

class Matcher {
  private readonly templateSet: Set<Node>;
  private readonly templateProducer = new Map<string, Node>();

  constructor(
    private readonly graph: Graph,
    readonly template: Node[],
    private readonly templateSlice: string,
    private readonly claimed: Set<Node>,
    private readonly excluded: Set<Node>,
  ) {
    this.templateSet = new Set(template);
    for (const n of template) for (const o of n.outputs) if (o) this.templateProducer.set(o, n);
  }

  isInternal(v: string): boolean {
    return this.templateProducer.has(v);
  }

  /** A template input that comes from outside the template and is not a constant or the slice. */
  isExternal(v: string): boolean {
    return !!v && !this.isInternal(v) && !this.graph.isConstant(v) && v !== this.templateSlice;
  }

  match(slice: string, allowPartial: boolean): StepMatch | string {
    const m: StepMatch = { nodes: new Map(), values: new Map([[this.templateSlice, slice]]), bindings: new Map() };
    const used = new Set<Node>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const n of this.template) {
        if (m.nodes.has(n)) continue;
        const candidate = this.findCandidate(n, m, used);
        if (candidate === 'conflict') return `step values do not line up at node "${n.name}" (${n.opType})`;
        if (!candidate) continue;
        if (!this.accept(n, candidate, m)) return `node "${n.name}" (${n.opType}) reads different state at one step`;
        used.add(candidate);
        progress = true;
      }
    }
    if (m.nodes.size !== this.template.length && !allowPartial) {
      const missing = this.template.find((n) => !m.nodes.has(n))!;
      return `node "${missing.name}" (${missing.opType}) has no counterpart at one step`;
    }
    return m;
  }

  private compatible(n: Node, c: Node, m: StepMatch): boolean {
    if (c.opType !== n.opType || c.domain !== n.domain || c.body || n.body) return false;
    if (c.inputs.length !== n.inputs.length || c.outputs.length !== n.outputs.length) return false;
    if (this.claimed.has(c) || this.excluded.has(c) || this.templateSet.has(c)) return false;
    if (attrsKey(c) !== attrsKey(n)) return false;
    for (let j = 0; j < n.inputs.length; j++) {
      const a = n.inputs[j];
      const b = c.inputs[j];
      if (!a || !b) {
        if (a !== b) return false;
        continue;
      }
      if (this.graph.isConstant(a)) {
        if (a !== b) return false;
        continue;
      }
      const image = m.values.get(a) ?? m.bindings.get(a);
      if (image !== undefined && image !== b) return false;
      if (!sameQuant(this.graph.quant.get(a), this.graph.quant.get(b)) && !this.isExternal(a)) return false;
    }
    for (let j = 0; j < n.outputs.length; j++) {
      const a = n.outputs[j];
      const b = c.outputs[j];
      if (!a || !b) {
        if (a !== b) return false;
        continue;
      }
      if (!sameQuant(this.graph.quant.get(a), this.graph.quant.get(b)) || !sameShape(this.graph, a, b)) return false;
    }
    return true;
  }

  private findCandidate(n: Node, m: StepMatch, used: Set<Node>): Node | undefined | 'conflict' {
    const candidates = new Set<Node>();
    // Forward: from a matched input to its consumers.
    n.inputs.forEach((a, j) => {
      const image = a && !this.graph.isConstant(a) ? (m.values.get(a) ?? m.bindings.get(a)) : undefined;
      if (image === undefined) return;
      for (const c of this.graph.consumers(image)) if (c.inputs[j] === image && !used.has(c)) candidates.add(c);
    });
    // Backward: from a matched consumer to the producer of the corresponding input.
    n.outputs.forEach((o, k) => {
      for (const user of this.graph.consumers(o)) {
        const image = m.nodes.get(user);
        if (!image) continue;
        user.inputs.forEach((x, j) => {
          if (x !== o) return;
          const p = this.graph.producer(image.inputs[j]);
          if (p && p.outputs[k] === image.inputs[j] && !used.has(p)) candidates.add(p);
        });
      }
    });
    const fits = [...candidates].filter((c) => this.compatible(n, c, m));
    if (fits.length === 1) return fits[0];
    return undefined;
  }

  private accept(n: Node, c: Node, m: StepMatch): boolean {
    for (let j = 0; j < n.inputs.length; j++) {
      const a = n.inputs[j];
      if (!this.isExternal(a)) continue;
      const bound = m.bindings.get(a);
      if (bound !== undefined && bound !== c.inputs[j]) return false;
      m.bindings.set(a, c.inputs[j]);
    }
    m.nodes.set(n, c);
    n.outputs.forEach((o, k) => o && m.values.set(o, c.outputs[k]));
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Rolling
// ---------------------------------------------------------------------------------------------

/** Rolls the loop over `seq`; returns why not when it cannot. */
function rollLoop(graph: Graph, seq: TimeSlices): string | undefined {
  const T = seq.steps;
  const step = stepIndex(graph, seq);
  const sliceNodes = new Set(seq.slices.flatMap((s) => s.nodes));
  const byStep = (t: number) => graph.nodes.filter((n) => !sliceNodes.has(n) && step.get(n.outputs[0]) === t);

  // 1. The template is step 1; its external inputs are state (from step 0) or loop invariants.
  const template = byStep(1);
  if (template.length === 0) return 'step 1 computes nothing';
  const claimed = new Set<Node>();
  const matcher = new Matcher(graph, template, seq.slices[1].value, claimed, sliceNodes);
  const externals = [...new Set(template.flatMap((n) => n.inputs.filter((i) => matcher.isExternal(i))))];
  const stateIns = externals.filter((v) => step.get(v) === 0);
  const invariants = externals.filter((v) => (step.get(v) ?? -1) < 0);
  if (stateIns.length + invariants.length !== externals.length) return 'step 1 reads values of later steps';

  // 2. Match every other step; step 2 tells which template value feeds each state.
  for (const n of template) claimed.add(n);
  const matches: StepMatch[] = new Array(T);
  matches[1] = { nodes: new Map(template.map((n) => [n, n])), values: new Map(), bindings: new Map() };
  for (const n of template) for (const o of n.outputs) matches[1].values.set(o, o);
  for (const v of externals) matches[1].bindings.set(v, v);
  for (const t of [2, ...Array.from({ length: T - 3 }, (_, i) => i + 3), 0]) {
    const m = matcher.match(seq.slices[t].value, t === T - 1);
    if (typeof m === 'string') return `${m} (step ${t})`;
    matches[t] = m;
    for (const c of m.nodes.values()) claimed.add(c);
  }

  const stateOut = new Map<string, string>();
  for (const s of stateIns) {
    const bound = matches[2].bindings.get(s);
    if (!bound || !matcher.isInternal(bound)) return `the value step 2 reads in place of "${s}" does not come from step 1`;
    stateOut.set(s, bound);
  }
  for (const v of invariants) {
    for (let t = 0; t < T; t++) {
      if (t !== 1 && matches[t].bindings.get(v) !== v) return `"${v}" is not the same at every step`;
    }
  }

  // 3. Check the state chain: step t reads what step t-1 wrote; step 0 reads initial values.
  const inits = new Map<string, string>();
  for (const s of stateIns) {
    for (let t = 1; t < T; t++) {
      const expected = matches[t - 1].values.get(stateOut.get(s)!);
      if (matches[t].bindings.get(s) !== expected && !(t === T - 1 && matches[t].bindings.get(s) === undefined)) {
        return `the state "${s}" of step ${t} is not what step ${t - 1} wrote`;
      }
    }
    const init = matches[0].bindings.get(s);
    if (!init || (step.get(init) ?? -1) >= 0) return `the initial value of state "${s}" depends on the sequence`;
    inits.set(s, init);
  }

  // 4. Every node of steps 0..T-2 belongs to the loop; the rest of step T-1 is the head.
  for (let t = 0; t < T - 1; t++) {
    const matched = new Set(matches[t].nodes.values());
    const stray = byStep(t).find((n) => !matched.has(n));
    if (stray) return `node "${stray.name}" (${stray.opType}) at step ${t} is not part of the repeated step`;
  }
  const loopNodes = new Set<Node>(claimed);

  // 5. Outputs of the loop: values the head (or the graph outputs) reads.
  const scans: LoopBody['scans'] = [];
  const finals: LoopBody['finals'] = [];
  const replacedConcats = new Set<Node>();
  for (const n of template) {
    for (const o of n.outputs) {
      if (!o) continue;
      const readers = (t: number) => {
        const v = matches[t].values.get(o);
        if (!v) return [];
        return [
          ...graph.consumers(v).filter((c) => !loopNodes.has(c)),
          ...(graph.outputs.includes(v) ? ['graph-output' as const] : []),
        ];
      };
      const perStep = Array.from({ length: T }, (_, t) => readers(t));
      const stepsRead = perStep.map((r, t) => (r.length > 0 ? t : -1)).filter((t) => t >= 0);
      if (stepsRead.length === 0) continue;
      if (stepsRead.length === 1 && stepsRead[0] === T - 1) {
        finals.push({ bodyValue: o, outer: matches[T - 1].values.get(o)! });
        continue;
      }
      const scan = scanConcat(graph, perStep, matches, o, T);
      if (!scan) return `the head reads "${o}" from some steps only`;
      replacedConcats.add(scan.concat);
      scans.push({ bodyValue: o, outer: scan.concat.outputs[0], axis: scan.axis });
      const lastReaders = perStep[T - 1].filter((r) => r !== scan.concat);
      if (lastReaders.length > 0) finals.push({ bodyValue: o, outer: matches[T - 1].values.get(o)! });
    }
  }

  // 6. Build the body graph and the loop node; drop the unrolled steps.
  const body = new GraphClass(graph.file);
  const bodySlice = seq.slices[1].value;
  body.inputs = [bodySlice, ...stateIns];
  for (const v of [bodySlice, ...stateIns, ...invariants]) copyValue(graph, body, v);
  for (const v of invariants) body.outerValues.add(v);
  for (const n of template) {
    body.nodes.push(n);
    for (const o of n.outputs) if (o) copyValue(graph, body, o);
    for (const i of n.inputs) if (i && graph.isConstant(i)) copyValue(graph, body, i);
  }
  body.outputs = [...new Set([...stateOut.values(), ...scans.map((s) => s.bodyValue), ...finals.map((f) => f.bodyValue)])];

  const states = stateIns.map((s) => ({ init: inits.get(s)!, bodyIn: s, bodyOut: stateOut.get(s)! }));
  const origins = new Map<string, string[]>();
  for (const n of template) {
    for (const o of n.outputs) {
      if (!o) continue;
      origins.set(o, matches.map((m) => m.values.get(o)).filter((x): x is string => !!x));
    }
  }
  for (const s of stateIns) origins.set(s, [...(origins.get(stateOut.get(s)!) ?? [])]);
  origins.set(bodySlice, seq.slices.map((x) => x.value));

  const loop: Node = {
    name: `loop_${seq.outer.replace(/[^A-Za-z0-9_]/g, '_')}`,
    opType: 'tlg.Loop',
    domain: 'tlg',
    inputs: [seq.outer, ...states.map((s) => s.init), ...invariants],
    outputs: [...finals.map((f) => f.outer), ...scans.map((s) => s.outer)],
    attrs: {},
    body: {
      graph: body,
      steps: T,
      sequences: [{ outer: seq.outer, axis: seq.axis, bodyValue: bodySlice, keepDims: seq.keepDims }],
      states,
      scans,
      finals,
      origins,
    },
  };
  rotateStates(graph, loop);
  for (const st of loop.body!.states) st.init = quantizedInit(graph, st.init, body.quant.get(st.bodyIn));
  loop.inputs = [seq.outer, ...loop.body!.states.map((st) => st.init), ...invariants];
  for (const s of scans) graph.quant.delete(s.outer);
  for (const s of scans) {
    const q = body.quant.get(s.bodyValue);
    if (q) graph.quant.set(s.outer, q);
  }
  graph.nodes = [...graph.nodes.filter((n) => !loopNodes.has(n) && !replacedConcats.has(n) && !sliceNodes.has(n)), loop];
  graph.invalidate();
  graph.sortTopologically();
  removeDeadNodes(graph);
  return undefined;
}

/**
 * Moves state-computing nodes from the end of the body to its start, so that the carried
 * state is what the step produces (h and c) rather than something derived from it.
 *
 * The template starts at step 1's slice, so the recurrent projections of h_t (A_h·h_t, and
 * B_h applied to that) land at the end of step t and become the carried state. A node whose
 * output is only carried to the next step, and whose initial value the graph computes with an
 * equal node, moves to the start of the next step: its inputs become the state and the initial
 * value becomes that equal node's input. This repeats until no node qualifies.
 */
function rotateStates(graph: Graph, loop: Node): void {
  const body = loop.body!;
  const g = body.graph;
  for (;;) {
    const candidate = body.states.find((st) => {
      const m = g.producer(st.bodyOut);
      if (!m || m.outputs.length !== 1) return false;
      if (g.consumers(st.bodyOut).length > 0 || g.outputs.filter((o) => o === st.bodyOut).length > 1) return false;
      if (body.finals.some((f) => f.bodyValue === st.bodyOut) || body.scans.some((x) => x.bodyValue === st.bodyOut)) {
        return false;
      }
      const initNode = graph.producer(st.init);
      return !!initNode && equalNodes(g, m, initNode);
    });
    if (!candidate) return;

    const m = g.producer(candidate.bodyOut)!;
    const initNode = graph.producer(candidate.init)!;
    body.states = body.states.filter((st) => st !== candidate);
    m.inputs = m.inputs.map((input, j) => {
      if (!input || g.isConstant(input) || g.outerValues.has(input)) return input;
      const existing = body.states.find((st) => st.bodyOut === input);
      if (existing) return existing.bodyIn;
      const bodyIn = g.freshName(`${input}_prev`);
      g.info.set(bodyIn, { ...g.info.get(input)! });
      const q = g.quant.get(input);
      if (q) g.quant.set(bodyIn, q);
      body.origins.set(bodyIn, [...(body.origins.get(input) ?? [])]);
      body.states.push({ init: initNode.inputs[j], bodyIn, bodyOut: input });
      g.inputs.push(bodyIn);
      return bodyIn;
    });
    // m now computes, at the start of the step, the value the step used to receive.
    const received = candidate.bodyIn;
    g.inputs = g.inputs.filter((i) => i !== received);
    g.outputs = g.outputs.filter((o) => o !== m.outputs[0]);
    g.info.delete(m.outputs[0]);
    body.origins.delete(m.outputs[0]);
    m.outputs = [received];
    g.outputs = [...new Set([...g.outputs, ...body.states.map((st) => st.bodyOut)])];
    g.invalidate();
    g.sortTopologically();
  }
}

/** Whether body node `a` computes what outer node `b` computes, up to its non-constant inputs. */
function equalNodes(body: Graph, a: Node, b: Node): boolean {
  if (a.opType !== b.opType || a.domain !== b.domain || attrsKey(a) !== attrsKey(b)) return false;
  if (a.inputs.length !== b.inputs.length) return false;
  return a.inputs.every((x, j) => (!x || body.isConstant(x) ? x === b.inputs[j] : true));
}

function copyValue(from: Graph, to: Graph, v: string): void {
  const info = from.info.get(v);
  if (info) to.info.set(v, { dtype: info.dtype, shape: [...info.shape] });
  const q = from.quant.get(v);
  if (q) to.quant.set(v, q);
  const c = from.constant(v);
  if (c) to.constants.set(v, c);
}

/** The head reads a body value from every step through one Concat, in step order. */
function scanConcat(
  graph: Graph,
  perStep: (Node | 'graph-output')[][],
  matches: StepMatch[],
  value: string,
  T: number,
): { concat: Node; axis: number } | undefined {
  const first = perStep[0].find((r): r is Node => r !== 'graph-output' && r.opType === 'Concat');
  if (!first || first.inputs.length !== T) return undefined;
  for (let t = 0; t < T; t++) {
    if (first.inputs[t] !== matches[t].values.get(value)) return undefined;
    if (t < T - 1 && perStep[t].some((r) => r !== first)) return undefined;
  }
  const rank = graph.shapeOf(first.outputs[0]).length;
  const axis = (attrInt(first, 'axis') + rank) % rank;
  if (graph.shapeOf(first.inputs[0])[axis] !== 1) return undefined;
  return { concat: first, axis };
}

/** A float constant initial state is stored with the state's quantization. */
function quantizedInit(graph: Graph, init: string, q: QuantParams | undefined): string {
  const c = graph.constant(init);
  if (!c || !q || graph.quant.has(init)) return init;
  const [lo, hi] = integerRange(q.dtype);
  const values = Array.from(c.data, (x) => Math.min(hi, Math.max(lo, roundHalfEven(x / q.scale[0]) + q.zeroPoint[0])));
  const name = graph.freshName(`${init}_quantized`);
  graph.addConstant(name, makeTensor(q.dtype, c.shape, values));
  graph.quant.set(name, q);
  return name;
}
