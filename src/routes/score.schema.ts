/**
 * Request and response schemas of POST /v1/score. They validate requests, serialize responses and
 * generate the OpenAPI document, so their descriptions are the API reference.
 */
import { Type, type Static } from 'typebox';
import { AGGREGATES } from '../core/types.js';
import { errorResponses } from '../http/error-schemas.js';

export const AggregateSchema = Type.Enum([...AGGREGATES], {
  description:
    'How step rewards become one response score: min over step rewards (default), sum (= outcome reward), last step reward, or mean',
});

export const ScoreItemSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'Echoed in the result; defaults to the item index as a string' })),
    prompt: Type.String({ description: "The problem, as passed to the model's prompt template" }),
    steps: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The solution, one string per reasoning step (no separators). Empty list → EMPTY_STEPS, empty step → EMPTY_STEP',
      }),
    ),
    response: Type.Optional(
      Type.String({ description: "The solution as one string, split into steps by the model's step separator" }),
    ),
  },
  { additionalProperties: false, description: 'One trace: exactly one of `steps` or `response`' },
);

export const ScoreOptionsSchema = Type.Object(
  {
    aggregate: Type.Optional(AggregateSchema),
    token_rewards: Type.Optional(
      Type.Boolean({ description: 'Also return β·ℓ_i for every response token, grouped by step (default false)' }),
    ),
    beta: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: "β for this request instead of the model's (rewards scale linearly with β)" }),
    ),
    partial: Type.Optional(
      Type.Boolean({
        description:
          'The trace continues after its last step (step-level search): the last step also gets the step separator and no EOS, so scoring the extended trace later reuses cached work (default false)',
      }),
    ),
    timeout_ms: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Deadline for this request; the server deadline (REQUEST_TIMEOUT_MS) still applies if shorter' }),
    ),
  },
  { additionalProperties: false },
);

export const ScoreBodySchema = Type.Object(
  {
    model: Type.Optional(Type.String({ description: 'Model name (GET /v1/models); default: the server default model' })),
    items: Type.Array(ScoreItemSchema, {
      description:
        'Traces to score, at most MAX_ITEMS_PER_REQUEST (413 TOO_MANY_ITEMS). An empty list is allowed and returns empty results',
    }),
    options: Type.Optional(ScoreOptionsSchema),
  },
  { additionalProperties: false },
);
export type ScoreBody = Static<typeof ScoreBodySchema>;

export const ModelSummarySchema = Type.Object({
  name: Type.String(),
  fingerprint: Type.String({ description: 'sha256 of the log-prob function (graphs, tokenizer, template)' }),
  beta: Type.Number({ description: 'β applied to this response (the request override or the model default)' }),
  reference_free: Type.Boolean({ description: 'true: ℓ_i = log πφ, no reference model' }),
});

export const StepResultSchema = Type.Object({
  reward: Type.Number({ description: 'r_k = q_k − q_{k−1}' }),
  q: Type.Number({ description: 'q_k = β · Σ ℓ_i up to the last token of step k' }),
  value: Type.Number({ description: 'σ(q_k)' }),
  tokens: Type.Integer({ description: 'Tokens in this step (including its separator)' }),
});

export const ItemResultSchema = Type.Object({
  id: Type.String(),
  score: Type.Number({ description: 'The aggregate of the step rewards' }),
  outcome_reward: Type.Number({ description: 'q_n' }),
  cached_tokens: Type.Integer({ description: 'Response tokens whose log-probs came from a cache' }),
  steps: Type.Array(StepResultSchema),
  token_rewards: Type.Optional(
    Type.Array(Type.Array(Type.Number()), { description: 'β·ℓ_i per response token, one list per step (when options.token_rewards)' }),
  ),
});

export const UsageSchema = Type.Object({
  items: Type.Integer(),
  prompt_tokens: Type.Integer(),
  response_tokens: Type.Integer(),
  cached_tokens: Type.Integer(),
});

export const ScoreResponseSchema = Type.Object({
  model: ModelSummarySchema,
  results: Type.Array(ItemResultSchema, { description: 'One per item, in request order' }),
  usage: UsageSchema,
});

const timingHeader = (stage: string) => Type.String({ description: `Milliseconds spent ${stage}` });

export const ScoreRouteSchema = {
  summary: 'Per-step implicit process rewards for reasoning traces',
  tags: ['scoring'],
  body: ScoreBodySchema,
  response: {
    200: {
      ...ScoreResponseSchema,
      description: 'Rewards per item and step',
      // A plain map, as @fastify/swagger expects for response headers.
      headers: {
        'x-tokenize-time': timingHeader('segmenting and tokenizing'),
        'x-queue-time': timingHeader('waiting for a batch'),
        'x-inference-time': timingHeader('in forward passes'),
        'x-total-time': timingHeader('in total'),
      },
    },
    ...errorResponses(400, 404, 413, 415, 500, 503, 504),
  },
};
