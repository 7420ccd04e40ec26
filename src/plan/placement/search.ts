// `search`: starts from the better greedy placement and improves on it until it reaches the
// lower bound or runs out of budget.
//
// Small problems get the exact branch-and-bound; the others, and small ones whose
// branch-and-bound ran out of nodes, get the randomized local search. Both budgets count work
// (nodes, orders evaluated), never time, and the random generator has a fixed seed, so a
// problem gets the same placement on every run and every machine.

import { lowerBound } from './bounds.js';
import { branchAndBound } from './branch-and-bound.js';
import { placeInOrder } from './first-fit.js';
import { orderByConflicts, orderBySize } from './greedy.js';
import { localSearch, type Ordered } from './local-search.js';
import { arenaSize, makeProblem, toPlacement, type Problem } from './problem.js';
import type { PlacementAlgorithm } from './types.js';

export interface SearchOptions {
  /** Problems with at most this many buffers get the exact branch-and-bound. */
  exactLimit: number;
  /** Partial orders the branch-and-bound may visit. */
  nodeBudget: number;
  /** Orders the local search may evaluate. */
  iterations: number;
  seed: number;
}

/**
 * Sized so that a random problem of up to 40 buffers takes about 5 ms on average and under
 * 100 ms on a 2-core CI machine: the planner runs every algorithm on every model, and the tests
 * run them on hundreds of random problems. Budgets four times larger gained less than 0.03%
 * of arena on such problems. The seed is any fixed number.
 */
export const defaultSearchOptions: SearchOptions = {
  exactLimit: 16,
  nodeBudget: 5_000,
  iterations: 1_500,
  seed: 0x7153_7a11,
};

export function createSearch(options: Partial<SearchOptions> = {}): PlacementAlgorithm {
  const settings = { ...defaultSearchOptions, ...options };
  return {
    name: 'search',
    description:
      'the better greedy placement, improved by an exact branch-and-bound over first-fit orders ' +
      `(up to ${settings.exactLimit} buffers) or a seeded local search, until the lower bound`,
    place(buffers) {
      const problem = makeProblem(buffers);
      return toPlacement('search', problem, improve(problem, lowerBound(buffers), settings));
    },
  };
}

export const search = createSearch();

/** Offsets of the buffers of `problem`, as close to `target` as the budgets allow. */
function improve(problem: Problem, target: number, settings: SearchOptions): number[] {
  // 1. The better of the two greedy orders (greedy-by-size on a tie): never worse than either.
  const bySize = orderBySize(problem);
  let best = [bySize, orderByConflicts(problem)]
    .map((order) => ordered(problem, order, placeInOrder(problem, order)))
    .reduce((a, b) => (b.size < a.size ? b : a));
  if (best.size <= target) return best.offsets;

  // 2. Small problems: exact, unless the node budget runs out first.
  if (problem.buffers.length <= settings.exactLimit) {
    const rank: number[] = [];
    bySize.forEach((buffer, position) => (rank[buffer] = position));
    const exact = branchAndBound(problem, best, target, settings.nodeBudget, rank);
    if (exact.optimal) return exact.offsets;
    // The local search needs an order: replaying by first fit in offset order loses nothing.
    const order = orderByOffset(exact.offsets);
    best = ordered(problem, order, placeInOrder(problem, order));
  }

  // 3. Everything else: local search from the best order so far.
  return localSearch(problem, best, target, settings.iterations, settings.seed).offsets;
}

function ordered(problem: Problem, order: number[], offsets: number[]): Ordered {
  return { order, offsets, size: arenaSize(problem, offsets) };
}

function orderByOffset(offsets: readonly number[]): number[] {
  return offsets.map((_, i) => i).sort((a, b) => offsets[a] - offsets[b] || a - b);
}
