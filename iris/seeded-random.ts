/**
 * mulberry32: a small, fast, seeded generator for randomised algorithms (RANSAC), tests and benchmarks
 * that must give the same result on every run. Not for secrets. (The synthetic eye generator has its
 * own sfc32 `Rng` in synth/random.ts, with string seeds and normal draws.)
 */

/** Uniform 32-bit unsigned integers. */
export function seededUint32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  const next = seededUint32(seed);
  return () => next() / 4294967296;
}
