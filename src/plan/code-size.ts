// The code-size part of the flash estimate: what each kind of op brings in (once per kind,
// kernels are shared) plus each call site, from measured builds (firmware/kernels/code-size.json).
// The linked ELF is checked against the whole estimate after the build.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IrModel, IrOp } from '../ir/ir.js';
import { allGraphs } from '../ir/ir.js';
import { packageRoot } from '../boards.js';
import type { KernelSetName } from './kernel-needs.js';

interface CodeSizes {
  portable: Record<IrOp['kind'], number>;
  'cmsis-nn': Record<IrOp['kind'], number>;
  perCall: number;
  model: number;
}

let sizes: CodeSizes | undefined;

function codeSizes(): CodeSizes {
  sizes ??= JSON.parse(readFileSync(join(packageRoot, 'firmware', 'kernels', 'code-size.json'), 'utf8')) as CodeSizes;
  return sizes;
}

export function estimateCode(model: IrModel, kernels: KernelSetName): { bytes: number; detail: string } {
  const table = codeSizes();
  const kinds = new Set<IrOp['kind']>();
  let calls = 0;
  for (const g of allGraphs(model.graph)) {
    for (const op of g.ops) {
      kinds.add(op.kind);
      calls++;
    }
  }
  const kernelBytes = [...kinds].reduce((a, k) => a + (table[kernels][k] ?? 0), 0);
  const bytes = table.model + kernelBytes + calls * table.perCall;
  return { bytes, detail: `${kinds.size} kernels, ${calls} calls` };
}

/**
 * Constant parameters the lowering adds beside the IR's tensors: per-channel requantization
 * (a multiplier and a shift per output channel) and each op's small parameter struct.
 */
export function parameterBytes(model: IrModel): number {
  let bytes = 0;
  for (const g of allGraphs(model.graph)) {
    for (const op of g.ops) {
      if (op.kind === 'FullyConnected' && op.requant.length > 1) bytes += 8 * op.requant.length;
      if (op.kind !== 'Loop' && op.kind !== 'Reshape') bytes += 32;
    }
  }
  return bytes;
}
