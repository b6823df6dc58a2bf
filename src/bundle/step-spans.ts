/**
 * Each response token's [start, end) in the rendered response, grouped by step, kept flat. A
 * request of 256 traces has tens of thousands of response tokens: one two-element array per token,
 * alive from tokenizing until the answer is sent, made most of what the garbage collector's young
 * generation copied under many such requests at once. The nested arrays of the answer are built
 * when the answer is (nestedSpans). Plain data, so it crosses to and from the tokenizer threads.
 */
export interface StepSpans {
  /** Token k of the response (the steps' tokens in order) spans [spans[2k], spans[2k + 1]). */
  spans: Int32Array;
  /** Tokens of each step, in order; they sum to spans.length / 2. */
  stepTokens: number[];
}

/** The spans as the API gives them: per step, per token, [start, end); null stays null (no offsets). */
export function nestedSpans(s: StepSpans | null): [number, number][][] | null {
  if (s === null) return null;
  let k = 0;
  return s.stepTokens.map((n) => {
    const step: [number, number][] = new Array(n);
    for (let i = 0; i < n; i++, k += 2) step[i] = [s.spans[k]!, s.spans[k + 1]!];
    return step;
  });
}
