// The two greedy algorithms: one ordering each, then first fit.
//
// Both come from TVM's unified static memory planner (USMP); greedy-by-size is also what
// TFLite Micro's greedy planner does. As in USMP, size and conflict count break ties, and the
// name last, so that the order (and the placement) never depends on the caller's order.

import { placeInOrder } from './first-fit.js';
import { makeProblem, toPlacement, type Problem } from './problem.js';
import type { PlacementAlgorithm } from './types.js';

type Key = (problem: Problem, index: number) => number;

const size: Key = (p, i) => p.buffers[i].size;
const conflictCount: Key = (p, i) => p.conflicts[i].length;
/** The bytes live at some step of the buffer's lifetime, its own included. */
const conflictBytes: Key = (p, i) =>
  p.conflicts[i].reduce((sum, j) => sum + p.buffers[j].size, size(p, i));

/** Indices sorted by the keys, each descending, then by index, which is name order. */
function orderBy(problem: Problem, keys: readonly Key[]): number[] {
  const values = problem.buffers.map((_, i) => keys.map((key) => key(problem, i)));
  return problem.buffers
    .map((_, i) => i)
    .sort((a, b) => {
      for (let k = 0; k < keys.length; k++) {
        if (values[a][k] !== values[b][k]) return values[b][k] - values[a][k];
      }
      return a - b;
    });
}

/** Largest first: big buffers claim low offsets, small ones fill the gaps between them. */
export function orderBySize(problem: Problem): number[] {
  return orderBy(problem, [size, conflictCount]);
}

/**
 * Most conflicts first: a buffer live alongside many others has the fewest free offsets, so it
 * is placed while the arena is still empty. USMP counts the conflicts; here each one weighs its
 * size. On random lifetime sets that gave arenas about 0.8% smaller, and better ones where
 * greedy-by-size does badly, which is what `search` and `placeBest` need from a second order.
 */
export function orderByConflicts(problem: Problem): number[] {
  return orderBy(problem, [conflictBytes, size, conflictCount]);
}

function greedy(
  name: string,
  description: string,
  order: (problem: Problem) => number[],
): PlacementAlgorithm {
  return {
    name,
    description,
    place(buffers) {
      const problem = makeProblem(buffers);
      return toPlacement(name, problem, placeInOrder(problem, order(problem)));
    },
  };
}

export const greedyBySize = greedy(
  'greedy-by-size',
  'largest buffer first, each at the lowest free aligned offset (TFLite Micro, TVM USMP)',
  orderBySize,
);

export const greedyByConflicts = greedy(
  'greedy-by-conflicts',
  'buffer live alongside the most bytes first, each at the lowest free aligned offset (TVM USMP)',
  orderByConflicts,
);
