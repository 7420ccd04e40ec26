// The code-size part of the flash estimate: the kernel functions a model calls (once each,
// calls share them) plus each call site, from measured builds (firmware/kernels/code-size.json).
// The linked ELF is checked against the whole estimate after the build.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IrModel, IrOp } from '../ir/ir.js';
import { allGraphs } from '../ir/ir.js';
import { packageRoot } from '../boards.js';
import { kernelFunctions, wideFullyConnected, type KernelSetName, type WeightsLayout } from './kernel-needs.js';

interface CodeSizes {
  functions: Record<string, number>;
  perCall: number;
  model: number;
  application: number;
}

let sizes: CodeSizes | undefined;

function codeSizes(): CodeSizes {
  sizes ??= JSON.parse(readFileSync(join(packageRoot, 'firmware', 'kernels', 'code-size.json'), 'utf8')) as CodeSizes;
  return sizes;
}

/**
 * The model's code: every kernel function its ops call (once: calls share the code), each
 * call site, and the fixed model code. `free(op)` says a view costs nothing (the plan aliased it).
 */
export function estimateCode(
  model: IrModel,
  kernels: KernelSetName,
  layout: WeightsLayout,
  free: (op: IrOp) => boolean,
): { bytes: number; detail: string } {
  const table = codeSizes();
  const functions = new Set<string>();
  let calls = 0;
  let inlined = 0;
  const tensors = new Map(allGraphs(model.graph).flatMap((g) => [...g.tensors]));
  const tensor = (v: string) => tensors.get(v)!;
  for (const g of allGraphs(model.graph)) {
    for (const op of g.ops) {
      const used = kernelFunctions(op, kernels, layout, free(op), tensor);
      for (const f of used) {
        if (f.endsWith('*')) inlined += table.functions[f] ?? 0;
        else functions.add(f);
      }
      if (used.length > 0) calls++;
    }
  }
  const kernelBytes = [...functions].reduce((a, f) => a + (table.functions[f] ?? 0), 0) + inlined;
  return { bytes: table.model + kernelBytes + calls * table.perCall, detail: `${functions.size} kernel functions, ${calls} calls` };
}

/** The test application's own code (its data is counted apart). */
export function applicationCode(): number {
  return codeSizes().application;
}

/**
 * Constant parameters the lowering adds beside the IR's tensors: per-channel requantization
 * (a multiplier and a shift per output channel) and each op's small parameter struct.
 */
export function parameterBytes(model: IrModel, kernels: KernelSetName, layout: WeightsLayout): number {
  let bytes = 0;
  const tensors = new Map(allGraphs(model.graph).flatMap((g) => [...g.tensors]));
  const tensor = (v: string) => tensors.get(v)!;
  for (const g of allGraphs(model.graph)) {
    for (const op of g.ops) {
      // A plain requantization per channel takes 8 bytes; prepared rows carry theirs with the
      // weights (kernel-needs.ts, weightLayout).
      if (op.kind === 'FullyConnected' && op.requant.length > 1 && !wideFullyConnected(op, kernels, layout, tensor)) bytes += 8 * op.requant.length;
      // The LSTM step's parameter block (tlg_lstm_params, or the CMSIS-NN set's update
      // parameters), measured with arm-none-eabi-gcc; every other call about 24 bytes.
      if (op.kind === 'LstmCell') bytes += kernels === 'portable' ? 320 : 104;
      else if (op.kind !== 'Loop' && op.kind !== 'Reshape') bytes += 24;
    }
  }
  return bytes;
}
