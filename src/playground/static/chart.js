// The q curve: q_0 = 0, then q_k after each step, as an SVG line chart. A step's reward is the
// rise or fall of the segment that ends at it, so the steepest drop is the step the model
// distrusts most; points are coloured by that reward's sign and carry their numbers for hover.
import { solid } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 240;
const M = { top: 16, right: 20, bottom: 34, left: 58 };

const svg = (tag, attrs = {}, text) => {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, String(v));
  }
  if (text !== undefined) node.textContent = text;
  return node;
};

/** About five round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function renderChart(figure, steps, result) {
  const qs = [0, ...result.steps.map((s) => s.q)];
  let lo = Math.min(...qs);
  let hi = Math.max(...qs);
  const padY = (hi - lo || 1) * 0.12;
  lo -= padY;
  hi += padY;
  const x = (k) => M.left + (k / Math.max(1, qs.length - 1)) * (W - M.left - M.right);
  const y = (q) => M.top + ((hi - q) / (hi - lo)) * (H - M.top - M.bottom);

  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'q after each step' });
  const grid = svg('g', { class: 'grid' });
  for (const t of ticks(lo, hi)) {
    grid.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }));
    grid.append(svg('text', { x: M.left - 8, y: y(t) + 4, 'text-anchor': 'end' }, t.toString()));
  }
  qs.forEach((_, k) => {
    grid.append(svg('text', { x: x(k), y: H - M.bottom + 18, 'text-anchor': 'middle' }, k === 0 ? 'start' : `step ${k}`));
  });
  root.append(grid);
  if (lo < 0 && hi > 0) root.append(svg('line', { class: 'zero', x1: M.left, x2: W - M.right, y1: y(0), y2: y(0) }));
  root.append(svg('text', { class: 'axis-title', x: 14, y: M.top + (H - M.top - M.bottom) / 2, transform: `rotate(-90 14 ${M.top + (H - M.top - M.bottom) / 2})`, 'text-anchor': 'middle' }, 'q'));

  const points = qs.map((q, k) => `${x(k).toFixed(1)},${y(q).toFixed(1)}`);
  const base = y(Math.min(Math.max(0, lo), hi));
  root.append(svg('path', { class: 'area', d: `M${x(0)},${base} L${points.join(' L')} L${x(qs.length - 1)},${base} Z` }));
  // One segment per step, coloured by the step's reward.
  result.steps.forEach((s, k) => {
    root.append(svg('line', { class: 'segment', x1: x(k), y1: y(qs[k]), x2: x(k + 1), y2: y(qs[k + 1]), stroke: solid(s.reward) }));
  });
  root.append(svg('circle', { class: 'origin', cx: x(0), cy: y(0), r: 4 }));
  result.steps.forEach((s, k) => {
    root.append(
      svg('circle', {
        class: 'point',
        cx: x(k + 1),
        cy: y(s.q),
        r: 6,
        fill: solid(s.reward),
        dataset: { kind: 'point', label: `${k + 1}: ${steps[k]}`, q: String(s.q), reward: String(s.reward), value: String(s.value) },
      }),
    );
  });
  figure.replaceChildren(root);
}
