// Constant tensors: ONNX TensorProto to typed arrays and back.
//
// int64 values (shapes, indices, axes) are held in a Float64Array: exact up to 2^53, which
// covers every shape this compiler can fit in a microcontroller. The few exporter sentinels
// beyond that (INT64_MAX as "to the end" in Slice) stay larger than any dimension, which is
// all that their users need.

import { onnx, type OnnxTypes } from './proto.js';

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

const onnxTypeToDType: Record<number, DType | undefined> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

const onnxTypeNames: Record<number, string> = {
  0: 'undefined',
  8: 'string',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

export function dtypeFromOnnx(type: number): DType | undefined {
  return onnxTypeToDType[type];
}

export function onnxTypeName(type: number): string {
  return onnxTypeToDType[type] ?? onnxTypeNames[type] ?? `type ${type}`;
}

export function dtypeToOnnx(dtype: DType): number {
  for (const [k, v] of Object.entries(onnxTypeToDType)) if (v === dtype) return Number(k);
  throw new Error(`no ONNX type for ${dtype}`);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

export function isInteger(dtype: DType): boolean {
  return !isFloat(dtype) && dtype !== 'bool';
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'int8':
    case 'uint8':
    case 'bool':
      return 1;
    case 'int16':
    case 'uint16':
    case 'float16':
      return 2;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 4;
    default:
      return 8;
  }
}

export function allocate(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case 'float32':
    case 'float16':
      return new Float32Array(length);
    case 'float64':
    case 'int64':
    case 'uint64':
      return new Float64Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(length);
    case 'int16':
      return new Int16Array(length);
    case 'uint16':
      return new Uint16Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'uint32':
      return new Uint32Array(length);
  }
}

export function makeTensor(dtype: DType, shape: number[], values?: ArrayLike<number>): Tensor {
  const data = allocate(dtype, sizeOf(shape));
  if (values) {
    if (values.length !== data.length) throw new Error(`tensor of shape [${shape}] given ${values.length} values`);
    data.set(values);
  }
  return { dtype, shape: [...shape], data };
}

function longToNumber(v: number | { toNumber(): number }): number {
  return typeof v === 'number' ? v : v.toNumber();
}

/** Thrown for malformed tensor contents; the loader turns it into a diagnostic naming the tensor. */
export class TensorDecodeError extends Error {}

/** Decodes a TensorProto. External data is refused by the caller before this. */
export function tensorFromProto(t: OnnxTypes.ITensorProto): Tensor {
  const dtype = dtypeFromOnnx(t.dataType ?? 0);
  if (!dtype) throw new TensorDecodeError(`element type ${onnxTypeName(t.dataType ?? 0)} is not supported`);
  const shape = (t.dims ?? []).map(longToNumber);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new TensorDecodeError(`invalid dims [${shape}]`);
  const n = sizeOf(shape);
  if (n > 1 << 28) throw new TensorDecodeError(`tensor of ${n} elements is too large`);
  const data = allocate(dtype, n);

  const raw = t.rawData;
  if (raw && raw.length > 0) {
    decodeRaw(dtype, raw, data, n);
    return { dtype, shape, data };
  }

  const typed = typedFieldValues(dtype, t);
  if (typed.length !== n) {
    throw new TensorDecodeError(`holds ${typed.length} values for shape [${shape}] (${n} expected)`);
  }
  if (dtype === 'float16') {
    // float16 in int32_data holds the raw 16-bit patterns.
    for (let i = 0; i < n; i++) data[i] = halfToFloat(typed[i]);
  } else {
    for (let i = 0; i < n; i++) data[i] = typed[i];
  }
  return { dtype, shape, data };
}

function typedFieldValues(dtype: DType, t: OnnxTypes.ITensorProto): number[] {
  switch (dtype) {
    case 'float32':
      return t.floatData ?? [];
    case 'float64':
      return t.doubleData ?? [];
    case 'int64':
      return (t.int64Data ?? []).map(longToNumber);
    case 'uint32':
    case 'uint64':
      return (t.uint64Data ?? []).map(longToNumber);
    default:
      return t.int32Data ?? [];
  }
}

function decodeRaw(dtype: DType, raw: Uint8Array, out: TensorData, n: number): void {
  const width = bytesPerElement(dtype);
  if (raw.length !== n * width) {
    throw new TensorDecodeError(`raw data has ${raw.length} bytes, ${n * width} expected`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < n; i++) {
    const o = i * width;
    switch (dtype) {
      case 'float32':
        out[i] = view.getFloat32(o, true);
        break;
      case 'float64':
        out[i] = view.getFloat64(o, true);
        break;
      case 'float16':
        out[i] = halfToFloat(view.getUint16(o, true));
        break;
      case 'int8':
        out[i] = view.getInt8(o);
        break;
      case 'uint8':
      case 'bool':
        out[i] = view.getUint8(o);
        break;
      case 'int16':
        out[i] = view.getInt16(o, true);
        break;
      case 'uint16':
        out[i] = view.getUint16(o, true);
        break;
      case 'int32':
        out[i] = view.getInt32(o, true);
        break;
      case 'uint32':
        out[i] = view.getUint32(o, true);
        break;
      case 'int64':
        out[i] = Number(view.getBigInt64(o, true));
        break;
      case 'uint64':
        out[i] = Number(view.getBigUint64(o, true));
        break;
    }
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Encodes a tensor as a TensorProto with raw data (used to hand models to ONNX Runtime). */
export function tensorToProto(name: string, t: Tensor): OnnxTypes.TensorProto {
  const width = bytesPerElement(t.dtype);
  const raw = new Uint8Array(t.data.length * width);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i];
    const o = i * width;
    switch (t.dtype) {
      case 'float32':
        view.setFloat32(o, v, true);
        break;
      case 'float64':
        view.setFloat64(o, v, true);
        break;
      case 'int8':
        view.setInt8(o, v);
        break;
      case 'uint8':
      case 'bool':
        view.setUint8(o, v);
        break;
      case 'int16':
        view.setInt16(o, v, true);
        break;
      case 'uint16':
        view.setUint16(o, v, true);
        break;
      case 'int32':
        view.setInt32(o, v, true);
        break;
      case 'uint32':
        view.setUint32(o, v, true);
        break;
      case 'int64':
        view.setBigInt64(o, BigInt(Math.trunc(Math.max(Math.min(v, 2 ** 63 - 1024), -(2 ** 63)))), true);
        break;
      default:
        throw new Error(`cannot encode ${t.dtype}`);
    }
  }
  return onnx.TensorProto.create({ name, dims: t.shape, dataType: dtypeToOnnx(t.dtype), rawData: raw });
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** A stable content hash of a tensor (dtype, shape and values), for deduplication. */
export function tensorKey(t: Tensor): string {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  // FNV-1a over the bytes, two lanes, plus the shape: cheap and collision-resistant enough to
  // group candidates; equality is then confirmed element by element.
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i], 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ bytes[i], 0x811c9dc5) >>> 0;
  }
  return `${t.dtype}[${t.shape.join('x')}]:${h1.toString(16)}:${h2.toString(16)}`;
}

export function tensorsEqual(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false;
  for (let i = 0; i < a.shape.length; i++) if (a.shape[i] !== b.shape[i]) return false;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i];
    const y = b.data[i];
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return false;
  }
  return true;
}
