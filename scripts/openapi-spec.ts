/**
 * Builds the OpenAPI document from the routes' schemas. Shared by `npm run openapi` (writes
 * openapi/openapi.json) and the drift test (compares it with the checked-in file), so both see
 * exactly the same bytes.
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { ScoringService } from '../src/core/types.js';
import { ErrorCode, PrmError } from '../src/errors.js';

/** The routes only need a scoring service to exist; generating the document never calls it. */
const noModels: ScoringService = {
  models: () => [],
  defaultModel: () => undefined,
  readiness: () => ({ ready: false, models: {}, degraded: [] }),
  score: async () => {
    throw new PrmError(ErrorCode.NOT_READY, 'no models');
  },
  backlogRefusal: () => null,
  tokenize: async () => {
    throw new PrmError(ErrorCode.NOT_READY, 'no models');
  },
  close: async () => undefined,
};

/** Keys sorted at every level, so the file changes only when the API does. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export async function openApiDocument(): Promise<string> {
  // Defaults only: the document must not depend on the environment it is generated in.
  const app = await buildApp({ config: { ...loadConfig({}), logLevel: 'silent' }, scoring: noModels });
  try {
    await app.ready();
    return `${JSON.stringify(sortKeys(app.swagger()), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
