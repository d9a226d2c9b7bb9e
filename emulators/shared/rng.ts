/**
 * A small seeded pseudo-random generator (mulberry32). Fault injection must replay the same
 * decisions for the same seed and request order, which Math.random cannot give.
 */

/** A function returning uniformly distributed numbers in [0, 1). */
export type Random = () => number;

/** Returns a generator of floats in [0, 1) determined entirely by `seed`. */
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
