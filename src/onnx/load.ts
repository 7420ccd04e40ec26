// Loading: .onnx bytes to a Graph, with the checks a user needs to hear about first (readable
// file, IR and opset versions, tensors stored inside the file, static shapes).

import { readFileSync, existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { onnx, type OnnxTypes } from './proto.js';
import { Graph, GraphCycleError, type AttrValue, type Node } from './graph.js';
import { dtypeFromOnnx, onnxTypeName, tensorFromProto, TensorDecodeError, type Tensor } from './tensor.js';
import { diagnostics } from '../diagnostics.js';

export const SUPPORTED_IR_VERSIONS = { min: 3, max: 10 };
export const SUPPORTED_OPSETS = { min: 10, max: 21 };

export interface LoadOptions {
  /** Binds dynamic sequence dimensions (any dynamic dimension not named like a batch). */
  seqLen?: number;
}

export interface LoadedModel {
  graph: Graph;
  opset: number;
  producer: string;
  /** Display name of the model: its file name without extension. */
  name: string;
}

export function loadModelFile(file: string, options: LoadOptions = {}): LoadedModel {
  if (!existsSync(file) || !statSync(file).isFile()) throw diagnostics.fileNotFound(file, 'model file');
  return loadModelBytes(readFileSync(file), file, options);
}

export function loadModelBytes(bytes: Uint8Array, file: string, options: LoadOptions = {}): LoadedModel {
  const model = decode(bytes, file);
  const opset = checkVersions(model, file);
  const graph = buildGraph(model.graph!, file, options);
  return {
    graph,
    opset,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    name: modelName(file),
  };
}

/** The file name without .onnx; the folder's name for the common `<name>/model.onnx` layout. */
function modelName(file: string): string {
  const base = basename(file).replace(/\.onnx$/i, '');
  return base === 'model' && basename(dirname(resolve(file))) ? basename(dirname(resolve(file))) : base;
}

function decode(bytes: Uint8Array, file: string): OnnxTypes.ModelProto {
  if (bytes.length === 0) throw diagnostics.notOnnx(file, 'the file is empty');
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw diagnostics.notOnnx(file, `protobuf decoding failed: ${(e as Error).message}`);
  }
  // Protobuf decoding is lenient: arbitrary bytes can decode into an empty message.
  if (!model.graph) throw diagnostics.notOnnx(file, 'it holds no graph');
  if (!model.opsetImport || model.opsetImport.length === 0) throw diagnostics.notOnnx(file, 'it declares no opset');
  return model;
}

function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

function checkVersions(model: OnnxTypes.ModelProto, file: string): number {
  const ir = toNumber(model.irVersion);
  if (ir < SUPPORTED_IR_VERSIONS.min || ir > SUPPORTED_IR_VERSIONS.max) {
    throw diagnostics.irVersion(file, ir, SUPPORTED_IR_VERSIONS.min, SUPPORTED_IR_VERSIONS.max);
  }
  let opset = -1;
  for (const o of model.opsetImport) {
    const domain = o.domain ?? '';
    if (domain === '' || domain === 'ai.onnx') {
      opset = toNumber(o.version);
      if (opset < SUPPORTED_OPSETS.min || opset > SUPPORTED_OPSETS.max) {
        throw diagnostics.opsetVersion(file, domain, opset, SUPPORTED_OPSETS.min, SUPPORTED_OPSETS.max);
      }
    }
  }
  if (opset < 0) throw diagnostics.notOnnx(file, 'it does not import the default ONNX opset');
  return opset;
}

function decodeTensor(t: OnnxTypes.ITensorProto, file: string, name: string): Tensor {
  if (t.dataLocation === 1 || (t.externalData && t.externalData.length > 0)) {
    throw diagnostics.externalData(file, name);
  }
  try {
    return tensorFromProto(t);
  } catch (e) {
    if (e instanceof TensorDecodeError) throw diagnostics.badTensor(file, name, e.message);
    throw e;
  }
}

function buildGraph(g: OnnxTypes.IGraphProto, file: string, options: LoadOptions): Graph {
  const graph = new Graph(file);

  // 1. Initializers become constants.
  for (const init of g.initializer ?? []) {
    const name = init.name ?? '';
    if (!name) throw diagnostics.badGraph(file, 'an initializer has no name');
    graph.addConstant(name, decodeTensor(init, file, name));
  }
  if ((g.sparseInitializer ?? []).length > 0) {
    throw diagnostics.badGraph(file, 'sparse initializers are not supported');
  }

  // 2. Runtime inputs: the graph inputs that are not initializers, with static shapes.
  for (const vi of g.input ?? []) {
    const name = vi.name ?? '';
    if (graph.constants.has(name)) continue;
    graph.inputs.push(name);
    graph.info.set(name, valueInfo(vi, file, options));
  }

  // 3. Nodes; Constant nodes become constants right away.
  const seenNames = new Set<string>();
  (g.node ?? []).forEach((p, index) => {
    const node = buildNode(p, index, file, seenNames);
    if (node.opType === 'Constant' && node.domain === '') {
      graph.addConstant(node.outputs[0], constantValue(node, file));
    } else {
      graph.nodes.push(node);
    }
  });

  // 4. Outputs keep their declared shapes for the shape check after inference.
  for (const vi of g.output ?? []) {
    const name = vi.name ?? '';
    if (!name) throw diagnostics.badGraph(file, 'a graph output has no name');
    graph.outputs.push(name);
  }
  if (graph.outputs.length === 0) throw diagnostics.badGraph(file, 'the graph has no outputs');
  if (graph.inputs.length === 0) throw diagnostics.badGraph(file, 'the graph has no runtime inputs');

  try {
    graph.sortTopologically();
  } catch (e) {
    if (e instanceof GraphCycleError) {
      throw diagnostics.badGraph(file, e.message, { node: e.node.name, opType: e.node.opType });
    }
    throw e;
  }
  const produced = new Set([...graph.inputs, ...graph.constants.keys(), ...graph.nodes.flatMap((n) => n.outputs)]);
  for (const o of graph.outputs) {
    if (!produced.has(o)) throw diagnostics.badGraph(file, `graph output "${o}" is not produced by any node`);
  }
  return graph;
}

const BATCH_NAME = /^(batch|batch_size|n|b|N|B|batch_dim|unk__\d+_batch)$/i;

function valueInfo(vi: OnnxTypes.IValueInfoProto, file: string, options: LoadOptions) {
  const name = vi.name ?? '';
  const tt = vi.type?.tensorType;
  if (!tt) throw diagnostics.badGraph(file, `input "${name}" is not a tensor`, { tensor: name });
  const dtype = dtypeFromOnnx(tt.elemType ?? 0);
  if (!dtype) throw diagnostics.unsupportedDtype(file, name, onnxTypeName(tt.elemType ?? 0));
  const dims = tt.shape?.dim;
  if (!dims) throw diagnostics.dynamicDim(file, name, '?', 0);
  const shape = dims.map((d, axis) => {
    if (d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) > 0) return toNumber(d.dimValue);
    const param = d.dimParam ?? '';
    if (param && BATCH_NAME.test(param)) return 1;
    if (options.seqLen !== undefined) return options.seqLen;
    throw diagnostics.dynamicDim(file, name, param || '?', axis);
  });
  return { dtype, shape };
}

function buildNode(p: OnnxTypes.INodeProto, index: number, file: string, seen: Set<string>): Node {
  const opType = p.opType ?? '';
  // Exporters leave names empty at times; diagnostics still need something to point at.
  let name = p.name || `${opType}_${index}`;
  while (seen.has(name)) name = `${name}_${index}`;
  seen.add(name);
  const attrs: Record<string, AttrValue> = {};
  for (const a of p.attribute ?? []) {
    attrs[a.name ?? ''] = attributeValue(a, file, name, opType);
  }
  return {
    name,
    opType,
    domain: p.domain === 'ai.onnx' ? '' : (p.domain ?? ''),
    inputs: [...(p.input ?? [])],
    outputs: [...(p.output ?? [])],
    attrs,
  };
}

function attributeValue(a: OnnxTypes.IAttributeProto, file: string, node: string, opType: string): AttrValue {
  const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');
  switch (a.type) {
    case 1:
      return a.f ?? 0;
    case 2:
      return toNumber(a.i);
    case 3:
      return text(a.s);
    case 4:
      return decodeTensor(a.t!, file, `${node}.${a.name}`);
    case 6:
      return [...(a.floats ?? [])];
    case 7:
      return (a.ints ?? []).map(toNumber);
    case 8:
      return (a.strings ?? []).map(text);
    default:
      throw diagnostics.badAttribute(
        file,
        node,
        opType,
        `attribute "${a.name}" has type ${a.type}, which is not supported (subgraphs, sparse tensors)`,
      );
  }
}

function constantValue(n: Node, file: string): Tensor {
  const a = n.attrs;
  if (a.value && typeof a.value === 'object' && !Array.isArray(a.value)) return a.value;
  const scalar = (dtype: 'float32' | 'int64', v: number): Tensor => ({
    dtype,
    shape: [],
    data: dtype === 'float32' ? Float32Array.of(v) : Float64Array.of(v),
  });
  if (typeof a.value_float === 'number') return scalar('float32', a.value_float);
  if (typeof a.value_int === 'number') return scalar('int64', a.value_int);
  if (Array.isArray(a.value_floats)) {
    const v = a.value_floats as number[];
    return { dtype: 'float32', shape: [v.length], data: Float32Array.from(v) };
  }
  if (Array.isArray(a.value_ints)) {
    const v = a.value_ints as number[];
    return { dtype: 'int64', shape: [v.length], data: Float64Array.from(v) };
  }
  throw diagnostics.badAttribute(file, n.name, n.opType, 'Constant node with no supported value attribute');
}
