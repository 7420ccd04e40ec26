// One interface, two kernel sets: each IR op lowers to C statements through it.

import type { IrOp, IrTensor } from '../../ir/ir.js';
import type { WeightsLayout } from '../../plan/kernel-needs.js';

export type KernelSet = 'cmsis-nn' | 'portable';

/** What a lowering can ask of the model being emitted. */
export interface EmitContext {
  /** The weight layout the plan chose (weightLayout() in src/plan/kernel-needs.ts counted it). */
  weightsLayout: WeightsLayout;
  /** A pointer to the value's first element, typed (`const` for inputs and constants). */
  ref(value: string): string;
  tensor(value: string): IrTensor;
  bytes(value: string): number;
  elements(value: string): number;
  /** Where the plan stored a value: a buffer and a byte offset in it. */
  at(value: string): { buffer: string; offset: number };
  /** Declares `static const <type> <name>[] = <init>;` (an array) or `<name> = <init>;`. */
  declare(base: string, type: string, init: string, array?: boolean): string;
  /** A scratch buffer the plan reserved for this op under `role`. */
  scratch(op: IrOp, role: string): string;
  /**
   * Weights in a layout of the kernel's own (e.g. gate rows interleaved, widened to int16),
   * stored with the model's weights (flash, or RAM with --weights-in ram). The plan must count
   * them: see weightLayout() in src/plan/kernel-needs.ts.
   */
  weight(base: string, ctype: 'int8_t' | 'uint8_t' | 'int16_t' | 'int32_t' | 'uint16_t', values: ArrayLike<number>, comment: string): string;
}

export interface KernelLowering {
  name: KernelSet;
  /** Headers the model file includes. */
  includes: string[];
  lower(op: Exclude<IrOp, { kind: 'Loop' }>, ctx: EmitContext): string[];
}
