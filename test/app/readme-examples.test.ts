/**
 * The README's request examples show real output of the bundled default model: each example's
 * request (taken from its curl line) sent to the service on `models/` must answer 200 with the
 * JSON shown, numbers within 1e-4 (another CPU may round the last digits differently).
 * After retraining the bundle, `npm run readme:examples` rewrites the blocks.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App } from '../../src/app.js';
import type { LoadingScoringService } from '../../src/core/scoring-service.js';
import { buildTestApp } from '../harness/app.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const MODELS_DIR = new URL('../../models', import.meta.url).pathname;
const TOL = 1e-4;

interface Example {
  name: string;
  url: string;
  body: unknown;
  response: unknown;
}

function examples(): Example[] {
  const out: Example[] = [];
  for (const m of README.matchAll(/<!-- example:(\w+) -->([\s\S]*?)<!-- \/example:\1 -->/g)) {
    const curl = /curl -s 'localhost:8080([^']+)' .*? -d '((?:[^']|'\\'')*)'/.exec(m[2]!);
    const json = /```json\n([\s\S]*?)\n```/.exec(m[2]!);
    if (!curl || !json) throw new Error(`README example ${m[1]} has no curl line or no JSON block`);
    out.push({ name: m[1]!, url: curl[1]!, body: JSON.parse(curl[2]!.replace(/'\\''/g, "'")), response: JSON.parse(json[1]!) });
  }
  return out;
}

/** Paths where two JSON values differ (numbers beyond TOL, anything else by value). */
function differences(actual: unknown, want: unknown, path = '$'): string[] {
  if (typeof want === 'number' && typeof actual === 'number') {
    return Math.abs(actual - want) <= TOL ? [] : [`${path}: ${actual} vs ${want}`];
  }
  if (Array.isArray(want) && Array.isArray(actual)) {
    if (want.length !== actual.length) return [`${path}: length ${actual.length} vs ${want.length}`];
    return want.flatMap((w, i) => differences(actual[i], w, `${path}[${i}]`));
  }
  if (want !== null && typeof want === 'object' && actual !== null && typeof actual === 'object' && !Array.isArray(actual)) {
    const keys = new Set([...Object.keys(want), ...Object.keys(actual)]);
    return [...keys].flatMap((k) =>
      differences((actual as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return actual === want ? [] : [`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(want)}`];
}

let app: App;
let scoring: LoadingScoringService;
beforeAll(async () => {
  ({ app, scoring } = await buildTestApp({ MODELS_DIR }, { loaded: true }));
});
afterAll(async () => {
  await app?.close();
  await scoring?.close();
});

describe('README examples', () => {
  const all = examples();

  it('exist, and use the bundled default model', () => {
    expect(all.map((e) => e.name)).toEqual(expect.arrayContaining(['score', 'get_reward']));
    const score = all.find((e) => e.name === 'score')!.response as { model: { name: string } };
    expect(score.model.name).toBe('arith-tiny');
  });

  for (const e of all) {
    it(`${e.name}: the response shown is what the service answers`, async () => {
      const res = await app.inject({ method: 'POST', url: e.url, payload: e.body as object });
      expect(res.statusCode, res.body).toBe(200);
      expect(differences(res.json(), e.response)).toEqual([]);
    });
  }
});
