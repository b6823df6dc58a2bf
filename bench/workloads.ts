/**
 * Seeded benchmark inputs. Every item is generated once and handed unchanged to both sides (the
 * service over HTTP and the PyTorch scorer), so the two always score exactly the same text.
 *
 * The bundles use a character-level tokenizer (one id per character, design §7), so response
 * tokens are counted here without a tokenizer: each step's characters, plus one separator per
 * step but the last, plus EOS on the last (or, for a partial trace, one separator per step and no
 * EOS: the same count). The service's usage.response_tokens is checked against these counts.
 */
import { seededRandom } from '../src/util/seeded-random.js';

export interface Item {
  id: string;
  prompt: string;
  steps: string[];
}

/** One trace of the tree workload: scored after each of its steps, prefix by prefix. */
export interface TreeTrace {
  id: string;
  prompt: string;
  steps: string[];
}

export interface TextShape {
  /** Steps per trace, inclusive range. */
  minSteps: number;
  maxSteps: number;
  /** Response tokens per trace, inclusive range (clamped to what the bundle accepts). */
  minTokens: number;
  maxTokens: number;
}

export const RL_SHAPE: TextShape = { minSteps: 4, maxSteps: 10, minTokens: 200, maxTokens: 600 };

export const rng = seededRandom;

function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

const OPS = ['+', '-', '*'] as const;

function apply(a: number, op: (typeof OPS)[number], b: number): number {
  return op === '+' ? a + b : op === '-' ? a - b : a * b;
}

/** "Compute 37 + 15 * 4 - 9." with 3 to 6 operands. */
function makePrompt(r: () => number): string {
  const n = int(r, 3, 6);
  let text = `Compute ${int(r, 2, 99)}`;
  for (let i = 1; i < n; i++) text += ` ${OPS[int(r, 0, 2)]} ${int(r, 2, 99)}`;
  return `${text}.`;
}

const PHRASES = [
  (a: number, op: string, b: number, c: number) => `${a} ${op} ${b} = ${c}`,
  (a: number, op: string, b: number, c: number) => `so ${a} ${op} ${b} gives ${c}`,
  (a: number, op: string, b: number, c: number) => `check: ${c} = ${a} ${op} ${b}`,
  (a: number, op: string, b: number, c: number) => `the running total is ${a} ${op} ${b} = ${c}`,
];

/** A step of exactly `chars` characters (>= 1) that reads like arithmetic working. */
function makeStep(r: () => number, k: number, chars: number): string {
  let text = `Step ${k}: `;
  let acc = int(r, 2, 99);
  while (text.length < chars) {
    const op = OPS[int(r, 0, 2)];
    const b = int(r, 2, op === '*' ? 12 : 99);
    const c = apply(acc, op, b);
    text += `${PHRASES[int(r, 0, PHRASES.length - 1)](acc, op, b, c)}; `;
    acc = c;
  }
  return text.slice(0, chars);
}

/** Splits `total` into `n` positive parts of similar size (±30%). */
function splitLengths(r: () => number, total: number, n: number): number[] {
  const weights = Array.from({ length: n }, () => 0.7 + 0.6 * r());
  const sum = weights.reduce((a, b) => a + b, 0);
  const parts = weights.map((w) => Math.max(1, Math.floor((w / sum) * total)));
  let rest = total - parts.reduce((a, b) => a + b, 0);
  for (let i = 0; rest !== 0; i = (i + 1) % n) {
    if (rest > 0) { parts[i]++; rest--; } else if (parts[i] > 1) { parts[i]--; rest++; }
  }
  return parts;
}

/** Characters of the rendered prompt segment ("Problem: {prompt}\nSolution:\n"). */
export function promptTokens(template: string, prompt: string): number {
  return Array.from(template.replace('{prompt}', prompt)).length;
}

/** Response tokens of a trace: characters + one separator or EOS per step (see file header). */
export function responseTokens(steps: readonly string[]): number {
  return steps.reduce((n, s) => n + Array.from(s).length + 1, 0);
}

export interface GenContext {
  template: string;
  /** The bundle's max_sequence_length: prompt + response must fit. */
  maxSequence: number;
}

/** One trace; the token target is clamped so that prompt + response fits the bundle. */
function makeTrace(r: () => number, ctx: GenContext, shape: TextShape, prompt: string): string[] {
  const n = int(r, shape.minSteps, shape.maxSteps);
  const room = ctx.maxSequence - promptTokens(ctx.template, prompt);
  const hi = Math.min(shape.maxTokens, room);
  const lo = Math.min(shape.minTokens, hi);
  const total = int(r, lo, hi);
  // n separators/EOS are part of the token count; the rest are step characters.
  return splitLengths(r, total - n, n).map((chars, k) => makeStep(r, k + 1, chars));
}

/** `prompts` prompts × `rollouts` rollouts; the rollouts of a prompt are consecutive items. */
export function rlItems(seed: number, prompts: number, rollouts: number, ctx: GenContext, shape = RL_SHAPE): Item[] {
  const r = rng(seed);
  const items: Item[] = [];
  for (let p = 0; p < prompts; p++) {
    const prompt = makePrompt(r);
    for (let k = 0; k < rollouts; k++) {
      items.push({ id: `s${seed}-p${p}-r${k}`, prompt, steps: makeTrace(r, ctx, shape, prompt) });
    }
  }
  return items;
}

/** `count` independent traces (distinct prompts) for the tree workload. */
export function treeTraces(seed: number, count: number, ctx: GenContext, shape = RL_SHAPE): TreeTrace[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const prompt = makePrompt(r);
    return { id: `t${seed}-${i}`, prompt, steps: makeTrace(r, ctx, shape, prompt) };
  });
}

/** Round k (1-based) of the tree workload: every trace with ≥ k steps, cut to its first k. */
export function treeRound(traces: readonly TreeTrace[], k: number): { partial: Item[]; final: Item[] } {
  const partial: Item[] = [];
  const final: Item[] = [];
  for (const t of traces) {
    if (t.steps.length < k) continue;
    const item = { id: `${t.id}-k${k}`, prompt: t.prompt, steps: t.steps.slice(0, k) };
    (t.steps.length === k ? final : partial).push(item);
  }
  return { partial, final };
}

export function chunk<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
