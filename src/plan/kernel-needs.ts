// What each kernel set needs from the plan, per op, mirroring the calls the emitted code
// makes: scratch buffers (CMSIS-NN's *_get_buffer_size functions, the portable kernels'
// headers), and which outputs may be written over which inputs. The emitter checks that what it
// passes is what was planned here.

import type { IrOp, IrTensor } from '../ir/ir.js';

export type KernelSetName = 'cmsis-nn' | 'portable';

export interface ScratchRequest {
  /** Unique: op name + role. */
  name: string;
  role: string;
  bytes: number;
}

export function scratchBuffers(op: IrOp, kernels: KernelSetName, tensor: (v: string) => IrTensor): ScratchRequest[] {
  // CMSIS-NN's LSTM step keeps two int16 gate vectors (temp1, temp2) of batch × hidden; the
  // portable step computes the four gates of a unit together and needs none.
  if (op.kind !== 'LstmCell' || kernels !== 'cmsis-nn') return [];
  const h = tensor(op.outputs[0]).shape.reduce((a, b) => a * b, 1);
  return [0, 1].map((i) => ({ name: `${op.name}/temp${i + 1}`, role: `temp${i + 1}`, bytes: 2 * h }));
}

/** Elementwise kernels of both sets work in place. */
const elementwise = new Set<IrOp['kind']>(['Add', 'Mul', 'Lut', 'Requantize']);

/**
 * Whether output `o` of `op` may be the same buffer as input `i`. The LSTM cell updates c in
 * place in both sets; CMSIS-NN's step reads all of h before writing the new h (its four gate
 * calls come first), the portable step writes h unit by unit and must not.
 */
export function mayWriteInPlace(op: IrOp, kernels: KernelSetName, output: number, input: number): boolean {
  if (elementwise.has(op.kind)) return true;
  if (op.kind === 'LstmCell') {
    if (output === 1 && input === 2) return true;
    if (output === 0 && input === 1) return kernels === 'cmsis-nn';
  }
  return false;
}

/**
 * The kernel functions an op's generated code calls, as named in firmware/kernels/code-size.json
 * (the code-size estimate). `free` tells that a view costs nothing because the plan aliased it.
 */
export function kernelFunctions(op: IrOp, kernels: KernelSetName, free: boolean): string[] {
  const cmsis = kernels === 'cmsis-nn';
  switch (op.kind) {
    case 'FullyConnected':
      if (!cmsis || op.outputDtype === 'int32') return ['tlg_fully_connected'];
      return [op.requant.length > 1 ? 'arm_nn_vec_mat_mult_t_per_ch_s8' : 'arm_nn_vec_mat_mult_t_s8'];
    case 'MatMul':
      return ['tlg_matmul'];
    case 'Add':
      return [cmsis ? 'arm_elementwise_add_s8' : 'tlg_add_s8'];
    case 'Mul':
      return [cmsis ? 'arm_elementwise_mul_s8' : 'tlg_mul_s8'];
    case 'Softmax':
      return [cmsis ? 'arm_softmax_s8' : 'tlg_softmax_s8'];
    case 'LstmCell':
      return [cmsis ? 'arm_nn_lstm_step_s8' : 'tlg_lstm_step_s8'];
    case 'Lut':
      return ['tlg_lut_s8'];
    case 'Requantize':
      return ['tlg_requantize_s8'];
    case 'Copy':
      return free ? [] : ['tlg_copy'];
    case 'Reshape':
    case 'Concat':
      return free ? [] : ['memcpy'];
    case 'Loop':
      return [];
  }
}

/**
 * Weights a kernel stores in a layout of its own: the bytes it adds to the model's constants,
 * and the IR constants it no longer reads (the linker drops them). Must agree with what the
 * op's lowering in src/emit/kernels/ passes to EmitContext.weight().
 */
export function weightLayout(op: IrOp, kernels: KernelSetName, tensor: (v: string) => IrTensor): { extraBytes: number; replaces: string[] } {
  void op;
  void kernels;
  void tensor;
  return { extraBytes: 0, replaces: [] };
}
