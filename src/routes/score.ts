/**
 * POST /v1/score: the service's own API. Checks what the schema cannot (per-deployment limits, the
 * item's form), runs the scoring call under the request's deadline and the client's
 * connection, and exposes the stage timings as headers. An item is text or token ids
 * (src/core/token-items.ts); the form is checked here, the ids against the model when tokenizing.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkItemForm } from '../core/prepare-items.js';
import type { ScoreItemInput } from '../core/types.js';
import { ErrorCode, PrmError } from '../errors.js';
import { withRequestSignal } from '../http/request-signal.js';
import { compileAnswerSerializers, sendSliced, type AnswerShape } from '../http/sliced-json.js';
import { setTimingHeaders } from '../http/timing-headers.js';
import { ItemResultSchema, ModelSummarySchema, ScoreRouteSchema, UsageSchema, type ScoreBody } from './score.schema.js';

/** Items with their ids filled in (the index, as a string, where the client gave none). */
export function checkItems(items: ScoreBody['items'], maxItems: number): ScoreItemInput[] {
  if (items.length > maxItems) {
    throw new PrmError(ErrorCode.TOO_MANY_ITEMS, `${items.length} items in one request; the limit is ${maxItems}`);
  }
  return items.map((item, i) => {
    checkItemForm(item, `body.items[${i}]`);
    return { ...item, id: item.id ?? String(i) } as ScoreItemInput;
  });
}

/** The answer, its results serialized one at a time: with token rewards, 256 traces make megabytes. */
const ANSWER: AnswerShape = [
  { name: 'model', schema: ModelSummarySchema },
  { name: 'results', schema: ItemResultSchema, elements: true },
  { name: 'usage', schema: UsageSchema },
];

export const scoreRoutes: FastifyPluginAsyncTypebox = async (app) => {
  compileAnswerSerializers(ANSWER);
  app.post('/v1/score', { schema: ScoreRouteSchema, config: { queuesWork: true } }, async (request, reply) => {
    const { model, options = {} } = request.body;
    const items = checkItems(request.body.items, app.config.maxItemsPerRequest);
    const { timeout_ms: timeoutMs, ...scoreOptions } = options;
    const deadlineMs = Math.min(app.config.requestTimeoutMs, timeoutMs ?? Number.POSITIVE_INFINITY);
    const result = await withRequestSignal(reply, deadlineMs, (signal, deadlineAt) =>
      app.scoring.score(model, items, scoreOptions, signal, deadlineAt),
    );
    setTimingHeaders(reply, result.timings);
    return sendSliced(reply, ANSWER, result);
  });
};
