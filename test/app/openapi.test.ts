/**
 * The checked-in OpenAPI document is the API's reference; it is regenerated from the routes'
 * schemas here and must match byte for byte.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../scripts/openapi-spec.js';

describe('openapi/openapi.json', () => {
  it('matches the routes (run `npm run openapi` after changing a schema)', async () => {
    const generated = await openApiDocument();
    const checkedIn = readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
    expect(checkedIn === generated, 'openapi/openapi.json is out of date: run `npm run openapi` and commit it').toBe(true);
  });

  it('documents every endpoint with its success and error responses', async () => {
    const doc = JSON.parse(await openApiDocument()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/get_reward', '/health/live', '/health/ready', '/metrics', '/v1/models', '/v1/score']),
    );
    expect(Object.keys(doc.paths['/v1/score']!.post!.responses).sort()).toEqual(
      ['200', '400', '404', '413', '415', '500', '503', '504'],
    );
    expect(Object.keys(doc.paths['/health/ready']!.get!.responses).sort()).toEqual(['200', '503']);
  });
});
