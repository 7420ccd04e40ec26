// The CMSIS-NN kernel set: fully connected layers, elementwise add/mul, softmax and the LSTM
// step call CMSIS-NN; tables, views and requantization (which CMSIS-NN has no kernel for) use the
// portable kernels. CMSIS-NN is compiled with CMSIS_NN_USE_SINGLE_ROUNDING (see the Makefile),
// the requantization the golden interpreter implements.
//
// The calls target Cortex-M cores with the DSP extension or none; on Helium (MVE) cores
// arm_nn_vec_mat_mult_t_s8 needs the kernel sums this lowering does not pass.

import type { IrOp, LstmCellOp, LstmGate } from '../../ir/ir.js';
import { int32Literal } from '../c.js';
import { portable } from './portable.js';
import type { EmitContext, KernelLowering } from './types.js';

type Op<K extends IrOp['kind']> = Extract<IrOp, { kind: K }>;

function fullyConnected(op: Op<'FullyConnected'>, ctx: EmitContext): string[] {
  if (op.outputDtype === 'int32') return portable.lower(op, ctx);
  const [n, k] = ctx.tensor(op.weights).shape;
  const rows = ctx.elements(op.inputs[0]) / k;
  const bias = op.bias ? ctx.ref(op.bias) : 'NULL';
  const x = ctx.ref(op.inputs[0]);
  const y = ctx.ref(op.outputs[0]);
  const common = `${op.inputOffset}, ${op.outputOffset}`;
  const tail = `${k}, ${n}, ${int32Literal(op.activationMin)}, ${op.activationMax}, 1, ${op.weightOffset}`;
  const call = (xr: string, yr: string) => {
    if (op.requant.length === 1) {
      const r = op.requant[0];
      return `arm_nn_vec_mat_mult_t_s8(${xr}, ${ctx.ref(op.weights)}, NULL, ${bias}, ${yr}, ${common}, ${int32Literal(r.multiplier)}, ${r.shift}, ${tail});`;
    }
    const mult = ctx.declare(`${op.name}_multipliers`, 'int32_t', `{${op.requant.map((r) => int32Literal(r.multiplier)).join(', ')}}`, true);
    const shift = ctx.declare(`${op.name}_shifts`, 'int32_t', `{${op.requant.map((r) => r.shift).join(', ')}}`, true);
    return `arm_nn_vec_mat_mult_t_per_ch_s8(${xr}, ${ctx.ref(op.weights)}, NULL, ${bias}, ${yr}, ${common}, ${mult}, ${shift}, ${tail});`;
  };
  if (rows === 1) return [call(x, y)];
  return [`for (int32_t row = 0; row < ${rows}; row++) {`, `    ${call(`${x} + row * ${k}`, `${y} + row * ${n}`)}`, '}'];
}

function add(op: Op<'Add'>, ctx: EmitContext): string[] {
  const [a, b] = op.inputs.map((v) => ctx.ref(v));
  return [
    `arm_elementwise_add_s8(${a}, ${b}, ${op.input1Offset}, ${int32Literal(op.input1.multiplier)}, ${op.input1.shift}, ` +
      `${op.input2Offset}, ${int32Literal(op.input2.multiplier)}, ${op.input2.shift}, ${op.leftShift}, ${ctx.ref(op.outputs[0])}, ` +
      `${op.outputOffset}, ${int32Literal(op.output.multiplier)}, ${op.output.shift}, ${op.activationMin}, ${op.activationMax}, ${ctx.elements(op.outputs[0])});`,
  ];
}

function mul(op: Op<'Mul'>, ctx: EmitContext): string[] {
  const [a, b] = op.inputs.map((v) => ctx.ref(v));
  return [
    `arm_elementwise_mul_s8(${a}, ${b}, ${op.input1Offset}, ${op.input2Offset}, ${ctx.ref(op.outputs[0])}, ${op.outputOffset}, ` +
      `${int32Literal(op.output.multiplier)}, ${op.output.shift}, ${op.activationMin}, ${op.activationMax}, ${ctx.elements(op.outputs[0])});`,
  ];
}

function softmax(op: Op<'Softmax'>, ctx: EmitContext): string[] {
  const shape = ctx.tensor(op.inputs[0]).shape;
  const row = shape[shape.length - 1];
  return [
    `arm_softmax_s8(${ctx.ref(op.inputs[0])}, ${ctx.elements(op.inputs[0]) / row}, ${row}, ${int32Literal(op.multiplier)}, ${op.shift}, ${op.diffMin}, ${ctx.ref(op.outputs[0])});`,
  ];
}

function gate(g: LstmGate, ctx: EmitContext): string {
  return (
    `{.input_multiplier = ${int32Literal(g.input.multiplier)}, .input_shift = ${g.input.shift}, ` +
    `.input_weights = ${ctx.ref(g.inputWeights)}, .input_effective_bias = ${ctx.ref(g.inputEffectiveBias)}, ` +
    `.hidden_multiplier = ${int32Literal(g.hidden.multiplier)}, .hidden_shift = ${g.hidden.shift}, ` +
    `.hidden_weights = ${ctx.ref(g.hiddenWeights)}, .hidden_effective_bias = ${ctx.ref(g.hiddenEffectiveBias)}, ` +
    `.bias = NULL, .activation_type = ${g.activation === 'sigmoid' ? 'ARM_SIGMOID' : 'ARM_TANH'}}`
  );
}

/**
 * One call of arm_nn_lstm_step_s8. It updates the cell state where `buffers->cell_state`
 * points; the plan normally gives c and c' one buffer, otherwise c is copied to c' first.
 */
function lstmCell(op: LstmCellOp, ctx: EmitContext): string[] {
  const [hidden, input] = ctx.tensor(op.gates.forget.inputWeights).shape;
  const batch = ctx.elements(op.inputs[1]) / hidden;
  const g = op.gates;
  const params = ctx.declare(
    `${op.name}_params`,
    'cmsis_nn_lstm_params',
    `{.time_major = 1, .batch_size = ${batch}, .time_steps = 1, .input_size = ${input}, .hidden_size = ${hidden}, ` +
      `.input_offset = 0, .forget_to_cell_multiplier = ${int32Literal(op.forgetToCell.multiplier)}, .forget_to_cell_shift = ${op.forgetToCell.shift}, ` +
      `.input_to_cell_multiplier = ${int32Literal(op.inputToCell.multiplier)}, .input_to_cell_shift = ${op.inputToCell.shift}, ` +
      `.cell_clip = ${op.cellClip}, .cell_scale_power = ${op.cellScalePower}, .output_multiplier = ${int32Literal(op.hidden.multiplier)}, ` +
      `.output_shift = ${op.hidden.shift}, .output_offset = ${op.hiddenOffset}, .forget_gate = ${gate(g.forget, ctx)}, ` +
      `.input_gate = ${gate(g.input, ctx)}, .cell_gate = ${gate(g.cell, ctx)}, .output_gate = ${gate(g.output, ctx)}}`,
  );
  const [x, h, c] = op.inputs;
  const [hOut, cOut] = op.outputs;
  const lines: string[] = [];
  const ca = ctx.at(c);
  const cb = ctx.at(cOut);
  if (ca.buffer !== cb.buffer || ca.offset !== cb.offset) lines.push(`memcpy(${ctx.ref(cOut)}, ${ctx.ref(c)}, ${ctx.bytes(c)});`);
  lines.push(
    `{`,
    `    cmsis_nn_lstm_context buffers = {${ctx.scratch(op, 'temp1')}, ${ctx.scratch(op, 'temp2')}, ${ctx.ref(cOut)}, NULL};`,
    `    arm_nn_lstm_step_s8(${ctx.ref(x)}, ${ctx.ref(h)}, ${ctx.ref(hOut)}, &${params}, &buffers, 1);`,
    `}`,
  );
  return lines;
}

export const cmsisNn: KernelLowering = {
  name: 'cmsis-nn',
  includes: ['arm_nnfunctions.h', 'arm_nnsupportfunctions.h', 'tlg_kernels.h'],
  lower(op, ctx) {
    switch (op.kind) {
      case 'FullyConnected':
        return fullyConnected(op, ctx);
      case 'Add':
        return add(op, ctx);
      case 'Mul':
        return mul(op, ctx);
      case 'Softmax':
        return softmax(op, ctx);
      case 'LstmCell':
        return lstmCell(op, ctx);
      default:
        return portable.lower(op, ctx);
    }
  },
};

/** The CMSIS-NN sources an op kind needs, relative to CMSIS_NN_PATH/Source. */
export function cmsisNnSources(kinds: Set<IrOp['kind']>): string[] {
  const files = new Set<string>();
  const add = (...f: string[]) => f.forEach((x) => files.add(x));
  if (kinds.has('FullyConnected')) add('NNSupportFunctions/arm_nn_vec_mat_mult_t_s8.c', 'NNSupportFunctions/arm_nn_vec_mat_mult_t_per_ch_s8.c');
  if (kinds.has('Add')) add('BasicMathFunctions/arm_elementwise_add_s8.c');
  if (kinds.has('Mul')) add('BasicMathFunctions/arm_elementwise_mul_s8.c');
  if (kinds.has('Softmax')) add('SoftmaxFunctions/arm_softmax_s8.c', 'SoftmaxFunctions/arm_nn_softmax_common_s8.c');
  if (kinds.has('LstmCell')) {
    add(
      'NNSupportFunctions/arm_nn_lstm_step_s8.c',
      'NNSupportFunctions/arm_nn_lstm_calculate_gate_s8_s16.c',
      'NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c',
      'NNSupportFunctions/arm_nntables.c',
      'ActivationFunctions/arm_nn_activation_s16.c',
      'BasicMathFunctions/arm_elementwise_mul_s16.c',
      'BasicMathFunctions/arm_elementwise_mul_acc_s16.c',
      'BasicMathFunctions/arm_elementwise_mul_s16_s8.c',
    );
  }
  return [...files].sort();
}
