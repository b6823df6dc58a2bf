/** Swagger UI at /docs, reading the same document the routes generate. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, emptyModelsDir, type TestApp } from '../harness/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ MODELS_DIR: emptyModelsDir() });
});
afterAll(() => t.close());

describe('/docs', () => {
  it('serves the Swagger UI page', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('swagger-ui');
  });

  it('serves the OpenAPI document as JSON', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/score');
  });
});
