// ONNX's own operator conformance data (Debian package libonnx-testdata): the quantization
// operators must pass exactly through the compiler and its golden interpreter.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onnx } from '../src/onnx/proto.js';
import { tensorFromProto } from '../src/onnx/tensor.js';
import { compileBytes, runExternal } from './support/compile.js';

const root = '/usr/share/libonnx-testdata/data/node';
const cases = [
  'test_quantizelinear',
  'test_quantizelinear_axis',
  'test_dequantizelinear',
  'test_dequantizelinear_axis',
  'test_qlinearmatmul_2D',
  'test_qlinearmatmul_3D',
  'test_matmulinteger',
];

/**
 * A compiler needs its parameters at compile time: every graph input after the first (scales,
 * zero points, the second matrix) is made an initializer with the test's data.
 */
function bindParameters(dir: string): { bytes: Uint8Array; input: Float64Array; expected: ArrayLike<number> } {
  const model = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
  const graph = model.graph!;
  graph.input ??= [];
  graph.initializer ??= [];
  const data = join(dir, 'test_data_set_0');
  const inputs = graph.input!.map((vi, i) => {
    const t = onnx.TensorProto.decode(readFileSync(join(data, `input_${i}.pb`)));
    t.name = vi.name!;
    return t;
  });
  graph.initializer!.push(...inputs.slice(1));
  graph.input!.splice(1);
  const expected = tensorFromProto(onnx.TensorProto.decode(readFileSync(join(data, 'output_0.pb')))).data;
  return { bytes: onnx.ModelProto.encode(model).finish(), input: Float64Array.from(tensorFromProto(inputs[0]).data), expected };
}

describe('ONNX conformance data (libonnx-testdata)', () => {
  it('is installed', () => {
    expect(existsSync(root), `${root} is missing: apt-get install libonnx-testdata`).toBe(true);
  });

  for (const name of cases) {
    it(`${name} passes exactly`, async () => {
      const { bytes, input, expected } = bindParameters(join(root, name));
      const compiled = await compileBytes(bytes, `${name}.onnx`);
      const [out] = runExternal(compiled.ir, [input]);
      expect(Array.from(out)).toEqual(Array.from(expected));
    });
  }
});
