/**
 * Builds the Fastify application: external libraries first (OpenAPI generation, its UI), then our
 * services (the scoring service and the settings, injected so tests and scripts choose them), then
 * the routes. Listening and process lifetime belong to src/server.ts.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { packageInfo } from './package-info.js';
import type { ScoringService } from './core/types.js';
import { frameworkErrorHandler, installErrorHandlers } from './http/error-handler.js';
import { installRequestMetrics } from './http/request-metrics.js';
import { getRewardRoutes } from './routes/get-reward.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { modelsRoutes } from './routes/models.js';
import { playgroundRoutes } from './playground/route.js';
import { scoreRoutes } from './routes/score.js';

declare module 'fastify' {
  interface FastifyInstance {
    scoring: ScoringService;
    config: Config;
  }
}

export interface AppDeps {
  config: Config;
  /**
   * The scoring service, or a factory that receives the app's logger so that the service logs
   * through the same logger (what src/server.ts does). Closing it is the caller's job.
   */
  scoring: ScoringService | ((logger: FastifyBaseLogger) => ScoringService);
  /** Default: a new logger at config.logLevel. */
  logger?: FastifyBaseLogger;
}

const pkg = packageInfo();

export async function buildApp({ config, scoring, logger }: AppDeps) {
  const options: FastifyServerOptions = {
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: 'x-request-id',
    frameworkErrors: frameworkErrorHandler,
    ajv: {
      // Reject what is wrong instead of repairing it: no "5" → 5 coercion, and unknown fields are
      // an error (where a schema forbids them) rather than silently dropped.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false },
    },
  };
  if (logger) options.loggerInstance = logger;
  else options.logger = { level: config.logLevel };
  const app = Fastify(options).withTypeProvider<TypeBoxTypeProvider>();

  // External libraries.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'implicit-prm',
        version: pkg.version,
        description: `${pkg.description}. Rewards follow "Free Process Rewards without Process Labels" (Yuan et al., 2025).`,
      },
      tags: [
        { name: 'scoring', description: 'Process rewards' },
        { name: 'models', description: 'Loaded models' },
        { name: 'health', description: 'Probes' },
        { name: 'operations', description: 'Monitoring' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Every endpoint takes JSON; Fastify's built-in text/plain parser would let a wrongly labelled
  // body through to a confusing schema error instead of a clear 415.
  app.removeContentTypeParser('text/plain');

  // Our services.
  app.decorate('config', config);
  app.decorate('scoring', typeof scoring === 'function' ? scoring(app.log) : scoring);
  installErrorHandlers(app);
  installRequestMetrics(app);

  // Routes.
  await app.register(scoreRoutes);
  await app.register(getRewardRoutes);
  await app.register(modelsRoutes);
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(playgroundRoutes);

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
