// The check the planner runs on every placement before using it. A failure is a bug in an
// algorithm, so it throws InternalError, never a user diagnostic.

import { invariant } from '../../diagnostics.js';
import { liveTogether } from './problem.js';
import type { Placement } from './types.js';

/**
 * Throws unless every offset is a non-negative multiple of its alignment, buffers live at the
 * same time share no byte, and `size` is the end of the highest buffer. O(n log n) plus one
 * check per pair of buffers that share bytes.
 */
export function validatePlacement(placement: Placement): void {
  const { algorithm, buffers } = placement;
  const where = `placement by ${algorithm}`;

  let end = 0;
  for (const b of buffers) {
    invariant(
      Number.isSafeInteger(b.offset) && b.offset >= 0 && b.offset % b.alignment === 0,
      () =>
        `${where}: "${b.name}" at offset ${b.offset}, ` +
        `not a non-negative multiple of its alignment ${b.alignment}`,
    );
    end = Math.max(end, b.offset + b.size);
  }
  invariant(
    placement.size === end,
    () => `${where}: arena size ${placement.size} differs from the highest buffer end ${end}`,
  );

  // Sweep by offset: a buffer can only overlap those that start below its end.
  const byOffset = [...buffers].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < byOffset.length; i++) {
    const a = byOffset[i];
    for (let j = i + 1; j < byOffset.length && byOffset[j].offset < a.offset + a.size; j++) {
      const b = byOffset[j];
      invariant(
        !liveTogether(a, b),
        () =>
          `${where}: "${a.name}" [${a.offset}, ${a.offset + a.size}) and "${b.name}" ` +
          `[${b.offset}, ${b.offset + b.size}) overlap while both are live ` +
          `(steps ${a.firstUse}-${a.lastUse} and ${b.firstUse}-${b.lastUse})`,
      );
    }
  }
}
