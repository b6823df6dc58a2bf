/**
 * A real service on a free localhost port for the client, CLI and playground tests: the real app,
 * the real scoring service and the tiny test bundles (real onnxruntime), so clients are tested
 * over real HTTP. Child processes (the CLI, python3) talk to it while this process serves, so
 * callers must spawn them asynchronously, never with spawnSync.
 */
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createScoringService } from '../../src/core/scoring-service.js';

export const BUNDLES_DIR = new URL('../fixtures/bundles/', import.meta.url).pathname;

export interface LiveServer {
  url: string;
  close(): Promise<void>;
}

export async function startLiveServer(env: Record<string, string> = {}): Promise<LiveServer> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    MODELS_DIR: BUNDLES_DIR,
    DEFAULT_MODEL: 'tiny-logprobs',
    PRM_DEVICE: 'cpu',
    HOST: '127.0.0.1',
    PORT: '0',
    ...env,
  });
  const quiet = { info: () => {}, warn: () => {}, error: () => {} };
  const scoring = createScoringService({
    modelsDir: config.modelsDir,
    ...(config.defaultModel ? { defaultModel: config.defaultModel } : {}),
    device: config.device,
    // Two shared cores: keep onnxruntime from spawning a thread pool per session.
    intraOpThreads: 1,
    interOpThreads: 1,
    logger: quiet,
  });
  const app = await buildApp({ config, scoring });
  await app.listen({ host: config.host, port: config.port });
  await scoring.whenLoaded();
  const ready = scoring.readiness();
  if (!ready.ready) throw new Error(`test server not ready: ${JSON.stringify(ready)}`);
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      await app.close();
      await scoring.close();
    },
  };
}
