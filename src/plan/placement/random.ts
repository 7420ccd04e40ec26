// A seeded pseudo-random generator, so that the randomized search gives the same placement on
// every run and every machine (Math.random cannot be seeded).

/** xorshift32 (Marsaglia): period 2³² − 1, plenty for choosing moves. */
export function seededRandom(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return (below) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return Math.floor((state / 2 ** 32) * below);
  };
}
