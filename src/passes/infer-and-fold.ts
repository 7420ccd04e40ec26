// Shape inference and constant folding, in one walk over the graph in topological order.
//
// Exporters compute shapes at run time (Shape → Gather → Unsqueeze → Concat → Reshape, or
// ConstantOfShape for initial states). Shapes are static here, so these chains fold into
// constants; every other node gets the types and shapes of its outputs.

import type { Graph, Node } from '../onnx/graph.js';
import { opDef, supportedOps, type OpContext } from '../onnx/ops.js';
import { diagnostics } from '../diagnostics.js';

/** Ops of other passes' making that the walk leaves alone (their outputs already have types). */
const internalOps = new Set(['tlg.FakeQuant', 'tlg.Requantize', 'tlg.Loop']);

export function inferAndFold(graph: Graph): void {
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    if (internalOps.has(node.opType)) {
      kept.push(node);
      continue;
    }
    const def = opDef(node);
    if (!def) {
      throw diagnostics.unsupportedOp(graph.file, node.name, node.opType, node.domain, supportedOps);
    }
    const ctx: OpContext = {
      graph,
      node,
      inputs: node.inputs.map((i) => (i ? graph.info.get(i) : undefined)),
      consts: node.inputs.map((i) => (i ? graph.constant(i) : undefined)),
    };
    ctx.inputs.forEach((info, k) => {
      if (node.inputs[k] && !info) {
        throw diagnostics.badGraph(graph.file, `input "${node.inputs[k]}" is not produced by any node`, {
          node: node.name,
          opType: node.opType,
        });
      }
    });

    const allConst = node.inputs.every((i) => !i || graph.isConstant(i));
    if (def.fold && (def.always || allConst)) {
      const values = def.fold(ctx);
      node.outputs.forEach((o, k) => o && graph.addConstant(o, values[k]));
      continue;
    }
    const infos = def.infer(ctx);
    node.outputs.forEach((o, k) => o && infos[k] && graph.info.set(o, infos[k]));
    kept.push(node);
  }
  graph.nodes = kept;
  graph.invalidate();
}
