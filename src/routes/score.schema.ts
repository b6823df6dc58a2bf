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

const TOKEN_ID = Type.Integer({ description: "A token id of the model's tokenizer, in [0, vocab_size) (else 400 TOKEN_ID_OUT_OF_RANGE)" });

/** The text form of an item's fields; /tokenize takes these alone. */
export const textItemFields = {
  id: Type.Optional(Type.String({ description: 'Echoed in the result; defaults to the item index as a string' })),
  prompt: Type.String({ description: "Text form: the problem, as passed to the model's prompt template" }),
  steps: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Text form: the solution, one string per reasoning step (no separators). Empty list → EMPTY_STEPS, empty step → EMPTY_STEP',
    }),
  ),
  response: Type.Optional(
    Type.String({ description: "Text form: the solution as one string, split into steps by the model's step separator" }),
  ),
};

export const TextItemSchema = Type.Object(textItemFields, {
  additionalProperties: false,
  description: 'One trace as text: `prompt` and exactly one of `steps` or `response`',
});

export const ScoreItemSchema = Type.Object(
  {
    ...textItemFields,
    prompt: Type.Optional(textItemFields.prompt),
    prompt_ids: Type.Optional(
      Type.Array(TOKEN_ID, {
        description: 'Token id form: the prompt as token ids, exactly as the model sees it (its template, BOS, chat markers already in). Empty → EMPTY_PROMPT',
      }),
    ),
    response_ids: Type.Optional(
      Type.Array(TOKEN_ID, {
        description: 'Token id form: the response as token ids, separators and EOS included where the caller wants them scored; nothing is added',
      }),
    ),
    step_ends: Type.Optional(
      Type.Array(Type.Integer(), {
        description:
          'Token id form: step_ends[k] is the exclusive end of step k in response_ids; strictly increasing, the last equal to response_ids.length. Empty → EMPTY_STEPS, a repeated end (an empty step) → EMPTY_STEP, anything else out of order → INVALID_REQUEST',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "One trace, in one of two forms (mixing them → 400 INVALID_REQUEST). Text: `prompt` and exactly one of `steps` or `response`; the service renders the prompt template, the separators and the EOS, and tokenizes. Token ids (for a PRM that shares the policy's tokenizer): `prompt_ids`, `response_ids` and `step_ends`, scored exactly as given — no template, no separator, no EOS appended — so each token reward belongs to one of the caller's tokens. Both forms obey the same limits (MAX_TOKENS_PER_ITEM → TOO_MANY_TOKENS, the model's max_sequence_length → SEQUENCE_TOO_LONG) and share cache entries when their segments' ids are the same. `options.partial` on a token id item only keeps its KV for an extension; its ids are not changed",
  },
);

export const ScoreOptionsSchema = Type.Object(
  {
    aggregate: Type.Optional(AggregateSchema),
    token_rewards: Type.Optional(
      Type.Boolean({
        description: 'Also return β·ℓ_i for every response token, grouped by step, with the tokens\' ids (`token_ids`) and character offsets (`token_offsets`) (default false)',
      }),
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

export const TokenOffsetSchema = Type.Array(Type.Integer(), {
  minItems: 2,
  maxItems: 2,
  description:
    '[start, end) in UTF-16 code units (JavaScript string indices) of the response as the service rendered it: the steps joined by the step separator (a partial trace\'s last separator included). A token that begins in the prompt starts at 0; a token with no characters of its own (the EOS the model appends, the second byte-level piece of one character) has start = end',
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
  token_ids: Type.Optional(
    Type.Array(Type.Array(Type.Integer()), {
      description: "The id of each token in token_rewards, the same shape (when options.token_rewards): a step's ids, its separator and the EOS included, for text items as the service tokenized them, for token id items the caller's own",
    }),
  ),
  token_offsets: Type.Optional(
    Type.Union([Type.Array(Type.Array(TokenOffsetSchema)), Type.Null()], {
      description: 'Where each token of token_rewards lies in the response text, the same shape (when options.token_rewards). null for token id items (the service sees no text) and for tokenizers whose token strings do not account for the text',
    }),
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
