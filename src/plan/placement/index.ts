// The placement algorithms, chosen by name, and what the planner needs around them.

import { diagnostics } from '../../diagnostics.js';
import { greedyByConflicts, greedyBySize } from './greedy.js';
import { search } from './search.js';
import type { BufferRequest, Placement, PlacementAlgorithm } from './types.js';

export type { BufferRequest, PlacedBuffer, Placement, PlacementAlgorithm } from './types.js';
export { lowerBound } from './bounds.js';
export { validatePlacement } from './validate.js';
export { createSearch, defaultSearchOptions, type SearchOptions } from './search.js';
export { renderTimeline, type TimelineOptions } from './timeline.js';

/** In order of preference: `placeBest` keeps the first of equally small placements. */
export const placementAlgorithms: readonly PlacementAlgorithm[] = [
  greedyBySize,
  greedyByConflicts,
  search,
];

export function getPlacementAlgorithm(name: string): PlacementAlgorithm {
  const found = placementAlgorithms.find((a) => a.name === name);
  if (!found) throw diagnostics.unknownPlacement(name, placementAlgorithms.map((a) => a.name));
  return found;
}

/** Runs every algorithm and keeps the smallest arena; the earlier algorithm on a tie. */
export function placeBest(buffers: readonly BufferRequest[]): Placement {
  return placementAlgorithms
    .map((algorithm) => algorithm.place(buffers))
    .reduce((best, next) => (next.size < best.size ? next : best));
}
