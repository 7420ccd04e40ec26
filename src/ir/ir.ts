// The integer IR: a small set of operators with exact integer semantics.
//
// Every op here has one reference implementation (src/ir/ops/*.ts, run by the golden
// interpreter) and lowerings onto the kernel sets (src/emit/kernels/). Activations are int8
// with an affine quantization (real = scale · (q − zeroPoint)); the LSTM cell state is int16 at
// a power-of-two scale; accumulators and biases are int32. Weights and tables are constant
// tensors that live in flash.

export type IrDType = 'int8' | 'int16' | 'uint16' | 'int32';

export interface IrQuant {
  scale: number[];
  zeroPoint: number[];
  /** Axis of per-channel parameters (constants only). */
  axis?: number;
}

export type IrData = Int8Array | Int16Array | Uint16Array | Int32Array;

export interface IrTensor {
  name: string;
  dtype: IrDType;
  shape: number[];
  quant?: IrQuant;
  /** The value of a constant (weights, biases, tables, initial states). */
  data?: IrData;
}

export interface Requant {
  multiplier: number;
  shift: number;
}

interface OpBase {
  /** Unique within its graph; derived from the ONNX node it comes from. */
  name: string;
  /** The ONNX nodes this op was made from (for reports and comments in the C code). */
  sources: string[];
  inputs: string[];
  outputs: string[];
}

/** y = clamp(requant(Σ_k (x_k + inputOffset)(w_nk + weightOffset) + bias_n) + outputOffset). */
export interface FullyConnectedOp extends OpBase {
  kind: 'FullyConnected';
  /** int8 [N, K]. */
  weights: string;
  /** int32 [N], at scale s_x · s_w[n] · 2^-accumulatorShift. */
  bias?: string;
  /**
   * The sum of products is scaled by 2^accumulatorShift before the bias is added (and the
   * requantization divides it out again), so that a real-valued bias keeps that many more bits;
   * 0 or absent for a bias at the product's own scale (the CMSIS-NN kernels' form).
   */
  accumulatorShift?: number;
  inputOffset: number;
  weightOffset: number;
  outputOffset: number;
  /** One per output channel, or one for all. */
  requant: Requant[];
  activationMin: number;
  activationMax: number;
  /** int32 output: the accumulator itself, no requantization (MatMulInteger). */
  outputDtype: 'int8' | 'int32';
}

/** General batched matrix product of two int8 operands (either may be a runtime value). */
export interface MatMulOp extends OpBase {
  kind: 'MatMul';
  aOffset: number;
  bOffset: number;
  outputOffset: number;
  requant: Requant;
  outputDtype: 'int8' | 'int32';
}

/** CMSIS-NN arm_elementwise_add_s8 (TFLite ADD/SUB): both inputs rescaled to a common scale. */
export interface AddOp extends OpBase {
  kind: 'Add';
  input1Offset: number;
  input1: Requant;
  input2Offset: number;
  /** A negative multiplier makes this a subtraction. */
  input2: Requant;
  leftShift: number;
  outputOffset: number;
  output: Requant;
  activationMin: number;
  activationMax: number;
}

/** CMSIS-NN arm_elementwise_mul_s8. */
export interface MulOp extends OpBase {
  kind: 'Mul';
  input1Offset: number;
  input2Offset: number;
  outputOffset: number;
  output: Requant;
  activationMin: number;
  activationMax: number;
}

/** y = table[x + 128]: any function of one int8 value, computed at compile time. */
export interface LutOp extends OpBase {
  kind: 'Lut';
  /** int8 [256]. */
  table: string;
  /** What the table computes, for reports (e.g. "sigmoid", "1 - sigmoid(x)"). */
  function: string;
}

/** CMSIS-NN arm_softmax_s8 over the last axis; output scale 1/256, zero point -128. */
export interface SoftmaxOp extends OpBase {
  kind: 'Softmax';
  multiplier: number;
  shift: number;
  diffMin: number;
}

/** y = clamp(requant(x + inputOffset) + outputOffset) to int8. */
export interface RequantizeOp extends OpBase {
  kind: 'Requantize';
  inputOffset: number;
  outputOffset: number;
  requant: Requant;
}

/** Same elements, another shape: the output aliases the input. */
export interface ReshapeOp extends OpBase {
  kind: 'Reshape';
}

/** y[i] = x[offset + Σ_d i_d · strides_d]: slices, transposes, gathers at constant indices. */
export interface CopyOp extends OpBase {
  kind: 'Copy';
  offset: number;
  strides: number[];
}

export interface ConcatOp extends OpBase {
  kind: 'Concat';
  axis: number;
}

/**
 * Several elementwise ops over vectors of `size` elements run as one loop over the elements.
 * The loop's values are slots, numbered in this order:
 *   - element inputs: slot k < inputOffsets.length holds element inputOffsets[k] + e of input k;
 *   - product rows: each product's blocks, in order, hold row offsets[b] + e of its output;
 *   - steps: each step adds a slot computed exactly as its op computes one element.
 * `outputSlots[j]` is written to output j. The inputs after the element inputs are the vectors
 * the products read whole. The gate, cell and hidden math of a recurrent cell becomes one pass,
 * and with products (portable kernels) the gate pre-activations too.
 */
export interface ElementwiseOp extends OpBase {
  kind: 'Elementwise';
  size: number;
  inputOffsets: number[];
  products: ElementwiseProduct[];
  steps: ElementwiseStep[];
  outputSlots: number[];
}

/**
 * A fully connected product whose int8 output only the loop reads, computed in the loop: the
 * rows the slots need, each exactly as the FullyConnected op computes it. `op.inputs[0]` is one
 * of the loop's vector inputs (one row of K values); `op.outputs[0]` only names the product in
 * reports and comments, it is no tensor of the graph. The fusion admits only products whose
 * sums cannot leave the int32 range (see src/passes/fuse-products.ts).
 */
export interface ElementwiseProduct {
  op: FullyConnectedOp;
  /** Row offsets of the blocks the loop reads: block b of element e is row offsets[b] + e. */
  offsets: number[];
}

/** The first slot of each product's blocks, and the first slot of the steps. */
export function elementwiseSlots(op: ElementwiseOp): { products: number[]; steps: number } {
  const products: number[] = [];
  let next = op.inputOffsets.length;
  for (const p of op.products) {
    products.push(next);
    next += p.offsets.length;
  }
  return { products, steps: next };
}

export type ElementwiseStep =
  | { op: LutOp; args: [number] }
  | { op: AddOp; args: [number, number] }
  | { op: MulOp; args: [number, number] }
  | { op: RequantizeOp; args: [number] };

export interface LoopOp extends OpBase {
  kind: 'Loop';
  body: IrGraph;
  steps: number;
  sequences: { outer: string; axis: number; bodyValue: string; keepDims: boolean }[];
  states: { init: string; bodyIn: string; bodyOut: string }[];
  scans: { bodyValue: string; outer: string; axis: number }[];
  finals: { bodyValue: string; outer: string }[];
}

/** The gates of an LSTM cell in the order of CMSIS-NN's parameters and of the packed layouts. */
export const LSTM_GATES = ['forget', 'input', 'cell', 'output'] as const;

export interface LstmGate {
  /** int8 [H, I]. */
  inputWeights: string;
  /** int8 [H, H]. */
  hiddenWeights: string;
  /** int32 [H]: bias at s_x·s_wx with the input zero point folded in. */
  inputEffectiveBias: string;
  /** int32 [H]: the hidden zero point folded in. */
  hiddenEffectiveBias: string;
  input: Requant;
  hidden: Requant;
  activation: 'sigmoid' | 'tanh';
}

/**
 * One step of an int8 LSTM with CMSIS-NN's arithmetic (arm_nn_lstm_step_s8): gates as int16 at
 * 2^-12 into the int16 sigmoid/tanh (Q0.15 out), cell state int16 at 2^cellScalePower.
 * Inputs [x, hPrev, cPrev], outputs [h, c].
 */
export interface LstmCellOp extends OpBase {
  kind: 'LstmCell';
  gates: { input: LstmGate; forget: LstmGate; cell: LstmGate; output: LstmGate };
  forgetToCell: Requant;
  inputToCell: Requant;
  cellClip: number;
  cellScalePower: number;
  hidden: Requant;
  hiddenOffset: number;
  /** uint16 [256]: sigmoid(k/24) in Q16, the table the int16 sigmoid and tanh interpolate. */
  activationTable: string;
  /**
   * --fuse-accumulators (CMSIS-NN set): inputs[0] is [x; h], each gate's input side its one
   * product over it, and the hidden side empty ([H, 0] weights, zero biases).
   */
  joined?: boolean;
}

export type IrOp =
  | FullyConnectedOp
  | MatMulOp
  | AddOp
  | MulOp
  | LutOp
  | SoftmaxOp
  | RequantizeOp
  | ReshapeOp
  | CopyOp
  | ConcatOp
  | LoopOp
  | LstmCellOp
  | ElementwiseOp;

export type IrOpKind = IrOp['kind'];

export interface IrGraph {
  tensors: Map<string, IrTensor>;
  ops: IrOp[];
  /** Runtime inputs; in a loop body: the step's sequence slices, then the state inputs. */
  inputs: string[];
  outputs: string[];
}

/** How a model input or output is exchanged with the outside (the declared ONNX type). */
export interface IrIo {
  name: string;
  /** Name of the IR tensor. */
  tensor: string;
  shape: number[];
  /** float: quantized/dequantized at the boundary; int8/uint8/int32: raw integers. */
  external: 'float32' | 'int8' | 'uint8' | 'int32';
}

export interface IrModel {
  name: string;
  graph: IrGraph;
  inputs: IrIo[];
  outputs: IrIo[];
  /** Compile-time facts worth reporting (kernel-set dependent tables, fusions chosen). */
  notes: string[];
}

export function isConstant(t: IrTensor): boolean {
  return t.data !== undefined;
}

export function elementCount(t: { shape: readonly number[] }): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

export function bytesOf(t: IrTensor): number {
  const width = t.dtype === 'int8' ? 1 : t.dtype === 'int32' ? 4 : 2;
  return elementCount(t) * width;
}

export function allocateData(dtype: IrDType, n: number): IrData {
  switch (dtype) {
    case 'int8':
      return new Int8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'int32':
      return new Int32Array(n);
  }
}

/** Every graph of a model: the top graph and loop bodies, outermost first. */
export function allGraphs(g: IrGraph): IrGraph[] {
  const out = [g];
  for (const op of g.ops) if (op.kind === 'Loop') out.push(...allGraphs(op.body));
  return out;
}

/** An op before it has a name: what lowerings build. */
export type IrOpInit = IrOp extends infer T ? (T extends IrOp ? Omit<T, 'name'> & { name?: string } : never) : never;

/** The constant tensors an op names besides its inputs: weights, biases, tables. */
export function parameterTensors(op: IrOp): string[] {
  switch (op.kind) {
    case 'FullyConnected':
      return op.bias ? [op.weights, op.bias] : [op.weights];
    case 'Lut':
      return [op.table];
    case 'LstmCell':
      return [
        op.activationTable,
        ...Object.values(op.gates).flatMap((g) => [g.inputWeights, g.hiddenWeights, g.inputEffectiveBias, g.hiddenEffectiveBias]),
      ];
    case 'Loop':
      return op.states.map((s) => s.init);
    case 'Elementwise':
      return [
        ...op.products.flatMap((p) => parameterTensors(p.op)),
        ...op.steps.flatMap((s) => (s.op.kind === 'Lut' ? [s.op.table] : [])),
      ];
    default:
      return [];
  }
}
