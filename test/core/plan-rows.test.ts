import { describe, expect, it } from 'vitest';
import {
  firstNeeded,
  fromCachedSteps,
  planRow,
  promptDemand,
  scatterRow,
  segmentOffsets,
  stepSlices,
  usableHitLength,
  wholeTraceRow,
} from '../../src/core/plan-rows.js';

// prompt [10, 11, 12], step 1 [20, 21], step 2 [30]: positions 0..5, response tokens at 3..5.
const SEGS = [[10, 11, 12], [20, 21], [30]];

describe('row planner', () => {
  it('lays segments end to end', () => {
    expect(segmentOffsets(SEGS)).toEqual([0, 3, 5, 6]);
    expect(firstNeeded(SEGS, 0)).toBe(3);
    expect(firstNeeded(SEGS, 1)).toBe(5);
  });

  it('scores a whole trace from the last prompt token on, feeding all but the last token', () => {
    const row = wholeTraceRow(SEGS);
    expect([...row.tokens]).toEqual([10, 11, 12, 20, 21]);
    expect([...row.targets]).toEqual([-1, -1, 20, 21, 30]);
    expect(row.promptLength).toBe(3);
  });

  it('feeds only what follows its past, asking for the tokens after the cached steps', () => {
    const row = planRow(SEGS, 1, 4);
    expect([...row.tokens]).toEqual([21, 30]);
    expect([...row.targets]).toEqual([30, -1]);
    expect(row).toMatchObject({ from: 4, need: 5, total: 6 });
  });

  it('re-feeds one token of a KV hit that covers the first needed token', () => {
    expect(usableHitLength(6, firstNeeded(SEGS, 1))).toBe(4);
    expect(usableHitLength(2, firstNeeded(SEGS, 1))).toBe(2);
  });

  it('puts cached and computed log-probs in their places, and cuts them back into steps', () => {
    const cached = [{ policy: Float32Array.of(-1, -2), reference: Float32Array.of(-3, -4) }];
    const lp = fromCachedSteps(SEGS, cached, true);
    expect(lp.cachedTokens).toBe(2);
    const row = planRow(SEGS, 1, 4);
    scatterRow(row, { policy: Float32Array.of(-5, Number.NaN), reference: Float32Array.of(-6, Number.NaN) }, lp, 3);
    expect([...lp.policy]).toEqual([-1, -2, -5]);
    expect([...lp.reference!]).toEqual([-3, -4, -6]);
    expect(stepSlices(SEGS, 1, lp).map((s) => [...s.policy])).toEqual([[-1, -2], [-5]]);
    expect(stepSlices(SEGS, 2, lp).map((s) => [...s.reference!])).toEqual([[-6]]);
  });

  it('cuts steps that are copies of their own, both models\' values apart (cache entries outlive the response arrays)', () => {
    const lp = { policy: Float32Array.of(-1, -2, -5), reference: Float32Array.of(-3, -4, -6) };
    const steps = stepSlices(SEGS, 1, lp);
    lp.policy.fill(0);
    lp.reference.fill(0);
    expect(steps.map((s) => [[...s.policy], [...s.reference!]])).toEqual([[[-1, -2], [-3, -4]], [[-5], [-6]]]);
    steps[0].policy.fill(9);
    expect([...steps[0].reference!]).toEqual([-3, -4]);
    const free = stepSlices(SEGS, 1, { policy: Float32Array.of(-1, -2, -5), reference: null });
    expect(free.map((s) => [[...s.policy], s.reference])).toEqual([[[-1, -2], null], [[-5], null]]);
  });

  it('counts how many traces of a request would compute each prompt', () => {
    const demand = promptDemand([
      { promptKey: 'a', wouldComputePrompt: true },
      { promptKey: 'a', wouldComputePrompt: true },
      { promptKey: 'b', wouldComputePrompt: true },
      { promptKey: 'c', wouldComputePrompt: false },
    ]);
    expect([...demand]).toEqual([['a', 2], ['b', 1]]);
  });
});
