// A seeded generator for tests that try many changed inputs: a failure names a seed, so the
// case can be run again.

/** Numbers in [0, 1) from `seed`, the same sequence every time. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
