/**
 * POST /get_reward: OpenRLHF's remote reward model protocol on top of the same scoring call as
 * /v1/score: the splitting of query into prompt and response, and a reward for every sample
 * (reward-samples.ts), are specific to this route.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { splitSampledResponse } from '../core/prepare-items.js';
import type { TextItemInput } from '../core/types.js';
import { ErrorCode, PrmError } from '../errors.js';
import { withRequestSignal } from '../http/request-signal.js';
import { compileAnswerSerializers, sendSliced, type AnswerShape } from '../http/sliced-json.js';
import { setTimingHeaders } from '../http/timing-headers.js';
import { mapInSlices } from '../util/time-slices.js';
import { GetRewardResponseSchema, GetRewardRouteSchema, type GetRewardBody, type GetRewardQuery, type GetRewardResponse } from './get-reward.schema.js';
import { LargeBatches } from './large-batches.js';
import { scoreSamples, type SampleOutcome, type ScoreCall } from './reward-samples.js';

/** A sample that cannot be scored as sent, with the code it gets in the answer's `errors`. */
export interface UnscorableSample {
  error: PrmError;
}

/**
 * query[i] → {prompt, response}, or why it has none; see the schema's description of `prompts`.
 * In slices: a body may hold 16 384 samples, and many such requests may arrive together.
 */
export function splitQueries(body: GetRewardBody): Promise<(TextItemInput | UnscorableSample)[]> {
  const { query, prompts } = body;
  if (prompts !== undefined && prompts.length !== query.length) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `body.prompts has ${prompts.length} entries but body.query has ${query.length}`);
  }
  return mapInSlices(query, (text, i): TextItemInput | UnscorableSample => {
    let prompt: string;
    let rest: string;
    if (prompts !== undefined) {
      prompt = prompts[i]!;
      if (!text.startsWith(prompt)) {
        return { error: new PrmError(ErrorCode.INVALID_REQUEST, `body.query[${i}] does not start with body.prompts[${i}]`) };
      }
      rest = text.slice(prompt.length);
    } else {
      const nl = text.indexOf('\n');
      if (nl < 0) {
        return { error: new PrmError(ErrorCode.INVALID_REQUEST, `body.query[${i}] has no line break, so no response after its first line (the prompt); send prompts`) };
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

/** What the answer says of one sample. */
interface SampleAnswer {
  reward: number;
  outcomeReward: number;
  stepRewards: number[];
  error: { code: string; message: string } | null;
}

function sampleAnswer(o: SampleOutcome, fallback: number): SampleAnswer {
  // A result's steps are made when read (score-request.ts): read once.
  const stepRewards = o.result?.steps.map((s) => s.reward) ?? [];
  return {
    reward: o.result?.score ?? fallback,
    outcomeReward: o.result?.outcome_reward ?? fallback,
    stepRewards,
    error: o.error ? { code: o.error.code, message: o.error.message } : null,
  };
}

/** The answer, its samples read in slices: a batch of 16 384 samples has tens of thousands of steps. */
async function answer(outcomes: SampleOutcome[], fallback: number): Promise<GetRewardResponse> {
  const samples = await mapInSlices(outcomes, (o) => sampleAnswer(o, fallback));
  const rewards = samples.map((s) => s.reward);
  return {
    rewards,
    scores: rewards,
    extra_logs: {
      outcome_reward: samples.map((s) => s.outcomeReward),
      num_steps: samples.map((s) => s.stepRewards.length),
      scored: outcomes.map((o) => (o.result ? 1 : 0)),
      truncated: outcomes.map((o) => (o.truncated ? 1 : 0)),
    },
    step_rewards: samples.map((s) => s.stepRewards),
    errors: samples.map((s) => s.error),
  };
}

const answerSchemas = GetRewardResponseSchema.properties;
/** The answer, its per-sample lists serialized a sample at a time (sliced-json.ts). */
const ANSWER: AnswerShape = [
  { name: 'rewards', schema: answerSchemas.rewards },
  { name: 'scores', schema: answerSchemas.scores },
  { name: 'extra_logs', schema: answerSchemas.extra_logs },
  { name: 'step_rewards', schema: answerSchemas.step_rewards.items, elements: true },
  { name: 'errors', schema: answerSchemas.errors.items, elements: true },
];

/**
 * ?fallback_reward= as a number. The schema's pattern admits only decimal numbers, but one such as
 * 1e999 is beyond a double: it would become Infinity, which JSON writes as null in every reward.
 */
export function queryFallback(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, `querystring.fallback_reward must be a finite number (got ${text})`);
  }
  return value;
}

/** What scoring a batch reads of its request. */
interface GetRewardRequest {
  body: GetRewardBody;
  query: GetRewardQuery;
}

export const getRewardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  compileAnswerSerializers(ANSWER);
  const largeBatches = new LargeBatches(app.config.largeBatchesAtOnce);

  /** The ready model the request names (or the default), undefined when none is ready by that name. */
  const readyModel = ({ body, query }: GetRewardRequest) => {
    const name = body.model ?? query.model ?? app.scoring.defaultModel();
    return app.scoring.models().find((m) => m.name === name);
  };

  /** One outcome per query, in order: the unscorable ones with their error, the rest scored. */
  async function scoreQueries(request: GetRewardRequest, reply: FastifyReply, signal: AbortSignal, deadlineAt: number): Promise<SampleOutcome[]> {
    const { body, query } = request;
    const split = await splitQueries(body);
    if (split.length === 0) return [];
    const aggregate = body.aggregate ?? query.aggregate ?? 'min';
    const model = body.model ?? query.model;
    const truncate = body.truncate ?? query.truncate ?? app.config.rewardTruncation;
    // Unknown model: leave `response` as it is and let the scoring call give its usual error.
    const info = readyModel(request);
    const scorable = split.filter((s): s is TextItemInput => !('error' in s));
    const items = info === undefined ? scorable
      : await mapInSlices(scorable, ({ response, ...it }) => ({ ...it, steps: splitSampledResponse(withoutEndTexts(response!, info.end_texts), info.step_separator) }));
    const options = { aggregate, ...(body.beta !== undefined ? { beta: body.beta } : {}) };
    const call: ScoreCall = async (chunk, opts, chunkSignal) => {
      const result = await app.scoring.score(model, chunk, opts, AbortSignal.any([signal, chunkSignal]), deadlineAt);
      setTimingHeaders(reply, result.timings);
      return result;
    };
    const outcomes = await scoreSamples(call, items, options, app.config.maxItemsPerRequest, truncate);
    let next = 0;
    return split.map((s) => ('error' in s ? { error: s.error, truncated: false } : outcomes[next++]!));
  }

  app.post('/get_reward', { schema: GetRewardRouteSchema, config: { queuesWork: true } }, async (request, reply): Promise<GetRewardResponse> => {
    const fallback = request.body.fallback_reward ?? queryFallback(request.query.fallback_reward) ?? app.config.rewardFallback;
    // A batch for a model that is not ready waits for nothing: its scoring call fails at once.
    const large = request.body.query.length > app.config.maxItemsPerRequest && readyModel(request) !== undefined;
    let leave = () => {};
    try {
      const outcomes = await withRequestSignal(reply, app.config.requestTimeoutMs, async (signal, deadlineAt) => {
        if (large) leave = await largeBatches.enter(signal);
        return scoreQueries(request, reply, signal, deadlineAt);
      });
      if (outcomes.length === 0) return await answer([], 0);
      return await sendSliced(reply, ANSWER, await answer(outcomes, fallback));
    } finally {
      leave();
    }
  });
};
