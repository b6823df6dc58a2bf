/**
 * POST /get_reward: OpenRLHF's remote reward model protocol on top of the same scoring call as
 * /v1/score. Only the splitting of query into prompt and response is specific to this route.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { splitSampledResponse } from '../core/prepare-items.js';
import type { TextItemInput } from '../core/types.js';
import { ErrorCode, PrmError } from '../errors.js';
import { withRequestSignal } from '../http/request-signal.js';
import { setTimingHeaders } from '../http/timing-headers.js';
import { GetRewardRouteSchema, type GetRewardBody, type GetRewardResponse } from './get-reward.schema.js';

/** query[i] → {prompt, response}; see the schema's description of `prompts` for the rules. */
export function splitQueries(body: GetRewardBody, maxItems: number): TextItemInput[] {
  const { query, prompts } = body;
  if (query.length > maxItems) {
    throw new PrmError(ErrorCode.TOO_MANY_ITEMS, `${query.length} queries in one request; the limit is ${maxItems}`);
  }
  if (prompts !== undefined && prompts.length !== query.length) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `body.prompts has ${prompts.length} entries but body.query has ${query.length}`);
  }
  return query.map((text, i) => {
    let prompt: string;
    let rest: string;
    if (prompts !== undefined) {
      prompt = prompts[i]!;
      if (!text.startsWith(prompt)) {
        throw new PrmError(ErrorCode.INVALID_REQUEST, `body.query[${i}] does not start with body.prompts[${i}]`);
      }
      rest = text.slice(prompt.length);
    } else {
      const nl = text.indexOf('\n');
      if (nl < 0) {
        throw new PrmError(ErrorCode.INVALID_REQUEST, `body.query[${i}] has no line break, so no response after its first line (the prompt); send prompts`);
      }
      prompt = text.slice(0, nl);
      rest = text.slice(nl + 1);
    }
    return { id: String(i), prompt, response: rest.replace(/^[\r\n]+/, '') };
  });
}

/**
 * The response without the EOS and pad texts it ends with: OpenRLHF decodes samples with their
 * special tokens, so the policy's EOS (and any padding) arrive as text, and the model's own EOS is
 * appended when the bundle says so — scoring both would count the end twice.
 */
export function withoutEndTexts(response: string, endTexts: readonly string[]): string {
  let text = response;
  for (let stripped = true; stripped; ) {
    stripped = false;
    for (const end of endTexts) {
      if (end.length > 0 && text.endsWith(end)) {
        text = text.slice(0, -end.length);
        stripped = true;
      }
    }
  }
  return text;
}

export const getRewardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/get_reward', { schema: GetRewardRouteSchema }, async (request, reply): Promise<GetRewardResponse> => {
    const body = request.body;
    const split = splitQueries(body, app.config.maxItemsPerRequest);
    if (split.length === 0) return { rewards: [], scores: [], extra_logs: {}, step_rewards: [] };
    const aggregate = body.aggregate ?? request.query.aggregate ?? 'min';
    const model = body.model ?? request.query.model;
    // Unknown model: leave `response` as it is and let the scoring call give its usual error.
    const info = app.scoring.models().find((m) => m.name === (model ?? app.scoring.defaultModel()));
    const items = info === undefined ? split
      : split.map(({ response, ...it }) => ({ ...it, steps: splitSampledResponse(withoutEndTexts(response!, info.end_texts), info.step_separator) }));
    const options = { aggregate, ...(body.beta !== undefined ? { beta: body.beta } : {}) };
    const result = await withRequestSignal(reply, app.config.requestTimeoutMs, (signal) =>
      app.scoring.score(model, items, options, signal),
    );
    setTimingHeaders(reply, result.timings);
    const rewards = result.results.map((r) => r.score);
    return {
      rewards,
      scores: rewards,
      extra_logs: {
        outcome_reward: result.results.map((r) => r.outcome_reward),
        num_steps: result.results.map((r) => r.steps.length),
      },
      step_rewards: result.results.map((r) => r.steps.map((s) => s.reward)),
    };
  });
};
