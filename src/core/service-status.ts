/**
 * What the service says about itself: the models it serves (/v1/models) and its readiness
 * (/health/ready), read from the registry and the log-prob cache.
 */
import type { LoadedBundle } from '../bundle/load-bundle.js';
import type { LogprobCache } from '../cache/logprob-cache.js';
import type { BundleRegistry } from './bundle-registry.js';
import { summaryOf } from './score-request.js';
import type { ModelInfo, Readiness } from './types.js';

export function infoOf(b: LoadedBundle): ModelInfo {
  return {
    ...summaryOf(b),
    step_separator: b.manifest.step_separator,
    end_texts: b.segmenter.endTexts,
    max_sequence_length: b.manifest.max_sequence_length,
    graph: b.manifest.policy.graph,
    execution_provider: b.policy.executionProvider,
    provenance: b.manifest.provenance,
  };
}

/**
 * Ready once loading is over and the default model serves: a broken bundle beside it is listed
 * (models, degraded) and refused by name, but does not take the others out of service.
 */
export function readinessOf(
  registry: BundleRegistry,
  configuredDefault: string | undefined,
  defaultModel: string | undefined,
  logprobCache: LogprobCache,
): Readiness {
  const models: Record<string, string> = {};
  for (const name of registry.names()) {
    const e = registry.get(name)!;
    models[name] = e.state === 'failed' ? `failed: ${e.reason}` : e.state;
  }
  // Problems that are no single bundle's; Readiness has no other field for them, so they are
  // listed in `degraded` too, but unlike other degraded conditions they keep `ready` false.
  const fatal = registry.issues();
  if (configuredDefault !== undefined && registry.isDiscovered && registry.get(configuredDefault) === undefined) {
    fatal.push(`the default model ${JSON.stringify(configuredDefault)} is not among the bundles found`);
  }
  const names = Object.keys(models);
  const ready = registry.isDiscovered && fatal.length === 0 && names.length > 0
    && names.every((n) => models[n] !== 'loading') && defaultModel !== undefined && models[defaultModel] === 'ready';
  const broken = names.filter((n) => registry.get(n)!.state === 'failed').map((n) => `bundle "${n}" ${models[n]}`);
  const cache = logprobCache.health();
  // A cache in trouble degrades to uncached scoring; it never makes the service unready.
  const cacheTrouble = cache.healthy ? [] : [`tier-1 cache (${cache.kind}) unavailable, scoring uncached: ${cache.detail}`];
  return { ready, models, degraded: [...fatal, ...broken, ...cacheTrouble] };
}
