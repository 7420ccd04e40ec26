// The last time step of an LSTM's output sequence is its final hidden state.
//
// PyTorch writes `out[:, -1]` after nn.LSTM as views of Y (Squeeze, Transpose) ended by a
// Gather or Slice at index T-1 on the time axis. Reading Y_h instead means the LSTM never has
// to store the T × H sequence when nothing else reads it.

import type { Graph, Node } from '../onnx/graph.js';
import { attrInt, attrInts } from '../onnx/graph.js';
import { makeTensor } from '../onnx/tensor.js';

export function lastStepFromFinalState(graph: Graph): void {
  for (const lstm of graph.nodes.filter((n) => n.opType === 'LSTM' && n.domain === '')) {
    const y = lstm.outputs[0];
    if (!y) continue;
    const layout = attrInt(lstm, 'layout', 0);
    const shape = graph.shapeOf(y);
    const steps = shape[layout === 0 ? 0 : 1];
    // Axis ids of Y: 0 time, then the others in Y's order; views permute and drop them.
    const axes = shape.map((_, i) => i);
    const timeId = layout === 0 ? 0 : 1;
    for (const reader of graph.consumers(y)) rewriteChain(graph, lstm, reader, axes, timeId, steps);
  }
}

function rewriteChain(graph: Graph, lstm: Node, node: Node, axes: number[], timeId: number, steps: number): void {
  if (node.domain !== '') return;
  const out = node.outputs[0];
  const rank = axes.length;
  const constInts = (v: string | undefined) => (v ? graph.constant(v)?.data : undefined);
  switch (node.opType) {
    case 'Squeeze': {
      const given = constInts(node.inputs[1]) ?? attrInts(node, 'axes');
      if (!given) return;
      const dropped = new Set(Array.from(given, (a) => (a + rank) % rank));
      if (dropped.has(axes.indexOf(timeId))) return;
      const next = axes.filter((_, i) => !dropped.has(i));
      for (const r of graph.consumers(out)) rewriteChain(graph, lstm, r, next, timeId, steps);
      return;
    }
    case 'Transpose': {
      const perm = attrInts(node, 'perm') ?? axes.map((_, i) => rank - 1 - i);
      const next = perm.map((p) => axes[p]);
      for (const r of graph.consumers(out)) rewriteChain(graph, lstm, r, next, timeId, steps);
      return;
    }
    case 'Gather':
    case 'Slice':
      break;
    default:
      return;
  }
  const timeAxis = axes.indexOf(timeId);
  const index = lastIndex(graph, node, rank, timeAxis, steps);
  if (index === undefined) return;
  // The other axes must keep Y's order for the elements to line up with Y_h.
  const rest = axes.filter((a) => a !== timeId);
  if (rest.some((a, i) => i > 0 && a < rest[i - 1])) return;

  let yh = lstm.outputs[1];
  if (!yh) {
    yh = graph.freshName(`${lstm.name}_Y_h`);
    lstm.outputs[1] = yh;
    const yShape = graph.shapeOf(lstm.outputs[0]);
    graph.info.set(yh, { dtype: graph.dtypeOf(lstm.outputs[0]), shape: yShape.filter((_, i) => i !== timeId) });
    const q = graph.quant.get(lstm.outputs[0]);
    if (q) graph.quant.set(yh, q);
  }
  const shapeConst = graph.freshName(`${out}_shape`);
  const outShape = graph.shapeOf(out);
  graph.addConstant(shapeConst, makeTensor('int64', [outShape.length], outShape));
  const reshape: Node = { name: `${node.name}_from_Y_h`, opType: 'Reshape', domain: '', inputs: [yh, shapeConst], outputs: [out], attrs: {} };
  graph.nodes[graph.nodes.indexOf(node)] = reshape;
  graph.invalidate();
  graph.sortTopologically();
}

/** Whether a Gather/Slice reads exactly the last step along the time axis. */
function lastIndex(graph: Graph, node: Node, rank: number, timeAxis: number, steps: number): number | undefined {
  const c = (v: string | undefined) => (v ? graph.constant(v) : undefined);
  if (node.opType === 'Gather') {
    const idx = c(node.inputs[1]);
    if (!idx || idx.data.length !== 1 || idx.shape.length !== 0) return undefined;
    if ((attrInt(node, 'axis', 0) + rank) % rank !== timeAxis) return undefined;
    const i = idx.data[0] < 0 ? idx.data[0] + steps : idx.data[0];
    return i === steps - 1 ? i : undefined;
  }
  const [starts, ends, axesC, stepsC] = [1, 2, 3, 4].map((k) => c(node.inputs[k]));
  if (!starts || !ends || starts.data.length !== 1) return undefined;
  const axis = axesC ? (axesC.data[0] + rank) % rank : 0;
  if (axis !== timeAxis || (stepsC && stepsC.data[0] !== 1)) return undefined;
  const s = starts.data[0] < 0 ? starts.data[0] + steps : starts.data[0];
  return s === steps - 1 && ends.data[0] >= steps ? s : undefined;
}
