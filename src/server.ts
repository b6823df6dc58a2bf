/**
 * Entry point: settings from the environment, the scoring service, the app, listen.
 *
 * - SIGTERM or SIGINT: readiness turns 503 and requests keep being served for SHUTDOWN_DRAIN_MS
 *   (what was already sent is answered), then stop accepting connections, let in-flight requests
 *   finish, close the models and the Redis connection, exit 0 (what an orchestrator's rolling
 *   update expects). In-flight requests end by their deadline at the latest, so shutdown is
 *   bounded; should it still hang, the process exits 1 a little after SHUTDOWN_DRAIN_MS +
 *   REQUEST_TIMEOUT_MS instead of waiting to be killed.
 * - SIGHUP: hot reload of every bundle folder (like POST /admin/reload with an empty body).
 */
import { buildApp, scoringServiceFor } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { LoadingScoringService } from './core/scoring-service.js';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

const config = configOrExit();
let service: LoadingScoringService | undefined;
const app = await buildApp({
  config,
  scoring: (logger) => (service = scoringServiceFor(config, logger)),
});
const scoring = service!;

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal, drainMs: config.shutdownDrainMs }, 'shutting down: draining, then finishing requests in flight');
  const grace = config.shutdownDrainMs + config.requestTimeoutMs + 10_000;
  setTimeout(() => {
    app.log.error({ graceMs: grace }, 'shutdown did not finish in time; exiting');
    process.exit(1);
  }, grace).unref();
  try {
    await app.drain(config.shutdownDrainMs);
    await app.close();
    await scoring.close();
    app.log.info('shut down: requests finished, models and caches closed');
    process.exit(0);
  } catch (err) {
    app.log.error({ err }, 'shutdown failed');
    process.exit(1);
  }
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

process.on('SIGHUP', () => {
  if (closing) return;
  app.log.info('SIGHUP: reloading every bundle');
  scoring.reload().then(
    (outcomes) => {
      const failed = outcomes.filter((o) => !o.ok).map((o) => o.name);
      app.log.info({ outcomes, failed }, failed.length === 0 ? 'reload finished' : `reload finished; failed: ${failed.join(', ')}`);
    },
    (err: unknown) => app.log.error({ err }, 'reload failed'),
  );
});

// A promise somebody forgot to handle is a bug to log, not a reason to drop every request in flight.
process.on('unhandledRejection', (err) => app.log.error({ err }, 'unhandled promise rejection'));

try {
  const address = await app.listen({ port: config.port, host: config.host });
  app.log.info(`implicit-prm serving ${config.modelsDir} at ${address} (API docs: ${address}/docs)`);
} catch (err) {
  app.log.error({ err }, 'could not start listening');
  await scoring.close();
  process.exit(1);
}
