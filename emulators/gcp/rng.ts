/**
 * Seeded pseudo-random numbers so that fault injection is reproducible: the same seed and the
 * same request order give the same faults.
 */

/** A function returning uniformly distributed numbers in [0, 1). */
export type Random = () => number;

/** Creates a mulberry32 generator; tiny, fast and good enough for test fault schedules. */
export function createSeededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
