// One timed generation, run as a child process by bench/measure.ts so that each measurement
// starts cold (module loading, JIT warm-up and the heap are the user's, not a warm benchmark
// process's). Prints one JSON line on stdout: the process's wall time from its start to the end
// of `generate`, and its peak resident memory.

import { generate } from '../src/pipeline.js';
import { loadBoard } from '../src/boards.js';
import type { GenerationSpec } from './measure.js';

const spec = JSON.parse(process.argv[2]) as GenerationSpec;
await generate(spec.model, {
  board: loadBoard(spec.board),
  out: spec.out,
  kernels: spec.kernels,
  cmsisNnPath: spec.cmsisNnPath,
  calibration: spec.calibration,
  inputs: spec.inputs,
  weightsIn: spec.weightsIn,
  fuseAccumulators: spec.fuseAccumulators,
  version: spec.version,
});
// performance.now() counts from the process's start; maxRSS is in KiB.
const wallMs = performance.now();
const peakMemoryMB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ wallMs, peakMemoryMB })}\n`);
