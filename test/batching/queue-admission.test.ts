import { describe, expect, it } from 'vitest';
import { ADMIT_WITHIN_FRACTION, queueRefusal } from '../../src/batching/queue-admission.js';
import { TokenRate } from '../../src/batching/token-rate.js';

/** An engine measured at `perSecond` tokens per second. */
function rateOf(perSecond: number): TokenRate {
  const r = new TokenRate();
  r.observe(perSecond, 1);
  return r;
}

describe('queueRefusal', () => {
  const now = 1_000;

  it('admits anything while the pace is unknown, within the row bound', () => {
    expect(queueRefusal({ rows: 10, tokens: 1e9 }, { rows: 5, tokens: 1e9, deadlineAt: now + 1, now }, 100, new TokenRate())).toBeNull();
    expect(queueRefusal({ rows: 98, tokens: 0 }, { rows: 3, tokens: 3, now }, 100, new TokenRate())?.code).toBe('OVERLOADED');
  });

  it('admits a request whose backlog and own tokens fit the share of its deadline, and refuses one just past it', () => {
    const rate = rateOf(1_000);
    // 1 s of deadline: 800 tokens of work fit at 1 000 tokens per second.
    const fits = 1_000 * ADMIT_WITHIN_FRACTION;
    expect(queueRefusal({ rows: 1, tokens: fits - 100 }, { rows: 1, tokens: 100, deadlineAt: now + 1_000, now }, 100, rate)).toBeNull();
    const refused = queueRefusal({ rows: 1, tokens: fits - 99 }, { rows: 1, tokens: 100, deadlineAt: now + 1_000, now }, 100, rate);
    expect(refused?.code).toBe('OVERLOADED');
    expect(refused?.message).toMatch(/would not finish within its deadline/);
  });

  it('gives Retry-After as the seconds the backlog needs, between 1 and 60', () => {
    const rate = rateOf(100);
    const at = (backlog: number) => queueRefusal({ rows: 0, tokens: backlog }, { rows: 0, tokens: 0, deadlineAt: now + 10, now }, 100, rate)?.retryAfterS;
    expect(at(50)).toBe(1);
    expect(at(450)).toBe(5);
    expect(at(1e6)).toBe(60);
  });

  it('answers DEADLINE_EXCEEDED when the request alone needs more than its deadline leaves', () => {
    const refused = queueRefusal({ rows: 0, tokens: 0 }, { rows: 1, tokens: 5_000, deadlineAt: now + 1_000, now }, 100, rateOf(1_000));
    expect(refused?.code).toBe('DEADLINE_EXCEEDED');
    expect(refused?.retryAfterS).toBeUndefined();
  });

  it('checks no time without a deadline', () => {
    expect(queueRefusal({ rows: 0, tokens: 1e9 }, { rows: 1, tokens: 1e9, now }, 100, rateOf(1))).toBeNull();
  });
});

describe('TokenRate', () => {
  it('is unknown before a batch, then follows a change of pace within a few dozen batches', () => {
    const r = new TokenRate();
    expect(r.perSecond).toBeUndefined();
    r.observe(1_000, 1);
    expect(r.perSecond).toBeCloseTo(1_000);
    for (let i = 0; i < 40; i++) r.observe(500, 1);
    expect(r.perSecond!).toBeGreaterThan(500);
    expect(r.perSecond!).toBeLessThan(520);
    expect(r.secondsFor(1_000)).toBeCloseTo(1_000 / r.perSecond!);
  });

  it('ignores empty or timeless batches', () => {
    const r = new TokenRate();
    r.observe(0, 1);
    r.observe(10, 0);
    expect(r.perSecond).toBeUndefined();
  });
});
