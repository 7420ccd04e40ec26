// First fit: the placement step every algorithm here shares.
//
// A buffer goes at the lowest aligned offset where it overlaps no buffer that conflicts with it
// and was placed before it; gaps left by earlier buffers are reused. What distinguishes the
// algorithms is only the order in which they hand buffers to this step. That loses nothing:
// for every problem some order makes first fit optimal (replay an optimal placement in offset
// order; each buffer lands at or below where it was), so searching orders is enough.

import type { Problem } from './problem.js';

/** Offsets indexed like problem.buffers; this marks a buffer not placed yet. */
export const UNPLACED = -1;

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/**
 * Lowest offset for buffer `index`, given the placed buffers in `byOffset` sorted by offset.
 * O(m) for m placed buffers. Callers keep that list sorted as they go: sorting the conflicting
 * buffers on every call instead made the search about three times slower.
 */
export function lowestFreeOffset(
  problem: Problem,
  offsets: readonly number[],
  byOffset: readonly number[],
  index: number,
): number {
  const { buffers, conflictMatrix } = problem;
  const { size, alignment } = buffers[index];
  const row = index * buffers.length;

  // Walk the placed buffers upwards; the candidate only moves up, past those it would overlap.
  let candidate = 0;
  for (const j of byOffset) {
    if (conflictMatrix[row + j] === 0) continue;
    if (candidate + size <= offsets[j]) break;
    const end = offsets[j] + buffers[j].size;
    if (end > candidate) candidate = alignUp(end, alignment);
  }
  return candidate;
}

/**
 * First fit of every buffer in `order` (a permutation of the buffer indices). With `reuse`, the
 * first `count` buffers of `order` keep their offsets in `reuse.offsets`: a caller that changes
 * the end of an order need not place its unchanged beginning again. O(n²) at most.
 */
export function placeInOrder(
  problem: Problem,
  order: readonly number[],
  reuse: { offsets: readonly number[]; count: number } = { offsets: [], count: 0 },
): number[] {
  const offsets = new Array<number>(problem.buffers.length).fill(UNPLACED);
  const kept = order.slice(0, reuse.count);
  for (const i of kept) offsets[i] = reuse.offsets[i];
  const byOffset = kept.sort((a, b) => offsets[a] - offsets[b]);

  for (const i of order.slice(reuse.count)) {
    offsets[i] = lowestFreeOffset(problem, offsets, byOffset, i);
    byOffset.splice(insertionPoint(byOffset, offsets, offsets[i]), 0, i);
  }
  return offsets;
}

/** Where `offset` goes in `byOffset` to keep it sorted: after the equal ones (binary search). */
function insertionPoint(byOffset: readonly number[], offsets: readonly number[], offset: number) {
  let low = 0;
  let high = byOffset.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (offsets[byOffset[middle]] <= offset) low = middle + 1;
    else high = middle;
  }
  return low;
}
