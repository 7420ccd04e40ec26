// Exact search over first-fit orders, for small problems.
//
// Replaying an optimal placement by first fit in offset order moves no buffer up, so it stays
// optimal; replaying again and again must stop (offsets cannot fall forever) at an optimal
// placement that the replay gives back unchanged. Along that order the offsets never decrease.
// So the search only extends an order with a buffer whose first-fit offset is at least that of
// the buffer placed last (at an equal offset, only with a higher index), and still finds an
// optimum: this rules out most of the n! orders before they are tried.

import { lowestFreeOffset, UNPLACED } from './first-fit.js';
import type { Problem } from './problem.js';

export interface Incumbent {
  offsets: number[];
  size: number;
}

export interface BranchAndBoundResult extends Incumbent {
  /** The search ended within its budget, so no placement is smaller than `size`. */
  optimal: boolean;
}

/**
 * Improves on `start` until it reaches `target` (a lower bound) or `nodeBudget` partial orders
 * were extended. `rank` orders the buffers tried at equal offsets, best first.
 *
 * A node costs O(n²) for n buffers: first fit of each unplaced buffer against the placed ones,
 * and the bound over at most n distinct first steps.
 */
export function branchAndBound(
  problem: Problem,
  start: Incumbent,
  target: number,
  nodeBudget: number,
  rank: readonly number[],
): BranchAndBoundResult {
  const { buffers } = problem;
  const n = buffers.length;
  const best: Incumbent = { offsets: [...start.offsets], size: start.size };
  const offsets = new Array<number>(n).fill(UNPLACED);
  // The order being built. Its offsets never decrease, so it is also sorted by offset.
  const placed: number[] = [];
  const cover = stepsCovered(problem);
  let nodes = 0;
  let outOfBudget = false;

  // Depth-first; `height` is the arena used so far.
  const extend = (height: number): void => {
    if (best.size <= target) return;
    if (++nodes > nodeBudget) {
      outOfBudget = true;
      return;
    }
    if (placed.length === n) {
      best.offsets = [...offsets];
      best.size = height;
      return;
    }

    // 1. The buffers that may come next, each with its first-fit offset and the arena it leaves.
    const last = placed.length === 0 ? UNPLACED : placed[placed.length - 1];
    const floor = last === UNPLACED ? 0 : offsets[last];
    const next: [offset: number, index: number][] = [];
    for (let j = 0; j < n; j++) {
      if (offsets[j] !== UNPLACED) continue;
      const offset = lowestFreeOffset(problem, offsets, placed, j);
      if (offset < floor || (offset === floor && j < last)) {
        // Its first fit only rises as its conflicting buffers are placed. With all of them
        // placed it is final, and no order through this node can place the buffer.
        if (problem.conflicts[j].every((c) => offsets[c] !== UNPLACED)) return;
        continue;
      }
      if (Math.max(height, offset + buffers[j].size) >= best.size) continue;
      next.push([offset, j]);
    }
    if (next.length === 0) return;

    // 2. Every buffer still to place lands at or above the lowest of those offsets: give up on
    // this order when what must fit above it, at some step, already reaches the best arena.
    const lowest = Math.min(...next.map(([offset]) => offset));
    if (boundAbove(problem, cover, offsets, lowest) >= best.size) return;

    // 3. Lowest offset first (bottom-left), so that good placements are found early.
    next.sort((a, b) => a[0] - b[0] || rank[a[1]] - rank[b[1]]);
    for (const [offset, j] of next) {
      offsets[j] = offset;
      placed.push(j);
      extend(Math.max(height, offset + buffers[j].size));
      placed.pop();
      offsets[j] = UNPLACED;
      if (best.size <= target || outOfBudget) return;
    }
  };

  extend(0);
  return { ...best, optimal: !outOfBudget };
}

/**
 * For each buffer, the indices of the distinct first steps its lifetime covers. The most bytes
 * live at one time is always reached at some buffer's first step, so those steps are enough.
 */
function stepsCovered(problem: Problem): number[][] {
  const steps = [...new Set(problem.buffers.map((b) => b.firstUse))].sort((a, b) => a - b);
  return problem.buffers.map((b) =>
    steps.flatMap((s, k) => (s >= b.firstUse && s <= b.lastUse ? [k] : [])),
  );
}

/**
 * A lower bound on the arena of any completion whose remaining buffers all lie at or above
 * `floor`: at each step, `floor` plus the placed bytes above it plus the unplaced bytes live.
 */
function boundAbove(
  problem: Problem,
  cover: readonly number[][],
  offsets: readonly number[],
  floor: number,
): number {
  const above = new Array<number>(problem.buffers.length).fill(0);
  problem.buffers.forEach((b, i) => {
    const offset = offsets[i];
    const end = offset + b.size;
    const bytes = offset === UNPLACED ? b.size : Math.max(0, end - Math.max(offset, floor));
    for (const k of cover[i]) above[k] += bytes;
  });
  return floor + Math.max(...above);
}
