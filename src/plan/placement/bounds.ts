// The lower bound that placements are measured against and that stops the search.

import type { BufferRequest } from './types.js';

/**
 * The largest total size of the buffers live at one schedule step: at that step they all need
 * their own bytes, so no placement can use a smaller arena.
 *
 * Sizes are not rounded up to their alignment: padding is only needed between buffers, never
 * above the top one, so rounding would overstate the bound (one 3-byte buffer aligned to 4 needs
 * an arena of 3 bytes, not 4). The price is a bound that padding can keep an arena from
 * reaching: the ratio to it then shows padding as well as fragmentation.
 *
 * One sweep over the starts and ends of the lifetimes finds it: O(n log n).
 */
export function lowerBound(buffers: readonly BufferRequest[]): number {
  const events: [step: number, delta: number][] = [];
  for (const b of buffers) {
    events.push([b.firstUse, b.size], [b.lastUse + 1, -b.size]);
  }
  // At equal steps the ends go first: a buffer whose last use is step s - 1 is dead at step s.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);

  let live = 0;
  let best = 0;
  for (const [, delta] of events) {
    live += delta;
    best = Math.max(best, live);
  }
  return best;
}
