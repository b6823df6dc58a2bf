/**
 * Builds the Fastify application: external libraries first (OpenAPI generation, its UI), then our
 * services (the scoring service and the settings, injected so tests and scripts choose them), then
 * access control (API keys, rate limit), then the routes. Listening and process lifetime belong
 * to src/server.ts; scoringServiceFor() is the scoring service it runs, built from the settings.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createCaches, type Caches } from './cache/create-caches.js';
import { batcherOptionsOf, engineOptionsOf, jsonShapeLimitsOf, requestLimitsOf, type Config } from './config.js';
import { packageInfo } from './package-info.js';
import { createScoringService, type LoadingScoringService } from './core/scoring-service.js';
import type { ScoringService } from './core/types.js';
import type { Logger } from './logger.js';
import { keyInPath } from './http/key-in-path.js';
import { installAuth } from './http/auth.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandlers } from './http/error-handler.js';
import { installGracefulClose } from './http/graceful-close.js';
import { installRetryAfterHold } from './http/retry-after-hold.js';
import { installRateLimit } from './http/rate-limit.js';
import { installBacklogDoor } from './http/backlog-door.js';
import { installBodyBudget } from './http/body-budget.js';
import { installJsonBody } from './http/json-body.js';
import { requestIdOf } from './http/request-id.js';
import { installRequestMetrics } from './http/request-metrics.js';
import { collectProcessMetrics } from './metrics.js';
import { adminRoutes, type Reloadable } from './routes/admin.js';
import { getRewardRoutes } from './routes/get-reward.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { modelsRoutes } from './routes/models.js';
import { playgroundRoutes } from './playground/route.js';
import { scoreRoutes } from './routes/score.js';
import { tokenizeRoutes } from './routes/tokenize.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** reload is there when the service supports hot reload (the real one does). */
    scoring: ScoringService & Partial<Reloadable>;
    config: Config;
  }
}

/** DEFAULT_MODEL, else the bundle this project trains when it is there, else the service's choice. */
function defaultModelOf(config: Config): string | undefined {
  if (config.defaultModel !== undefined) return config.defaultModel;
  return existsSync(join(config.modelsDir, 'arith-tiny', 'prm.json')) ? 'arith-tiny' : undefined;
}

/**
 * The scoring service of a deployment: caches, batching, admission limits and threads from the
 * settings. The entry point runs exactly this, and so does every test and bench harness; `caches`
 * lets a caller keep a handle on the caches it built from the same settings.
 */
export function scoringServiceFor(
  config: Config,
  logger: Logger & { info(obj: unknown, msg?: string): void; warn(obj: unknown, msg?: string): void },
  defaultModel: string | undefined = defaultModelOf(config),
  caches: Caches = createCaches(config, logger),
): LoadingScoringService {
  return createScoringService({
    modelsDir: config.modelsDir,
    defaultModel,
    engine: engineOptionsOf(config, logger),
    caches,
    batching: batcherOptionsOf(config),
    limits: requestLimitsOf(config),
    tokenizerThreads: config.tokenizerThreads,
    logger,
  });
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
  const app = Fastify(fastifyOptions(config, logger)).withTypeProvider<TypeBoxTypeProvider>();

  // External libraries.
  await registerOpenApi(app);
  // Every endpoint takes JSON; Fastify's built-in text/plain parser would let a wrongly labelled
  // body through to a confusing schema error instead of a clear 415.
  app.removeContentTypeParser('text/plain');
  installJsonBody(app, jsonShapeLimitsOf(config));

  // Our services.
  app.decorate('config', config);
  const service: ScoringService & Partial<Reloadable> = typeof scoring === 'function' ? scoring(app.log) : scoring;
  app.decorate('scoring', service);
  installErrorHandlers(app);
  collectProcessMetrics(config.eventLoopResolutionMs);
  installRequestMetrics(app);
  // A resend the backlog would refuse again waits out its Retry-After; draining lets it go.
  const hold = installRetryAfterHold(app, service, { longestDeadlineMs: config.requestTimeoutMs, maxHoldMs: config.bodyTimeoutMs / 2 });
  installGracefulClose(app, hold.releaseAll);

  // Access control, before any route so that every route gets it: who is calling, then the rate
  // limit (every attempt counts, a wrong key included), then the refusal of missing or wrong keys.
  const enforceKeys = installAuth(app, config);
  await installRateLimit(app, config.rateLimitPerMinute);
  enforceKeys();
  // After the keys and the rate limit, before the body budget: a request the backlog refuses
  // is answered without its body being read.
  installBacklogDoor(app, service, config.requestTimeoutMs);
  // After the keys and the rate limit: a refused request holds no body budget.
  installBodyBudget(app, { maxRequests: config.maxConcurrentRequests, maxBytes: config.bodyBytesInFlight, bodyLimit: config.bodyLimitBytes });

  await registerRoutes(app, config, service);
  return app;
}

function fastifyOptions(config: Config, logger: FastifyBaseLogger | undefined): FastifyServerOptions {
  const options: FastifyServerOptions = {
    bodyLimit: config.bodyLimitBytes,
    // The client's x-request-id only when it is a plain token (request-id.ts).
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Slow clients are cut: headers within HEADERS_TIMEOUT_MS, the whole request within
    // BODY_TIMEOUT_MS (Node answers 408 and closes), checked every second (Node's default is 30 s).
    requestTimeout: config.bodyTimeoutMs,
    serverFactory: (handler) =>
      createServer({ connectionsCheckingInterval: 1_000, headersTimeout: config.headersTimeoutMs, requestTimeout: config.bodyTimeoutMs }, handler),
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // A request still arriving while the server closes is served (graceful-close.ts).
    return503OnClosing: false,
    // `/k/<key>/...`: the key in the URL, taken out before routing and logging (key-in-path.ts).
    rewriteUrl: keyInPath,
    ajv: {
      // Reject what is wrong instead of repairing it: no "5" → 5 coercion, and unknown fields are
      // an error (where a schema forbids them) rather than silently dropped.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false },
    },
  };
  if (logger) options.loggerInstance = logger;
  else options.logger = { level: config.logLevel };
  return options;
}

async function registerOpenApi(app: FastifyInstance): Promise<void> {
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
}

async function registerRoutes(app: FastifyInstance, config: Config, service: ScoringService & Partial<Reloadable>): Promise<void> {
  await app.register(scoreRoutes);
  await app.register(tokenizeRoutes);
  await app.register(getRewardRoutes);
  await app.register(modelsRoutes);
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(playgroundRoutes);
  // Admin endpoints exist only when someone may call them.
  if (config.adminApiKeys.length > 0 && typeof service.reload === 'function') {
    await app.register(adminRoutes({ reload: (name) => service.reload!(name) }));
  }
}

export type App = Awaited<ReturnType<typeof buildApp>>;
