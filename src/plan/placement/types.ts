// The interface between the memory planner and its placement algorithms.
//
// The planner turns tensor lifetimes into buffer requests; an algorithm gives each request an
// arena offset. Steps are positions in the execution schedule, so two buffers whose step
// intervals intersect are live at the same time and must not share bytes.

export interface BufferRequest {
  /** Unique among the requests of one problem; the last tie-break of every ordering. */
  name: string;
  /** Bytes, > 0. */
  size: number;
  /** Bytes, a power of two: the offset must be a multiple of it. */
  alignment: number;
  /** First schedule step at which the buffer is live (inclusive). */
  firstUse: number;
  /** Last schedule step at which the buffer is live (inclusive, >= firstUse). */
  lastUse: number;
}

export interface PlacedBuffer extends BufferRequest {
  offset: number;
}

export interface Placement {
  /** Name of the algorithm that produced it. */
  algorithm: string;
  /** Every request, with its offset, in name order whatever the order of the requests. */
  buffers: PlacedBuffer[];
  /** Arena bytes: the largest offset + size (0 without buffers). */
  size: number;
}

export interface PlacementAlgorithm {
  name: string;
  /** One line for people choosing an algorithm. */
  description: string;
  /** Throws InternalError on requests that break the rules above (a bug of the caller). */
  place(buffers: readonly BufferRequest[]): Placement;
}
