/**
 * POST /tokenize: what /v1/score would score for text items (their ids, step cuts and offsets),
 * through the same tokenize stage, under the same item limit, deadline and API key.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withRequestSignal } from '../http/request-signal.js';
import { sendSliced } from '../http/sliced-json.js';
import { checkItems } from './score.js';
import { TokenizeResponseSchema, TokenizedItemSchema, TokenizeRouteSchema } from './tokenize.schema.js';
import type { TextItemInput } from '../core/types.js';

export const tokenizeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/tokenize', { schema: TokenizeRouteSchema }, async (request, reply) => {
    const { model, options = {} } = request.body;
    const items = checkItems(request.body.items, app.config.maxItemsPerRequest) as TextItemInput[];
    const answer = await withRequestSignal(reply, app.config.requestTimeoutMs, (signal) => app.scoring.tokenize(model, items, options, signal));
    // Serialized an item at a time: ids and offsets of 256 traces are megabytes.
    return sendSliced(reply, [
      { name: 'model', value: answer.model, schema: TokenizeResponseSchema.properties.model },
      { name: 'results', value: answer.results, schema: TokenizedItemSchema, elements: true },
    ]);
  });
};
