// Node ids as the page shows and places them. Pure: no DOM, no peer (tests/page/ids.test.mjs).

/** First 8 hex digits of an id. @param {string} id */
export const short = (id) => id.slice(0, 8);

/** Position on the circle in [0, 1): the first 13 hex digits (52 bits) as a fraction. @param {string} id */
export function frac(id) {
  const f = parseInt(id.slice(0, 13), 16) / 2 ** 52;
  return Number.isFinite(f) ? f : 0;
}

/** Clockwise distance from `from` to `to` on the circle, in [0, 1). @param {string} from @param {string} to */
export const cw = (from, to) => (frac(to) - frac(from) + 1) % 1;
