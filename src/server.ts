/**
 * Entry point: settings from the environment, the scoring service, the app, listen. On SIGTERM or
 * SIGINT it stops accepting connections, lets in-flight requests finish, closes the models and
 * exits 0, which is what an orchestrator's rolling update expects.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createCaches } from './cache/create-caches.js';
import { createScoringService } from './core/scoring-service.js';

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

/** DEFAULT_MODEL, else the bundle this project trains when it is there, else the service's choice. */
function defaultModel(config: Config): string | undefined {
  if (config.defaultModel !== undefined) return config.defaultModel;
  return existsSync(join(config.modelsDir, 'arith-tiny', 'prm.json')) ? 'arith-tiny' : undefined;
}

const config = configOrExit();
const app = await buildApp({
  config,
  scoring: (logger) =>
    createScoringService({
      ...createCaches(config, logger),
      batching: {
        maxBatchTokens: config.maxBatchTokens,
        maxRows: 256,
        maxWaitMs: config.maxBatchWaitMs,
        maxQueueRows: config.maxQueueRows,
      },
      modelsDir: config.modelsDir,
      defaultModel: defaultModel(config),
      device: config.device,
      // 0 means "onnxruntime's default", which the service expresses as "not set".
      intraOpThreads: config.intraOpThreads || undefined,
      interOpThreads: config.interOpThreads || undefined,
      logger,
    }),
});

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
  try {
    await app.close();
    await app.scoring.close();
    process.exit(0);
  } catch (err) {
    app.log.error({ err }, 'shutdown failed');
    process.exit(1);
  }
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

try {
  const address = await app.listen({ port: config.port, host: config.host });
  app.log.info(`implicit-prm serving ${config.modelsDir} at ${address} (API docs: ${address}/docs)`);
} catch (err) {
  app.log.error({ err }, 'could not start listening');
  await app.scoring.close();
  process.exit(1);
}
