// What an op's reference implementation sees while the golden interpreter runs it.

import type { IrData, IrTensor } from '../ir.js';

export interface Env {
  read(name: string): IrData;
  tensor(name: string): IrTensor;
  write(name: string, data: IrData): void;
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

export const Q7_MIN = -128;
export const Q7_MAX = 127;
export const Q15_MIN = -32768;
export const Q15_MAX = 32767;
