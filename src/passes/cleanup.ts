// Clean-up passes: Identity removal, dead-node removal, and deduplication of identical
// constants and identical nodes.
//
// A traced PyTorch export repeats the fake quantization of every weight once per time step:
// T QuantizeLinear/DequantizeLinear pairs on the same initializer, or T identical folded
// initializers. Deduplicating constants by content and then nodes by (op, attributes,
// inputs) leaves one copy, which is also what lets the recurrence be recognised.

import type { Graph, Node } from '../onnx/graph.js';
import { tensorKey, tensorsEqual, type Tensor } from '../onnx/tensor.js';

export function removeIdentities(graph: Graph): void {
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    if (n.opType !== 'Identity' || n.domain !== '') continue;
    const [from] = n.outputs;
    const [to] = n.inputs;
    // An Identity between a graph input and a graph output is the whole model; keep it.
    if (graph.outputs.includes(from) && graph.inputs.includes(to)) continue;
    copyAnnotations(graph, from, to);
    graph.replaceAllUses(from, to);
    dead.add(n);
  }
  graph.removeNodes(dead);
}

function copyAnnotations(graph: Graph, from: string, to: string): void {
  const q = graph.quant.get(from);
  if (q && !graph.quant.has(to)) graph.quant.set(to, q);
}

/** Removes nodes whose outputs no graph output needs, and constants nothing reads. */
export function removeDeadNodes(graph: Graph): void {
  const live = new Set<string>(graph.outputs);
  const keep: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((o) => live.has(o))) {
      keep.push(n);
      for (const x of n.inputs) if (x) live.add(x);
    }
  }
  keep.reverse();
  if (keep.length !== graph.nodes.length) {
    graph.nodes = keep;
    graph.invalidate();
  }
  for (const name of [...graph.constants.keys()]) {
    if (!live.has(name)) {
      graph.constants.delete(name);
      graph.info.delete(name);
      graph.quant.delete(name);
    }
  }
}

/** Merges constants with equal contents (and equal quantization) into one. */
export function deduplicateConstants(graph: Graph): void {
  const byKey = new Map<string, { name: string; t: Tensor }[]>();
  for (const [name, t] of graph.constants) {
    const q = graph.quant.get(name);
    const key = `${tensorKey(t)}|${q ? JSON.stringify(q) : ''}`;
    const group = byKey.get(key) ?? [];
    const same = group.find((g) => tensorsEqual(g.t, t));
    if (same) {
      graph.replaceAllUses(name, same.name);
      graph.constants.delete(name);
      graph.info.delete(name);
      graph.quant.delete(name);
    } else {
      group.push({ name, t });
      byKey.set(key, group);
    }
  }
}

/** Common-subexpression elimination: a node equal to an earlier one is replaced by it. */
export function deduplicateNodes(graph: Graph): void {
  const seen = new Map<string, Node>();
  const dead = new Set<Node>();
  for (const n of graph.nodes) {
    if (n.body) continue;
    const key = nodeKey(n);
    const first = seen.get(key);
    if (!first) {
      seen.set(key, n);
      continue;
    }
    n.outputs.forEach((o, k) => {
      if (!o) return;
      copyAnnotations(graph, o, first.outputs[k]);
      graph.replaceAllUses(o, first.outputs[k]);
    });
    dead.add(n);
  }
  graph.removeNodes(dead);
}

function nodeKey(n: Node): string {
  const attrs = Object.keys(n.attrs)
    .sort()
    .map((k) => {
      const v = n.attrs[k];
      return `${k}=${typeof v === 'object' && !Array.isArray(v) ? tensorKey(v) : JSON.stringify(v)}`;
    });
  return `${n.domain}.${n.opType}(${n.inputs.join(',')})[${attrs.join(';')}]#${n.outputs.length}`;
}

/** Deduplication until nothing changes: merged constants make more nodes equal, and so on. */
export function deduplicate(graph: Graph): void {
  for (;;) {
    const before = graph.nodes.length + graph.constants.size;
    deduplicateConstants(graph);
    deduplicateNodes(graph);
    if (graph.nodes.length + graph.constants.size === before) return;
  }
}
