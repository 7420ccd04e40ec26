// validate: the firmware in the QEMU twin is bit-exact with the golden model on the fixtures and
// its instruction counts repeat; a corrupted firmware, a hang and a fault are reported as such;
// without Renode the Renode run is skipped, never passed.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBoard } from '../src/boards.js';
import { validateProject } from '../src/pipeline.js';
import { runQemu } from '../src/run/qemu.js';
import { TlgError } from '../src/diagnostics.js';
import { runCli } from './support/cli.js';
import { everyFixture, fixture, fixtureOptions } from './support/fixtures.js';
import { cmsisNnPath, generateFixture, make, workDir } from './support/project.js';

const board = loadBoard('stm32h747');
const twin = loadBoard('mps2-an500');

describe('validate in the QEMU twin (portable kernels)', () => {
  for (const name of everyFixture) {
    const twice = name === 'pm-tiny';
    it(`${name}: bit-exact${twice ? ', with the same instruction counts (±1 tick) on two runs' : ''}`, async () => {
      const out = join(workDir, 'validate', name);
      const args = ['validate', fixture(name).model, '--board', 'stm32h747', '--kernels', 'portable', '--emulator', 'qemu', '--inputs', fixture(name).inputs, '-o', out, '--json'];
      const calibration = fixtureOptions(name).calibration;
      if (calibration) args.push('--calibration', calibration);
      const first = await runCli(args);
      expect(first.exitCode, first.stderr).toBe(0);
      const a = JSON.parse(first.stdout);
      expect(a.bitExact.mismatches).toBe(0);
      expect(a.bitExact.elements).toBeGreaterThan(0);
      expect(a.cost.instructions.every((n: number) => n > 0)).toBe(true);
      console.log(`${name}: ${a.bitExact.elements} values bit-exact; instructions per inference ${a.cost.instructions.join(', ')} (±${a.cost.resolution})`);
      if (!twice) return;
      const second = JSON.parse((await runCli(args)).stdout);
      // Counts are SysTick ticks: a run may end a tick earlier or later (UART output timing).
      second.cost.instructions.forEach((n: number, i: number) => expect(Math.abs(n - a.cost.instructions[i])).toBeLessThanOrEqual(a.cost.resolution));
    });
  }

  it('pm-over: refused before anything is built, with the budget report (exit code 2)', async () => {
    const f = fixture('pm-over');
    const r = await runCli(['validate', f.model, '--kernels', 'portable', '--calibration', f.calibration, '-o', join(workDir, 'validate', 'pm-over')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/flash: .* over by/);
  });

  it('prints a readable table and exits 0', async () => {
    const r = await runCli(['validate', fixture('pm-tiny').model, '--kernels', 'portable', '-o', join(workDir, 'validate', 'table')]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/bit-exact: yes, \d+ of \d+ output values/);
    expect(r.stdout).toMatch(/instructions per inference \(QEMU -icount, resolution 40 instructions\)/);
    expect(r.stdout).toContain('PASS');
    // Renode is not installed here: its run is skipped and said so, not reported as passed.
    expect(r.stdout).toContain('Renode: skipped');
    expect(r.stdout).not.toContain('Renode: passed');
  });

  it('refuses --emulator renode when Renode is missing, naming the tool', async () => {
    const r = await runCli(['validate', fixture('pm-tiny').model, '--kernels', 'portable', '--emulator', 'renode', '-o', join(workDir, 'validate', 'renode')]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/error TLG-501: renode-test not found on PATH/);
  });
});

describe('validate catches broken firmware', () => {
  it('a corrupted weight makes it fail and name the first mismatch', async () => {
    const p = await generateFixture('pm-base', { out: join(workDir, 'validate', 'corrupted') });
    const weights = join(p.out, 'model', 'pm_base_weights.c');
    // Change the first row of the classifier head: its bias, folded into the high word of the
    // row's 64-bit constant (the second number of its record), by 2^24, which the row's right
    // shift of the high word (17 here) leaves at 128 output steps.
    const text = readFileSync(weights, 'utf8');
    const at = text.indexOf('/fc/Gemm#1: per row {init low, init high, multiplier}');
    expect(at).toBeGreaterThan(0);
    const open = text.indexOf('{', text.indexOf('=', at)) + 1;
    const [low, high] = text.slice(open).match(/-?\d+/g)!;
    const patched = text.slice(open).replace(`${low}, ${high},`, `${low}, ${Number(high) + (1 << 24)},`);
    expect(patched).not.toBe(text.slice(open));
    writeFileSync(weights, text.slice(0, open) + patched);
    const result = await validateProject(readFileSync(fixture('pm-base').model), p, {
      kernels: 'portable',
      board,
      out: p.out,
      version: '0.0.0-test',
      emulator: 'qemu',
      timeoutSeconds: 120,
    });
    expect(result.pass).toBe(false);
    expect(result.bitExact.mismatches).toBeGreaterThan(0);
    expect(result.bitExact.first).toEqual(expect.objectContaining({ output: 0 }));
    console.log(`corrupted bias: ${result.bitExact.mismatches} mismatches, first ${JSON.stringify(result.bitExact.first)}`);
  });

  async function brokenTwin(name: string, patch: (main: string) => string) {
    const p = await generateFixture('pm-tiny', { out: join(workDir, 'validate', name) });
    const main = join(p.out, 'app', 'main.c');
    writeFileSync(main, patch(readFileSync(main, 'utf8')));
    await make(p.out, 'twin');
    return join(p.out, 'build', 'mps2-an500', 'firmware.elf');
  }

  it('a firmware that hangs is reported as a hang within the timeout', async () => {
    const elf = await brokenTwin('hang', (m) => m.replace('for (int32_t i = 0; i < TLG_TEST_COUNT; i++) {', 'for (volatile int forever = 1; forever;) {\n    }\n    for (int32_t i = 0; i < TLG_TEST_COUNT; i++) {'));
    const started = Date.now();
    const error = await runQemu(elf, twin, 5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TlgError);
    expect((error as TlgError).code).toBe('TLG-503');
    expect((error as TlgError).details).toContain('TLG BEGIN');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a firmware that faults is reported with the fault', async () => {
    const elf = await brokenTwin('fault', (m) => m.replace('tlg_board_init();', 'tlg_board_init();\n    *(volatile uint32_t *)0xF0000000u = 1u;'));
    const error = await runQemu(elf, twin, 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TlgError);
    expect((error as TlgError).code).toBe('TLG-504');
    expect((error as TlgError).message).toMatch(/fault/);
    expect((error as TlgError).details).toContain('TLG FAULT');
  });
});

describe('validate with the CMSIS-NN kernels', () => {
  for (const name of everyFixture) {
    it.skipIf(!cmsisNnPath)(`${name}: bit-exact in the QEMU twin`, async () => {
      const args = ['validate', fixture(name).model, '--kernels', 'cmsis-nn', '--emulator', 'qemu', '--inputs', fixture(name).inputs, '-o', join(workDir, 'validate', `${name}-cmsis`), '--json'];
      const calibration = fixtureOptions(name).calibration;
      if (calibration) args.push('--calibration', calibration);
      const r = await runCli(args, { CMSIS_NN_PATH: cmsisNnPath });
      expect(r.exitCode, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout);
      console.log(`${name} (cmsis-nn): ${result.bitExact.elements} values bit-exact; instructions ${result.cost.instructions.join(', ')}`);
    });
  }
  // --fuse-accumulators: the joined products (TinyLSTM pairs, LSTM cells over [x; h]).
  for (const name of ['pm-base', 'pm-lstm']) {
    it.skipIf(!cmsisNnPath)(`${name} with --fuse-accumulators: bit-exact in the QEMU twin`, async () => {
      const args = ['validate', fixture(name).model, '--kernels', 'cmsis-nn', '--fuse-accumulators', '--emulator', 'qemu', '--inputs', fixture(name).inputs, '-o', join(workDir, 'validate', `${name}-cmsis-fused`), '--json'];
      const calibration = fixtureOptions(name).calibration;
      if (calibration) args.push('--calibration', calibration);
      const r = await runCli(args, { CMSIS_NN_PATH: cmsisNnPath });
      expect(r.exitCode, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result.semantics.length).toBeGreaterThan(0);
      console.log(`${name} (cmsis-nn, fused): ${result.bitExact.elements} values bit-exact; instructions ${result.cost.instructions.join(', ')}`);
    });
  }
  if (!cmsisNnPath) console.log('CMSIS-NN validation skipped: CMSIS_NN_PATH is not set');
});
