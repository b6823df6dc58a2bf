// Number formatting and colour scales shared by the table, the tokens and the chart. One place
// decides the displayed precision, so what the page shows can be checked against the API.

export const DIGITS = 4;

/** Rewards and q: signed, fixed precision. */
export const signed = (x) => (x > 0 ? '+' : '') + x.toFixed(DIGITS);

/** Values σ(q) in (0, 1). */
export const plain = (x) => x.toFixed(DIGITS);

const GOOD = [22, 163, 74];
const BAD = [220, 38, 38];

/**
 * Diverging colour for t in [-1, 1]: red below zero, green above, transparent at zero. Scales
 * are relative to the trace (t = x / max|x|) because an untrained or β-scaled model's rewards can
 * be tiny, and what matters on screen is which steps stand out.
 */
export function diverging(t, maxAlpha = 0.55) {
  const c = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const [r, g, b] = c >= 0 ? GOOD : BAD;
  return `rgba(${r}, ${g}, ${b}, ${(Math.abs(c) * maxAlpha).toFixed(3)})`;
}

export const solid = (x) => `rgb(${(x >= 0 ? GOOD : BAD).join(', ')})`;

/** max |x| over a list, never 0 (so dividing by it is safe). */
export function maxAbs(xs) {
  return xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0) || 1;
}
