// Randomized local search over first-fit orders, for problems too large to search exactly.
//
// Like USMP's hill climb, it moves a buffer that reaches the top of the arena earlier in the
// order, where first fit may find it a lower place. Moves that leave the arena as large are kept,
// so the search walks across the many orders of equal size instead of stopping at the first
// one; after a while without progress it restarts from the best order, shaken by random swaps.

import { placeInOrder } from './first-fit.js';
import type { Problem } from './problem.js';
import { seededRandom } from './random.js';

/** An order and its placement: `offsets` are first fit of the buffers in `order`. */
export interface Ordered {
  order: number[];
  offsets: number[];
  size: number;
}

interface Scored extends Ordered {
  /** Buffers whose end is the arena size, in placement order: all must move down. */
  top: number[];
}

/**
 * Evaluates at most `iterations` orders, starting from `start`, and stops early at `target` (a
 * lower bound). An evaluation costs O(n²) for n buffers at most, less when the move leaves the
 * start of the order as it was.
 */
export function localSearch(
  problem: Problem,
  start: Ordered,
  target: number,
  iterations: number,
  seed: number,
): Ordered {
  const random = seededRandom(seed);
  const n = problem.buffers.length;
  // Moves without a new best before a restart; 2n did better than 4n, 8n and 16n on random
  // problems of up to 40 buffers.
  const patience = 2 * n;
  let current = score(problem, start);
  let best = current;
  let stale = 0;

  for (let i = 0; i < iterations && best.size > target; i++) {
    // 1. Restart from the best order, shaken, when the current walk has stopped paying off.
    if (stale > patience) {
      current = reorder(problem, best, shake(best.order, random));
      stale = 0;
    }

    // 2. Move a buffer from the top earlier in the order: before a random buffer, or in place
    // of a conflicting buffer that came before it.
    const order = moveTopBuffer(problem, current, random);
    if (order === undefined) {
      stale++;
      continue;
    }
    const candidate = reorder(problem, current, order);

    // 3. Keep the move unless it makes things worse; remember the best order seen.
    if (candidate.size <= current.size) current = candidate;
    if (candidate.size < best.size) {
      best = candidate;
      stale = 0;
    } else {
      stale++;
    }
  }
  return { order: best.order, offsets: best.offsets, size: best.size };
}

function moveTopBuffer(
  problem: Problem,
  current: Scored,
  random: (below: number) => number,
): number[] | undefined {
  const { order, top } = current;
  const moved = top[random(top.length)];
  const from = order.indexOf(moved);
  if (from === 0) return undefined;

  const next = [...order];
  if (random(2) === 0) {
    next.splice(from, 1);
    next.splice(random(from), 0, moved);
    return next;
  }
  const before = problem.conflicts[moved].filter((j) => order.indexOf(j) < from);
  if (before.length === 0) return undefined;
  const other = order.indexOf(before[random(before.length)]);
  [next[from], next[other]] = [next[other], next[from]];
  return next;
}

/** A few random swaps: enough to leave the current basin, few enough to keep most of it. */
function shake(order: readonly number[], random: (below: number) => number): number[] {
  const next = [...order];
  const swaps = 1 + random(Math.max(1, Math.ceil(next.length / 8)));
  for (let s = 0; s < swaps; s++) {
    const a = random(next.length);
    const b = random(next.length);
    [next[a], next[b]] = [next[b], next[a]];
  }
  return next;
}

/**
 * Places `order` by first fit, reusing the offsets of `previous` for the prefix both orders
 * share: a move changes the order from some position on, and usually late in it.
 */
function reorder(problem: Problem, previous: Ordered, order: number[]): Scored {
  let same = 0;
  while (same < order.length && order[same] === previous.order[same]) same++;
  const offsets = placeInOrder(problem, order, { offsets: previous.offsets, count: same });
  return score(problem, { order, offsets, size: 0 });
}

function score(problem: Problem, placed: Ordered): Scored {
  const ends = placed.offsets.map((offset, i) => offset + problem.buffers[i].size);
  const size = Math.max(0, ...ends);
  return { ...placed, size, top: placed.order.filter((i) => ends[i] === size) };
}
