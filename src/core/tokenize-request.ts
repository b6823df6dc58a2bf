/**
 * One /tokenize call: the tokenize stage of scoring (score-request.ts, prepareStage) and nothing
 * after it, so what it returns is exactly what /v1/score would score for the same items — the ids,
 * their step cuts, the EOS — with the rendered text and each token's offsets in the response.
 */
import { throwIfAborted } from '../abort.js';
import { nestedSpans } from '../bundle/step-spans.js';
import type { PreparedItem } from './prepare-items.js';
import { prepareStage, type ScoreDeps } from './score-request.js';
import type { ScoringService, TokenizedItem } from './types.js';
import { builtWhenRead } from '../util/built-when-read.js';

/** The service's tokenize method over the same parts as its score method. */
export function tokenizer(deps: ScoreDeps): ScoringService['tokenize'] {
  return async (model, items, options, signal) => {
    throwIfAborted(signal);
    const bundle = deps.registry.resolve(model ?? deps.defaultModel());
    const returnLease = deps.registry.lease(bundle);
    try {
      const prepared = await prepareStage(deps, bundle, items, { partial: options.partial === true, render: true }, signal);
      return { model: { name: bundle.name, fingerprint: bundle.fingerprint }, results: prepared.map(tokenizedItem) };
    } finally {
      returnLease();
    }
  };
}

function tokenizedItem(item: PreparedItem): TokenizedItem {
  const [prompt, ...steps] = item.segments.map((ids) => [...ids]);
  const stepEnds: number[] = [];
  let end = 0;
  for (const n of item.stepTokens) stepEnds.push((end += n));
  const spans = item.rendered?.stepOffsets ?? null;
  const tokenized: TokenizedItem = {
    id: item.id,
    prompt_text: item.rendered?.promptText ?? '',
    prompt_ids: prompt!,
    response_text: item.rendered?.responseText ?? '',
    step_ids: steps,
    step_offsets: null, // built when read, below
    response_ids: steps.flat(),
    step_ends: stepEnds,
    prompt_tokens: item.promptTokens,
    response_tokens: item.responseTokens,
    total_tokens: item.promptTokens + item.responseTokens,
  };
  builtWhenRead(tokenized, 'step_offsets', () => nestedSpans(spans));
  return tokenized;
}
