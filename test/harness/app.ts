/**
 * The one way tests and the bench build the service in process: settings parsed by loadConfig,
 * the scoring service from scoringServiceFor and the app from buildApp — the production wiring
 * of src/server.ts, on quiet, single-threaded defaults and the tiny test bundles. For what only a
 * process has (signals, exit codes, replicas), server-process.ts starts src/server.ts itself.
 */
import { buildApp, scoringServiceFor, type App } from '../../src/app.js';
import type { Caches } from '../../src/cache/create-caches.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { BUNDLES_DIR } from './bundles.js';

export { BUNDLES_DIR, emptyModelsDir, modelsDirWith } from './bundles.js';

/** Two shared cores: no onnxruntime thread pool per session; no logs. */
export const TEST_ENV: Record<string, string> = {
  LOG_LEVEL: 'silent',
  MODELS_DIR: BUNDLES_DIR,
  PRM_DEVICE: 'cpu',
  PRM_INTRA_OP_THREADS: '1',
  PRM_INTER_OP_THREADS: '1',
};

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ ...TEST_ENV, ...env });
}

export interface ServiceOptions {
  logger?: Logger & { info(obj: unknown, msg?: string): void; warn(obj: unknown, msg?: string): void };
  /** Caches built by the caller from the same settings, to look into them. */
  caches?: Caches;
}

/** The scoring service alone, as the entry point builds it. */
export function testScoringService(env: Record<string, string> = {}, opts: ServiceOptions = {}): LoadingScoringService {
  const config = testConfig(env);
  return scoringServiceFor(config, opts.logger ?? silentLogger, undefined, opts.caches);
}

export interface TestApp {
  app: App;
  scoring: LoadingScoringService;
  /** With `listen`: the loopback address it serves. */
  url: string;
  close(): Promise<void>;
}

export interface TestAppOptions extends ServiceOptions {
  /** Wait until every bundle has loaded (and, listening, until the service is ready). */
  loaded?: boolean;
  /** Serve on a free loopback port, for clients in other processes (CLI, python3, browsers). */
  listen?: boolean;
}

/** The app with the production wiring; requests by `app.inject`, or over HTTP with `listen`. */
export async function buildTestApp(env: Record<string, string> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(env);
  const scoring = scoringServiceFor(config, opts.logger ?? silentLogger, undefined, opts.caches);
  const app = await buildApp({ config, scoring });
  const close = async () => {
    await app.close();
    await scoring.close();
  };
  let url = '';
  if (opts.listen) url = await listen(app, scoring);
  else if (opts.loaded) await scoring.whenLoaded();
  return { app, scoring, url, close };
}

async function listen(app: App, scoring: LoadingScoringService): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  await scoring.whenLoaded();
  const ready = scoring.readiness();
  if (!ready.ready) throw new Error(`test server not ready: ${JSON.stringify(ready)}`);
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/** The app on the test bundles with tiny-logprobs as the default model, every bundle loaded. */
export function buildLoadedApp(env: Record<string, string> = {}): Promise<TestApp> {
  return buildTestApp({ DEFAULT_MODEL: 'tiny-logprobs', ...env }, { loaded: true });
}

/** The same, serving on a free loopback port once ready (clients, the CLI, the playground). */
export function startLiveServer(env: Record<string, string> = {}): Promise<TestApp> {
  return buildTestApp({ DEFAULT_MODEL: 'tiny-logprobs', ...env }, { listen: true });
}
