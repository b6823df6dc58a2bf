/**
 * POST /admin/reload: hot reload of model bundles from MODELS_DIR (the registry does the work, see
 * src/core/bundle-registry.ts). `{"model": "<name>"}` reloads one bundle, an empty body every
 * bundle folder. Requests in flight finish on the version they started with; a new version that
 * does not load leaves the old one serving and the call answers 422 RELOAD_FAILED.
 *
 * Registered only when ADMIN_API_KEYS is set; the auth hook requires an admin key for /admin/*.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ReloadOutcome } from '../core/bundle-registry.js';
import { ReloadError } from '../core/bundle-registry.js';
import { ErrorCode, PrmError } from '../errors.js';
import { errorResponses } from '../http/error-schemas.js';

export interface Reloadable {
  reload(name?: string): Promise<ReloadOutcome[]>;
}

const ReloadedSchema = Type.Object({
  name: Type.String(),
  fingerprint: Type.String({ description: 'The version now serving' }),
  previous: Type.Union([Type.String(), Type.Null()], { description: 'The version it replaced (disposed when its requests finish)' }),
});

export const ReloadResponseSchema = Type.Object(
  { reloaded: Type.Array(ReloadedSchema) },
  { description: 'Every bundle asked for now serves its new version' },
);

/** The model name from the body: none (every bundle) or `{"model": "<name>"}`. */
function modelOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new PrmError(ErrorCode.INVALID_REQUEST, 'body must be an object: {"model": "<name>"} or {}');
  }
  const { model, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new PrmError(ErrorCode.INVALID_REQUEST, `body has an unknown field '${unknown[0]}'`);
  if (model === undefined) return undefined;
  if (typeof model !== 'string' || model.length === 0) throw new PrmError(ErrorCode.INVALID_REQUEST, 'body.model must be a non-empty string');
  return model;
}

function describeFailures(outcomes: ReloadOutcome[]): string {
  return outcomes
    .map((o) =>
      o.ok
        ? `${o.name}: now ${o.fingerprint}`
        : `${o.name}: ${o.reason}` + (o.serving ? ` (still serving ${o.serving})` : ' (not serving)'),
    )
    .join('; ');
}

export function adminRoutes(service: Reloadable): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/admin/reload',
      {
        schema: {
          summary: 'Reload model bundles from disk without dropping requests (admin key)',
          tags: ['operations'],
          response: { 200: ReloadResponseSchema, ...errorResponses(400, 401, 403, 404, 422) },
        },
      },
      async (request) => {
        const model = modelOf(request.body);
        let outcomes: ReloadOutcome[];
        try {
          outcomes = await service.reload(model);
        } catch (err) {
          if (err instanceof ReloadError) {
            throw new PrmError(err.kind === 'not_found' ? ErrorCode.MODEL_NOT_FOUND : ErrorCode.RELOAD_FAILED, err.message);
          }
          throw err;
        }
        if (outcomes.some((o) => !o.ok)) throw new PrmError(ErrorCode.RELOAD_FAILED, `reload failed: ${describeFailures(outcomes)}`);
        return {
          reloaded: outcomes.flatMap((o) => (o.ok ? [{ name: o.name, fingerprint: o.fingerprint, previous: o.previous }] : [])),
        };
      },
    );
  };
}
