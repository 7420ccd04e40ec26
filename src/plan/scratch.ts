// Scratch buffers the kernels ask for, per op and kernel set, mirroring the calls the emitted
// code makes (CMSIS-NN's *_get_buffer_size functions and the portable kernels' headers). The
// emitter checks that what it passes is what was planned here.

import type { IrOp, IrTensor } from '../ir/ir.js';

export type KernelSetName = 'cmsis-nn' | 'portable';

export interface ScratchRequest {
  /** Unique: op name + role. */
  name: string;
  role: string;
  bytes: number;
}

export function scratchBuffers(op: IrOp, kernels: KernelSetName, tensor: (v: string) => IrTensor): ScratchRequest[] {
  if (op.kind !== 'LstmCell') return [];
  const h = tensor(op.outputs[0]).shape.reduce((a, b) => a * b, 1);
  // CMSIS-NN's LSTM step keeps two int16 gate vectors (temp1, temp2) of batch × hidden; the
  // portable cell computes the four gates before it updates c and h.
  const vectors = kernels === 'cmsis-nn' ? 2 : 4;
  return Array.from({ length: vectors }, (_, i) => ({ name: `${op.name}/scratch${i}`, role: `gate buffer ${i}`, bytes: 2 * h }));
}
