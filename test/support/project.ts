// Generating, building and running projects in tests.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { loadBoard } from '../../src/boards.js';
import { generate, type GeneratedProject } from '../../src/pipeline.js';
import { parseFirmwareOutput, type FirmwareReport } from '../../src/run/protocol.js';
import { repoRoot } from './cli.js';
import { fixture, fixtureOptions } from './fixtures.js';

export const workDir = join(repoRoot, 'test', '.work');

export const cmsisNnPath = process.env.CMSIS_NN_PATH;

export async function generateFixture(
  name: string,
  options: {
    kernels?: 'portable' | 'cmsis-nn';
    board?: string;
    out?: string;
    inputs?: boolean;
    fuseAccumulators?: boolean;
    weightsLayout?: 'fast' | 'compact' | 'auto';
  } = {},
): Promise<GeneratedProject & { out: string }> {
  const kernels = options.kernels ?? 'portable';
  const board = options.board ?? 'stm32h747';
  const out = options.out ?? join(workDir, 'projects', `${name}-${board}-${kernels}`);
  mkdirSync(join(out, '..'), { recursive: true });
  rmSync(out, { recursive: true, force: true });
  const f = fixture(name);
  const project = await generate(f.model, {
    ...fixtureOptions(name),
    kernels,
    cmsisNnPath: kernels === 'cmsis-nn' ? cmsisNnPath : undefined,
    board: loadBoard(board),
    out,
    inputs: options.inputs === false ? undefined : f.inputs,
    fuseAccumulators: options.fuseAccumulators,
    weightsLayout: options.weightsLayout,
    version: '0.0.0-test',
  });
  return { ...project, out };
}

export async function make(dir: string, target?: string): Promise<string> {
  const r = await execa('make', ['-j2', ...(target ? [target] : [])], { cwd: dir, all: true, reject: false, env: cmsisNnPath ? { CMSIS_NN_PATH: cmsisNnPath } : {} });
  if (r.exitCode !== 0) throw new Error(`make ${target ?? ''} failed in ${dir}:\n${r.all}`);
  return r.all ?? '';
}

/** Builds and runs the host version; returns its parsed console output. */
export async function runHost(dir: string): Promise<FirmwareReport & { text: string }> {
  await make(dir, 'host');
  const r = await execa(join(dir, 'build', 'host', 'firmware'), { reject: false, all: true });
  return { ...parseFirmwareOutput(r.all ?? ''), text: r.all ?? '' };
}
