// The model's C: the public header, the inference code (ops lowered by the kernel set, the
// recurrence as one loop over a step function) and the weights in flash. Structure lives in the
// templates (templates/model.*.hbs); this module computes what goes in them.

import type { IrModel, IrOp, IrTensor, LoopOp } from '../ir/ir.js';
import { allGraphs, bytesOf, elementCount } from '../ir/ir.js';
import type { MemoryPlan } from '../plan/plan.js';
import { diagnostics, invariant } from '../diagnostics.js';
import { commentText, ctype, identifier, initializer } from './c.js';
import type { EmitContext, KernelLowering } from './kernels/types.js';

export interface ModelC {
  prefix: string;
  /** Data for templates/model.h.hbs, model.c.hbs and weights.c.hbs. */
  view: ModelView;
}

export interface ModelView {
  prefix: string;
  PREFIX: string;
  inputs: IoView[];
  outputs: IoView[];
  runParams: string;
  runArgsDoc: string[];
  includes: string[];
  arenaBytes: number;
  stateBytes: number;
  declarations: string[];
  weights: { symbol: string; ctype: string; count: number; comment: string; values: string }[];
  stepFunctions: { name: string; comment: string; body: string[] }[];
  /** Ops compiled as functions of their own; stepInput: inside a loop, they take its x_t. */
  opFunctions: { name: string; comment: string; stepInput: boolean; body: string[] }[];
  resetBody: string[];
  runBody: string[];
  streaming?: { frameBytes: number; frameCType: string; steps: number; stepFunction: string; predictBody: string[] };
  noStreamingReason?: string;
  steps: number;
}

export interface IoView {
  index: number;
  name: string;
  NAME: string;
  param: string;
  ctype: string;
  size: number;
  shape: string;
  scale: string;
  zeroPoint: number;
  external: string;
}

interface Location {
  storage: string;
  buffer: string;
  offset: number;
}

export function emitModelC(model: IrModel, plan: MemoryPlan, kernels: KernelLowering): ModelC {
  const prefix = identifier(model.name).toLowerCase();
  const tensors = new Map<string, IrTensor>();
  for (const g of allGraphs(model.graph)) for (const [n, t] of g.tensors) tensors.set(n, t);
  const tensor = (v: string) => {
    const t = tensors.get(v);
    invariant(t, `no tensor "${v}"`);
    return t;
  };
  const arenaOffset = new Map(plan.arena.buffers.map((b) => [b.name, b.offset]));
  const stateOffset = new Map(plan.state.buffers.map((b) => [b.name, b.offset]));

  // 1. Constants: one flash array per buffer the code reads (kernels with a weight layout of
  // their own read a copy instead), named in a stable order as they are first read.
  const weights: ModelView['weights'] = [];
  const constSymbol = new Map<string, string>();
  const constantSymbol = (n: string): string => {
    const known = constSymbol.get(n);
    if (known) return known;
    const t = tensor(n);
    const q = t.quant;
    const quant = q ? (q.scale.length === 1 ? `, scale ${q.scale[0].toPrecision(6)}, zero point ${q.zeroPoint[0]}` : `, ${q.scale.length} channel scales`) : '';
    const symbol = `${prefix}_c${constSymbol.size}`;
    constSymbol.set(n, symbol);
    weights.push({ symbol, ctype: ctype(t.dtype), count: elementCount(t), comment: commentText(`${n}: ${t.dtype} [${t.shape.join(', ')}]${quant}`), values: initializer(t.data!) });
    return symbol;
  };

  // 2. Inputs and outputs of run().
  const io = (list: IrModel['inputs'], kind: 'input' | 'output'): IoView[] =>
    list.map((x, i) => {
      const t = tensor(x.tensor);
      const single = list.length === 1;
      const name = single ? kind : `${kind}${i}`;
      return {
        index: i,
        name,
        NAME: name.toUpperCase(),
        param: `tlg_${name}`,
        ctype: ctype(t.dtype),
        size: elementCount(t),
        shape: t.shape.join(', '),
        scale: t.quant ? `${t.quant.scale[0].toPrecision(9)}f` : '1.0f',
        zeroPoint: t.quant?.zeroPoint[0] ?? 0,
        external: x.external,
      };
    });
  const inputs = io(model.inputs, 'input');
  const outputs = io(model.outputs, 'output');
  const location = (v: string): Location => {
    const l = plan.locations[v];
    invariant(l, `the plan has no location for "${v}"`);
    return l;
  };
  // The caller's input and output buffers, by the planned buffer they are (a view of an
  // output, such as a loop's scan output before a Reshape, shares its buffer), and where in
  // that buffer the caller's pointer points.
  const ioParam = new Map<string, { param: string; offset: number }>();
  model.inputs.forEach((x, i) => ioParam.set(location(x.tensor).buffer, { param: inputs[i].param, offset: location(x.tensor).offset }));
  model.outputs.forEach((x, i) => ioParam.set(location(x.tensor).buffer, { param: outputs[i].param, offset: location(x.tensor).offset }));
  const ioAt = (buffer: string) => {
    const io = ioParam.get(buffer);
    invariant(io, `buffer "${buffer}" is stored in the caller's input or output, but no model input or output is there`);
    return io;
  };
  let currentSequence: string | undefined;
  const ref = (v: string): string => {
    const t = tensor(v);
    const l = location(v);
    const ty = ctype(t.dtype);
    const at = (base: string, offset: number, constant: boolean) =>
      offset === 0 ? `((${constant ? 'const ' : ''}${ty} *)${base})` : `((${constant ? 'const ' : ''}${ty} *)((${constant ? 'const ' : ''}int8_t *)${base} + ${offset}))`;
    switch (l.storage) {
      case 'arena':
        return at('tlg_arena', arenaOffset.get(l.buffer)! + l.offset, false);
      case 'state':
        return at('tlg_state', stateOffset.get(l.buffer)! + l.offset, false);
      case 'const':
        return l.offset === 0 ? constantSymbol(l.buffer) : at(constantSymbol(l.buffer), l.offset, true);
      case 'input':
        return at(ioAt(l.buffer).param, l.offset - ioAt(l.buffer).offset, true);
      case 'output':
        return at(ioAt(l.buffer).param, l.offset - ioAt(l.buffer).offset, false);
      case 'step-input':
        invariant(currentSequence !== undefined && l.buffer === currentSequence, `step input "${v}" outside its loop`);
        return at('x_t', l.offset, true);
    }
    invariant(false, `unknown storage ${l.storage}`);
  };

  // 3. Per-op C through the kernel set.
  const declarations: string[] = [];
  const declared = new Set<string>();
  const weightByContent = new Map<string, string>();
  const ctx: EmitContext = {
    weightsLayout: plan.weightsLayout.chosen,
    ref,
    tensor,
    bytes: (v) => bytesOf(tensor(v)),
    elements: (v) => elementCount(tensor(v)),
    at: (v) => {
      const l = location(v);
      return { buffer: `${l.storage}:${l.buffer}`, offset: l.offset };
    },
    declare(base, type, init, array = false) {
      let name = `${prefix}_${identifier(base)}`;
      for (let i = 2; declared.has(name); i++) name = `${prefix}_${identifier(base)}_${i}`;
      declared.add(name);
      declarations.push(`static const ${type} ${name}${array ? '[]' : ''} = ${init};`);
      return name;
    },
    weight(base, type, values, comment) {
      // Equal tables (the same rescaling in several ops) are stored once.
      const key = `${type}:${Array.from(values).join(',')}`;
      const known = weightByContent.get(key);
      if (known) return known;
      let symbol = `${prefix}_${identifier(base)}`;
      for (let i = 2; declared.has(symbol); i++) symbol = `${prefix}_${identifier(base)}_${i}`;
      declared.add(symbol);
      weights.push({ symbol, ctype: type, count: values.length, comment: commentText(comment), values: initializer(values) });
      weightByContent.set(key, symbol);
      return symbol;
    },
    scratch(op, role) {
      const offset = arenaOffset.get(`${op.name}/${role}`);
      invariant(offset !== undefined, `no scratch "${role}" planned for ${op.name}`);
      return `(void *)(tlg_arena + ${offset})`;
    },
  };
  // A loop over elements with products inside is a function of its own that GCC may not inline:
  // its registers are then allocated for that loop alone, not for the whole step around it.
  const opFunctions: ModelView['opFunctions'] = [];
  const lowerOps = (ops: IrOp[], indent: string): string[] =>
    ops.flatMap((op) => {
      invariant(op.kind !== 'Loop', 'nested loops are lowered by their enclosing loop');
      const code = kernels.lower(op, ctx);
      if (code.length === 0) return [];
      const description = commentText(describeOp(op, tensor));
      const comment = `${indent}/* ${description} */`;
      if (op.kind !== 'Elementwise' || op.products.length === 0) return [comment, ...code.map((c) => indent + c)];
      const name = `${prefix}_op_${opFunctions.length}`;
      const inLoop = currentSequence !== undefined;
      opFunctions.push({ name, comment: description, stepInput: inLoop, body: code.map((c) => `    ${c}`) });
      return [comment, `${indent}${name}(${inLoop ? 'x_t' : ''});`];
    });

  // 4. run(): the top graph's ops in order, each loop as a for over its step function.
  const stepFunctions: ModelView['stepFunctions'] = [];
  const resetBody: string[] = [];
  const segments: { loop?: LoopOp; lines: string[] }[] = [];
  for (const op of model.graph.ops) {
    if (op.kind !== 'Loop') {
      const lines = lowerOps([op], '    ');
      if (lines.length > 0) segments.push({ lines });
      continue;
    }
    const fn = `${prefix}_step_${stepFunctions.length}`;
    const seq = op.sequences[0];
    if (op.sequences.length !== 1 || op.body.ops.some((x) => x.kind === 'Loop')) {
      throw diagnostics.notLowerable(op.name, 'Loop', kernels.name, 'loops over several sequences, or nested loops');
    }
    const seqTensor = tensor(seq.outer);
    if (elementCount({ shape: seqTensor.shape.slice(0, seq.axis) }) !== 1) {
      throw diagnostics.notLowerable(op.name, 'Loop', kernels.name, `its sequence "${seq.outer}" does not have time as its outermost dimension`);
    }
    currentSequence = seq.bodyValue;
    const body = [...lowerOps(op.body.ops, '    '), ...scanWrites(op, ctx, tensor), ...stateCommits(op, plan, ctx)];
    currentSequence = undefined;
    stepFunctions.push({
      name: fn,
      comment: commentText(`Loop "${op.name}" (ONNX: ${op.sources.join(', ')}): one of ${op.steps} steps over ${seq.outer}, axis ${seq.axis}`),
      body,
    });
    // The state starts from its initial values: constants in reset(), computed ones in run().
    const computedInits: string[] = [];
    for (const s of op.states) {
      const init = `    memcpy(${ref(s.bodyIn)}, ${ref(s.init)}, ${bytesOf(tensor(s.bodyIn))});`;
      (location(s.init).storage === 'const' ? resetBody : computedInits).push(init);
    }
    const stride = bytesOf(seqTensor) / op.steps;
    segments.push({
      loop: op,
      lines: [
        ...computedInits,
        `    for (int32_t t = 0; t < ${op.steps}; t++) {`,
        `        ${fn}((const int8_t *)${ref(seq.outer)} + t * ${stride}, t);`,
        `    }`,
        ...finalCopies(op, ctx).map((l) => `    ${l}`),
      ],
    });
  }
  const runBody = segments.flatMap((x) => x.lines);

  // 5. The streaming API: one loop over the model input, constant initial state, a head after.
  const streaming = streamingView(model, segments, plan, stepFunctions, tensor);
  const view: ModelView = {
    prefix,
    PREFIX: prefix.toUpperCase(),
    inputs,
    outputs,
    runParams: [...inputs.map((i) => `const ${i.ctype} *${i.name}`), ...outputs.map((o) => `${o.ctype} *${o.name}`)].join(', '),
    runArgsDoc: [...inputs.map((i) => `${i.name}: ${i.ctype} [${i.shape}]`), ...outputs.map((o) => `${o.name}: ${o.ctype} [${o.shape}]`)],
    includes: kernels.includes,
    arenaBytes: plan.arena.size,
    stateBytes: plan.state.size,
    declarations,
    weights,
    stepFunctions,
    opFunctions,
    resetBody,
    runBody,
    steps: segments.find((x) => x.loop)?.loop?.steps ?? 0,
    ...streaming,
  };
  return { prefix, view };
}

function describeOp(op: IrOp, tensor: (v: string) => IrTensor): string {
  const shape = (v: string) => `[${tensor(v).shape.join('x')}]`;
  const detail = op.kind === 'Lut' ? ` ${op.function}` : '';
  return `${op.kind}${detail} "${op.name}" (ONNX: ${op.sources.join(', ')}): ${op.inputs.map(shape).join(', ')} -> ${op.outputs.map(shape).join(', ')}`;
}

/** Each step's scan values go to slot t of their sequence outputs. */
function scanWrites(op: LoopOp, ctx: EmitContext, tensor: (v: string) => IrTensor): string[] {
  return op.scans.flatMap((s) => {
    const outer = tensor(s.outer);
    const lead = elementCount({ shape: outer.shape.slice(0, s.axis) });
    const bytes = ctx.bytes(s.bodyValue);
    const block = bytes / lead;
    const dst = `(int8_t *)${ctx.ref(s.outer)}`;
    if (lead === 1) return [`    memcpy(${dst} + t * ${block}, ${ctx.ref(s.bodyValue)}, ${block});`];
    return [
      `    for (int32_t p = 0; p < ${lead}; p++) {`,
      `        memcpy(${dst} + (p * ${outer.shape[s.axis]} + t) * ${block}, (const int8_t *)${ctx.ref(s.bodyValue)} + p * ${block}, ${block});`,
      `    }`,
    ];
  });
}

/** States the plan could not update in place get their new value at the end of the step. */
function stateCommits(op: LoopOp, plan: MemoryPlan, ctx: EmitContext): string[] {
  return plan.stateCommits
    .filter((c) => op.states.some((s) => s.bodyIn === c.bodyIn))
    .map((c) => `    memcpy(${ctx.ref(c.bodyIn)}, ${ctx.ref(c.bodyOut)}, ${ctx.bytes(c.bodyIn)});`);
}

/** Final values the plan did not store where the graph reads them are copied after the loop. */
function finalCopies(op: LoopOp, ctx: EmitContext): string[] {
  return op.finals.flatMap((f) => {
    const a = ctx.at(f.bodyValue);
    const b = ctx.at(f.outer);
    if (a.buffer === b.buffer && a.offset === b.offset) return [];
    return [`memcpy(${ctx.ref(f.outer)}, ${ctx.ref(f.bodyValue)}, ${ctx.bytes(f.outer)});`];
  });
}

function streamingView(
  model: IrModel,
  segments: { loop?: LoopOp; lines: string[] }[],
  plan: MemoryPlan,
  steps: ModelView['stepFunctions'],
  tensor: (v: string) => IrTensor,
): Pick<ModelView, 'streaming' | 'noStreamingReason'> {
  const reason = (r: string) => ({ noStreamingReason: r });
  const loops = segments.filter((x) => x.loop);
  if (loops.length !== 1) return reason(loops.length === 0 ? 'the model has no recurrence' : 'the model has several recurrent loops');
  const loop = loops[0].loop!;
  if (model.inputs.length !== 1 || plan.locations[loop.sequences[0].outer]?.storage !== 'input') {
    return reason('the loop does not read the model input directly');
  }
  if (loop.scans.length > 0) return reason('the model outputs the whole sequence');
  if (loop.states.some((s) => plan.locations[s.init]?.storage !== 'const')) return reason('the initial state is computed from the input');
  const at = segments.indexOf(loops[0]);
  if (at !== 0) return reason('the model computes on the whole sequence before the recurrence');
  const finals = loops[0].lines.slice(loops[0].lines.findIndex((l) => l === '    }') + 1);
  return {
    streaming: {
      frameBytes: bytesOf(tensor(loop.sequences[0].outer)) / loop.steps,
      frameCType: 'int8_t',
      steps: loop.steps,
      stepFunction: steps[0].name,
      predictBody: [...finals, ...segments.slice(at + 1).flatMap((x) => x.lines)],
    },
  };
}

