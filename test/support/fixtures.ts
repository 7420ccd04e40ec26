// The committed fixture models (test/fixtures/<name>/, written by export_fixtures.py).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

export const fixturesDir = join(repoRoot, 'test', 'fixtures');

export interface FixtureMeta {
  name: string;
  description: string;
}

export function fixture(name: string) {
  const dir = join(fixturesDir, name);
  const model = join(dir, 'model.onnx');
  if (!existsSync(model)) throw new Error(`fixture ${name} is missing: run /usr/bin/python3 test/fixtures/export_fixtures.py`);
  return {
    name,
    dir,
    model,
    inputs: join(dir, 'inputs.npy'),
    calibration: join(dir, 'calibration.npy'),
    expected: join(dir, 'expected.npy'),
    meta: JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as FixtureMeta & Record<string, unknown>,
  };
}

/** Fixtures whose tensors all have Q/DQ parameters, and those that need calibration data. */
export const qdqFixtures = ['pm-tiny', 'pm-base', 'pm-tiny-interleaved', 'tinylstm-256'];
export const calibratedFixtures = ['pm-lstm', 'lstm-seq', 'tinylstm-float', 'lstm-float'];
/** Every fixture that fits the STM32H747 budget (pm-over is the one that must not). */
export const everyFixture = [...qdqFixtures, ...calibratedFixtures];

/** The compile options a fixture needs (calibration data where it leaves tensors in float). */
export function fixtureOptions(name: string) {
  return calibratedFixtures.includes(name) ? { calibration: fixture(name).calibration } : {};
}

/** The update flag of golden files: UPDATE_GOLDEN=1 npm test. */
export const updateGolden = process.env.UPDATE_GOLDEN === '1';
