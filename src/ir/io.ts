// Model inputs and outputs at the boundary: float data quantized with the input's parameters
// (as ONNX Runtime's QuantizeLinear does it: float32 division, round half to even, saturate),
// integer outputs dequantized, and the uint8 ↔ int8 shift of models declared with uint8.

import type { IrData, IrIo, IrModel, IrTensor } from './ir.js';
import { interpret } from './interpreter.js';
import { roundHalfEven } from '../onnx/ops.js';

function channelAt(t: IrTensor, i: number): number {
  const q = t.quant!;
  if (q.scale.length === 1) return 0;
  const inner = t.shape.slice((q.axis ?? 0) + 1).reduce((a, b) => a * b, 1);
  return Math.floor(i / inner) % q.scale.length;
}

/** Float values to the integers the model's input tensor holds. */
export function quantizeInput(io: IrIo, t: IrTensor, values: ArrayLike<number>): IrData {
  const out = t.dtype === 'int32' ? new Int32Array(values.length) : new Int8Array(values.length);
  const [lo, hi] = t.dtype === 'int32' ? [-2147483648, 2147483647] : [-128, 127];
  for (let i = 0; i < values.length; i++) {
    if (io.external === 'float32') {
      const c = channelAt(t, i);
      const s = Math.fround(t.quant!.scale[c]);
      const v = roundHalfEven(Math.fround(Math.fround(values[i]) / s)) + t.quant!.zeroPoint[c];
      out[i] = Math.min(hi, Math.max(lo, v));
    } else {
      out[i] = io.external === 'uint8' ? values[i] - 128 : values[i];
    }
  }
  return out;
}

/** The model's output integers as the declared output type: dequantized floats or raw integers. */
export function externalOutput(io: IrIo, t: IrTensor, data: IrData): Float32Array | Int8Array | Uint8Array | Int32Array {
  switch (io.external) {
    case 'float32':
      return dequantize(t, data);
    case 'uint8':
      return Uint8Array.from(data, (v) => v + 128);
    case 'int32':
      return Int32Array.from(data);
    default:
      return Int8Array.from(data);
  }
}

export function dequantize(t: IrTensor, data: IrData): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = channelAt(t, i);
    out[i] = Math.fround((data[i] - t.quant!.zeroPoint[c]) * Math.fround(t.quant!.scale[c]));
  }
  return out;
}

/** Runs the golden interpreter on inputs given as the model declares them (floats or integers). */
export function runExternal(model: IrModel, inputs: ArrayLike<number>[]): ReturnType<typeof externalOutput>[] {
  const ints = model.inputs.map((io, i) => quantizeInput(io, model.graph.tensors.get(io.tensor)!, inputs[i]));
  const outs = interpret(model, ints);
  return model.outputs.map((io, i) => externalOutput(io, model.graph.tensors.get(io.tensor)!, outs[i]));
}
