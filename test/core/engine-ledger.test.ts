import { describe, expect, it } from 'vitest';
import { EngineLedger, countSharedEngineTokens } from '../../src/core/engine-ledger.js';
import { metrics } from '../../src/metrics.js';

async function tokens(outcome: string): Promise<number> {
  return (await metrics.requestEngineTokens.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe('EngineLedger', () => {
  it("counts a request's engine tokens under its outcome once known, and later rows under the same", async () => {
    const [ok0, failed0, shared0] = [await tokens('succeeded'), await tokens('failed'), await tokens('shared')];
    const won = new EngineLedger();
    won.add(20);
    won.add(30);
    expect(await tokens('succeeded')).toBe(ok0);
    won.settle('succeeded');
    expect(await tokens('succeeded')).toBe(ok0 + 50);

    const lost = new EngineLedger();
    lost.add(12);
    lost.settle('failed');
    lost.settle('succeeded');
    // A row that was running when its request failed finishes afterwards: failed work too.
    lost.add(6);
    expect(await tokens('failed')).toBe(failed0 + 18);
    expect(await tokens('succeeded')).toBe(ok0 + 50);

    countSharedEngineTokens(9);
    expect(await tokens('shared')).toBe(shared0 + 9);
  });
});
