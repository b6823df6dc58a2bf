/**
 * The README's reference tables are checked against the code they describe, so they cannot drift:
 * every configuration variable with its real default, every error code with its real status.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARS } from '../../src/config.js';
import { ErrorCode, HTTP_STATUS } from '../../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** First two cells of each table row starting with a `CODE` cell, in one `## Title` section. */
function tableRows(title: string): Map<string, string> {
  const section = readme.split(`\n## ${title}`)[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\|\s*`([A-Z_0-9]+)`\s*\|\s*([^|]*?)\s*\|/gm)) rows.set(m[1]!, m[2]!.replace(/`/g, ''));
  return rows;
}

describe('README configuration table', () => {
  const rows = tableRows('Configuration');

  for (const spec of Object.values(CONFIG_VARS)) {
    it(`documents ${spec.env} with its default`, () => {
      expect(rows.has(spec.env), `README.md has no row for ${spec.env}`).toBe(true);
      const shown = rows.get(spec.env)!;
      expect(shown.startsWith(spec.default ?? 'unset'), `README default of ${spec.env}: '${shown}'`).toBe(true);
    });
  }

  it('documents no variable that does not exist', () => {
    const known = new Set(Object.values(CONFIG_VARS).map((s) => s.env));
    expect([...rows.keys()].filter((v) => !known.has(v))).toEqual([]);
  });
});

describe('README error table', () => {
  const rows = tableRows('Errors');

  it('lists every error code with its status, and nothing else', () => {
    const documented = Object.fromEntries([...rows].map(([code, status]) => [code, Number(status)]));
    expect(documented).toEqual(HTTP_STATUS);
    expect(Object.keys(documented).sort()).toEqual(Object.values(ErrorCode).sort());
  });
});
