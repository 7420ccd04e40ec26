// The canonical form of a placement problem, shared by every algorithm.
//
// Requests are sorted by name before anything looks at them, and every ordering an algorithm
// uses ends its tie-breaks with that index. So the caller's order never reaches a decision, and
// the same requests in any order give byte-identical placements.

import { invariant } from '../../diagnostics.js';
import type { BufferRequest, Placement } from './types.js';

export interface Problem {
  /** The requests sorted by name; a buffer is referred to by its index here. */
  readonly buffers: readonly BufferRequest[];
  /** For each buffer, the indices of the buffers live at the same time, ascending. */
  readonly conflicts: readonly (readonly number[])[];
  /** The same as a matrix, for constant-time look-ups: 1 at [i * n + j] when i and j conflict. */
  readonly conflictMatrix: Uint8Array;
}

/** Code-unit order, not localeCompare: the result must not depend on the machine's locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function liveTogether(a: BufferRequest, b: BufferRequest): boolean {
  return a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * Checks the requests and builds the conflict lists. Bad requests are a bug of the planner that
 * made them, not of the user, hence invariants rather than diagnostics.
 */
export function makeProblem(requests: readonly BufferRequest[]): Problem {
  const seen = new Set<string>();
  for (const r of requests) {
    const where = `placement: buffer "${r.name}"`;
    invariant(!seen.has(r.name), () => `${where} is requested twice`);
    seen.add(r.name);
    invariant(Number.isSafeInteger(r.size) && r.size > 0, () => `${where} has size ${r.size}`);
    invariant(isPowerOfTwo(r.alignment), () => `${where} has alignment ${r.alignment}`);
    const { firstUse, lastUse } = r;
    invariant(
      Number.isSafeInteger(firstUse) && Number.isSafeInteger(lastUse) && firstUse <= lastUse,
      () => `${where} has lifetime [${firstUse}, ${lastUse}]`,
    );
  }

  const buffers = [...requests].sort((a, b) => compareNames(a.name, b.name));
  // Quadratic, which is fine for the few hundred buffers of a model and keeps the lists sorted.
  const n = buffers.length;
  const conflicts = buffers.map((a, i) =>
    buffers.flatMap((b, j) => (j !== i && liveTogether(a, b) ? [j] : [])),
  );
  const conflictMatrix = new Uint8Array(n * n);
  conflicts.forEach((list, i) => list.forEach((j) => (conflictMatrix[i * n + j] = 1)));
  return { buffers, conflicts, conflictMatrix };
}

/** Arena bytes needed by `offsets` (indexed like problem.buffers). */
export function arenaSize(problem: Problem, offsets: readonly number[]): number {
  return problem.buffers.reduce((size, b, i) => Math.max(size, offsets[i] + b.size), 0);
}

export function toPlacement(
  algorithm: string,
  problem: Problem,
  offsets: readonly number[],
): Placement {
  return {
    algorithm,
    buffers: problem.buffers.map((b, i) => ({ ...b, offset: offsets[i] })),
    size: arenaSize(problem, offsets),
  };
}
