/**
 * Schemas of POST /get_reward, the drop-in for OpenRLHF's remote reward model
 * (`--remote_rm_url http://host:8080/get_reward`). Unknown body fields are accepted and ignored,
 * because trainers add fields over time and a reward server that rejects them stops training.
 */
import { Type, type Static } from 'typebox';
import { errorResponses } from '../http/error-schemas.js';
import { AggregateSchema } from './score.schema.js';

export const GetRewardBodySchema = Type.Object(
  {
    query: Type.Array(Type.String(), {
      description: 'Full texts, prompt followed by response. An empty list returns empty lists',
    }),
    prompts: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'prompts[i] is the prefix of query[i] that is the prompt; the rest, without leading line breaks, is the response, split into steps by the model\'s step separator (a blank piece stays inside the step before it, so doubled separators never fail the batch; one trailing separator is dropped). ' +
          'A query that does not start with its prompt → 400 INVALID_REQUEST. Without prompts, the first line of each query is the prompt',
      }),
    ),
    labels: Type.Optional(Type.Array(Type.Unknown(), { description: 'Accepted and ignored (implicit PRMs need no labels)' })),
    model: Type.Optional(Type.String({ description: 'Model name; default: the server default model' })),
    aggregate: Type.Optional(AggregateSchema),
    beta: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "β instead of the model's" })),
  },
  { additionalProperties: true },
);
export type GetRewardBody = Static<typeof GetRewardBodySchema>;

export const GetRewardQuerySchema = Type.Object({
  aggregate: Type.Optional(AggregateSchema),
  model: Type.Optional(Type.String()),
});

export const GetRewardResponseSchema = Type.Object({
  rewards: Type.Array(Type.Number(), { description: 'The aggregate score of each query (aggregate: body, then ?aggregate=, then min)' }),
  scores: Type.Array(Type.Number(), { description: 'The same values as rewards (OpenRLHF versions read one or the other)' }),
  extra_logs: Type.Object(
    {
      outcome_reward: Type.Optional(Type.Array(Type.Number(), { description: 'q_n of each query' })),
      num_steps: Type.Optional(Type.Array(Type.Integer(), { description: 'Steps found in each response' })),
    },
    { description: 'Per-query values a trainer may log; {} for an empty request' },
  ),
  step_rewards: Type.Array(Type.Array(Type.Number()), { description: 'r_k of every step of each query' }),
}, { description: 'One reward per query, in query order' });
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
