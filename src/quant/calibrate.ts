// Calibration: ranges of float tensors measured on representative inputs.
//
// The original model runs in ONNX Runtime (graph optimizations off, so that Q/DQ graphs run as
// written) with the tensors to measure added as graph outputs. LSTM cell states never leave
// the ONNX LSTM operator, so their range comes from replaying each LSTM node in float64 on the
// inputs ONNX Runtime reports for it.

import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';
import { onnx } from '../onnx/proto.js';
import { diagnostics } from '../diagnostics.js';

const require = createRequire(import.meta.url);

/** onnxruntime-node, loaded on first use: compiling a fully quantized model never needs it. */
export function onnxRuntime(): typeof Ort {
  return require('onnxruntime-node') as typeof Ort;
}

export interface LstmReplay {
  node: string;
  /** The LSTM's input X in the original model. */
  input: string;
  layout: number;
  hidden: number;
  /** Float weights [4H, I], [4H, H] and bias [8H] in ONNX gate order (i, o, f, c). */
  w: Float64Array;
  r: Float64Array;
  b: Float64Array;
  initialH?: Float64Array;
  initialC?: Float64Array;
}

export interface CalibrationResult {
  ranges: Map<string, { min: number; max: number }>;
  /** LSTM node name → the largest |c| seen. */
  cellRanges: Map<string, number>;
}

/** A session of the original model with `extraOutputs` added as graph outputs. */
export async function sessionWithOutputs(modelBytes: Uint8Array, extraOutputs: string[]): Promise<Ort.InferenceSession> {
  const ort = onnxRuntime();
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph!;
  const outputs = (graph.output ??= []);
  const existing = new Set(outputs.map((o) => o.name));
  for (const name of extraOutputs) {
    if (existing.has(name)) continue;
    outputs.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1 } } }));
    existing.add(name);
  }
  const bytes = onnx.ModelProto.encode(model).finish();
  return ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
}

export async function calibrate(
  modelBytes: Uint8Array,
  calibrationFile: string,
  samples: Float32Array[],
  inputShape: number[],
  inputName: string,
  values: string[],
  lstms: LstmReplay[],
): Promise<CalibrationResult> {
  const ort = onnxRuntime();
  const wanted = [...new Set([...values, ...lstms.map((l) => l.input)])];
  let session: Ort.InferenceSession;
  try {
    session = await sessionWithOutputs(modelBytes, wanted);
  } catch (e) {
    throw diagnostics.calibrationFailed(calibrationFile, (e as Error).message.split('\n')[0]);
  }
  const ranges = new Map<string, { min: number; max: number }>();
  const cellRanges = new Map<string, number>();
  for (const sample of samples) {
    let result: Ort.InferenceSession.ReturnType;
    try {
      result = await session.run({ [inputName]: new ort.Tensor('float32', sample, inputShape) }, wanted);
    } catch (e) {
      throw diagnostics.calibrationFailed(calibrationFile, (e as Error).message.split('\n')[0]);
    }
    for (const name of values) {
      const data = result[name].data as Float32Array;
      const r = ranges.get(name) ?? { min: Infinity, max: -Infinity };
      for (const v of data) {
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
      ranges.set(name, r);
    }
    for (const l of lstms) {
      const x = result[l.input];
      const m = replayLstmCellRange(l, x.data as Float32Array, x.dims as number[]);
      cellRanges.set(l.node, Math.max(cellRanges.get(l.node) ?? 0, m));
    }
  }
  await session.release();
  return { ranges, cellRanges };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Runs an ONNX LSTM (forward, default activations) in float64; returns the largest |c|. */
export function replayLstmCellRange(l: LstmReplay, x: ArrayLike<number>, dims: number[]): number {
  const [steps, batch, inputSize] = l.layout === 0 ? [dims[0], dims[1], dims[2]] : [dims[1], dims[0], dims[2]];
  const H = l.hidden;
  let maxAbs = 0;
  for (let b = 0; b < batch; b++) {
    const h = l.initialH ? l.initialH.slice(b * H, (b + 1) * H) : new Float64Array(H);
    const c = l.initialC ? l.initialC.slice(b * H, (b + 1) * H) : new Float64Array(H);
    const z = new Float64Array(4 * H);
    for (let t = 0; t < steps; t++) {
      const xo = l.layout === 0 ? (t * batch + b) * inputSize : (b * steps + t) * inputSize;
      for (let j = 0; j < 4 * H; j++) {
        let acc = l.b[j] + l.b[4 * H + j];
        for (let i = 0; i < inputSize; i++) acc += l.w[j * inputSize + i] * x[xo + i];
        for (let i = 0; i < H; i++) acc += l.r[j * H + i] * h[i];
        z[j] = acc;
      }
      for (let j = 0; j < H; j++) {
        const ig = sigmoid(z[j]);
        const og = sigmoid(z[H + j]);
        const fg = sigmoid(z[2 * H + j]);
        const cg = Math.tanh(z[3 * H + j]);
        c[j] = fg * c[j] + ig * cg;
        h[j] = og * Math.tanh(c[j]);
        maxAbs = Math.max(maxAbs, Math.abs(c[j]));
      }
    }
  }
  return maxAbs;
}
