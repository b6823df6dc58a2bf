/**
 * Schemas of POST /get_reward, the drop-in for OpenRLHF's remote reward model
 * (`--remote_rm_url http://host:8080/get_reward`). Unknown body fields are accepted and ignored,
 * because trainers add fields over time and a reward server that rejects them stops training.
 */
import { Type, type Static } from 'typebox';
import { errorResponses } from '../http/error-schemas.js';
import { TRUNCATIONS } from '../config.js';
import { AggregateSchema } from './score.schema.js';

const TruncateSchema = Type.Union(TRUNCATIONS.map((t) => Type.Literal(t)), {
  description: 'An over-long sample: right = scored on the steps that fit (as a trace that goes on), left = on the end of its prompt that fits, error = the fallback reward (default: GET_REWARD_TRUNCATE)',
});
const FallbackSchema = Type.Number({ description: 'Reward of a sample that cannot be scored (default: GET_REWARD_FALLBACK)' });

export const GetRewardBodySchema = Type.Object(
  {
    query: Type.Array(Type.String(), {
      description: 'Full texts, prompt followed by response. An empty list returns empty lists',
    }),
    prompts: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'prompts[i] is the prefix of query[i] that is the prompt; the rest, without leading line breaks, is the response, split into steps by the model\'s step separator (a blank piece stays inside the step before it, so doubled separators never fail the batch; one trailing separator is dropped). ' +
          'A query that does not start with its prompt gets the fallback reward and INVALID_REQUEST in errors. Without prompts, the first line of each query is the prompt',
      }),
    ),
    labels: Type.Optional(Type.Array(Type.Unknown(), { description: 'Accepted and ignored (implicit PRMs need no labels)' })),
    model: Type.Optional(Type.String({ description: 'Model name; default: the server default model' })),
    aggregate: Type.Optional(AggregateSchema),
    beta: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "β instead of the model's" })),
    truncate: Type.Optional(TruncateSchema),
    fallback_reward: Type.Optional(FallbackSchema),
  },
  { additionalProperties: true },
);
export type GetRewardBody = Static<typeof GetRewardBodySchema>;

export const GetRewardQuerySchema = Type.Object({
  aggregate: Type.Optional(AggregateSchema),
  model: Type.Optional(Type.String()),
  truncate: Type.Optional(TruncateSchema),
  // A query string carries text: the number is parsed by the route.
  fallback_reward: Type.Optional(Type.String({ pattern: '^-?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?$', description: 'As the body field; a number beyond a double (1e999) → 400 INVALID_REQUEST' })),
});
export type GetRewardQuery = Static<typeof GetRewardQuerySchema>;

export const GetRewardResponseSchema = Type.Object({
  rewards: Type.Array(Type.Number(), { description: 'The aggregate score of each query (aggregate: body, then ?aggregate=, then min)' }),
  scores: Type.Array(Type.Number(), { description: 'The same values as rewards (OpenRLHF versions read one or the other)' }),
  extra_logs: Type.Object(
    {
      outcome_reward: Type.Optional(Type.Array(Type.Number(), { description: 'q_n of each query' })),
      num_steps: Type.Optional(Type.Array(Type.Integer(), { description: 'Steps scored in each response (0: not scored)' })),
      scored: Type.Optional(Type.Array(Type.Integer(), { description: '1 when the query was scored, 0 when it got the fallback reward' })),
      truncated: Type.Optional(Type.Array(Type.Integer(), { description: '1 when the query was scored after truncation' })),
    },
    { description: 'Per-query numbers a trainer may log (numbers only: trainers turn each list into a tensor)' },
  ),
  step_rewards: Type.Array(Type.Array(Type.Number()), { description: 'r_k of every scored step of each query ([] when not scored)' }),
  errors: Type.Array(
    Type.Union([Type.Null(), Type.Object({ code: Type.String(), message: Type.String() })]),
    { description: 'Per query: null, or the error that gave it the fallback reward or caused its truncation' },
  ),
}, { description: 'One reward per query, in query order; a query that cannot be scored gets the fallback reward, never fails the others' });
export type GetRewardResponse = Static<typeof GetRewardResponseSchema>;

export const GetRewardRouteSchema = {
  summary: 'OpenRLHF-compatible remote reward model',
  tags: ['scoring'],
  querystring: GetRewardQuerySchema,
  body: GetRewardBodySchema,
  response: {
    200: GetRewardResponseSchema,
    ...errorResponses(400, 404, 413, 415, 500, 503, 504),
  },
};
