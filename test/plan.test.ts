// The memory planner on real models: arenas at their lower bound, activation RAM that does
// not grow with the sequence length, the budget gate, and a golden arena size per fixture.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBoard } from '../src/boards.js';
import { planMemory } from '../src/plan/plan.js';
import { TlgError } from '../src/diagnostics.js';
import type { IrGraph, IrModel, IrTensor } from '../src/ir/ir.js';
import { compileFile } from './support/compile.js';
import { repoRoot, runCli } from './support/cli.js';
import { fixture, fixtureOptions, updateGolden } from './support/fixtures.js';

const board = loadBoard('stm32h747');
const goldenFile = join(repoRoot, 'test', 'golden', 'arena-sizes.json');

async function planOf(name: string, kernels: 'portable' | 'cmsis-nn' = 'portable') {
  const compiled = await compileFile(fixture(name).model, fixtureOptions(name));
  return planMemory(compiled.ir, { board, kernels });
}

describe('memory plans of the fixture models', () => {
  for (const name of ['pm-tiny', 'pm-base', 'pm-lstm']) {
    it(`${name}: the arena equals the lower bound`, async () => {
      const plan = await planOf(name);
      console.log(`${name}: arena ${plan.arena.size} bytes, lower bound ${plan.arena.lowerBound} bytes (${plan.arena.algorithm})`);
      expect(plan.arena.size).toBe(plan.arena.lowerBound);
    });
  }

  it("pm-base's activation RAM does not change from 64 to 256 steps", async () => {
    const [t64, t256] = await Promise.all([planOf('pm-base'), planOf('pm-base-t256')]);
    console.log(`pm-base: arena ${t64.arena.size} + state ${t64.state.size} bytes at T=64, ${t256.arena.size} + ${t256.state.size} at T=256`);
    expect(t256.arena.size).toBe(t64.arena.size);
    expect(t256.state.size).toBe(t64.state.size);
  });

  it('stacked LSTM layers run interleaved: no sequence buffer between them', async () => {
    const compiled = await compileFile(fixture('pm-lstm').model, fixtureOptions('pm-lstm'));
    const loops = compiled.ir.graph.ops.filter((op) => op.kind === 'Loop');
    expect(loops).toHaveLength(1);
    const plan = planMemory(compiled.ir, { board, kernels: 'portable' });
    // One step's activations, not 64 steps of 128 hidden values.
    expect(plan.arena.size).toBeLessThan(64 * 128);
  });

  it('arena sizes stay within 3% of the golden file', async () => {
    const names = ['pm-tiny', 'pm-base', 'pm-tiny-interleaved', 'pm-lstm', 'lstm-seq'];
    const sizes: Record<string, number> = {};
    for (const name of names) sizes[name] = (await planOf(name)).arena.size;
    if (updateGolden || !existsSync(goldenFile)) writeFileSync(goldenFile, `${JSON.stringify(sizes, null, 2)}\n`);
    const golden = JSON.parse(readFileSync(goldenFile, 'utf8')) as Record<string, number>;
    for (const name of names) {
      expect(sizes[name], `${name}: arena ${sizes[name]} bytes against ${golden[name]} (UPDATE_GOLDEN=1 to accept)`).toBeLessThanOrEqual(Math.ceil(golden[name] * 1.03));
    }
  });
});

describe('the budget gate', () => {
  it('pm-over is refused with exit code 2 and a report of its largest tensors', async () => {
    const r = await runCli(['analyze', fixture('pm-over').model, '--board', 'stm32h747', '--calibration', fixture('pm-over').calibration]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error TLG-301: pm-over does not fit the stm32h747 budget: flash .* of 486.0 KiB/);
    expect(r.stderr).toContain('largest tensors');
    expect(r.stderr).toMatch(/hidden_weights/);
    expect(r.stderr).toContain('to fit:');
  });

  it('pm-lstm fits, and the report prints its margin', async () => {
    const r = await runCli(['analyze', fixture('pm-lstm').model, '--board', 'stm32h747', '--calibration', fixture('pm-lstm').calibration]);
    expect(r.exitCode, r.stderr).toBe(0);
    const flash = /flash ([\d.]+) KiB of 486.0 KiB \([\d.]+%\), margin ([\d.]+) KiB/.exec(r.stdout);
    const ram = /RAM +([\d.]+) KiB of 112.0 KiB \([\d.]+%\), margin ([\d.]+) KiB/.exec(r.stdout);
    expect(flash, r.stdout).not.toBeNull();
    expect(ram, r.stdout).not.toBeNull();
    console.log(`pm-lstm: flash margin ${flash![2]} KiB, RAM margin ${ram![2]} KiB`);
    expect(Number(flash![2])).toBeGreaterThan(0);
  });

  it('--flash-budget and --ram-budget override the board, in any unit', async () => {
    const tight = await runCli(['analyze', fixture('pm-tiny').model, '--board', 'stm32h747', '--ram-budget', '8KiB']);
    expect(tight.exitCode).toBe(2);
    expect(tight.stderr).toContain('RAM');
    expect(tight.stderr).toContain('of 8.0 KiB');
    const bad = await runCli(['analyze', fixture('pm-tiny').model, '--board', 'stm32h747', '--flash-budget', 'lots']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('invalid --flash-budget "lots"');
  });

  it('--json gives every buffer with region, offset, size and first and last use', async () => {
    const r = await runCli(['analyze', fixture('pm-tiny').model, '--board', 'stm32h747', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout).plan;
    expect(plan.arena.buffers.length).toBeGreaterThan(3);
    for (const b of plan.arena.buffers) {
      expect(b).toEqual(expect.objectContaining({ region: 'DTCM', offset: expect.any(Number), size: expect.any(Number), firstUse: expect.any(Number), lastUse: expect.any(Number) }));
    }
    expect(plan.state.buffers.length).toBeGreaterThan(0);
  });
});

describe('the weights layout', () => {
  // pm-lstm takes about 425 KiB of flash with int16 (fast) weights and 226 KiB with int8
  // (compact) ones: a 400 KiB budget fits only the compact layout.
  const lstm = fixture('pm-lstm');
  const analyze = (...extra: string[]) =>
    runCli(['analyze', lstm.model, '--board', 'stm32h747', '--kernels', 'portable', '--calibration', lstm.calibration, '--flash-budget', '400K', ...extra]);

  it('auto plans compact when only int8 weights fit, names the choice and warns with the cost', async () => {
    const r = await analyze();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights layout compact \(the fast layout does not fit: flash [\d.]+ KiB of 400\.0 KiB\)/);
    expect(r.stderr).toMatch(/warning TLG-W07: weights kept int8 \(--weights-layout compact\) to fit the budget: .*flash [\d.]+ KiB of 400\.0 KiB.* about [\d.]+ million more instructions per inference/);
    const json = await analyze('--json');
    expect(json.exitCode, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).plan.weightsLayout).toEqual({ chosen: 'compact', requested: 'auto', reason: expect.stringContaining('400.0 KiB') });
  });

  it('--weights-layout fast refuses it, and says that int8 weights would fit', async () => {
    const r = await analyze('--weights-layout', 'fast');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/error TLG-301: pm-lstm does not fit the stm32h747 budget: flash [\d.]+ KiB of 400\.0 KiB/);
    expect(r.stderr).toContain('weights layout: fast (--weights-layout fast)');
    expect(r.stderr).toMatch(/int8 weights \(--weights-layout compact or auto\) would fit: flash [\d.]+ KiB/);
  });

  it('the compact plan stores the LSTM weights in half the bytes; auto keeps fast when it fits', async () => {
    const compiled = await compileFile(lstm.model, fixtureOptions('pm-lstm'));
    const plan = (weightsLayout: 'fast' | 'compact' | 'auto', flashBudget?: number, kernels: 'portable' | 'cmsis-nn' = 'portable') =>
      planMemory(compiled.ir, { board, kernels, weightsLayout, flashBudget });
    const lstmBytes = (p: ReturnType<typeof plan>, type: string) =>
      p.constants.tensors.filter((t) => t.name.includes(`(${type}, gates interleaved)`)).reduce((a, t) => a + t.bytes, 0);
    const [fast, compact] = [plan('fast'), plan('compact')];
    expect(lstmBytes(fast, 'int16')).toBe(2 * lstmBytes(compact, 'int8'));
    expect(fast.constants.size - compact.constants.size).toBeGreaterThanOrEqual(lstmBytes(compact, 'int8'));
    expect(plan('auto').weightsLayout).toEqual({ chosen: 'fast', requested: 'auto', reason: 'fits the budget' });
    expect(plan('auto', 400 * 1024).flash.total).toBe(compact.flash.total);
    expect(() => plan('compact', 200 * 1024)).toThrow(TlgError);
    // The CMSIS-NN set stores int8 weights in either layout.
    expect(plan('compact', undefined, 'cmsis-nn').flash.total).toBe(plan('fast', undefined, 'cmsis-nn').flash.total);
  });
});

describe('plans of hand-built graphs', () => {
  /** A → B → C with one loop-free chain: reuse is by lifetime, offsets checked by hand. */
  function chain(): IrModel {
    const t = (name: string, n: number) => ({ name, dtype: 'int8' as const, shape: [1, n], quant: { scale: [1], zeroPoint: [0] } });
    const table = Int8Array.from({ length: 256 }, (_, i) => i - 128);
    const g: IrGraph = {
      tensors: new Map<string, IrTensor>([
        ['x', t('x', 64)],
        ['a', t('a', 100)],
        ['b', t('b', 40)],
        ['c', t('c', 100)],
        ['y', t('y', 100)],
        ['lut', { name: 'lut', dtype: 'int8', shape: [256], data: table }],
        ['w1', { name: 'w1', dtype: 'int8', shape: [100, 64], data: new Int8Array(6400) }],
        ['w2', { name: 'w2', dtype: 'int8', shape: [40, 100], data: new Int8Array(4000) }],
        ['w3', { name: 'w3', dtype: 'int8', shape: [100, 40], data: new Int8Array(4000) }],
      ]),
      ops: [
        fc('fc1', 'x', 'w1', 'a'),
        fc('fc2', 'a', 'w2', 'b'),
        fc('fc3', 'b', 'w3', 'c'),
        { kind: 'Lut', name: 'lut', sources: [], inputs: ['c'], outputs: ['y'], table: 'lut', function: 'id' },
      ],
      inputs: ['x'],
      outputs: ['y'],
    };
    return { name: 'chain', graph: g, inputs: [{ name: 'x', tensor: 'x', shape: [1, 64], external: 'float32' }], outputs: [{ name: 'y', tensor: 'y', shape: [1, 100], external: 'float32' }], notes: [] };
  }

  function fc(name: string, x: string, w: string, y: string) {
    return {
      kind: 'FullyConnected' as const,
      name,
      sources: [],
      inputs: [x],
      outputs: [y],
      weights: w,
      inputOffset: 0,
      weightOffset: 0,
      outputOffset: 0,
      requant: [{ multiplier: 1 << 30, shift: 0 }],
      activationMin: -128,
      activationMax: 127,
      outputDtype: 'int8' as const,
    };
  }

  it('places a chain by lifetime: a and c share no bytes with b, c reuses a', () => {
    const plan = planMemory(chain(), { board, kernels: 'portable' });
    const at = Object.fromEntries(plan.arena.buffers.map((b) => [b.name, [b.offset, b.size, b.firstUse, b.lastUse]]));
    // x and y are the caller's; a (100 B, steps 0-1), b (40 B, 1-2), c (100 B, 2-3) is
    // written over by the table in place. a and c do not overlap in time and share offset 0.
    expect(at).toEqual({ a: [0, 100, 0, 1], b: [100, 40, 1, 2], c: [0, 100, 2, 3] });
    expect(plan.arena.size).toBe(140);
    expect(plan.arena.lowerBound).toBe(140);
    expect(plan.locations.y).toEqual({ buffer: 'y', offset: 0, storage: 'output' });
  });
});
