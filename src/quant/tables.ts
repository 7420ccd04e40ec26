// Compile-time tables: int8 lookup tables for functions of one int8 value, and the int16
// sigmoid table that the LSTM cell's activations interpolate.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QuantParams } from '../onnx/graph.js';
import { roundHalfEven } from '../onnx/ops.js';

/**
 * The 256-entry table of y = f(x) for int8 x under `input` and int8 y under `output`, with
 * the float semantics of DequantizeLinear → f → QuantizeLinear as ONNX Runtime evaluates them
 * (float32 products, round half to even, saturation).
 */
export function buildLut(f: (x: number) => number, input: QuantParams, output: QuantParams): Int8Array {
  const table = new Int8Array(256);
  const si = Math.fround(input.scale[0]);
  const so = Math.fround(output.scale[0]);
  for (let q = -128; q <= 127; q++) {
    const x = Math.fround((q - input.zeroPoint[0]) * si);
    const y = Math.fround(f(x));
    let v = Number.isNaN(y) ? output.zeroPoint[0] : roundHalfEven(Math.fround(y / so)) + output.zeroPoint[0];
    v = Math.min(127, Math.max(-128, v));
    table[q + 128] = v;
  }
  return table;
}

/** Composes two tables: (second ∘ first)(x) = second[first[x]]. */
export function composeLuts(first: Int8Array, second: Int8Array): Int8Array {
  const out = new Int8Array(256);
  for (let i = 0; i < 256; i++) out[i] = second[first[i] + 128];
  return out;
}

/**
 * The default int16 activation table: sigmoid(k/24) in Q16 for k = 0..255, rounded, with the
 * last entries capped at 65535. The portable kernels use it. CMSIS-NN ships a table of the same
 * function whose entries differ by one here and there, so the CMSIS-NN build uses CMSIS-NN's
 * own (read by `cmsisNnSigmoidTable`) to stay bit-exact with the interpreter.
 */
export function defaultSigmoidTable(): Uint16Array {
  const t = new Uint16Array(256);
  for (let k = 0; k < 256; k++) t[k] = Math.min(65535, Math.round(65536 / (1 + Math.exp(-k / 24))));
  return t;
}

/**
 * CMSIS-NN's int16 sigmoid table, read from its sources (Source/NNSupportFunctions/
 * arm_nntables.c), so that the interpreter computes what the linked library computes.
 */
export function cmsisNnSigmoidTable(cmsisNnPath: string): Uint16Array | string {
  const file = join(cmsisNnPath, 'Source', 'NNSupportFunctions', 'arm_nntables.c');
  if (!existsSync(file)) return `${file} does not exist`;
  const text = readFileSync(file, 'utf8');
  const m = /sigmoid_table_uint16\s*\[\s*256\s*\]\s*=\s*\{([^}]*)\}/.exec(text);
  if (!m) return `${file} has no sigmoid_table_uint16[256]`;
  const values = m[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number.parseInt(s, s.startsWith('0x') ? 16 : 10));
  if (values.length !== 256 || values.some((v) => !Number.isInteger(v) || v < 0 || v > 65535)) {
    return `${file}: sigmoid_table_uint16 does not hold 256 uint16 values`;
  }
  return Uint16Array.from(values);
}
