/**
 * Builds the real app for tests, fastify/demo style: real config parsing, real scoring service
 * (pointed at the tiny test bundles or at an empty folder), `app.inject` for requests.
 */
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createScoringService, type LoadingScoringService } from '../../src/core/scoring-service.js';

export const BUNDLES_DIR = new URL('../fixtures/bundles/', import.meta.url).pathname;

export interface TestApp {
  app: App;
  scoring: LoadingScoringService;
  close(): Promise<void>;
}

/** A models folder with no bundles in it: the service starts but never becomes ready. */
export function emptyModelsDir(): string {
  return mkdtempSync(join(tmpdir(), 'prm-no-models-'));
}

/** A models folder holding only the named test bundles (linked, not copied). */
export function modelsDirWith(...bundles: string[]): string {
  const dir = emptyModelsDir();
  for (const name of bundles) symlinkSync(join(BUNDLES_DIR, name), join(dir, name));
  return dir;
}

export async function buildTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({ LOG_LEVEL: 'silent', MODELS_DIR: BUNDLES_DIR, PRM_DEVICE: 'cpu', ...env });
  const scoring = createScoringService({
    modelsDir: config.modelsDir,
    defaultModel: config.defaultModel,
    device: config.device,
    intraOpThreads: 1,
    interOpThreads: 1,
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  const app = await buildApp({ config, scoring });
  return {
    app,
    scoring,
    async close() {
      await app.close();
      await scoring.close();
    },
  };
}
