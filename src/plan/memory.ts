// Where every value lives: lifetimes, aliases and storage classes.
//
// Values become buffers in four steps:
//   1. lifetimes: the step a value is written and the last step it is read;
//   2. storage classes: constants (flash), recurrent state (a persistent block), a loop's step
//      input (a pointer into the sequence), and everything else in the arena;
//   3. aliases: reshapes share their input's bytes, contiguous slices an offset into them,
//      concatenated values are written straight into the concatenation, and an elementwise op
//      or an LSTM cell writes over an input that dies with it (a loop's state in place);
//   4. buffers: one per alias set, with the union of its members' lifetimes and the largest
//      extent; the arena buffers go to the placement algorithms.

import type { IrGraph, IrOp, IrTensor } from '../ir/ir.js';
import { bytesOf, elementCount } from '../ir/ir.js';
import { invariant } from '../diagnostics.js';
import type { Schedule } from './schedule.js';
import { readSteps } from './schedule.js';
import { mayWriteInPlace, type KernelSetName } from './kernel-needs.js';

/**
 * arena: planned activations; state: the persistent recurrent state; const: flash;
 * step-input: a loop step's slice of its sequence, a pointer into it; input, output: the
 * caller's buffers passed to the model's run function (so that neither grows the RAM plan).
 */
export type StorageClass = 'arena' | 'state' | 'const' | 'step-input' | 'input' | 'output';

export interface ValueLocation {
  /** The buffer (the alias set's root value). */
  buffer: string;
  /** Byte offset within the buffer. */
  offset: number;
}

export interface Buffer {
  name: string;
  storage: StorageClass;
  size: number;
  alignment: number;
  firstUse: number;
  lastUse: number;
  /** Values stored in it. */
  values: string[];
}

export interface MemoryLayout {
  locations: Map<string, ValueLocation>;
  buffers: Map<string, Buffer>;
  /** Loop states whose new value is computed in a separate buffer and copied at step end. */
  stateCommits: { bodyIn: string; bodyOut: string }[];
}

const ACTIVATION_ALIGNMENT = 4;

export function layoutMemory(s: Schedule, top: IrGraph, kernels: KernelSetName): MemoryLayout {
  // 1. Lifetimes.
  const reads = readSteps(s);
  const def = new Map<string, number>();
  const last = new Map<string, number>();
  const stepOfOp = new Map<IrOp, number>();
  for (const so of s.ops) stepOfOp.set(so.op, so.step);
  for (const so of s.ops) for (const o of so.op.outputs) def.set(o, so.step);
  for (const v of top.inputs) def.set(v, 0);
  for (const span of s.loops) {
    const b = span.loop.body;
    for (const v of b.inputs) def.set(v, span.first);
    for (const f of span.loop.finals) def.set(f.outer, span.last);
    for (const sc of span.loop.scans) def.set(sc.outer, span.first);
    // What one iteration hands to the next, or to the graph after the loop, lives to its end.
    for (const st of span.loop.states) extend(last, st.bodyOut, span.last);
    for (const sc of span.loop.scans) extend(last, sc.bodyValue, span.last);
    for (const f of span.loop.finals) extend(last, f.bodyValue, span.last);
  }
  for (const [v, steps] of reads) extend(last, v, Math.max(...steps));
  for (const v of top.outputs) extend(last, v, s.steps - 1);
  for (const [v] of s.tensors) {
    if (!def.has(v)) def.set(v, 0);
    if (!last.has(v)) last.set(v, def.get(v)!);
  }

  // 2. Storage classes.
  const storage = new Map<string, StorageClass>();
  for (const [v, t] of s.tensors) storage.set(v, t.data ? 'const' : 'arena');
  for (const v of top.inputs) storage.set(v, 'input');
  for (const v of top.outputs) storage.set(v, 'output');
  for (const span of s.loops) {
    for (const st of span.loop.states) storage.set(st.bodyIn, 'state');
    for (const seq of span.loop.sequences) storage.set(seq.bodyValue, 'step-input');
  }

  // 3. Aliases, as a union-find with byte offsets.
  const parent = new Map<string, { to: string; offset: number }>();
  const root = (v: string): ValueLocation => {
    let offset = 0;
    let r = v;
    for (let p = parent.get(r); p; p = parent.get(r)) {
      offset += p.offset;
      r = p.to;
    }
    return { buffer: r, offset };
  };
  const members = new Map<string, string[]>();
  for (const v of s.tensors.keys()) members.set(v, [v]);
  /** Makes `v` share `base`'s bytes at `offset`; refused between two kinds of storage. */
  const unite = (v: string, base: string, offset: number) => {
    const rv = root(v);
    invariant(rv.buffer === v && rv.offset === 0, `value "${v}" aliased twice`);
    const rb = root(base);
    const sv = storage.get(v)!;
    const sb = storage.get(rb.buffer)!;
    if (sv !== 'arena' && sb !== 'arena' && sv !== sb) return;
    parent.set(v, { to: rb.buffer, offset: rb.offset + offset });
    members.get(rb.buffer)!.push(...members.get(v)!);
    members.delete(v);
    if (sv !== 'arena') storage.set(rb.buffer, sv);
  };
  const bufferLast = (v: string) => Math.max(...members.get(root(v).buffer)!.map((m) => last.get(m)!));
  const isFreeRoot = (v: string) => root(v).buffer === v && members.get(v)!.length === 1;
  const isFreeArenaRoot = (v: string) => isFreeRoot(v) && storage.get(v) === 'arena';
  const tensor = (v: string): IrTensor => s.tensors.get(v)!;

  const stateCommits: MemoryLayout['stateCommits'] = [];
  const inPlaceStates = new Set<string>();
  for (const span of s.loops) {
    for (const st of span.loop.states) {
      if (canWriteStateInPlace(s, stepOfOp, st.bodyIn, st.bodyOut, reads, tensor, kernels)) inPlaceStates.add(st.bodyOut);
      else stateCommits.push({ bodyIn: st.bodyIn, bodyOut: st.bodyOut });
    }
  }

  for (const so of s.ops) {
    const op = so.op;
    const out = op.outputs[0];
    if (op.kind === 'Reshape') {
      unite(out, op.inputs[0], 0);
    } else if (op.kind === 'Copy' && contiguousBlock(op, tensor)) {
      unite(out, op.inputs[0], op.offset * width(tensor(out)));
    } else if (op.kind === 'Concat' && concatIsContiguous(op, tensor)) {
      let offset = 0;
      for (const v of op.inputs) {
        const producer = s.ops.find((x) => x.op.outputs.includes(v));
        const sole = (reads.get(v) ?? []).every((step) => step === so.step) && !top.outputs.includes(v);
        if (isFreeArenaRoot(v) && producer && producer.graph === so.graph && producer.op.kind !== 'Loop' && sole) {
          unite(v, out, offset);
        }
        offset += bytesOf(tensor(v));
      }
    }
    // Outputs that are a loop state written in place take the state's buffer.
    for (const o of op.outputs) {
      const st = s.loops.flatMap((l) => l.loop.states).find((x) => x.bodyOut === o);
      if (st && inPlaceStates.has(o) && isFreeRoot(o)) unite(o, st.bodyIn, 0);
    }
    // An elementwise op writes over an input that dies with it.
    if (isFreeArenaRoot(out)) {
      const target = op.inputs.find((i, k) => {
        if (!mayWriteInPlace(op, kernels, 0, k)) return false;
        const r = root(i);
        return (
          storage.get(r.buffer) === 'arena' &&
          bytesOf(tensor(i)) === bytesOf(tensor(out)) &&
          bufferLast(i) === so.step
        );
      });
      if (target) unite(out, target, 0);
    }
  }

  // A final output of a loop that is one of its states is read from the state's buffer.
  for (const span of s.loops) {
    for (const f of span.loop.finals) {
      if (storage.get(root(f.bodyValue).buffer) === 'state' && isFreeRoot(f.outer)) unite(f.outer, f.bodyValue, 0);
    }
  }

  // 4. Buffers.
  const locations = new Map<string, ValueLocation>();
  const buffers = new Map<string, Buffer>();
  for (const v of s.tensors.keys()) {
    const loc = root(v);
    locations.set(v, loc);
    const t = tensor(v);
    const end = loc.offset + bytesOf(t);
    const b = buffers.get(loc.buffer);
    if (b) {
      b.size = Math.max(b.size, end);
      b.firstUse = Math.min(b.firstUse, def.get(v)!);
      b.lastUse = Math.max(b.lastUse, last.get(v)!);
      b.values.push(v);
    } else {
      buffers.set(loc.buffer, {
        name: loc.buffer,
        storage: storage.get(loc.buffer)!,
        size: end,
        alignment: t.data ? 16 : ACTIVATION_ALIGNMENT,
        firstUse: def.get(v)!,
        lastUse: last.get(v)!,
        values: [v],
      });
    }
  }
  return { locations, buffers, stateCommits };
}

function extend(last: Map<string, number>, v: string, step: number): void {
  last.set(v, Math.max(last.get(v) ?? step, step));
}

function width(t: IrTensor): number {
  return t.dtype === 'int8' ? 1 : t.dtype === 'int32' ? 4 : 2;
}

/** A Copy whose strides are the natural ones of its output: a contiguous block of the input. */
function contiguousBlock(op: Extract<IrOp, { kind: 'Copy' }>, tensor: (v: string) => IrTensor): boolean {
  const shape = tensor(op.outputs[0]).shape;
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && op.strides[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** A concatenation whose inputs are consecutive blocks of its output. */
function concatIsContiguous(op: Extract<IrOp, { kind: 'Concat' }>, tensor: (v: string) => IrTensor): boolean {
  const shape = tensor(op.outputs[0]).shape;
  return elementCount({ shape: shape.slice(0, op.axis) }) === 1;
}

/**
 * Whether a loop state's new value can be written into the state's buffer: every reader of
 * the old value runs before the writer, or is the writer itself reading element by element.
 */
function canWriteStateInPlace(
  s: Schedule,
  stepOfOp: Map<IrOp, number>,
  bodyIn: string,
  bodyOut: string,
  reads: Map<string, number[]>,
  tensor: (v: string) => IrTensor,
  kernels: KernelSetName,
): boolean {
  const writer = s.ops.find((so) => so.op.outputs.includes(bodyOut));
  if (!writer) return false;
  const op = writer.op;
  if (op.kind === 'Reshape' || op.kind === 'Copy' || op.kind === 'Concat' || op.kind === 'Loop') return false;
  if (bytesOf(tensor(bodyIn)) !== bytesOf(tensor(bodyOut))) return false;
  const readers = reads.get(bodyIn) ?? [];
  const writerStep = stepOfOp.get(op)!;
  if (readers.some((step) => step > writerStep)) return false;
  if (!readers.includes(writerStep)) return true;
  // The writer itself reads the old value: the kernel must be able to work in place.
  const output = op.outputs.indexOf(bodyOut);
  return op.inputs.every((v, k) => v !== bodyIn || mayWriteInPlace(op, kernels, output, k));
}
