// Bad input gets one clear line naming the file, node or tensor, and a non-zero exit code.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelBuilder } from './support/onnx-builder.js';
import { repoRoot, runCli } from './support/cli.js';

const work = join(repoRoot, 'test', '.work', 'diagnostics');
const fixtures = join(repoRoot, 'test', 'fixtures');

function write(name: string, bytes: Uint8Array): string {
  const file = join(work, name);
  writeFileSync(file, bytes);
  return file;
}

/** One error line (plus, at most, the emulator/report details some errors carry). */
function expectOneLineError(stderr: string, code: string, ...mentions: string[]) {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error '));
  expect(errors, stderr).toHaveLength(1);
  expect(errors[0]).toContain(`error ${code}`);
  for (const m of mentions) expect(errors[0]).toContain(m);
  expect(stderr).not.toContain('    at ');
}

beforeAll(() => mkdirSync(work, { recursive: true }));

describe('diagnostics for bad input', () => {
  it('a missing file', async () => {
    const r = await runCli(['analyze', join(work, 'nope.onnx')]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-101', 'nope.onnx');
  });

  it('a file that is not a protobuf', async () => {
    const file = write('garbage.onnx', Buffer.from('this is not an ONNX model\n'.repeat(20)));
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-102', 'garbage.onnx', 'not a readable ONNX model');
  });

  it('a truncated model', async () => {
    const bytes = readFileSync(join(fixtures, 'pm-tiny', 'model.onnx'));
    const file = write('truncated.onnx', bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-102', 'truncated.onnx');
  });

  it('an unsupported operator, with its node name and the supported list', async () => {
    const b = new ModelBuilder();
    const x = b.qdq(b.input('x', 'float32', [1, 4]), 0.05, 0);
    const [y] = b.node('Cos', [x]);
    b.output(b.qdq(y, 0.01, 0), 'float32', [1, 4]);
    const file = write('cos.onnx', b.bytes());
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-106', 'cos.onnx', 'node "Cos_2"', 'Cos', 'Supported operators:', 'LSTM', 'MatMul');
  });

  it('a float model with no Q/DQ is refused as not quantized without calibration data', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', 'float32', [1, 4]);
    const w = b.constant('w', 'float32', [4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((v) => v / 10));
    const [y] = b.node('MatMul', [x, w]);
    b.output(y, 'float32', [1, 3]);
    const file = write('float.onnx', b.bytes());
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-201', 'float.onnx', 'not quantized', '--calibration');
  });

  it('a dynamic sequence length needs --seq-len', async () => {
    const b = new ModelBuilder();
    const x = b.qdq(b.input('x', 'float32', [1, 'seq_len', 4]), 0.05, 0);
    const [y] = b.node('Relu', [x]);
    b.output(b.qdq(y, 0.05, -128), 'float32', [1, 'seq_len', 4]);
    const file = write('dynamic.onnx', b.bytes());
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-107', 'dynamic.onnx', 'tensor "x"', 'seq_len', '--seq-len');
    const ok = await runCli(['analyze', file, '--seq-len', '16', '--json']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).inputs[0].shape).toEqual([1, 16, 4]);
  });

  it('a shape mismatch names the node', async () => {
    const b = new ModelBuilder();
    const x = b.qdq(b.input('x', 'float32', [1, 4]), 0.05, 0);
    const w = b.weight('w', [5, 3], new Array(15).fill(1), 0.01);
    const [y] = b.node('MatMul', [x, w]);
    b.output(b.qdq(y, 0.05, 0), 'float32', [1, 3]);
    const file = write('mismatch.onnx', b.bytes());
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-108', 'mismatch.onnx', 'node "MatMul_', 'inner dimensions');
  });

  it('tensors without quantization parameters are named, with what to do', async () => {
    const b = new ModelBuilder();
    const x = b.qdq(b.input('x', 'float32', [1, 4]), 0.05, 0);
    const w = b.weight('w', [4, 3], new Array(12).fill(3), 0.01);
    const [h] = b.node('MatMul', [x, w]);
    const [y] = b.node('Sigmoid', [h]);
    b.output(b.qdq(y, 1 / 256, -128), 'float32', [1, 3]);
    const file = write('unquantized.onnx', b.bytes());
    const r = await runCli(['analyze', file]);
    expect(r.exitCode).toBe(1);
    expectOneLineError(r.stderr, 'TLG-202', 'unquantized.onnx', 'MatMul_', '--calibration');
  });
});
