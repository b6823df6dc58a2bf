import { describe, expect, it } from 'vitest';
import { EngineLedger, countSharedEngineTime } from '../../src/core/engine-ledger.js';
import { metrics } from '../../src/metrics.js';

async function seconds(outcome: string): Promise<number> {
  return (await metrics.requestEngineSeconds.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

describe('EngineLedger', () => {
  it('counts a request\'s engine time under its outcome once known, and later rows under the same', async () => {
    const [ok0, failed0, shared0] = [await seconds('succeeded'), await seconds('failed'), await seconds('shared')];
    const won = new EngineLedger();
    won.add(0.25);
    won.add(0.5);
    expect(await seconds('succeeded')).toBe(ok0);
    won.settle('succeeded');
    expect(await seconds('succeeded')).toBeCloseTo(ok0 + 0.75);

    const lost = new EngineLedger();
    lost.add(0.125);
    lost.settle('failed');
    lost.settle('succeeded');
    // A row that was running when its request failed finishes afterwards: failed time too.
    lost.add(0.0625);
    expect(await seconds('failed')).toBeCloseTo(failed0 + 0.1875);
    expect(await seconds('succeeded')).toBeCloseTo(ok0 + 0.75);

    countSharedEngineTime(0.5);
    expect(await seconds('shared')).toBeCloseTo(shared0 + 0.5);
  });
});
