// The placement algorithms of the memory planner: hand-checked tables, then properties over
// random lifetime sets.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InternalError, TlgError } from '../src/diagnostics.js';
import {
  createSearch,
  getPlacementAlgorithm,
  lowerBound,
  placeBest,
  placementAlgorithms,
  renderTimeline,
  validatePlacement,
  type BufferRequest,
  type Placement,
} from '../src/plan/placement/index.js';

/** [name, size, alignment, firstUse, lastUse] */
type Row = [string, number, number, number, number];

function requests(rows: readonly Row[]): BufferRequest[] {
  return rows.map(([name, size, alignment, firstUse, lastUse]) => ({
    name,
    size,
    alignment,
    firstUse,
    lastUse,
  }));
}

function offsetsOf(placement: Placement): Record<string, number> {
  return Object.fromEntries(placement.buffers.map((b) => [b.name, b.offset]));
}

interface Case {
  name: string;
  rows: Row[];
  lowerBound: number;
  /** Arena and offsets per algorithm, worked out by hand. */
  expected: Record<string, { size: number; offsets: Record<string, number> }>;
}

const cases: Case[] = [
  {
    name: 'one buffer',
    rows: [['x', 100, 16, 0, 0]],
    lowerBound: 100,
    expected: {
      'greedy-by-size': { size: 100, offsets: { x: 0 } },
      'greedy-by-conflicts': { size: 100, offsets: { x: 0 } },
      search: { size: 100, offsets: { x: 0 } },
    },
  },
  {
    // Lifetimes that touch (last use s, first use s + 1) do not conflict.
    name: 'disjoint lifetimes all reuse offset 0',
    rows: [
      ['a', 64, 4, 0, 0],
      ['b', 128, 4, 1, 1],
      ['c', 32, 4, 2, 2],
    ],
    lowerBound: 128,
    expected: {
      'greedy-by-size': { size: 128, offsets: { a: 0, b: 0, c: 0 } },
      'greedy-by-conflicts': { size: 128, offsets: { a: 0, b: 0, c: 0 } },
      search: { size: 128, offsets: { a: 0, b: 0, c: 0 } },
    },
  },
  {
    // Each op reads the previous output. By size: t3 at 0, t1 at 0 (t3 is dead by then), t0
    // above t1, t2 above t3. By conflict bytes (t2 550, t3 350, t1 350, t0 300): t2 at 0, t3
    // and t1 above it, t0 above t1. Both reach the bound; search keeps greedy-by-size's.
    name: 'a chain',
    rows: [
      ['t0', 100, 1, 0, 1],
      ['t1', 200, 1, 1, 2],
      ['t2', 50, 1, 2, 3],
      ['t3', 300, 1, 3, 4],
    ],
    lowerBound: 350,
    expected: {
      'greedy-by-size': { size: 350, offsets: { t0: 200, t1: 0, t2: 300, t3: 0 } },
      'greedy-by-conflicts': { size: 350, offsets: { t0: 250, t1: 50, t2: 0, t3: 50 } },
      search: { size: 350, offsets: { t0: 200, t1: 0, t2: 300, t3: 0 } },
    },
  },
  {
    // c and a overlap at step 2, so one sits on the other; b must sit beside c (step 1) and d
    // beside a (step 3). Greedy-by-size puts b and d at 0, which leaves a and c stacked above
    // them: 4 bytes. Greedy-by-conflicts puts a at 0 and c at 1, leaving b nowhere below 2.
    // The optimum puts c on top and a at the bottom: 3 bytes, the bound.
    name: 'greedy is not optimal, search reaches the bound',
    rows: [
      ['a', 1, 1, 2, 4],
      ['b', 2, 1, 1, 1],
      ['c', 1, 1, 0, 2],
      ['d', 2, 1, 3, 3],
    ],
    lowerBound: 3,
    expected: {
      'greedy-by-size': { size: 4, offsets: { a: 2, b: 0, c: 3, d: 0 } },
      'greedy-by-conflicts': { size: 4, offsets: { a: 0, b: 2, c: 1, d: 1 } },
      search: { size: 3, offsets: { a: 0, b: 0, c: 2, d: 1 } },
    },
  },
  {
    // Live together. b at 0 ends at 6; a needs a multiple of 4, so 8: 13 bytes. The other
    // order ends at 14 (a at 0, b at 8). So 13 is optimal, and the 2 bytes of padding keep
    // every algorithm above the bound.
    name: 'alignment padding',
    rows: [
      ['a', 5, 4, 0, 1],
      ['b', 6, 8, 0, 1],
    ],
    lowerBound: 11,
    expected: {
      'greedy-by-size': { size: 13, offsets: { a: 8, b: 0 } },
      'greedy-by-conflicts': { size: 13, offsets: { a: 8, b: 0 } },
      search: { size: 13, offsets: { a: 8, b: 0 } },
    },
  },
  {
    // Same size, same conflicts: names decide, whatever the order of the requests.
    name: 'equal sizes are ordered by name',
    rows: [
      ['c', 32, 4, 0, 1],
      ['a', 32, 4, 0, 1],
      ['b', 32, 4, 0, 1],
    ],
    lowerBound: 96,
    expected: {
      'greedy-by-size': { size: 96, offsets: { a: 0, b: 32, c: 64 } },
      'greedy-by-conflicts': { size: 96, offsets: { a: 0, b: 32, c: 64 } },
      search: { size: 96, offsets: { a: 0, b: 32, c: 64 } },
    },
  },
  {
    // A at 0; B at 0 (A is dead at step 1); C above A; D conflicts with B [0, 60) and
    // C [100, 150) and fits the gap between them.
    name: 'first fit fills a gap between two buffers',
    rows: [
      ['A', 100, 4, 0, 0],
      ['B', 60, 4, 1, 1],
      ['C', 50, 4, 0, 1],
      ['D', 40, 4, 1, 1],
    ],
    lowerBound: 150,
    expected: {
      'greedy-by-size': { size: 150, offsets: { A: 0, B: 0, C: 100, D: 60 } },
    },
  },
];

describe('placement tables', () => {
  for (const c of cases) {
    describe(c.name, () => {
      const buffers = requests(c.rows);

      it('has the hand-checked lower bound', () => {
        expect(lowerBound(buffers)).toBe(c.lowerBound);
      });

      for (const [algorithm, expected] of Object.entries(c.expected)) {
        it(`${algorithm} gives the hand-checked offsets`, () => {
          const placement = getPlacementAlgorithm(algorithm).place(buffers);
          validatePlacement(placement);
          expect(placement.algorithm).toBe(algorithm);
          expect(placement.size).toBe(expected.size);
          expect(offsetsOf(placement)).toEqual(expected.offsets);
        });
      }
    });
  }

  it('placeBest keeps the first algorithm of equally small placements', () => {
    const chain = requests(cases[2].rows);
    expect(placeBest(chain).algorithm).toBe('greedy-by-size');
    const classic = requests(cases[3].rows);
    expect(placeBest(classic)).toMatchObject({ algorithm: 'search', size: 3 });
  });

  it('places no buffers in an empty arena', () => {
    for (const algorithm of placementAlgorithms) {
      expect(algorithm.place([])).toEqual({ algorithm: algorithm.name, buffers: [], size: 0 });
    }
    expect(lowerBound([])).toBe(0);
  });
});

describe('registry', () => {
  it('lists the algorithms in order of preference', () => {
    expect(placementAlgorithms.map((a) => a.name)).toEqual([
      'greedy-by-size',
      'greedy-by-conflicts',
      'search',
    ]);
  });

  it('names the known algorithms when asked for an unknown one', () => {
    let error: unknown;
    try {
      getPlacementAlgorithm('best-fit');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TlgError);
    expect(error).toMatchObject({
      code: 'TLG-304',
      message:
        'unknown placement algorithm "best-fit" ' +
        '(known: greedy-by-size, greedy-by-conflicts, search)',
    });
  });

  it('refuses malformed requests as internal errors', () => {
    const malformed: Row[][] = [
      [['a', 4, 4, 0, 0], ['a', 4, 4, 1, 1]],
      [['a', 0, 4, 0, 0]],
      [['a', 4, 3, 0, 0]],
      [['a', 4, 4, 2, 1]],
    ];
    for (const rows of malformed) {
      for (const algorithm of placementAlgorithms) {
        expect(() => algorithm.place(requests(rows))).toThrow(InternalError);
      }
    }
  });
});

describe('validatePlacement', () => {
  const placed = (): Placement => getPlacementAlgorithm('search').place(requests(cases[3].rows));
  const edit = (name: string, offset: number): Placement => {
    const p = placed();
    return {
      ...p,
      buffers: p.buffers.map((b) => (b.name === name ? { ...b, offset } : b)),
    };
  };

  it('accepts a valid placement', () => {
    expect(() => validatePlacement(placed())).not.toThrow();
  });

  it('rejects buffers that overlap while both are live', () => {
    // c moved from 2 to 1 lands on b [0, 2), and both are live at step 1.
    expect(() => validatePlacement(edit('c', 1))).toThrow(InternalError);
    expect(() => validatePlacement(edit('c', 1))).toThrow(/"b" \[0, 2\) and "c" \[1, 2\)/);
  });

  it('allows overlap of buffers that are never live together', () => {
    const buffers = requests([['x', 8, 4, 0, 1], ['y', 8, 4, 2, 3]]);
    const shared = buffers.map((b) => ({ ...b, offset: 4 }));
    expect(() => validatePlacement({ algorithm: 'test', buffers: shared, size: 12 })).not.toThrow();
  });

  it('rejects a misaligned offset', () => {
    const p = getPlacementAlgorithm('greedy-by-size').place(requests(cases[4].rows));
    // Both up by one: still apart, but neither aligned; a comes first in name order.
    const buffers = p.buffers.map((b) => ({ ...b, offset: b.offset + 1 }));
    expect(() => validatePlacement({ ...p, buffers, size: 14 })).toThrow(/"a" at offset 9/);
  });

  it('rejects a size that is not the highest end', () => {
    expect(() => validatePlacement({ ...placed(), size: 4 })).toThrow(/arena size 4/);
  });
});

describe('lowerBound', () => {
  it('counts a buffer as live from its first to its last use, both included', () => {
    expect(lowerBound(requests([['a', 10, 1, 0, 2], ['b', 5, 1, 2, 3]]))).toBe(15);
    expect(lowerBound(requests([['a', 10, 1, 0, 1], ['b', 5, 1, 2, 3]]))).toBe(10);
  });

  it('does not round sizes up to their alignment', () => {
    expect(lowerBound(requests([['a', 3, 16, 0, 0]]))).toBe(3);
  });
});

describe('renderTimeline', () => {
  it('draws steps down and offsets across, with a legend and the bound', () => {
    const placement = getPlacementAlgorithm('search').place(requests(cases[3].rows));
    const steps = ['conv', 'relu', 'lstm', 'fc', 'softmax'];
    expect(renderTimeline(placement, { width: 12, steps })).toBe(
      [
        'memory plan by search: 4 buffers, steps 0-4, 0.3 bytes per column',
        'offset     0            3',
        '0 conv    |........AAAA|',
        '1 relu    |BBBBBBBBAAAA|',
        '2 lstm    |CCCC....AAAA|',
        '3 fc      |CCCCDDDDDDDD|',
        '4 softmax |CCCC........|',
        '     buffer  size  offset  align  steps',
        '  A  c          1       2      1  0-2',
        '  B  b          2       0      1  1-1',
        '  C  a          1       0      1  2-4',
        '  D  d          2       1      1  3-3',
        'arena 3 bytes, lower bound 3 bytes (1.000)',
        '',
      ].join('\n'),
    );
  });

  it('keeps a small buffer visible next to a large one', () => {
    const placement = getPlacementAlgorithm('greedy-by-size').place(
      requests([['big', 1000, 1, 0, 0], ['small', 1, 1, 0, 0]]),
    );
    const row = renderTimeline(placement, { width: 10 }).split('\n')[2];
    expect(row).toBe('0      |AAAAAAAAAB|');
  });

  it('falls back to one symbol past 62 buffers, and the legend still names each', () => {
    const many = requests(Array.from({ length: 70 }, (_, i): Row => [`t${i}`, 4, 4, i, i]));
    const text = renderTimeline(getPlacementAlgorithm('greedy-by-size').place(many));
    expect(text).toMatch(/^69 +\|\*{64}\|$/m);
    expect(text).toMatch(/^ +\* +t69 +4 +0 +4 +69-69$/m);
  });

  it('reports an empty plan', () => {
    expect(renderTimeline({ algorithm: 'search', buffers: [], size: 0 })).toBe(
      'memory plan by search: no buffers\narena 0 bytes, lower bound 0 bytes\n',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random lifetime sets
// ---------------------------------------------------------------------------------------------

const LAST_STEP = 40;

/** 1..maxBuffers requests with unique names, sizes 1..4096, lifetimes within steps 0..40. */
const lifetimeSets = (maxBuffers: number) =>
  fc
    .array(
      fc.record({
        size: fc.integer({ min: 1, max: 4096 }),
        alignment: fc.constantFrom(1, 4, 8, 16),
        firstUse: fc.integer({ min: 0, max: LAST_STEP }),
        length: fc.integer({ min: 0, max: LAST_STEP }),
      }),
      { minLength: 1, maxLength: maxBuffers, size: 'max' },
    )
    .map((rows) =>
      rows.map(({ size, alignment, firstUse, length }, i) => ({
        name: `t${i}`,
        size,
        alignment,
        firstUse,
        lastUse: Math.min(LAST_STEP, firstUse + length),
      })),
    );

const liveTogether = (a: BufferRequest, b: BufferRequest) =>
  a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;

/** An independent check of what validatePlacement checks, by brute force. */
function expectSound(requested: readonly BufferRequest[], placement: Placement): void {
  const { buffers } = placement;
  expect(buffers.map(({ offset, ...request }) => request)).toEqual(
    [...requested].sort((a, b) => (a.name < b.name ? -1 : 1)),
  );
  expect(buffers.filter((b) => b.offset % b.alignment !== 0)).toEqual([]);
  const clashes: string[] = [];
  for (let i = 0; i < buffers.length; i++) {
    for (let j = i + 1; j < buffers.length; j++) {
      const [a, b] = [buffers[i], buffers[j]];
      const apart = a.offset + a.size <= b.offset || b.offset + b.size <= a.offset;
      if (!apart && liveTogether(a, b)) clashes.push(`${a.name} ${b.name}`);
    }
  }
  expect(clashes).toEqual([]);
  expect(placement.size).toBe(Math.max(...buffers.map((b) => b.offset + b.size)));
}

interface Placed {
  b: BufferRequest;
  offset: number;
}

/**
 * The smallest arena over every placement order, each buffer at its lowest free offset. Some
 * order reaches the optimum (replay an optimal placement in offset order), so this is the
 * optimum, found without any of the code under test.
 */
function bruteForceOptimum(requested: readonly BufferRequest[]): number {
  const lowest = (b: BufferRequest, placed: Placed[]) => {
    const blockers = placed.filter((p) => liveTogether(p.b, b));
    const candidates = [0, ...blockers.map((p) => p.offset + p.b.size)]
      .map((o) => Math.ceil(o / b.alignment) * b.alignment)
      .sort((x, y) => x - y);
    return candidates.find((o) =>
      blockers.every((p) => o + b.size <= p.offset || p.offset + p.b.size <= o),
    )!;
  };
  let best = Infinity;
  const walk = (left: BufferRequest[], placed: Placed[], top: number) => {
    if (top >= best) return;
    if (left.length === 0) best = top;
    left.forEach((b, i) => {
      const offset = lowest(b, placed);
      const rest = left.filter((_, j) => j !== i);
      walk(rest, [...placed, { b, offset }], Math.max(top, offset + b.size));
    });
  };
  walk([...requested], [], 0);
  return best;
}

describe('placement properties', () => {
  it('every algorithm is sound, at or above the bound, and search beats each greedy', () => {
    fc.assert(
      fc.property(lifetimeSets(40), (requested) => {
        const bound = lowerBound(requested);
        const sizes = placementAlgorithms.map((algorithm) => {
          const placement = algorithm.place(requested);
          validatePlacement(placement);
          expectSound(requested, placement);
          expect(placement.size).toBeGreaterThanOrEqual(bound);
          return placement.size;
        });
        const [bySize, byConflicts, searched] = sizes;
        expect(searched).toBeLessThanOrEqual(Math.min(bySize, byConflicts));
      }),
      { numRuns: 100 },
    );
  });

  it('gives byte-identical results whatever the order of the requests', () => {
    const shuffled = lifetimeSets(40).chain((requested) =>
      fc.tuple(
        fc.constant(requested),
        fc.shuffledSubarray(requested, {
          minLength: requested.length,
          maxLength: requested.length,
        }),
      ),
    );
    fc.assert(
      fc.property(shuffled, ([requested, reordered]) => {
        for (const algorithm of placementAlgorithms) {
          expect(JSON.stringify(algorithm.place(reordered))).toBe(
            JSON.stringify(algorithm.place(requested)),
          );
        }
      }),
      { numRuns: 40 },
    );
  });

  it('search finds the optimum of small problems', () => {
    fc.assert(
      fc.property(lifetimeSets(6), (requested) => {
        expect(getPlacementAlgorithm('search').place(requested).size).toBe(
          bruteForceOptimum(requested),
        );
      }),
      { numRuns: 150 },
    );
  });

  it('search stays sound when its budgets run out at once', () => {
    const starved = createSearch({ nodeBudget: 1, iterations: 1 });
    fc.assert(
      fc.property(lifetimeSets(20), (requested) => {
        const placement = starved.place(requested);
        validatePlacement(placement);
        expectSound(requested, placement);
      }),
      { numRuns: 50 },
    );
  });
});
