/**
 * Rows and comparisons shared by the engine tests that run the trainer's tiny transformer bundles:
 * a token sequence from a bundle's own tokenizer, a forward row over part of it (targets = the
 * next tokens), and element-wise closeness of two float arrays (NaN where no target was wanted).
 */
import { expect } from 'vitest';
import type { LoadedBundle } from '../../src/bundle/load-bundle.js';
import type { ForwardRow } from '../../src/engine/types.js';

/** Every token of prompt + steps, as the service would feed them. */
export function sequence(bundle: LoadedBundle, prompt: string, steps: string[]): number[] {
  const seg = bundle.segmenter.segment(prompt, steps);
  return [...seg.prompt, ...seg.steps.flat()];
}

/** Tokens [from, to) with next-token targets. */
export function row(ids: number[], from: number, to: number, extra: Partial<ForwardRow> = {}): ForwardRow {
  return { tokens: ids.slice(from, to), targets: ids.slice(from + 1, to + 1), ...extra };
}

/** |got − want| < tol everywhere, and NaN exactly where `want` is NaN. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) expect(got[i], `${what}[${i}]`).toBeNaN();
    else expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThan(tol);
  }
}
