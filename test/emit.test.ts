// The generated project: it compiles with -Wall -Wextra -Werror for the Cortex-M7 and the host,
// its ELF fits the budget and the plan's figures, its host build reproduces the golden
// interpreter exactly (with int16 and with int8 weights), generation is deterministic and
// atomic, and pm-tiny's project matches its snapshot (UPDATE_GOLDEN=1 to accept changes).

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBoard } from '../src/boards.js';
import { elfSize } from '../src/run/elf.js';
import { TlgError } from '../src/diagnostics.js';
import { generate, type GeneratedProject } from '../src/pipeline.js';
import { cmsisNnPath, generateFixture, make, runHost, workDir } from './support/project.js';
import { repoRoot } from './support/cli.js';
import { fixture, updateGolden } from './support/fixtures.js';

const board = loadBoard('stm32h747');

describe('generated firmware for the STM32H747 (portable kernels)', () => {
  for (const name of ['pm-tiny', 'pm-base', 'pm-lstm']) {
    it(`${name}: builds with -Werror; the ELF fits the budget and is within 5% of the plan`, async () => {
      const p = await generateFixture(name);
      const log = await make(p.out);
      expect(log).toContain('-Wall -Wextra -Werror');
      const size = await elfSize(join(p.out, 'build', 'stm32h747', 'firmware.elf'), board);
      console.log(`${name}: ELF flash ${size.flash} B (plan ${p.plan.flash.total}), RAM ${size.ram} B (plan ${p.plan.ram.total})`);
      expect(size.flash).toBeLessThanOrEqual(p.plan.flash.budget);
      expect(size.ram).toBeLessThanOrEqual(p.plan.ram.budget);
      expect(Math.abs(size.flash - p.plan.flash.total) / p.plan.flash.total).toBeLessThanOrEqual(0.05);
      expect(Math.abs(size.ram - p.plan.ram.total) / p.plan.ram.total).toBeLessThanOrEqual(0.05);
    });
  }
});

/** Builds and runs the project on the host: every output equals the golden interpreter's. */
async function expectGoldenOnHost(p: GeneratedProject & { out: string }): Promise<void> {
  const report = await runHost(p.out);
  expect(report.end?.pass, report.text).toBe(true);
  p.tests.outputs.forEach((outs, i) =>
    outs.forEach((golden, k) => {
      const bytes = report.outputs.get(i)?.get(k);
      expect(bytes, `output ${k} of input ${i}`).toBeDefined();
      expect(Array.from(new Int8Array(bytes!.buffer, bytes!.byteOffset, bytes!.length))).toEqual(Array.from(golden));
    }),
  );
}

describe('host build of the generated code', () => {
  for (const name of ['pm-tiny', 'pm-base', 'pm-tiny-interleaved', 'pm-lstm', 'lstm-seq', 'tinylstm-float', 'lstm-float']) {
    it(`${name}: reproduces the golden interpreter's outputs exactly on every fixture input`, async () => {
      await expectGoldenOnHost(await generateFixture(name, { out: join(workDir, 'projects', `${name}-host`) }));
    });
  }
});

describe('--weights-layout compact (int8 weights for the portable LSTM step and FC)', () => {
  it('pm-lstm: builds with -Werror; the ELF is within 5% of the plan, which counts int8 weights', async () => {
    const p = await generateFixture('pm-lstm', { out: join(workDir, 'projects', 'pm-lstm-compact'), weightsLayout: 'compact' });
    expect(p.plan.weightsLayout.chosen).toBe('compact');
    expect(p.files.get('model/pm_lstm.c')?.toString()).toContain('tlg_lstm_step_compact_s8(');
    await make(p.out);
    const size = await elfSize(join(p.out, 'build', 'stm32h747', 'firmware.elf'), board);
    console.log(`pm-lstm compact: ELF flash ${size.flash} B (plan ${p.plan.flash.total}), RAM ${size.ram} B (plan ${p.plan.ram.total})`);
    expect(Math.abs(size.flash - p.plan.flash.total) / p.plan.flash.total).toBeLessThanOrEqual(0.05);
    expect(Math.abs(size.ram - p.plan.ram.total) / p.plan.ram.total).toBeLessThanOrEqual(0.05);
  });

  for (const name of ['pm-lstm', 'lstm-seq', 'pm-base']) {
    it(`${name}: the host build reproduces the golden interpreter's outputs exactly`, async () => {
      await expectGoldenOnHost(await generateFixture(name, { out: join(workDir, 'projects', `${name}-compact-host`), weightsLayout: 'compact' }));
    });
  }
});

describe('--fuse-accumulators', () => {
  it('pm-base: the host build follows the golden interpreter of the fused IR exactly', async () => {
    const p = await generateFixture('pm-base', { out: join(workDir, 'projects', 'pm-base-fused-host'), fuseAccumulators: true });
    const report = await runHost(p.out);
    expect(report.end?.pass, report.text).toBe(true);
    expect(report.outputs.size).toBe(p.tests.outputs.length);
  });
});

describe('CMSIS-NN kernels', () => {
  it.skipIf(!cmsisNnPath)('pm-tiny and pm-lstm build with -Werror against CMSIS_NN_PATH and run exactly on the host', async () => {
    for (const name of ['pm-tiny', 'pm-lstm']) {
      const p = await generateFixture(name, { kernels: 'cmsis-nn' });
      await make(p.out);
      const report = await runHost(p.out);
      expect(report.end?.pass, report.text).toBe(true);
    }
  });
  if (!cmsisNnPath) console.log('CMSIS-NN tests skipped: CMSIS_NN_PATH is not set');
});

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const full = join(dir, f);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

/** The files tinylstm-gen writes itself (the copied kernels, runtime and board C are not). */
const generatedFile = (f: string) => !/^(kernels|runtime)\//.test(f) && !/^board\/[^/]+\/(board|startup)\.c$/.test(f) && !f.startsWith('build/');

describe('the generated project', () => {
  it('is deterministic: the same model gives byte-identical files', async () => {
    const a = await generateFixture('pm-tiny', { out: join(workDir, 'projects', 'det-a') });
    const b = await generateFixture('pm-tiny', { out: join(workDir, 'projects', 'det-b') });
    expect([...a.files.keys()]).toEqual([...b.files.keys()]);
    for (const [path, content] of a.files) expect(b.files.get(path)?.toString(), path).toBe(content.toString());
  });

  it('starts every generated file with what generated it and that it is not to be edited', async () => {
    const p = await generateFixture('pm-tiny', { out: join(workDir, 'projects', 'header') });
    for (const [path, content] of p.files) {
      if (!generatedFile(path) || path === 'plan.json') continue;
      const first = content.toString().split('\n')[0];
      expect(first, path).toMatch(/Generated by tinylstm-gen 0\.0\.0-test from pm-tiny/);
      expect(content.toString().slice(0, 400), path).toMatch(/[Dd]o not edit/);
    }
  });

  it('matches the pm-tiny snapshot', async () => {
    const p = await generateFixture('pm-tiny', { out: join(workDir, 'projects', 'snapshot') });
    const snapshotDir = join(repoRoot, 'test', 'golden', 'pm-tiny-project');
    const files = [...p.files].filter(([path]) => generatedFile(path));
    if (updateGolden || !existsSync(snapshotDir)) {
      rmSync(snapshotDir, { recursive: true, force: true });
      for (const [path, content] of files) {
        mkdirSync(join(snapshotDir, path, '..'), { recursive: true });
        writeFileSync(join(snapshotDir, path), content);
      }
    }
    const expected = listFiles(snapshotDir).map((f) => relative(snapshotDir, f)).sort();
    expect(files.map(([path]) => path).sort()).toEqual(expected);
    for (const [path, content] of files) {
      expect(content.toString(), `${path} differs from test/golden/pm-tiny-project (UPDATE_GOLDEN=1 to accept)`).toBe(readFileSync(join(snapshotDir, path), 'utf8'));
    }
  });

  it('leaves the output folder as it was when generation fails', async () => {
    const out = join(workDir, 'projects', 'atomic');
    await generateFixture('pm-tiny', { out });
    const before = listFiles(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]);
    await expect(
      generate(fixture('pm-tiny').model, { kernels: 'portable', board, out, version: '0.0.0-test', flashBudget: 4096 }),
    ).rejects.toThrow(TlgError);
    const after = listFiles(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]);
    expect(after).toEqual(before);
    expect(readdirSync(join(out, '..')).filter((f) => f.includes('.tlg-'))).toEqual([]);
  });

  it('refuses to replace a folder it did not write', async () => {
    const out = join(workDir, 'projects', 'foreign');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await expect(generate(fixture('pm-tiny').model, { kernels: 'portable', board, out, version: '0.0.0-test' })).rejects.toThrow(/not a project tinylstm-gen generated/);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
