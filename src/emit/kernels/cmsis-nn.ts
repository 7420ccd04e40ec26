// The CMSIS-NN kernel set: fully connected layers, elementwise add/mul, softmax and the LSTM
// gates' products call CMSIS-NN; tables, views, requantization (which CMSIS-NN has no kernel
// for) and the LSTM's fused activation and state update use the portable kernels. CMSIS-NN is
// compiled with CMSIS_NN_USE_SINGLE_ROUNDING (see the Makefile), the requantization the golden
// interpreter implements.
//
// The calls target Cortex-M cores with the DSP extension or none; on Helium (MVE) cores
// arm_nn_vec_mat_mult_t_s8 needs the kernel sums this lowering does not pass.

import { LSTM_GATES, type IrOp, type LstmCellOp } from '../../ir/ir.js';
import { int32Literal } from '../c.js';
import { invariant } from '../../diagnostics.js';
import { lstmSizes, stackedLstmGates } from '../../plan/kernel-needs.js';
import { lstmCellParamsC, stackLstmCmsisNn } from './lstm-layout.js';
import { lstmActivationTables, portable } from './portable.js';
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

/**
 * One step of arm_nn_lstm_step_s8's arithmetic in three parts: the gates' products with
 * arm_nn_vec_mat_mul_result_acc_s8_s16 (input side, then hidden side accumulated onto it, each
 * requantized to int16 and saturated), then one pass of tlg_lstm_update_s16 for the
 * activations, the cell and the hidden state, which CMSIS-NN's step does in seven passes.
 * When the four gates requantize alike on each side, one call per side covers them, on rows
 * stacked unit by unit (lstm-layout.ts); otherwise each gate has its own calls, on the IR's
 * weights. A joined cell (--fuse-accumulators) has no hidden side: its input is [x; h].
 */
function lstmCell(op: LstmCellOp, ctx: EmitContext): string[] {
  const { input, hidden, batch } = lstmSizes(op, ctx.tensor);
  const tables = lstmActivationTables(op, ctx, 'cmsis-nn');
  const cell = ctx.declare(`${op.name}_cell_params`, 'tlg_lstm_cell_params', lstmCellParamsC(op, tables.sigmoid, tables.tanh));
  const gates = `(int16_t *)${ctx.scratch(op, 'gates')}`;
  const [x, h, c] = op.inputs.map((v) => ctx.ref(v));
  const [hOut, cOut] = op.outputs.map((v) => ctx.ref(v));
  const at = (base: string, size: number) => (batch === 1 ? base : `${base} + b * ${size}`);
  const product = (vector: string, weights: string, biases: string, r: { multiplier: number; shift: number }, columns: number, rows: number, dst: string) =>
    `arm_nn_vec_mat_mul_result_acc_s8_s16(${at(vector, columns)}, ${weights}, ${biases}, ${dst}, ${int32Literal(r.multiplier)}, ${r.shift}, ${columns}, ${rows}, 1, 1);`;
  const body = [`memset(${gates}, 0, ${8 * hidden});`];
  let strides: string;
  if (stackedLstmGates(op)) {
    const s = stackLstmCmsisNn(op, ctx.tensor);
    const what = (side: string) => `${op.name}: ${side} of the gates f, i, g, o stacked, row 4 j + k = gate k's row j`;
    const wx = ctx.weight(`${op.name}_input_weights`, 'int8_t', s.inputWeights, what(op.joined ? 'weights over [x; h]' : 'input weights'));
    const bx = ctx.weight(`${op.name}_input_biases`, 'int32_t', s.inputBiases, what(op.joined ? 'effective biases' : 'input effective biases'));
    const f = op.gates.forget;
    body.push(product(x, wx, bx, f.input, input, 4 * hidden, gates));
    if (!op.joined) {
      const wh = ctx.weight(`${op.name}_hidden_weights`, 'int8_t', s.hiddenWeights, what('hidden weights'));
      const bh = ctx.weight(`${op.name}_hidden_biases`, 'int32_t', s.hiddenBiases, what('hidden effective biases'));
      body.push(product(h, wh, bh, f.hidden, hidden, 4 * hidden, gates));
    }
    strides = '4, 1';
  } else {
    LSTM_GATES.forEach((k, i) => {
      const g = op.gates[k];
      body.push(product(x, ctx.ref(g.inputWeights), ctx.ref(g.inputEffectiveBias), g.input, input, hidden, `${gates} + ${i * hidden}`));
    });
    if (!op.joined) {
      LSTM_GATES.forEach((k, i) => {
        const g = op.gates[k];
        body.push(product(h, ctx.ref(g.hiddenWeights), ctx.ref(g.hiddenEffectiveBias), g.hidden, hidden, hidden, `${gates} + ${i * hidden}`));
      });
    }
    strides = `1, ${hidden}`;
  }
  body.push(`tlg_lstm_update_s16(&${cell}, ${hidden}, ${strides}, ${gates}, ${at(c, hidden)}, ${at(cOut, hidden)}, ${at(hOut, hidden)});`);
  if (batch === 1) return body;
  return [`for (int32_t b = 0; b < ${batch}; b++) {`, ...body.map((l) => `    ${l}`), '}'];
}

export const cmsisNn: KernelLowering = {
  name: 'cmsis-nn',
  includes: ['arm_nnfunctions.h', 'arm_nnsupportfunctions.h', 'tlg_kernels.h', 'tlg_elementwise_inline.h'],
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
      case 'Elementwise':
        // Products run inside the loop with the portable set only (passes/fuse-products.ts).
        invariant(op.products.length === 0, `Elementwise ${op.name} has products, which only the portable kernels compute`);
        return portable.lower(op, ctx);
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
  if (kinds.has('LstmCell')) add('NNSupportFunctions/arm_nn_vec_mat_mul_result_acc_s8_s16.c');
  return [...files].sort();
}
