// Loader fuzzing: truncated and bit-flipped models either compile or fail with a diagnostic;
// nothing else (no crash, no internal error, no hang).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TlgError } from '../src/diagnostics.js';
import { compileBytes } from './support/compile.js';
import { ModelBuilder, rng } from './support/onnx-builder.js';
import { repoRoot } from './support/cli.js';

async function outcome(bytes: Uint8Array): Promise<string> {
  try {
    await compileBytes(bytes, 'fuzz.onnx');
    return 'compiled';
  } catch (e) {
    if (e instanceof TlgError) return e.code;
    throw new Error(`not a diagnostic: ${(e as Error).stack}`);
  }
}

function smallModel(): Uint8Array {
  const b = new ModelBuilder();
  const x = b.qdq(b.input('x', 'float32', [1, 6]), 0.05, 3);
  const w = b.weight('w', [6, 4], [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16, 17, -18, 19, -20, 21, -22, 23, -24], 0.01);
  const [h] = b.node('MatMul', [x, w]);
  const [y] = b.node('Sigmoid', [b.qdq(h, 0.02, 0)]);
  b.output(b.qdq(y, 1 / 256, -128), 'float32', [1, 4]);
  return b.bytes();
}

function mutations(original: Uint8Array, count: number, seed: number): Uint8Array[] {
  // A plain copy: Buffer.slice would return views that every flip mutates.
  const model = Uint8Array.from(original);
  const random = rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) {
      out.push(model.slice(0, Math.floor(random() * model.length)));
    } else {
      const m = model.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) m[Math.floor(random() * m.length)] ^= 1 << Math.floor(random() * 8);
      out.push(m);
    }
  }
  return out;
}

describe('loader fuzzing', () => {
  it('a small Q/DQ model: 400 mutations', async () => {
    const seen = new Map<string, number>();
    for (const m of mutations(smallModel(), 400, 1234)) {
      const o = await outcome(m);
      seen.set(o, (seen.get(o) ?? 0) + 1);
    }
    // The fuzzer must reach past the decoder: some mutations compile, some fail later.
    expect(seen.size, JSON.stringify([...seen])).toBeGreaterThan(2);
  });

  it('pm-tiny: 150 mutations', async () => {
    const model = readFileSync(join(repoRoot, 'test', 'fixtures', 'pm-tiny', 'model.onnx'));
    const seen = new Map<string, number>();
    for (const m of mutations(model, 150, 99)) {
      const o = await outcome(m);
      seen.set(o, (seen.get(o) ?? 0) + 1);
    }
    expect(seen.get('compiled') ?? 0, JSON.stringify([...seen])).toBeGreaterThan(0);
    expect(seen.size, JSON.stringify([...seen])).toBeGreaterThan(2);
  }, 300_000);
});
