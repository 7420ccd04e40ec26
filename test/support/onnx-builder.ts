// A small ONNX model builder for edge-case tests: what no exporter on this machine writes
// (layout 1 LSTMs, dynamic dimensions, unsupported operators, broken shapes).

import { onnx, type OnnxTypes } from '../../src/onnx/proto.js';
import { dtypeToOnnx, makeTensor, tensorToProto, type DType, type Tensor } from '../../src/onnx/tensor.js';

type Attr = number | string | number[] | string[] | Tensor;

export class ModelBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly inits: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private count = 0;

  constructor(private readonly opset = 13) {}

  input(name: string, dtype: DType, shape: (number | string)[]): string {
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  output(name: string, dtype: DType, shape: (number | string)[]): void {
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  constant(name: string, dtype: DType, shape: number[], values: ArrayLike<number>): string {
    this.inits.push(tensorToProto(name, makeTensor(dtype, shape, values)));
    return name;
  }

  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1, domain = ''): string[] {
    const name = `${opType}_${this.count++}`;
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_out${i}`);
    this.nodes.push({
      name,
      opType,
      domain,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** QuantizeLinear → DequantizeLinear with per-tensor parameters. */
  qdq(x: string, scale: number, zeroPoint: number, dtype: 'int8' | 'uint8' = 'int8'): string {
    const s = this.constant(`${x}_scale`, 'float32', [], [scale]);
    const z = this.constant(`${x}_zp`, dtype, [], [zeroPoint]);
    const [q] = this.node('QuantizeLinear', [x, s, z]);
    const [d] = this.node('DequantizeLinear', [q, s, z]);
    return d;
  }

  /** An int8 weight behind DequantizeLinear (symmetric, per tensor). */
  weight(name: string, shape: number[], values: ArrayLike<number>, scale: number): string {
    const w = this.constant(name, 'int8', shape, values);
    const s = this.constant(`${name}_scale`, 'float32', [], [scale]);
    const z = this.constant(`${name}_zp`, 'int8', [], [0]);
    const [d] = this.node('DequantizeLinear', [w, s, z]);
    return d;
  }

  bytes(irVersion = 8): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion,
      producerName: 'tinylstm-gen tests',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dtype: DType, shape: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dtypeToOnnx(dtype),
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attr): OnnxTypes.IAttributeProto {
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: 2, i: v } : { name, type: 1, f: v };
  if (typeof v === 'string') return { name, type: 3, s: Buffer.from(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: 8, strings: (v as string[]).map((x) => Buffer.from(x)) };
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x)) ? { name, type: 7, ints: nums } : { name, type: 6, floats: nums };
  }
  return { name, type: 4, t: tensorToProto(name, v) };
}

/** A deterministic pseudo-random generator for test data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
