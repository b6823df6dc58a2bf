/** GET /metrics: the Prometheus registry, with per-route request counts recorded by the hooks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, emptyModelsDir, type TestApp } from '../harness/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: emptyModelsDir() });
});
afterAll(() => t.close());

/** Value of one sample line, e.g. `prm_requests_total{route="/health/live",status="200"} 3`. */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

async function scrape(): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body;
}

describe('GET /metrics', () => {
  it('serves the text format with the service and process metrics', async () => {
    const text = await scrape();
    for (const name of ['prm_requests_total', 'prm_request_duration_seconds', 'prm_errors_total', 'prm_queue_depth']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toMatch(/^# TYPE prm_process_cpu_user_seconds_total counter$/m);
  });

  it('counts requests per route pattern and status, and errors per code', async () => {
    const before = await scrape();
    await t.app.inject({ method: 'GET', url: '/health/live' });
    await t.app.inject({ method: 'GET', url: '/health/live' });
    await t.app.inject({ method: 'GET', url: '/no/such/path' });
    const after = await scrape();
    const live = 'route="/health/live",status="200"';
    expect(sample(after, 'prm_requests_total', live) - sample(before, 'prm_requests_total', live)).toBe(2);
    const missing = 'route="unmatched",status="404"';
    expect(sample(after, 'prm_requests_total', missing) - sample(before, 'prm_requests_total', missing)).toBe(1);
    const code = 'code="ROUTE_NOT_FOUND"';
    expect(sample(after, 'prm_errors_total', code) - sample(before, 'prm_errors_total', code)).toBe(1);
    const count = 'route="/health/live"';
    expect(sample(after, 'prm_request_duration_seconds_count', count) - sample(before, 'prm_request_duration_seconds_count', count)).toBe(2);
  });
});
