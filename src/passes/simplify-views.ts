// View simplification: a step taken back out of a stacked sequence is the value that was
// stacked. Exporters write `torch.stack(outputs)` as Unsqueeze + Concat and the next layer's
// `seq[:, t]` as Gather (or Slice/Split + Squeeze); seeing through that pair is what lets
// stacked layers run step-interleaved without a sequence buffer between them.

import type { Graph, Node } from '../onnx/graph.js';
import { attrInt, attrInts } from '../onnx/graph.js';
import { removeDeadNodes } from './cleanup.js';

interface Piece {
  value: string;
  start: number;
  size: number;
}

export function simplifyViews(graph: Graph): void {
  for (;;) {
    let changed = false;
    for (const n of graph.nodes) {
      if (n.domain !== '') continue;
      if (n.opType === 'Gather') changed = gatherOfConcat(graph, n) || changed;
      else if (n.opType === 'Squeeze') changed = squeezeOfUnsqueeze(graph, n) || changed;
      else if (n.opType === 'Slice') changed = sliceOfConcat(graph, n) || changed;
      else if (n.opType === 'Split') changed = splitOfConcat(graph, n) || changed;
    }
    if (!changed) return;
    removeDeadNodes(graph);
  }
}

function concatPieces(graph: Graph, value: string): { axis: number; pieces: Piece[] } | undefined {
  const c = graph.producer(value);
  if (!c || c.opType !== 'Concat' || c.domain !== '') return undefined;
  const rank = graph.shapeOf(value).length;
  let axis = attrInt(c, 'axis');
  if (axis < 0) axis += rank;
  let start = 0;
  const pieces = c.inputs.map((v) => {
    const size = graph.shapeOf(v)[axis];
    const p = { value: v, start, size };
    start += size;
    return p;
  });
  return { axis, pieces };
}

function constScalar(graph: Graph, v: string | undefined): number | undefined {
  if (!v) return undefined;
  const t = graph.constant(v);
  return t && t.data.length === 1 ? t.data[0] : undefined;
}

/** The value `v` with size-1 axis `axis` removed, without a new node when it was unsqueezed. */
function squeezed(graph: Graph, v: string, axis: number): string | undefined {
  const p = graph.producer(v);
  if (p && p.opType === 'Unsqueeze' && p.domain === '') {
    const axes = p.inputs[1] ? graph.constant(p.inputs[1])?.data : attrInts(p, 'axes');
    const rank = graph.shapeOf(v).length;
    if (axes && axes.length === 1 && (axes[0] + rank) % rank === axis) return p.inputs[0];
  }
  return undefined;
}

function gatherOfConcat(graph: Graph, n: Node): boolean {
  const idx = constScalar(graph, n.inputs[1]);
  if (idx === undefined || graph.constant(n.inputs[1])!.shape.length !== 0) return false;
  const cat = concatPieces(graph, n.inputs[0]);
  if (!cat) return false;
  const rank = graph.shapeOf(n.inputs[0]).length;
  const axis = (attrInt(n, 'axis', 0) + rank) % rank;
  if (axis !== cat.axis) return false;
  const total = graph.shapeOf(n.inputs[0])[axis];
  const i = idx < 0 ? idx + total : idx;
  const piece = cat.pieces.find((p) => p.start === i && p.size === 1);
  if (!piece) return false;
  const source = squeezed(graph, piece.value, axis);
  if (!source) return false;
  graph.replaceAllUses(n.outputs[0], source);
  return true;
}

function squeezeOfUnsqueeze(graph: Graph, n: Node): boolean {
  const axes = n.inputs[1] ? graph.constant(n.inputs[1])?.data : attrInts(n, 'axes');
  if (!axes || axes.length !== 1) return false;
  const rank = graph.shapeOf(n.inputs[0]).length;
  const source = squeezed(graph, n.inputs[0], (axes[0] + rank) % rank);
  if (!source) return false;
  graph.replaceAllUses(n.outputs[0], source);
  return true;
}

function sliceOfConcat(graph: Graph, n: Node): boolean {
  const cat = concatPieces(graph, n.inputs[0]);
  if (!cat || n.inputs.length < 4) return false;
  const start = constScalar(graph, n.inputs[1]);
  const end = constScalar(graph, n.inputs[2]);
  const axisV = constScalar(graph, n.inputs[3]);
  const step = n.inputs[4] ? constScalar(graph, n.inputs[4]) : 1;
  if (start === undefined || end === undefined || axisV === undefined || step !== 1) return false;
  const rank = graph.shapeOf(n.inputs[0]).length;
  if ((axisV + rank) % rank !== cat.axis) return false;
  const total = graph.shapeOf(n.inputs[0])[cat.axis];
  const s = start < 0 ? start + total : start;
  const e = Math.min(end < 0 ? end + total : end, total);
  const piece = cat.pieces.find((p) => p.start === s && p.start + p.size === e);
  if (!piece) return false;
  graph.replaceAllUses(n.outputs[0], piece.value);
  return true;
}

function splitOfConcat(graph: Graph, n: Node): boolean {
  const cat = concatPieces(graph, n.inputs[0]);
  if (!cat) return false;
  const rank = graph.shapeOf(n.inputs[0]).length;
  if ((attrInt(n, 'axis', 0) + rank) % rank !== cat.axis) return false;
  const sizes = n.outputs.map((o) => graph.shapeOf(o)[cat.axis]);
  if (sizes.length !== cat.pieces.length || sizes.some((s, i) => s !== cat.pieces[i].size)) return false;
  n.outputs.forEach((o, i) => graph.replaceAllUses(o, cat.pieces[i].value));
  return true;
}
