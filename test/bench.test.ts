// The benchmark command, smoke run: the built `bench` (dist/, which `npm test` builds first)
// generates, builds and runs pm-tiny and writes rows with every field. No timing assertions:
// the benchmark is a command that measures, not a timed test.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/cli.js';

const bench = join(repoRoot, 'dist', 'bench', 'run.js');

const FIELDS = [
  'model',
  'kernels',
  'weights',
  'macs',
  'instructions',
  'flashBytes',
  'ramBytes',
  'arenaBytes',
  'arenaLowerBound',
  'generateMs',
  'peakMemoryMB',
  'instructionsPerMac',
  'smladBoundRatio',
  'latencyMsAt480MHz',
  'bitExact',
  'vsBaseline',
];

describe('npm run bench -- --smoke', () => {
  it('writes bit-exact pm-tiny rows to results.json and .md, README.md untouched', async () => {
    if (!existsSync(bench))
      throw new Error(`${bench} is missing: run npm run build (npm test does)`);
    const out = mkdtempSync(join(tmpdir(), 'tinylstm-bench-test-'));
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    try {
      const r = await execa('node', [bench, '--smoke', '--out', out], {
        reject: false,
        timeout: 600_000,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain('bench: pm-tiny portable weights-in-flash: running in QEMU');

      const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Record<
        string,
        unknown
      >[];
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        for (const field of FIELDS) expect(row, field).toHaveProperty(field);
        expect(row.model).toBe('pm-tiny');
        expect(row.kernels).toBe('portable');
        expect(row.instructions as number).toBeGreaterThan(0);
        expect(row.macs as number).toBeGreaterThan(0);
        expect(row.bitExact).toBe(true);
        expect(row.arenaBytes as number).toBeGreaterThanOrEqual(row.arenaLowerBound as number);
        expect(row.flashBytes as number).toBeLessThanOrEqual(486 * 1024);
        expect(row.ramBytes as number).toBeLessThanOrEqual(112 * 1024);
      }
      expect(rows.map((row) => row.weights)).toContain('flash');

      const table = readFileSync(join(out, 'results.md'), 'utf8');
      expect(table).toMatch(/\| model \| kernels \| weights in \| options \| MACs \| instructions \|/);
      expect(table).toMatch(/^\| pm-tiny \| portable \| flash \|/m);
      expect(table).toContain('one instruction per cycle');
      expect(r.stdout).toContain(join(out, 'results.json'));
      expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).toBe(readme);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 600_000);
});
