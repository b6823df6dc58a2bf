/**
 * The app with the production wiring (scoringServiceFor: admission limits, caches, batching from
 * the settings) on the tiny test bundles, for in-process tests of auth and limits via app.inject.
 */
import { buildApp, scoringServiceFor, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { silentLogger } from '../../src/logger.js';
import { FIXTURE_BUNDLES } from './server-process.js';

export interface HardenedApp {
  app: App;
  scoring: LoadingScoringService;
  close(): Promise<void>;
}

export async function buildHardenedApp(env: Record<string, string> = {}): Promise<HardenedApp> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    MODELS_DIR: FIXTURE_BUNDLES,
    DEFAULT_MODEL: 'tiny-logprobs',
    PRM_DEVICE: 'cpu',
    PRM_INTRA_OP_THREADS: '1',
    PRM_INTER_OP_THREADS: '1',
    ...env,
  });
  const scoring = scoringServiceFor(config, silentLogger);
  const app = await buildApp({ config, scoring });
  await scoring.whenLoaded();
  return {
    app,
    scoring,
    async close() {
      await app.close();
      await scoring.close();
    },
  };
}

export { trace } from './traces.js';
