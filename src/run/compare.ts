// What `validate` compares: the firmware's outputs with the golden interpreter's (bit for bit)
// and with ONNX Runtime's float outputs (error figures), and its cost counts.

import { readFileSync } from 'node:fs';
import { loadBoard, type Board } from '../boards.js';
import type { IrData, IrModel } from '../ir/ir.js';
import { dequantize } from '../ir/io.js';
import { onnxRuntime, sessionWithOutputs } from '../quant/calibrate.js';
import { diagnostics, type Warning } from '../diagnostics.js';
import type { EmulatorRun } from './qemu.js';

export type EmulatorChoice = 'auto' | 'qemu' | 'renode';

export interface FloatComparison {
  output: string;
  maxAbs: number;
  rmse: number;
  cosine: number;
  withinOneStep: number;
  argmaxAgree: number;
  argmaxTotal: number;
}

export interface ValidationResult {
  model: string;
  board: string;
  ranOn: string;
  emulator: string;
  kernels: string;
  inputs: number;
  bitExact: { elements: number; mismatches: number; first?: { input: number; output: number; index: number; got: number; expected: number } };
  float: FloatComparison[];
  /** Choices that make the golden model depart from the ONNX graph's integer semantics. */
  semantics: string[];
  cost: { unit: string; perInference: number[]; instructions?: number[]; resolution?: number };
  elf: { board: string; flash: number; ram: number; planFlash: number; planRam: number; flashBudget: number; ramBudget: number };
  renode: { status: 'passed' | 'failed' | 'skipped' | 'not run'; reason: string };
  warnings: Warning[];
  projectDir: string;
  pass: boolean;
}

export function twinOf(board: Board): Board {
  if (!board.twin) throw diagnostics.badOption('--board', board.name, 'a board with an emulation twin or Renode');
  return loadBoard(board.twin);
}

export function readUartLog(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The firmware's outputs as the model's integers, per input and output. */
export function firmwareOutputs(model: IrModel, run: EmulatorRun, count: number): IrData[][] {
  const out: IrData[][] = [];
  for (let i = 0; i < count; i++) {
    const per = run.report.outputs.get(i);
    if (!per) throw diagnostics.protocolError(`no TLG OUT line for input ${i}`, run.output.split('\n').slice(-20).join('\n'));
    out.push(
      model.outputs.map((io, k) => {
        const bytes = per.get(k);
        const t = model.graph.tensors.get(io.tensor)!;
        if (!bytes) throw diagnostics.protocolError(`no output ${k} for input ${i}`, '');
        if (t.dtype === 'int32') return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        return Int8Array.from(bytes, (b) => (b << 24) >> 24);
      }),
    );
  }
  return out;
}

export function compareExact(firmware: IrData[][], golden: IrData[][]): ValidationResult['bitExact'] {
  let elements = 0;
  let mismatches = 0;
  let first: ValidationResult['bitExact']['first'];
  golden.forEach((outs, input) =>
    outs.forEach((g, output) => {
      const f = firmware[input][output];
      for (let index = 0; index < g.length; index++) {
        elements++;
        if (f[index] !== g[index]) {
          mismatches++;
          first ??= { input, output, index, got: f[index], expected: g[index] };
        }
      }
    }),
  );
  return { elements, mismatches, first };
}

/**
 * The outputs' error against ONNX Runtime (graph optimizations off) on the floats the quantized
 * `inputs` stand for, or on `floatInputs` when given (the original data, before quantization).
 */
export async function compareWithOnnxRuntime(
  modelBytes: Uint8Array,
  model: IrModel,
  inputs: IrData[][],
  firmware: IrData[][],
  floatInputs?: Float32Array[][],
): Promise<FloatComparison[]> {
  const ort = onnxRuntime();
  const session = await sessionWithOutputs(modelBytes, []);
  const acc = model.outputs.map((io) => ({ io, t: model.graph.tensors.get(io.tensor)!, ref: [] as number[], got: [] as number[], agree: 0, total: 0 }));
  for (let i = 0; i < inputs.length; i++) {
    // The reference runs on the very floats the quantized inputs stand for.
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    model.inputs.forEach((io, k) => {
      const t = model.graph.tensors.get(io.tensor)!;
      const ints = inputs[i][k];
      const data =
        io.external === 'float32' ? (floatInputs?.[i][k] ?? dequantize(t, ints)) : io.external === 'uint8' ? Uint8Array.from(ints, (v) => v + 128) : ints;
      feeds[io.name] = new ort.Tensor(io.external === 'float32' ? 'float32' : io.external, data as Float32Array, io.shape);
    });
    const result = await session.run(feeds);
    acc.forEach((a, k) => {
      const ref = Array.from(result[a.io.name].data as Float32Array, Number);
      const got = Array.from(dequantize(a.t, firmware[i][k]));
      a.ref.push(...ref);
      a.got.push(...got);
      if (ref.length > 1) {
        a.total++;
        if (argmax(ref) === argmax(got)) a.agree++;
      }
    });
  }
  await session.release();
  return acc.map((a) => {
    const step = a.t.quant?.scale[0] ?? 1;
    let maxAbs = 0;
    let sq = 0;
    let dot = 0;
    let nr = 0;
    let ng = 0;
    let within = 0;
    a.ref.forEach((r, j) => {
      const g = a.got[j];
      const d = Math.abs(g - r);
      maxAbs = Math.max(maxAbs, d);
      sq += d * d;
      dot += r * g;
      nr += r * r;
      ng += g * g;
      // ONNX Runtime dequantizes in float32: a value 100 steps out carries ~1e-5 steps of error.
      if (d <= step * (1 + 1e-4)) within++;
    });
    return {
      output: a.io.name,
      maxAbs,
      rmse: Math.sqrt(sq / Math.max(a.ref.length, 1)),
      cosine: nr > 0 && ng > 0 ? dot / Math.sqrt(nr * ng) : nr === ng ? 1 : 0,
      withinOneStep: within / Math.max(a.ref.length, 1),
      argmaxAgree: a.agree,
      argmaxTotal: a.total,
    };
  });
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export function costs(run: EmulatorRun, board: Board, count: number): ValidationResult['cost'] {
  const perInference = Array.from({ length: count }, (_, i) => run.report.costs.get(i)?.count ?? 0);
  const unit = run.report.costs.get(0)?.unit ?? 'none';
  const perTick = board.emulator.qemu?.instructionsPerTick;
  if (unit === 'ticks' && perTick) return { unit, perInference, instructions: perInference.map((c) => c * perTick), resolution: perTick };
  return { unit, perInference };
}
