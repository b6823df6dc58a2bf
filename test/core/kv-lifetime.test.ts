/**
 * Lifetime of tier-2 KV through the pipeline, with the models in worker threads (tiny-logprobs):
 * rollouts sharing a prompt, traces extended step by step, duplicates in flight, cancelled
 * requests, and a tier 2 so small that entries are evicted while rows that use them still wait.
 * Results must equal uncached scoring, and once tier 2 is cleared the workers must hold no KV at
 * all: a handle nobody releases would be memory lost for the life of the process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../../src/bundle/load-bundle.js';
import { KvPrefixCache } from '../../src/cache/kv-prefix-cache.js';
import { MemoryLogprobCache } from '../../src/cache/logprob-cache.js';
import { computeLogprobs } from '../../src/core/compute-logprobs.js';
import { LogprobPipeline, type PipelineItem } from '../../src/core/logprob-pipeline.js';
import { metrics } from '../../src/metrics.js';
import { trace } from '../helpers/traces.js';
import { heldKvHandles, openWorkerBundle } from '../helpers/worker-bundle.js';

let bundle: LoadedBundle;
beforeAll(async () => {
  bundle = await openWorkerBundle();
});
afterAll(async () => {
  await bundle?.dispose();
});

/** A trace as the pipeline gets it; `partial`: it continues (a tree-search request). */
function item(prompt: string, steps: string[], partial = false): PipelineItem {
  const seg = bundle.segmenter.segment(prompt, steps, { partial });
  return { segments: [seg.prompt, ...seg.steps], partial };
}

async function tier2Hits(): Promise<number> {
  return (await metrics.cacheHits.get()).values.find((v) => v.labels.tier === 'tier2')?.value ?? 0;
}

function pipeline(tier2: KvPrefixCache): LogprobPipeline {
  return new LogprobPipeline({
    fingerprint: `fp-${Math.random()}`,
    models: bundle.models,
    // No log-prob cache: every request goes through the KV cache and the engine.
    caches: { logprobs: new MemoryLogprobCache(0), kv: tier2 },
    batcher: { maxBatchTokens: 512, maxRows: 8, maxWaitMs: 2, maxQueueRows: 1000 },
  });
}

async function expectUncached(items: PipelineItem[], got: Float32Array[]): Promise<void> {
  const want = await computeLogprobs(bundle.models, items);
  want.forEach((w, i) => {
    expect(got[i].length).toBe(w.policy.length);
    w.policy.forEach((v, t) => expect(Math.abs(got[i][t] - v), `item ${i} token ${t}`).toBeLessThan(1e-5));
  });
}

describe.each([
  ['roomy', 64 * 1024 * 1024],
  ['tiny (evicting while rows wait)', 40 * 1024],
])('tier-2 KV lifetime with a %s tier 2', (_label, bytes) => {
  it('equals uncached scoring and leaves no KV behind in the workers', async () => {
    const tier2 = new KvPrefixCache(bytes);
    const p = pipeline(tier2);
    // 6 rollouts of one prompt, sent twice at once (the second waits for the first's prompt KV).
    const prompt = trace(1).prompt;
    const rollouts = Array.from({ length: 6 }, (_, r) => item(prompt, trace(10 + r, 2 + (r % 3)).steps));
    const [first, second] = await Promise.all([p.compute(rollouts), p.compute(rollouts)]);
    await expectUncached(rollouts, first.items.map((x) => x.policy));
    await expectUncached(rollouts, second.items.map((x) => x.policy));

    // Three traces extended one step per round (partial until their last step), all traces of a
    // round in flight together.
    const traces = [trace(3, 5), trace(4, 4), trace(5, 5)];
    for (let k = 1; k <= 5; k++) {
      const round = traces.filter((t) => t.steps.length >= k).map((t) => item(t.prompt, t.steps.slice(0, k), k < t.steps.length));
      const out = await Promise.all(round.map((it) => p.compute([it])));
      await expectUncached(round, out.map((o) => o.items[0].policy));
    }

    // A request cancelled before its rows run, beside one that completes.
    const gone = new AbortController();
    const cancelled = p.compute([item(trace(7).prompt, trace(7, 3).steps)], gone.signal);
    gone.abort();
    await expect(cancelled).rejects.toThrow();
    await p.compute([item(trace(8).prompt, trace(8, 3).steps)]);

    await p.drain();
    expect(p.batcher.load).toEqual({ rows: 0, tokens: 0 });
    expect(tier2.entries).toBeGreaterThan(0);
    tier2.clear();
    expect(await heldKvHandles(bundle)).toEqual([0, 0]);
    p.close();
  });
});

describe('a request the queue refuses', () => {
  it('gives back the KV its lookups found and holds no room', async () => {
    const tier2 = new KvPrefixCache(64 * 1024 * 1024);
    const p = new LogprobPipeline({
      fingerprint: `fp-${Math.random()}`,
      models: bundle.models,
      caches: { logprobs: new MemoryLogprobCache(0), kv: tier2 },
      batcher: { maxBatchTokens: 512, maxRows: 8, maxWaitMs: 2, maxQueueRows: 2 },
    });
    // Three partial traces kept in tier 2, then their extensions together: three rows, room for two.
    const traces = [trace(31, 3), trace(32, 3), trace(33, 3)];
    for (const t of traces) await p.compute([item(t.prompt, t.steps.slice(0, 2), true)]);
    const hits = await tier2Hits();
    await expect(p.compute(traces.map((t) => item(t.prompt, t.steps)))).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(await tier2Hits()).toBe(hits + 3);
    expect(p.batcher.load).toEqual({ rows: 0, tokens: 0 });
    tier2.clear();
    expect(await heldKvHandles(bundle)).toEqual([0, 0]);
    p.close();
  });
});

describe('what tier 2 keeps', () => {
  it('keeps a finished trace\'s prompt but not the trace; a partial trace is kept and extended from', async () => {
    const tier2 = new KvPrefixCache(64 * 1024 * 1024);
    const p = pipeline(tier2);
    const t = trace(21, 3);
    const finished = item(t.prompt, t.steps);
    await expectUncached([finished], (await p.compute([finished])).items.map((x) => x.policy));
    // Only the prompt's entry: a finished trace cannot be continued, so its KV is not kept.
    expect(tier2.entries).toBe(1);
    expect(await heldKvHandles(bundle)).toEqual([1, 1]);

    // Another rollout of the same prompt starts from the prompt's KV (made without the trace's).
    const before = await tier2Hits();
    const sibling = item(t.prompt, trace(22, 2).steps);
    await expectUncached([sibling], (await p.compute([sibling])).items.map((x) => x.policy));
    expect(await tier2Hits()).toBe(before + 1);
    expect(tier2.entries).toBe(1);

    // A partial trace is kept whole, and its extension by one step starts from it.
    const u = trace(23, 3);
    const partial = item(u.prompt, u.steps.slice(0, 2), true);
    await p.compute([partial]);
    expect(tier2.entries).toBe(3);
    const hits = await tier2Hits();
    const extended = item(u.prompt, u.steps);
    const out = await p.compute([extended]);
    await expectUncached([extended], out.items.map((x) => x.policy));
    expect(await tier2Hits()).toBe(hits + 1);

    await p.drain();
    tier2.clear();
    expect(await heldKvHandles(bundle)).toEqual([0, 0]);
    p.close();
  });
});
