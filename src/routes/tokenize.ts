/**
 * POST /tokenize: what /v1/score would score for text items (their ids, step cuts and offsets),
 * through the same tokenize stage, under the same item limit, deadline and API key.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withRequestSignal } from '../http/request-signal.js';
import { compileAnswerSerializers, sendSliced, type AnswerShape } from '../http/sliced-json.js';
import { checkItems } from './score.js';
import { TokenizeResponseSchema, TokenizedItemSchema, TokenizeRouteSchema } from './tokenize.schema.js';
import type { TextItemInput } from '../core/types.js';

/** The answer, its items serialized one at a time: ids and offsets of 256 traces are megabytes. */
const ANSWER: AnswerShape = [
  { name: 'model', schema: TokenizeResponseSchema.properties.model },
  { name: 'results', schema: TokenizedItemSchema, elements: true },
];

export const tokenizeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  compileAnswerSerializers(ANSWER);
  app.post('/tokenize', { schema: TokenizeRouteSchema }, async (request, reply) => {
    const { model, options = {} } = request.body;
    const items = checkItems(request.body.items, app.config.maxItemsPerRequest) as TextItemInput[];
    const answer = await withRequestSignal(reply, app.config.requestTimeoutMs, (signal) => app.scoring.tokenize(model, items, options, signal));
    return sendSliced(reply, ANSWER, answer);
  });
};
