/**
 * The API key in the URL (`/k/<key>/...`) for clients that send no headers: the production app
 * with API_KEYS set accepts it on /get_reward and /v1/score, refuses a wrong one with the usual
 * 401, and the key appears in no log line and no metric.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, scoringServiceFor, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { silentLogger } from '../../src/logger.js';
import { BUNDLES_DIR } from '../harness/bundles.js';

const KEY = 'sk-url-key-7f3a9c';
const logged: string[] = [];
let app: App;
let scoring: LoadingScoringService;
beforeAll(async () => {
  const config = loadConfig({
    LOG_LEVEL: 'info', MODELS_DIR: BUNDLES_DIR, DEFAULT_MODEL: 'tiny-logprobs', PRM_DEVICE: 'cpu',
    PRM_INTRA_OP_THREADS: '1', PRM_INTER_OP_THREADS: '1', API_KEYS: KEY, PUBLIC_METRICS: 'true',
  });
  const sink = new Writable({ write: (chunk, _enc, done) => (logged.push(String(chunk)), done()) });
  scoring = scoringServiceFor(config, silentLogger);
  app = await buildApp({ config, scoring, logger: pino({ level: 'info' }, sink) });
  await scoring.whenLoaded();
});
afterAll(async () => {
  await app?.close();
  await scoring?.close();
});

const reward = { query: ['12+7\n12+7=19\nAnswer: 19'], prompts: ['12+7'] };

describe('API key in the URL', () => {
  it('serves /k/<key>/get_reward (with its query string) and /k/<key>/v1/score like the header', async () => {
    const viaPath = await app.inject({ method: 'POST', url: `/k/${KEY}/get_reward?aggregate=min`, payload: reward });
    expect(viaPath.statusCode, viaPath.body).toBe(200);
    const viaHeader = await app.inject({ method: 'POST', url: '/get_reward?aggregate=min', payload: reward, headers: { authorization: `Bearer ${KEY}` } });
    expect(viaPath.json().rewards).toEqual(viaHeader.json().rewards);
    const score = await app.inject({ method: 'POST', url: `/k/${encodeURIComponent(KEY)}/v1/score`, payload: { items: [{ prompt: '12+7', steps: ['12+7=19', 'Answer: 19'] }] } });
    expect(score.statusCode, score.body).toBe(200);
  });

  it('refuses a wrong key in the URL, and needs one without it', async () => {
    const wrong = await app.inject({ method: 'POST', url: '/k/not-the-key/get_reward', payload: reward });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('UNAUTHORIZED');
    expect((await app.inject({ method: 'POST', url: '/get_reward', payload: reward })).statusCode).toBe(401);
  });

  it('never shows the key in the logs or the metrics', async () => {
    await app.inject({ method: 'POST', url: `/k/${KEY}/get_reward`, payload: reward });
    await app.inject({ method: 'POST', url: `/k/${KEY}/no-such-route`, payload: reward });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(logged.join('').length).toBeGreaterThan(0);
    expect(logged.some((l) => l.includes('/get_reward'))).toBe(true);
    expect(logged.join('')).not.toContain(KEY);
    expect(metrics.body).not.toContain(KEY);
  });
});
