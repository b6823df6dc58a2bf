/**
 * Probes. /health/live says the process runs (restart it if not); /health/ready says loading is
 * over and the default model serves (send it traffic if so), and which model is still loading or
 * why one failed — without file paths or backend addresses unless the caller sent a valid key.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorCode, errorBody } from '../errors.js';
import { ErrorBodySchema } from '../http/error-schemas.js';
import { redactDetail } from '../http/redact.js';

const models = Type.Record(Type.String(), Type.String(), {
  description: 'Per model: "loading", "ready" or "failed: <reason>"',
});
const degraded = Type.Array(Type.String(), { description: 'Non-fatal conditions, e.g. an unreachable Redis' });

export const ReadySchema = Type.Object({ ready: Type.Boolean(), models, degraded }, { description: 'Loading is over and the default model serves' });
export const NotReadySchema = Type.Object(
  { error: ErrorBodySchema.properties.error, ready: Type.Boolean(), models, degraded },
  { description: 'NOT_READY, with the state of every model' },
);

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health/live',
    {
      schema: {
        summary: 'Liveness: 200 while the process runs',
        tags: ['health'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process runs' }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        summary: 'Readiness: 200 once loading is over and the default model serves, else 503 NOT_READY',
        tags: ['health'],
        response: { 200: ReadySchema, 503: NotReadySchema },
      },
    },
    async (request, reply) => {
      const serving = app.scoring.readiness();
      // Draining before shutdown: a load balancer must stop sending here.
      const full = app.isDraining() ? { ...serving, ready: false, degraded: ['shutting down', ...serving.degraded] } : serving;
      // Without a valid key, messages leave out file paths and backend addresses.
      const r = request.principal !== undefined ? full : {
        ...full,
        models: Object.fromEntries(Object.entries(full.models).map(([name, state]) => [name, redactDetail(state)])),
        degraded: full.degraded.map(redactDetail),
      };
      if (r.ready) return reply.code(200).send(r);
      const pending = Object.entries(r.models)
        .filter(([, state]) => state !== 'ready')
        .map(([name, state]) => `${name}: ${state}`);
      const reasons = [...pending, ...r.degraded];
      const reason = reasons.length > 0 ? reasons.join('; ') : 'models are being discovered';
      if (app.isDraining()) reply.header('retry-after', '1');
      return reply.code(503).send({ ...errorBody(ErrorCode.NOT_READY, `not ready (${reason})`), ...r });
    },
  );
};
