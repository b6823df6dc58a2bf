// Draws one scored trace: summary figures, the step table (each step coloured by its reward or
// value, its tokens coloured by their token rewards) and the hover tooltip for tokens.
import { diverging, maxAbs, plain, signed } from './format.js';

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    // Through the CSSOM: the page's Content-Security-Policy forbids inline style attributes.
    else if (k === 'style') for (const [p, val] of Object.entries(v)) node.style.setProperty(p, val);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

export function renderSummary(target, response, aggregate) {
  const r = response.results[0];
  const last = r.steps[r.steps.length - 1];
  const m = response.model;
  const card = (id, label, value, hint) =>
    el('div', { class: 'card', id }, el('span', { class: 'label' }, label), el('span', { class: 'figure' }, value), el('span', { class: 'hint' }, hint));
  target.replaceChildren(
    card('summary-score', `score · ${aggregate} of rewards`, signed(r.score), 'higher ranks first'),
    card('summary-outcome', 'outcome reward q\u2099', signed(r.outcome_reward), 'sum of step rewards'),
    card('summary-value', 'final value σ(q\u2099)', plain(last.value), 'chance of a right answer'),
    card('summary-model', `model · β ${m.beta}${m.reference_free ? ' · no reference' : ''}`, m.name, `${response.usage.response_tokens} tokens, ${r.cached_tokens} cached · ${m.fingerprint.slice(7, 15)}`),
  );
}

/**
 * Token labels for a step. The API returns one reward per token but not the token strings; when
 * the counts line up with the characters (character-level tokenizers such as the arithmetic
 * models') each token is labelled with its character, plus the separator or end-of-sequence token
 * that follows the step. Otherwise tokens are shown as numbered cells under the text.
 */
function tokenLabels(text, count, isLast) {
  const chars = Array.from(text);
  if (count === chars.length) return chars;
  if (count === chars.length + 1) return [...chars, isLast ? '⟨eos⟩' : '↵'];
  return null;
}

export function renderSteps(tbody, steps, result, colorBy) {
  const rewards = result.steps.map((s) => s.reward);
  const tokenRewards = result.token_rewards ?? result.steps.map(() => []);
  const scaleR = maxAbs(rewards);
  const scaleV = maxAbs(result.steps.map((s) => s.value - 0.5));
  const scaleT = maxAbs(tokenRewards.flat());
  const rows = result.steps.map((s, k) => {
    const tint = colorBy === 'value' ? diverging((s.value - 0.5) / scaleV) : diverging(s.reward / scaleR);
    const labels = tokenLabels(steps[k], s.tokens, k === result.steps.length - 1);
    const tokens = (tokenRewards[k] ?? []).map((tr, i) =>
      el(
        'span',
        {
          class: `tok${labels ? '' : ' cell'}${labels && (labels[i] === '↵' || labels[i] === '⟨eos⟩') ? ' special' : ''}`,
          style: { background: diverging(tr / scaleT, 0.7) },
          dataset: { step: String(k), index: String(i), reward: String(tr), label: labels ? labels[i] : `#${i + 1}` },
        },
        labels ? labels[i] : '',
      ),
    );
    const textCell = labels
      ? el('td', { class: 'text' }, el('div', { class: 'tokens' }, ...tokens))
      : el('td', { class: 'text' }, el('div', { class: 'plain' }, steps[k]), el('div', { class: 'tokens strip' }, ...tokens));
    return el(
      'tr',
      { class: 'step', style: { '--tint': tint }, dataset: { step: String(k) } },
      el('td', { class: 'idx' }, String(k + 1)),
      textCell,
      el('td', { class: 'num reward' }, signed(s.reward)),
      el('td', { class: 'num q' }, signed(s.q)),
      el('td', { class: 'num value' }, el('span', { class: 'bar', style: { '--v': String(s.value) } }), plain(s.value)),
      el('td', { class: 'num count' }, String(s.tokens)),
    );
  });
  tbody.replaceChildren(...rows);
}

/** One tooltip element follows the pointer over tokens and chart points. */
export function installTooltip(tooltip, root) {
  const show = (target, x, y) => {
    const d = target.dataset;
    const lines =
      d.kind === 'point'
        ? [['step', d.label], ['q', signed(Number(d.q))], ['reward', signed(Number(d.reward))], ['value', plain(Number(d.value))]]
        : [['token', JSON.stringify(d.label)], ['reward', signed(Number(d.reward))], ['position', `step ${Number(d.step) + 1}, token ${Number(d.index) + 1}`]];
    tooltip.replaceChildren(
      ...lines.map(([k, v]) => el('div', { class: `tip-${k}` }, el('span', { class: 'k' }, k), el('span', { class: 'v' }, v))),
    );
    tooltip.hidden = false;
    const pad = 14;
    const w = tooltip.offsetWidth;
    const h = tooltip.offsetHeight;
    tooltip.style.left = `${Math.min(x + pad, window.innerWidth - w - 4)}px`;
    tooltip.style.top = `${y + pad + h > window.innerHeight ? y - h - pad : y + pad}px`;
  };
  root.addEventListener('mouseover', (e) => {
    const t = e.target.closest('.tok, .point');
    if (t) show(t, e.clientX, e.clientY);
  });
  root.addEventListener('mousemove', (e) => {
    const t = e.target.closest('.tok, .point');
    if (t && !tooltip.hidden) show(t, e.clientX, e.clientY);
  });
  root.addEventListener('mouseout', (e) => {
    if (e.target.closest('.tok, .point')) tooltip.hidden = true;
  });
}
