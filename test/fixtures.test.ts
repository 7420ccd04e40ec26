// Every fixture model, compiled and run by the golden interpreter, against ONNX Runtime on the
// same .onnx (graph optimizations off). Q/DQ-defined TinyLSTMs must agree within one output
// step on 99% of the values and pick the same class on every input; LSTM-operator models and
// models quantized from calibration data report their error within the bounds the README states.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interpret } from '../src/ir/interpreter.js';
import { quantizeInput } from '../src/ir/io.js';
import { compareWithOnnxRuntime } from '../src/run/compare.js';
import { readNpy, samplesOf } from '../src/npy.js';
import { analyzeModel } from '../src/ir/analyze.js';
import { allGraphs, LSTM_GATES, type LstmCellOp } from '../src/ir/ir.js';
import { joinLstmCells } from '../src/passes/fuse-accumulators.js';
import { compileFile } from './support/compile.js';
import { fixture, fixtureOptions, qdqFixtures } from './support/fixtures.js';
import { cmsisNnPath } from './support/project.js';

/** Error bounds of models whose integer arithmetic is not the model's own Q/DQ arithmetic. */
export const lstmBounds = { minCosine: 0.99, maxRmseSteps: 4 };

async function goldenAgainstOrt(name: string, extra: { fuseAccumulators?: boolean; moreSamples?: boolean; cmsisNn?: string } = {}) {
  const f = fixture(name);
  const kernels = extra.cmsisNn ? { kernels: 'cmsis-nn' as const, cmsisNnPath: extra.cmsisNn } : {};
  const compiled = await compileFile(f.model, { ...fixtureOptions(name), fuseAccumulators: extra.fuseAccumulators, ...kernels });
  const model = compiled.ir;
  const io = model.inputs[0];
  const t = model.graph.tensors.get(io.tensor)!;
  // Models with their own Q/DQ parameters ignore calibration data: its samples enlarge the set
  // the agreement is measured on (40 sequences instead of 8).
  const floats = [...samplesOf(readNpy(f.inputs), io.shape)!, ...(extra.moreSamples ? samplesOf(readNpy(f.calibration), io.shape)! : [])];
  const inputs = floats.map((s) => [quantizeInput(io, t, s)]);
  const outputs = inputs.map((x) => interpret(model, x));
  const [cmp] = await compareWithOnnxRuntime(readFileSync(f.model), model, inputs, outputs, floats.map((s) => [s]));
  const step = model.graph.tensors.get(model.outputs[0].tensor)!.quant!.scale[0];
  console.log(
    `${name}: within one step ${(100 * cmp.withinOneStep).toFixed(2)}%, argmax ${cmp.argmaxAgree}/${cmp.argmaxTotal}, ` +
      `max-abs ${cmp.maxAbs.toPrecision(3)} (${(cmp.maxAbs / step).toFixed(1)} steps), RMSE ${cmp.rmse.toPrecision(3)}, cosine ${cmp.cosine.toFixed(5)}`,
  );
  return { cmp, step, compiled };
}

describe('golden interpreter against ONNX Runtime', () => {
  for (const name of qdqFixtures) {
    it(`${name} (Q/DQ TinyLSTM): ≥ 99% within one step, same argmax on every input`, async () => {
      const { cmp } = await goldenAgainstOrt(name, { moreSamples: true });
      expect(cmp.withinOneStep).toBeGreaterThanOrEqual(0.99);
      expect(cmp.argmaxAgree).toBe(cmp.argmaxTotal);
    });
  }

  for (const name of ['pm-lstm', 'lstm-seq', 'lstm-float', 'tinylstm-float']) {
    it(`${name}: error within the stated bound (cosine ≥ ${lstmBounds.minCosine}, RMSE ≤ ${lstmBounds.maxRmseSteps} output steps)`, async () => {
      const { cmp, step } = await goldenAgainstOrt(name);
      expect(cmp.cosine).toBeGreaterThanOrEqual(lstmBounds.minCosine);
      expect(cmp.rmse / step).toBeLessThanOrEqual(lstmBounds.maxRmseSteps);
      if (cmp.argmaxTotal > 0) expect(cmp.argmaxAgree / cmp.argmaxTotal).toBeGreaterThanOrEqual(0.875);
    });
  }
});

// CMSIS-NN's kernels add the bias at the product's scale (no extra bits, see quant/bias.ts):
// the golden model of that set is held to the bound of the models whose arithmetic is not the
// model's own, and its figures are printed.
describe('golden interpreter of the CMSIS-NN set against ONNX Runtime', () => {
  for (const name of qdqFixtures) {
    it.skipIf(!cmsisNnPath)(`${name}: cosine ≥ ${lstmBounds.minCosine}, RMSE ≤ ${lstmBounds.maxRmseSteps} steps, same argmax on every input`, async () => {
      const { cmp, step } = await goldenAgainstOrt(name, { moreSamples: true, cmsisNn: cmsisNnPath });
      expect(cmp.cosine).toBeGreaterThanOrEqual(lstmBounds.minCosine);
      expect(cmp.rmse / step).toBeLessThanOrEqual(lstmBounds.maxRmseSteps);
      expect(cmp.argmaxAgree).toBe(cmp.argmaxTotal);
    });
  }
});

describe('--fuse-accumulators (one rounding for B_x·u + B_h·v)', () => {
  for (const name of ['pm-tiny', 'pm-base']) {
    it(`${name}: joins every low-rank pair; cosine ≥ ${lstmBounds.minCosine} against ONNX Runtime and the same class on 7 of 8 inputs`, async () => {
      const faithful = await compileFile(fixture(name).model, fixtureOptions(name));
      const { cmp, step, compiled } = await goldenAgainstOrt(name, { fuseAccumulators: true });
      // FullyConnected ops, alone or computed inside an elementwise pass (portable kernels).
      const products = (m: typeof compiled) =>
        allGraphs(m.ir.graph)
          .flatMap((g) => g.ops)
          .reduce((n, op) => n + (op.kind === 'FullyConnected' ? 1 : op.kind === 'Elementwise' ? new Set(op.products.map((p) => p.op)).size : 0), 0);
      const layers = Number(fixture(name).meta.layers ?? 1);
      expect(products(faithful) - products(compiled)).toBe(layers);
      expect(compiled.ir.notes.some((n) => n.startsWith('--fuse-accumulators'))).toBe(true);
      // ONNX Runtime runs the Q/DQ graph, which rounds and clips both products: the fused
      // model departs from it by design, so the step bound of the faithful path does not apply.
      console.log(`${name} fused: RMSE ${(cmp.rmse / step).toFixed(1)} output steps`);
      expect(cmp.cosine).toBeGreaterThanOrEqual(lstmBounds.minCosine);
      expect(cmp.argmaxAgree / cmp.argmaxTotal).toBeGreaterThanOrEqual(0.875);
    });
  }

  it.skipIf(!cmsisNnPath)('pm-base with CMSIS-NN: one weight scale for each joined product, same bound', async () => {
    const { cmp, compiled } = await goldenAgainstOrt('pm-base', { fuseAccumulators: true, cmsisNn: cmsisNnPath });
    const joined = allGraphs(compiled.ir.graph)
      .flatMap((g) => g.ops)
      .filter((op) => op.kind === 'FullyConnected' && op.inputs.length === 1 && op.inputs[0].includes('+'));
    expect(joined.length).toBe(2);
    for (const op of joined) if (op.kind === 'FullyConnected') expect(op.requant).toHaveLength(1);
    expect(cmp.cosine).toBeGreaterThanOrEqual(lstmBounds.minCosine);
    expect(cmp.argmaxAgree / cmp.argmaxTotal).toBeGreaterThanOrEqual(0.875);
  });
});

// LSTM cells (CMSIS-NN set): each gate's W·x + R·h as one product over [x; h]. The pass is
// checked on the IR without CMSIS-NN too: the golden model runs a joined cell with the same
// code (an empty hidden side), so the pass's arithmetic is what is measured.
describe('--fuse-accumulators on LSTM cells (one product over [x; h] per gate)', () => {
  const lstmCells = (m: Awaited<ReturnType<typeof compileFile>>) =>
    allGraphs(m.ir.graph)
      .flatMap((g) => g.ops)
      .filter((op): op is LstmCellOp => op.kind === 'LstmCell');

  it(`pm-lstm: every cell joined, golden model within the LSTM bound of ONNX Runtime`, async () => {
    const f = fixture('pm-lstm');
    const compiled = await compileFile(f.model, fixtureOptions('pm-lstm'));
    const joined = joinLstmCells(compiled.ir.graph);
    const cells = lstmCells(compiled);
    expect(joined).toBe(4 * cells.length);
    for (const cell of cells) {
      expect(cell.joined).toBe(true);
      const graph = allGraphs(compiled.ir.graph).find((g) => g.ops.includes(cell))!;
      const concat = graph.ops.find((op) => op.outputs[0] === cell.inputs[0]);
      expect(concat?.kind).toBe('Concat');
      expect(graph.tensors.get(cell.gates.forget.hiddenWeights)!.shape[1]).toBe(0);
    }
    const model = compiled.ir;
    const io = model.inputs[0];
    const floats = samplesOf(readNpy(f.inputs), io.shape)!;
    const inputs = floats.map((s) => [quantizeInput(io, model.graph.tensors.get(io.tensor)!, s)]);
    const [cmp] = await compareWithOnnxRuntime(readFileSync(f.model), model, inputs, inputs.map((x) => interpret(model, x)), floats.map((s) => [s]));
    const step = model.graph.tensors.get(model.outputs[0].tensor)!.quant!.scale[0];
    console.log(`pm-lstm, cells joined: RMSE ${(cmp.rmse / step).toFixed(1)} output steps, cosine ${cmp.cosine.toFixed(5)}, argmax ${cmp.argmaxAgree}/${cmp.argmaxTotal}`);
    expect(cmp.cosine).toBeGreaterThanOrEqual(lstmBounds.minCosine);
    expect(cmp.rmse / step).toBeLessThanOrEqual(lstmBounds.maxRmseSteps);
    expect(cmp.argmaxAgree / cmp.argmaxTotal).toBeGreaterThanOrEqual(0.875);
  });

  // With x and h at their zero points (real 0), a gate's pre-activation is its bias alone:
  // the joined row must give the cell's real bias to within half a unit of its scale S, which
  // holds only if the zero points were folded again over the re-quantized weights.
  it('pm-lstm: a joined gate row keeps its real bias at zero inputs', async () => {
    const f = fixture('pm-lstm');
    const original = await compileFile(f.model, fixtureOptions('pm-lstm'));
    const joined = await compileFile(f.model, fixtureOptions('pm-lstm'));
    joinLstmCells(joined.ir.graph);
    const tensorOf = (m: typeof joined, name: string) => allGraphs(m.ir.graph).map((g) => g.tensors.get(name)).find((t) => t)!;
    for (const cell of lstmCells(original)) {
      const after = lstmCells(joined).find((c) => c.name === cell.name)!;
      const [x, h] = cell.inputs.map((v) => tensorOf(original, v).quant!);
      const [zx, zh] = [x.zeroPoint[0], h.zeroPoint[0]];
      let worst = 0;
      for (const k of LSTM_GATES) {
        const [gate, joinedGate] = [cell.gates[k], after.gates[k]];
        const [w, r] = [tensorOf(original, gate.inputWeights), tensorOf(original, gate.hiddenWeights)];
        const [bx, bh] = [tensorOf(original, gate.inputEffectiveBias).data!, tensorOf(original, gate.hiddenEffectiveBias).data!];
        const joinedWeights = tensorOf(joined, joinedGate.inputWeights);
        const joinedBias = tensorOf(joined, joinedGate.inputEffectiveBias).data!;
        const scale = joinedWeights.quant!.scale[0] * x.scale[0];
        const [rows, inputs] = w.shape;
        const sum = (data: ArrayLike<number>, from: number, to: number) => Array.from(data).slice(from, to).reduce((a, v) => a + v, 0);
        for (let j = 0; j < rows; j++) {
          const real =
            x.scale[0] * w.quant!.scale[0] * (bx[j] + zx * sum(w.data!, j * inputs, (j + 1) * inputs)) +
            h.scale[0] * r.quant!.scale[0] * (bh[j] + zh * sum(r.data!, j * rows, (j + 1) * rows));
          const columns = joinedWeights.shape[1];
          const row = Array.from(joinedWeights.data!).slice(j * columns, (j + 1) * columns);
          const acc = joinedBias[j] + row.reduce((a, v, c) => a + v * (c < inputs ? zx : zh), 0);
          worst = Math.max(worst, Math.abs(scale * acc - real) / scale);
        }
      }
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-6);
    }
  });

  it.skipIf(!cmsisNnPath)('pm-lstm with CMSIS-NN: the option joins every cell, same bound', async () => {
    const { cmp, step, compiled } = await goldenAgainstOrt('pm-lstm', { fuseAccumulators: true, cmsisNn: cmsisNnPath });
    const cells = lstmCells(compiled);
    expect(cells.length).toBeGreaterThan(0);
    for (const cell of cells) expect(cell.joined).toBe(true);
    expect(cmp.cosine).toBeGreaterThanOrEqual(lstmBounds.minCosine);
    expect(cmp.rmse / step).toBeLessThanOrEqual(lstmBounds.maxRmseSteps);
  });

  it('the portable kernels leave LSTM cells as they are', async () => {
    const compiled = await compileFile(fixture('pm-lstm').model, { ...fixtureOptions('pm-lstm'), fuseAccumulators: true });
    for (const cell of lstmCells(compiled)) expect(cell.joined).toBeUndefined();
  });
});

describe('recurrence recognition', () => {
  it('pm-base: one loop, weights stored once whatever the sequence length', async () => {
    const [t64, t256] = await Promise.all(['pm-base', 'pm-base-t256'].map((n) => compileFile(fixture(n).model)));
    for (const c of [t64, t256]) {
      expect(c.ir.graph.ops.filter((op) => op.kind === 'Loop')).toHaveLength(1);
      expect(c.warnings.filter((w) => w.code === 'TLG-W03')).toEqual([]);
    }
    const a = analyzeModel(t64.ir).totals;
    const b = analyzeModel(t256.ir).totals;
    expect(b.constantBytes).toBe(a.constantBytes);
    expect(b.ops).toBe(a.ops);
    expect(b.macs).toBe(4 * a.macs - 3 * analyzeModel(t64.ir).ops.filter((o) => o.depth === 0).reduce((s, o) => s + o.macs, 0));
  });

  it('pm-tiny-interleaved (unbind, two layers per step) rolls into one loop with both cells', async () => {
    const c = await compileFile(fixture('pm-tiny-interleaved').model);
    const loops = c.ir.graph.ops.filter((op) => op.kind === 'Loop');
    expect(loops).toHaveLength(1);
    expect(loops[0].kind === 'Loop' && loops[0].states.length).toBe(4);
  });
});
