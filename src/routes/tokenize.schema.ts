/**
 * Request and response schemas of POST /tokenize: text items as /v1/score takes them, answered
 * with the token ids /v1/score would score and where each token lies in the text.
 */
import { Type, type Static } from 'typebox';
import { errorResponses } from '../http/error-schemas.js';
import { TextItemSchema, TokenOffsetSchema } from './score.schema.js';

export const TokenizeBodySchema = Type.Object(
  {
    model: Type.Optional(Type.String({ description: 'Model name (GET /v1/models); default: the server default model' })),
    items: Type.Array(TextItemSchema, { description: 'Text items, at most MAX_ITEMS_PER_REQUEST (413 TOO_MANY_ITEMS)' }),
    options: Type.Optional(
      Type.Object(
        {
          partial: Type.Optional(
            Type.Boolean({ description: "As /v1/score's options.partial: the last step keeps its separator and gets no EOS (default false)" }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TokenizeBody = Static<typeof TokenizeBodySchema>;

const ids = (description: string) => Type.Array(Type.Integer(), { description });

export const TokenizedItemSchema = Type.Object({
  id: Type.String({ description: 'The item id, or its index as a string' }),
  prompt_text: Type.String({ description: 'The prompt rendered through the model\'s template (or chat template)' }),
  prompt_ids: ids('The prompt segment\'s ids'),
  response_text: Type.String({ description: 'The response as rendered: the steps joined by the step separator (a partial trace ends with one); the EOS is not in it' }),
  step_ids: Type.Array(Type.Array(Type.Integer()), { description: "Each step's ids, its separator and (last step) the EOS included: /v1/score's token_ids" }),
  step_offsets: Type.Union([Type.Array(Type.Array(TokenOffsetSchema)), Type.Null()], {
    description: "Each step token's [start, end) in response_text, the shape of step_ids: /v1/score's token_offsets (null where the tokenizer's strings do not account for the text)",
  }),
  response_ids: ids('step_ids concatenated: with prompt_ids and step_ends, the same trace as a /v1/score token id item'),
  step_ends: ids('The exclusive end of each step in response_ids'),
  prompt_tokens: Type.Integer(),
  response_tokens: Type.Integer(),
  total_tokens: Type.Integer({ description: 'prompt_tokens + response_tokens: what MAX_TOKENS_PER_ITEM and max_sequence_length limit' }),
});

export const TokenizeResponseSchema = Type.Object({
  model: Type.Object({
    name: Type.String(),
    fingerprint: Type.String({ description: 'sha256 of the log-prob function (graphs, tokenizer, template)' }),
  }),
  results: Type.Array(TokenizedItemSchema, { description: 'One per item, in request order' }),
});

export const TokenizeRouteSchema = {
  summary: 'The token ids /v1/score would score for text items, with their character offsets',
  description:
    'Runs the tokenize stage of /v1/score and nothing after it: the same template, separators, EOS, step cuts, checks and limits. A client that scores token ids can take prompt_ids, response_ids and step_ends from here',
  tags: ['scoring'],
  body: TokenizeBodySchema,
  response: {
    200: { ...TokenizeResponseSchema, description: 'Token ids and offsets per item' },
    ...errorResponses(400, 404, 413, 415, 500, 503, 504),
  },
};
