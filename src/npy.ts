// .npy files (numpy's array format) for inputs, outputs and calibration data, through npyjs.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dump, parse } from 'npyjs';
import { diagnostics } from './diagnostics.js';

export interface NpyData {
  shape: number[];
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array;
}

export function readNpy(file: string): NpyData {
  if (!existsSync(file)) throw diagnostics.fileNotFound(file, '.npy file');
  const bytes = readFileSync(file);
  let arr;
  try {
    arr = parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  } catch (e) {
    throw diagnostics.badNpy(file, (e as Error).message);
  }
  if (arr.fortranOrder) throw diagnostics.badNpy(file, 'Fortran-ordered arrays are not supported; save a C-ordered copy');
  const d = arr.data;
  if (
    !(d instanceof Float32Array || d instanceof Float64Array || d instanceof Int8Array || d instanceof Uint8Array || d instanceof Int16Array || d instanceof Int32Array)
  ) {
    throw diagnostics.badNpy(file, `element type ${arr.dtype} is not supported`);
  }
  return { shape: arr.shape, data: d };
}

export function writeNpy(file: string, data: NpyData['data'], shape: number[]): void {
  writeFileSync(file, Buffer.from(dump(data, shape)));
}

/**
 * Splits data of shape [N, ...shape] (or exactly `shape`) into N samples of `shape`;
 * undefined when the shapes do not fit.
 */
export function samplesOf(npy: NpyData, shape: number[]): Float32Array[] | undefined {
  const size = shape.reduce((a, b) => a * b, 1);
  const matches = (s: number[]) => s.length === shape.length && s.every((d, i) => d === shape[i]);
  let n: number;
  if (matches(npy.shape)) n = 1;
  else if (npy.shape.length === shape.length + 1 && matches(npy.shape.slice(1))) n = npy.shape[0];
  else return undefined;
  return Array.from({ length: n }, (_, i) => Float32Array.from(npy.data.subarray(i * size, (i + 1) * size)));
}
